"""Frame in, faces with ids and expressions out: the core the node, the CLI and benches share.

One frame costs one gray conversion, one detector call and one batched classifier call, however
many faces it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer_ros.perception.classification import ExpressionClassifier, load_classifier
from fer_ros.perception.detection import (
    DEFAULT_DETECTION_SIZE,
    DEFAULT_DETECTOR,
    DETECTOR_DEFAULT_THRESHOLD,
    FaceDetector,
    create_detector,
)
from fer_ros.perception.detection_types import Landmarks
from fer_ros.perception.preprocessing import Box
from fer_ros.perception.tracking import FaceTracker


@dataclass(frozen=True)
class FaceResult:
    """One face of one frame. ``scores`` are this frame's raw probabilities; ``label`` and
    ``confidence`` come from the track's smoothed probabilities when smoothing is on.
    ``landmarks`` are the detector's (five for RetinaFace, in its documented order; empty for
    detectors without them), in frame pixels."""

    face_id: int
    box: Box
    detection_score: float
    label: str
    confidence: float
    scores: np.ndarray
    landmarks: Landmarks = ()


@dataclass(frozen=True)
class PipelineConfig:
    """The knobs of a pipeline, named as the node's parameters."""

    detector: str = DEFAULT_DETECTOR
    model: str = ""
    min_face_size: int = 30
    detection_threshold: float = DETECTOR_DEFAULT_THRESHOLD
    detection_size: int = DEFAULT_DETECTION_SIZE
    max_faces: int = 16
    smoothing: str = "ema"
    smoothing_alpha: float = 0.5
    smoothing_window: int = 5
    track_iou_threshold: float = 0.3
    track_max_misses: int = 5
    num_threads: int = 2


class EmotionPipeline:
    """Detect, classify in one batch, track. Not thread-safe: one caller at a time."""

    def __init__(self, detector: FaceDetector, classifier: ExpressionClassifier,
                 tracker: FaceTracker, max_faces: int = 16):
        self.detector = detector
        self.classifier = classifier
        self.tracker = tracker
        self.max_faces = max_faces

    @classmethod
    def from_config(cls, config: PipelineConfig,
                    classifier: ExpressionClassifier | None = None) -> EmotionPipeline:
        """Build a pipeline; pass the running ``classifier`` to keep it when only detector or
        tracking settings change (reloading a Keras model takes seconds)."""
        if classifier is None:
            classifier = load_classifier(config.model, num_threads=config.num_threads)
        detector = create_detector(
            config.detector, min_face_size=config.min_face_size,
            score_threshold=config.detection_threshold, num_threads=config.num_threads,
            detection_size=config.detection_size,
        )
        return cls(detector, classifier, make_tracker(config, classifier.metadata.labels),
                   max_faces=config.max_faces)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.metadata.labels

    def process(self, bgr: np.ndarray) -> list[FaceResult]:
        """All faces of one BGR frame, largest first when there are more than ``max_faces``."""
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        detections = self.detector.detect(bgr, gray)
        if len(detections) > self.max_faces:
            detections = sorted(detections, key=lambda d: d.box[2] * d.box[3], reverse=True)
            detections = detections[: self.max_faces]
        boxes = [d.box for d in detections]
        scores = self.classifier.classify(bgr, gray, boxes)
        tracks = self.tracker.update(boxes, scores)
        return [
            FaceResult(track.face_id, det.box, det.score, track.label, track.confidence, row,
                       det.landmarks)
            for det, track, row in zip(detections, tracks, scores)
        ]


def make_tracker(config: PipelineConfig, labels: tuple[str, ...]) -> FaceTracker:
    return FaceTracker(
        iou_threshold=config.track_iou_threshold, max_misses=config.track_max_misses,
        smoothing=config.smoothing, smoothing_alpha=config.smoothing_alpha,
        window=config.smoothing_window, labels=labels,
    )
