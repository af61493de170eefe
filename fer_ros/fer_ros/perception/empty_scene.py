"""When to search a frame in which no face is tracked: on a cadence, and only if it changed.

A robot's camera shows nobody most of the time, and the whole-frame search is the most costly
step of the pipeline. Searched in every frame, an empty scene cost twice what a scene with one
tracked face did, whose frames in between are only followed near the face. Two savings, both
bounded so that a face walking in is still reported within a fifth of a second at 30 Hz:

- a cadence: with nothing tracked, every ``interval``-th frame is searched, so a face that
  appears is reported at most ``interval`` - 1 frames late; the frames in between report no
  face without looking, as they would have after a search that found none;
- a change gate: a frame due for a search is searched only if it differs from the last frame
  that was searched and held no face. A search is a function of the frame: the same frame gives
  the same empty answer. The frames are compared as thumbnails (``THUMB_SIDE`` px on the longer
  side): each thumbnail pixel averages a block of the frame, so a camera's pixel noise mostly
  cancels while a face, at least ``min_face_size`` px, changes the blocks it covers by tens of
  grey levels. A camera that moves or a light that changes trips the gate and costs a search.

With a face tracked, none of this applies: the pipeline follows it as before.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer_ros.perception.scheduling import interval_value

THUMB_SIDE = 160
"""Longer side of the thumbnails compared, px: a block of 8x8 frame pixels at 1280x720 and
12x12 at 1920x1080, small enough that a 30 px face covers several blocks whole."""


class EmptySceneSearch:
    """Says whether a frame with nothing tracked is to be searched whole; see the module."""

    def __init__(self, interval: int = 1, change_threshold: float = 0.0):
        """``change_threshold``: the largest thumbnail difference, in grey levels (0-255), below
        which a frame counts as unchanged; 0 searches on the cadence whatever the frame."""
        self.interval = interval_value("empty detection interval", interval)
        if not 0.0 <= change_threshold <= 255.0:
            raise ValueError(f"change threshold must lie in [0, 255], got {change_threshold!r}")
        self.change_threshold = change_threshold
        self._frames_to_search = 0
        """Frames left before the next frame due for a search."""
        self._empty_thumb: np.ndarray | None = None
        """Thumbnail of the last searched frame, while that search found no face."""
        self._searched_shape: tuple[int, ...] = ()

    def wanted(self, bgr: np.ndarray) -> bool:
        """For a frame with no face tracked: whether to search it whole. A frame of another
        size than the last searched one is searched at once: it comes from another camera."""
        same_size = bgr.shape == self._searched_shape
        if self._frames_to_search > 0 and same_size:
            self._frames_to_search -= 1
            return False
        self._frames_to_search = self.interval - 1
        if self.change_threshold <= 0 or self._empty_thumb is None or not same_size:
            return True
        difference = cv2.absdiff(thumbnail(bgr), self._empty_thumb)
        return float(difference.max()) >= self.change_threshold

    def searched(self, bgr: np.ndarray, found_any: bool) -> None:
        """Every whole-frame search, tracked faces or not: restarts the cadence, and keeps the
        frame's thumbnail when it held no face."""
        self._frames_to_search = self.interval - 1
        self._searched_shape = bgr.shape
        self._empty_thumb = None if found_any or self.change_threshold <= 0 else thumbnail(bgr)


def thumbnail(bgr: np.ndarray) -> np.ndarray:
    """The frame in grey, shrunk so its longer side is THUMB_SIDE, each pixel a block mean."""
    height, width = bgr.shape[:2]
    scale = THUMB_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA) if scale < 1 else bgr
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
