"""The per-face images REP-155 publishes: ``cropped`` and ``aligned``, and the normalised box.

Both images are the face box fitted into ``width`` x ``height`` (128 x 128 unless the
``humans.faces.width``/``height`` parameters say otherwise), the face's aspect kept and the rest
black, as REP-155 detectors publish them (hri_face_detect does so), so a classifier trained on
one detector's crops reads the other's alike. ``aligned`` is the same face turned about its
box's centre so that its eye line is level (from the detector's landmarks; a detector without
them, Haar, gives an aligned image equal to the cropped one).
"""

from __future__ import annotations

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Box, Landmarks
from fer_ros.perception.expressions.alignment import eye_line_roll
from fer_ros.perception.expressions.model_metadata import CropSpec
from fer_ros.perception.expressions.preprocessing import crop_face

BOX_ONLY = CropSpec(square=False, margin_frac=0.0, margin_px=0)
"""The face box itself, no margin: what REP-155 detectors crop."""


def clipped_box(box: Box, width: int, height: int) -> Box:
    """The part of ``box`` inside a ``width`` x ``height`` image (at least one pixel)."""
    x, y, w, h = box
    left, top = min(max(x, 0), width - 1), min(max(y, 0), height - 1)
    right, bottom = max(min(x + w, width), left + 1), max(min(y + h, height), top + 1)
    return left, top, right - left, bottom - top


def normalized_box(box: Box, width: int, height: int) -> tuple[float, float, float, float]:
    """xmin, ymin, xmax, ymax of the box clipped to the image, as fractions of its size."""
    x, y, w, h = clipped_box(box, width, height)
    return x / width, y / height, (x + w) / width, (y + h) / height


def fit(face: np.ndarray, width: int, height: int) -> np.ndarray:
    """``face`` scaled to fit ``width`` x ``height`` with its aspect kept, centred on black."""
    scale = min(width / face.shape[1], height / face.shape[0])
    w = max(1, min(width, round(face.shape[1] * scale)))
    h = max(1, min(height, round(face.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    scaled = cv2.resize(face, (w, h), interpolation=interpolation)
    out = np.zeros((height, width) + face.shape[2:], np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    out[y:y + h, x:x + w] = scaled
    return out


def cropped_face(bgr: np.ndarray, box: Box, width: int, height: int) -> np.ndarray:
    """The face box (clipped to the frame) fitted into ``width`` x ``height``."""
    x, y, w, h = clipped_box(box, bgr.shape[1], bgr.shape[0])
    return fit(bgr[y:y + h, x:x + w], width, height)


def aligned_face(bgr: np.ndarray, box: Box, landmarks: Landmarks, width: int,
                 height: int) -> np.ndarray:
    """The face box turned level by its eye line, fitted into ``width`` x ``height``."""
    roll = eye_line_roll(landmarks)
    if not roll:
        return cropped_face(bgr, box, width, height)
    return fit(crop_face(bgr, clipped_box(box, bgr.shape[1], bgr.shape[0]), BOX_ONLY, roll),
               width, height)
