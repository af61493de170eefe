"""scikit-image's pictures as BGR frames, and the faces in them as checked by eye: what the
detector tests and bench/detectors.py measure against."""

from __future__ import annotations

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Box

ASTRONAUT_FACE: Box = (177, 66, 95, 95)
"""Brows-forehead to chin, cheek to cheek in ``astronaut()``; checked by eye on a 4x zoom."""
CAMERAMAN_FACE: Box = (183, 120, 75, 75)
"""Ear to nose tip, brow to chin of the profile face in ``camera()``; checked by eye."""
NO_FACE_IMAGES = (
    "coffee", "rocket", "chelsea", "brick", "grass", "gravel", "moon", "page", "text", "coins",
    "hubble_deep_field", "retina", "immunohistochemistry", "cell", "horse", "logo", "clock",
    "colorwheel", "microaneurysms",
)
"""No human face; the full-range model's highest score on each was at most 0.27 (threshold 0.5)."""


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Any skimage picture (bool, gray, RGB, RGBA) as 8-bit BGR."""
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2BGR)
