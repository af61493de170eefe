"""Message stamps as numbers, and an EmotionArray as plain JSON data: one shape for
`fer bringup --output`'s emotions.jsonl and for the browser viewer's ``/events``."""

from __future__ import annotations

from typing import Any


def stamp_seconds(stamp: Any) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def stamp_ns(stamp: Any) -> int:
    """A builtin_interfaces/Time in integer nanoseconds, exact."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def emotion_record(msg: Any, scores: bool = False) -> dict[str, Any]:
    """The frame's stamp and each face's id, label, confidence and box; with ``scores``, also
    its probability per label."""
    labels = list(msg.labels)
    faces = []
    for e in msg.emotions:
        face = {
            "face_id": int(e.face_id),
            "label": e.label,
            "confidence": round(float(e.confidence), 4),
            "box": [int(e.roi.x_offset), int(e.roi.y_offset), int(e.roi.width),
                    int(e.roi.height)],
        }
        if scores:
            face["scores"] = {label: round(float(s), 4) for label, s in zip(labels, e.scores)}
        faces.append(face)
    return {"stamp": stamp_seconds(msg.header.stamp), "frame_id": msg.header.frame_id,
            "faces": faces}
