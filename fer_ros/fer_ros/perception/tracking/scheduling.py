"""Which faces to classify in a frame: each face at a bounded rate, not every face every frame.

An expression changes over a few hundred milliseconds, a 30 Hz camera delivers a frame every
33 ms: classifying each face in every frame spends most of the classifier's time confirming what
it just said. With ``interval`` c a tracked face is classified at least once every c frames, and
in between its last scores are reused, so they are at most c-1 frames old. A face new to the
tracker is classified at once, so every reported face has scores of its own.

The classifications are spread evenly over the frames, so that no frame pays for many faces:
each frame takes a share of the tracked faces, the ones classified longest ago, and a face whose
scores would otherwise grow c frames old is classified whatever the share. Frames that search
the whole frame for faces (every ``detection_interval``-th one, the slowest of the pipeline)
classify only the faces that must be: new ones and those at the age limit. Their share goes to
the frames in between, which only follow the tracked faces, so that a frame costs either a
search or a share of the classifications, not both. When the searches stop coming on their
cadence (the search schedule skips the searches of unchanged frames,
search_schedule.py), every frame is a classifying one, and the share falls back to
one face in ``interval`` per frame: each face is still classified once every ``interval``
frames, not more often.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction

import numpy as np


def interval_value(name: str, value: int) -> int:
    """``value`` if it is an integer >= 1; a ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


class ClassificationSchedule:
    """Remembers each face's last scores and the frame they came from, and says which faces
    are due in a frame; see the module."""

    def __init__(self, interval: int = 1, detection_interval: int = 1):
        self.interval = interval_value("classification interval", interval)
        detection_interval = interval_value("detection interval", detection_interval)
        # Searching frames classify only what must be; with a search in every frame there is
        # no other frame to move the work to.
        self._spare_searches = detection_interval > 1
        self._detection_interval = detection_interval
        classifying = Fraction(interval) * (1 - Fraction(1, detection_interval)) \
            if self._spare_searches else Fraction(interval)
        self._share_between_searches = 1 / max(classifying, Fraction(1))
        """Tracked faces classified per classifying frame, per tracked face, while searches
        come every ``detection_interval`` frames."""
        self._share = 1 / Fraction(interval)
        """The same when no search is coming: every frame classifies."""
        self._last_search: int | None = None
        self._credit = Fraction(0)
        """Classifications the share has granted and the frames have not yet spent."""
        self._scores: dict[int, np.ndarray] = {}
        self._classified: dict[int, int] = {}
        """Frame number of each face's last classification."""

    def due(self, frame: int, face_ids: Sequence[int], searching: bool = False) -> list[bool]:
        """For each face of frame number ``frame``: whether it must be classified now.
        ``searching``: this frame searched the whole frame for faces."""
        known = [f for f in face_ids if f in self._classified]
        chosen = {f for f in face_ids if f not in self._classified
                  or frame - self._classified[f] >= self.interval}
        if searching:
            self._last_search = frame
        if searching and self._spare_searches:
            # What a searching frame must classify leaves the share of the next frames as it
            # is: spending it would leave those frames idle and bring the same faces to their
            # limit on a searching frame again, cycle after cycle.
            return [f in chosen for f in face_ids]
        on_cadence = (self._spare_searches and self._last_search is not None
                      and frame - self._last_search < self._detection_interval)
        share = self._share_between_searches if on_cadence else self._share
        self._credit = min(self._credit + share * len(known), Fraction(len(known)))
        stalest = sorted((f for f in known if f not in chosen),
                         key=lambda f: (self._classified[f], f))
        forced = sum(f in chosen for f in known)
        chosen.update(stalest[:max(0, math.floor(self._credit) - forced)])
        self._credit = max(self._credit - sum(f in chosen for f in known), Fraction(0))
        return [f in chosen for f in face_ids]

    def record(self, frame: int, face_ids: Sequence[int], scores: np.ndarray) -> None:
        """The classifier's rows for the faces it just classified in frame number ``frame``,
        in the same order."""
        for face_id, row in zip(face_ids, scores):
            self._scores[face_id] = np.array(row, dtype=np.float32)
            self._classified[face_id] = frame

    def scores(self, face_id: int) -> np.ndarray:
        """The face's most recent scores (a copy: callers may keep it)."""
        return self._scores[face_id].copy()

    def keep_only(self, face_ids: Iterable[int]) -> None:
        """Forget faces the tracker forgot, so memory stays bounded by the live faces."""
        live = set(face_ids)
        for face_id in [f for f in self._scores if f not in live]:
            del self._scores[face_id]
            del self._classified[face_id]
