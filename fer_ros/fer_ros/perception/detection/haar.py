"""OpenCV's Haar cascade face detector: the one that needs no weights of its own."""

from __future__ import annotations

import cv2
import numpy as np

from fer_ros.perception.detection.detections import MIN_FACE_SIZE, Detection


class HaarDetector:
    """OpenCV's frontal-face Haar cascade: no extra weights, but misses turned and tilted faces.

    It also fires on textures and is several times slower than BlazeFace (bench/detectors.py).
    """

    name = "haar"

    def __init__(self, min_face_size: int = MIN_FACE_SIZE, scale_factor: float = 1.1,
                 min_neighbors: int = 5):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path}")
        self._min_size = (min_face_size, min_face_size)
        self._scale_factor = scale_factor
        self._min_neighbors = min_neighbors

    def detect(self, bgr: np.ndarray, gray: np.ndarray,
               min_score: float | None = None) -> list[Detection]:
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=self._scale_factor, minNeighbors=self._min_neighbors,
            minSize=self._min_size,
        )
        return [Detection((int(x), int(y), int(w), int(h)), 1.0) for x, y, w, h in found]
