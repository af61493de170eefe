"""Face detectors behind one small interface: the registry of their names and the factory.

A detector turns a BGR frame into face boxes in pixels. Boxes follow one convention whichever
detector made them (the extent of an OpenCV Haar box: brows to chin, ear to ear), because the
expression models were trained on crops cut around such boxes. Each family lives in its own
module (``haar``, ``blazeface``, ``retinaface``); this one picks among them by name.
"""

from __future__ import annotations

from fer_ros.perception.detection.blazeface import DEFAULT_BLAZEFACE_VARIANT, BlazeFaceDetector
from fer_ros.perception.detection.detections import MIN_FACE_SIZE, FaceDetector
from fer_ros.perception.detection.haar import HaarDetector
from fer_ros.perception.detection.retinaface import DEFAULT_DETECTION_SIZE, RetinaFaceDetector

__all__ = ["DEFAULT_DETECTION_SIZE", "DEFAULT_DETECTOR", "DETECTORS",
           "DETECTOR_DEFAULT_THRESHOLD", "create_detector"]

DETECTORS: tuple[str, ...] = ("retinaface", "blazeface", "blazeface_full", "blazeface_short",
                              "haar")
DEFAULT_DETECTOR = "retinaface"
DETECTOR_DEFAULT_THRESHOLD = 0.0
"""A ``score_threshold`` of 0 asks for each detector's own default: scores of different
models mean different things (RetinaFace 0.9, BlazeFace 0.5; Haar has no score)."""


def create_detector(name: str, min_face_size: int = MIN_FACE_SIZE,
                    score_threshold: float = DETECTOR_DEFAULT_THRESHOLD,
                    num_threads: int = 2,
                    detection_size: int = DEFAULT_DETECTION_SIZE) -> FaceDetector:
    """Build a detector by its parameter name; unknown names are a clear error.

    ``retinaface`` (the default) finds faces of about 20 px and more at ``detection_size``, the
    longer side the frame is shrunk to (never enlarged), from far faces to close-ups cut by the
    frame edge, with five landmarks each. ``blazeface`` is the full-range variant,
    ``blazeface_full``: a fixed 192x192 input, so it finds faces from about 1/16 of the frame's
    width (40 px in a 640x480 frame) to faces filling it, but not close-ups cut by its edge;
    short range needs about 1/8 (80 px). ``score_threshold`` and ``num_threads`` apply to the
    neural detectors, ``detection_size`` to RetinaFace only.
    """
    if name == "retinaface":
        return RetinaFaceDetector(
            min_face_size=min_face_size,
            score_threshold=score_threshold or RetinaFaceDetector.DEFAULT_SCORE_THRESHOLD,
            num_threads=num_threads, detection_size=detection_size)
    if name == "haar":
        return HaarDetector(min_face_size=min_face_size)
    if name in DETECTORS and name.startswith("blazeface"):
        variant = name.partition("_")[2] or DEFAULT_BLAZEFACE_VARIANT
        return BlazeFaceDetector(variant, min_face_size=min_face_size,
                                 score_threshold=score_threshold
                                 or BlazeFaceDetector.DEFAULT_SCORE_THRESHOLD,
                                 num_threads=num_threads)
    raise ValueError(f"unknown detector {name!r}: expected one of {', '.join(DETECTORS)}")
