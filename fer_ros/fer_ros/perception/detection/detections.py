"""What every face detector returns, in a module of its own so each detector family's module
and the registry (``detectors.py``) can share it without importing each other; the face box
is defined here because detection is where boxes come from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

Box = tuple[int, int, int, int]
"""A face box in pixels: x, y, width, height."""

MIN_FACE_SIZE = 30
"""Smallest face side reported by default, in pixels: smaller faces carry too few pixels for
the expression models' 48-64 px inputs. The ``min_face_size`` parameter's default."""

Landmarks = tuple[tuple[float, float], ...]
"""Facial landmarks (x, y) in frame pixels, in the order the detector documents."""


@dataclass(frozen=True)
class Detection:
    """One face: its box in the Haar convention, the detector's score, and its landmarks where
    the detector gives them (RetinaFace: five; otherwise empty)."""

    box: Box
    score: float
    landmarks: Landmarks = ()


class FaceDetector(Protocol):
    name: str

    def detect(self, bgr: np.ndarray, gray: np.ndarray,
               min_score: float | None = None) -> list[Detection]:
        """Faces of one frame. ``gray`` is the same frame in gray, computed once by the caller.
        ``min_score`` replaces the detector's score threshold for this call (detectors without
        scores ignore it)."""
        ...
