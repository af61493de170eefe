"""Still images: each one searched whole and every face classified, with no memory of the
images before it.

A video pipeline (perception/pipeline.py) follows faces from frame to frame: it searches the
whole frame only now and then, reuses a face's scores for a few frames and smooths them along
its track. Across unrelated photos that state is wrong: a face where the previous photo had one
would inherit that person's scores, and a result would depend on which files came before it.
Here a result depends on its image alone, so `fer predict` and bench/accuracy.py give the same
answer for a file whether it comes alone, first, last or in any order.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Detection, FaceDetector
from fer_ros.perception.expressions.alignment import LEVEL_ABOVE_DEGREES, level_rolls
from fer_ros.perception.expressions.classification import ExpressionClassifier, load_classifier
from fer_ros.perception.pipeline import (
    FaceResult,
    PipelineConfig,
    detector_from_config,
    largest_faces,
)


class StillImageAnalyser:
    """Detect, then classify every face in one batch; faces are numbered 1.. in the detector's
    order, labelled by their own raw scores (no smoothing).

    ``max_faces`` (None: every face) keeps the largest faces only. A stream bounds its faces to
    keep its frame rate; a still has no rate to keep, and a group photo should not lose
    people, so by default every face is reported.

    ``level_above``: faces whose eye line is rolled by more than this many degrees are
    classified from a level crop (None: never; the pipeline's ``level_tilted_faces`` is
    ``LEVEL_ABOVE_DEGREES``)."""

    def __init__(self, detector: FaceDetector, classifier: ExpressionClassifier,
                 max_faces: int | None = None, level_above: float | None = None):
        self.detector = detector
        self.classifier = classifier
        self.max_faces = max_faces
        self.level_above = level_above

    @classmethod
    def from_config(cls, config: PipelineConfig, classifier: ExpressionClassifier | None = None,
                    max_faces: int | None = None) -> StillImageAnalyser:
        """The detector, model, smallest face and levelling of ``config``; its intervals,
        face limit, tracking and smoothing settings concern streams and are not used."""
        if classifier is None:
            classifier = load_classifier(config.model, num_threads=config.classifier_threads)
        return cls(detector_from_config(config, config.num_threads), classifier, max_faces,
                   LEVEL_ABOVE_DEGREES if config.level_tilted_faces else None)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.metadata.labels

    def analyse(self, bgr: np.ndarray) -> list[FaceResult]:
        """Every face of one BGR image (the largest ``max_faces`` when that is set)."""
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        return self.describe(bgr, gray, self.find_faces(bgr, gray))

    def find_faces(self, bgr: np.ndarray, gray: np.ndarray) -> list[Detection]:
        """The image's faces, at most ``max_faces`` (the largest) when that is set."""
        found = self.detector.detect(bgr, gray)
        return found if self.max_faces is None else largest_faces(found, self.max_faces)

    def describe(self, bgr: np.ndarray, gray: np.ndarray,
                 detections: Sequence[Detection]) -> list[FaceResult]:
        """``detections`` of the image, each classified (one batch for all)."""
        if not detections:
            return []
        rolls = (None if self.level_above is None
                 else level_rolls([d.landmarks for d in detections], self.level_above))
        scores = self.classifier.classify(bgr, gray, [d.box for d in detections], rolls)
        return [
            FaceResult(face_id, det.box, det.score, self.labels[int(np.argmax(row))],
                       float(np.max(row)), row, det.landmarks)
            for face_id, (det, row) in enumerate(zip(detections, scores), start=1)
        ]
