"""What `fer bringup --summary` prints and summary.json holds: per face id, the frames it was
seen in, its label distribution and the mean confidence of the label shown."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FaceStats:
    frames: int = 0
    confidence_sum: float = 0.0
    labels: Counter = field(default_factory=Counter)


class FaceSummary:
    """Per face id: frames seen, label distribution, mean confidence of the shown label."""

    def __init__(self) -> None:
        self.frames = 0
        self.faces: dict[int, FaceStats] = {}

    def add(self, record: dict) -> None:
        self.frames += 1
        for face in record["faces"]:
            stats = self.faces.setdefault(face["face_id"], FaceStats())
            stats.frames += 1
            stats.confidence_sum += face["confidence"]
            stats.labels[face["label"]] += 1

    def as_dict(self) -> dict:
        return {"frames": self.frames, "faces": {
            str(face_id): {
                "frames": s.frames,
                "mean_confidence": round(s.confidence_sum / s.frames, 4),
                "labels": {label: round(n / s.frames, 4) for label, n in s.labels.most_common()},
            } for face_id, s in sorted(self.faces.items())}}

    def lines(self) -> list[str]:
        if not self.faces:
            return ["no faces seen"]
        lines = [f"{'face':>4}  {'frames':>6}  {'mean conf':>9}  labels"]
        for face_id, s in sorted(self.faces.items()):
            labels = ", ".join(f"{label} {100 * n / s.frames:.0f}%"
                               for label, n in s.labels.most_common())
            lines.append(f"{face_id:>4}  {s.frames:>6}  {s.confidence_sum / s.frames:>9.2f}"
                         f"  {labels}")
        return lines
