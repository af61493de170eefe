"""Which faces to classify in a frame: each face at a bounded rate, not every face every frame.

An expression changes over a few hundred milliseconds, a 30 Hz camera delivers a frame every
33 ms: classifying each face in every frame spends most of the classifier's time confirming what
it just said. With ``interval`` k a tracked face is classified once every k frames, and in
between its last scores are reused, so they are at most k-1 frames old. A face new to the
tracker is classified at once, so every reported face has scores of its own.

A face's turn comes when (frame + face id) is a multiple of k: faces with consecutive ids fall on
different frames, so a group of faces that appeared together is not classified all in the same
frame again, which would bring back the slow frames (the p99 latency) the interval removes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class ClassificationSchedule:
    """Remembers each face's last scores and says which faces are due in a frame."""

    def __init__(self, interval: int = 1):
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"classification interval must be an integer >= 1, got {interval!r}")
        self.interval = interval
        self._scores: dict[int, np.ndarray] = {}

    def due(self, frame: int, face_ids: Sequence[int]) -> list[bool]:
        """For each face of frame number ``frame``: whether it must be classified now."""
        return [face_id not in self._scores or (frame + face_id) % self.interval == 0
                for face_id in face_ids]

    def record(self, face_ids: Sequence[int], scores: np.ndarray) -> None:
        """The classifier's rows for the faces it just classified, in the same order."""
        for face_id, row in zip(face_ids, scores):
            self._scores[face_id] = np.array(row, dtype=np.float32)

    def scores(self, face_id: int) -> np.ndarray:
        """The face's most recent scores (a copy: callers may keep it)."""
        return self._scores[face_id].copy()

    def keep_only(self, face_ids: Iterable[int]) -> None:
        """Forget faces the tracker forgot, so memory stays bounded by the live faces."""
        live = set(face_ids)
        for face_id in [f for f in self._scores if f not in live]:
            del self._scores[face_id]
