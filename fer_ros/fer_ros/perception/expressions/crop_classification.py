"""Classify faces that arrive already cut out: each image is one face box (a REP-155 detector's
``cropped`` or ``aligned`` image), not a frame to search.

The classifiers take a frame and face boxes, and each model widens a box by its own crop margin
(preprocessing.py's ``crop_face``; the edge of the frame is replicated where the
widened box leaves it). So the crops are laid side by side in one mosaic, each inside a border
of its own edge pixels wide enough for any model's margin: every model then sees exactly what
it would see of that crop alone, and all faces go through each model in one batched call, as
a frame's faces do in emotion_node.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Box
from fer_ros.perception.expressions.classification import ExpressionClassifier
from fer_ros.perception.expressions.preprocessing import crop_box


def _margin(classifier: ExpressionClassifier, width: int, height: int) -> int:
    """The widest any of the classifier's models widens a ``width`` x ``height`` box, in px."""
    members = getattr(classifier, "members", [classifier])
    widest = 0
    for member in members:
        x, y, w, h = crop_box((0, 0, width, height), member.metadata.crop)
        widest = max(widest, -x, -y, x + w - width, y + h - height)
    return widest


def mosaic(crops: Sequence[np.ndarray], margin: int) -> tuple[np.ndarray, list[Box]]:
    """The crops (BGR, one size) side by side, each in a replicated border of ``margin``
    pixels, and each crop's box in the mosaic."""
    height, width = crops[0].shape[:2]
    tiles = [cv2.copyMakeBorder(c, margin, margin, margin, margin, cv2.BORDER_REPLICATE)
             for c in crops]
    step = width + 2 * margin
    return np.hstack(tiles), [(i * step + margin, margin, width, height)
                              for i in range(len(crops))]


def classify_crops(classifier: ExpressionClassifier,
                   crops: Sequence[np.ndarray]) -> np.ndarray:
    """Probabilities (N, len(labels)) for N face crops of one size (BGR uint8), each crop
    read as one face box."""
    if not crops:
        return np.zeros((0, len(classifier.metadata.labels)), np.float32)
    height, width = crops[0].shape[:2]
    bgr, boxes = mosaic(crops, _margin(classifier, width, height))
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return classifier.classify(bgr, gray, boxes)
