"""When to search the whole frame for faces: on a cadence, and only where the frame changed.

The whole-frame search is the most costly step of the pipeline, and its only job beside the
tracked faces is to find new ones; tracked faces are followed near their boxes
(perception/roi_redetection.py) in every frame that is not searched. A robot's camera shows
nobody, or the same few people before a still background, most of the time; searching each such
frame again finds what the last search found. Two savings, bounded so that a face that walks in
is still reported within a fifth of a second at 30 Hz:

- a cadence: every ``interval``-th frame is due for a search while faces are tracked, every
  ``empty_interval``-th while none is, so a new face is reported at most that many frames - 1
  late. The frames in between of an empty scene report no face without looking, as they would
  have after a search that found none;
- a change gate: a frame due for a search is searched only if it differs from the last frame
  searched, outside the faces that search found and the faces tracked now. A search is a
  function of the frame: where the frame is the same, it finds the same. The frames are
  compared as thumbnails (``THUMB_SIDE`` px on the longer side): each thumbnail pixel averages
  a block of the frame, so a camera's pixel noise mostly cancels while a face, at least
  ``min_face_size`` px, changes the blocks it covers by tens of grey levels. Around each face a
  margin of ``FACE_MARGIN`` face sides is left out, so a face that moves or talks does not
  count as a change; a person's body that moves beyond it does, as does a camera that moves or
  a light that changes, and those cost a search on the cadence.

While faces are tracked, a search also comes at least every ``MOST_FRAMES_UNSEARCHED`` frames
whatever the gate says: a face that appears inside a tracked face's margin, or one the
re-detection lost while its region looked unchanged, is found within a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fer_ros.perception.preprocessing import Box
from fer_ros.perception.scheduling import interval_value

THUMB_SIDE = 160
"""Longer side of the thumbnails compared, px: a block of 8x8 frame pixels at 1280x720 and
12x12 at 1920x1080, small enough that a 30 px face covers several blocks whole."""
FACE_MARGIN = 0.5
"""Left out around each face, in face sides on each side: a face turning or nodding changes
its hair and neck too, and a tracked face moves between two searches."""
MOST_FRAMES_UNSEARCHED = 30
"""While faces are tracked, the most frames between two searches, gate or not: 1 s at 30 Hz."""


class WholeFrameSearch:
    """Says whether a frame is to be searched whole; see the module."""

    def __init__(self, interval: int = 1, empty_interval: int = 1,
                 change_threshold: float = 0.0):
        """``interval``: the cadence while faces are tracked; ``empty_interval``: while none
        is. ``change_threshold``: the largest thumbnail difference, in grey levels (0-255),
        below which a frame counts as unchanged; 0 searches on the cadence whatever the
        frame."""
        self.interval = interval_value("detection interval", interval)
        self.empty_interval = interval_value("empty detection interval", empty_interval)
        if not 0.0 <= change_threshold <= 255.0:
            raise ValueError(f"change threshold must lie in [0, 255], got {change_threshold!r}")
        self.change_threshold = change_threshold
        self._frames_to_search = 0
        """Frames left before the next frame due for a search."""
        self._frames_since_search = 0
        self._searched_thumb: np.ndarray | None = None
        """Thumbnail of the last searched frame (with the gate on)."""
        self._searched_faces: list[Box] = []
        """Boxes that search found: their regions are no change."""
        self._searched_shape: tuple[int, ...] = ()

    def due(self, shape: tuple[int, ...], tracked: Sequence[Box] = ()) -> bool:
        """Whether a frame of ``shape`` is due for a search on the cadence, with ``tracked``
        the boxes of the faces tracked now. A frame of another size than the last searched
        one is due at once: it comes from another camera. Called once per frame; ask
        ``changed`` next for a frame that is due."""
        self._frames_since_search += 1
        if self._frames_to_search > 0 and shape[:2] == self._searched_shape:
            self._frames_to_search -= 1
            return False
        self._frames_to_search = (self.interval if tracked else self.empty_interval) - 1
        return True

    def changed(self, gray: np.ndarray, tracked: Sequence[Box] = ()) -> bool:
        """For a frame due for a search, in grey: whether it differs from the last frame
        searched outside the faces (or the gate is off, or the frame is of another size, or,
        with faces tracked, the last search is MOST_FRAMES_UNSEARCHED frames old)."""
        if (self.change_threshold <= 0 or self._searched_thumb is None
                or gray.shape[:2] != self._searched_shape):
            return True
        if tracked and self._frames_since_search >= MOST_FRAMES_UNSEARCHED:
            return True
        difference = cv2.absdiff(thumbnail(gray), self._searched_thumb)
        for box in (*self._searched_faces, *tracked):
            _blank(difference, box, gray.shape)
        return float(difference.max()) >= self.change_threshold

    def searched(self, gray: np.ndarray, faces: Sequence[Box]) -> None:
        """Every whole-frame search, with the frame in grey and the boxes found: restarts the
        cadence and keeps what the next frames are compared with."""
        self._frames_to_search = (self.interval if faces else self.empty_interval) - 1
        self._frames_since_search = 0
        self._searched_shape = gray.shape[:2]
        self._searched_faces = list(faces)
        self._searched_thumb = thumbnail(gray) if self.change_threshold > 0 else None


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """The grey frame shrunk so its longer side is THUMB_SIDE, each pixel a block mean."""
    height, width = gray.shape[:2]
    scale = THUMB_SIDE / max(height, width)
    if scale >= 1:
        return gray
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def widened(box: Box) -> tuple[float, float, float, float]:
    """``box`` widened by FACE_MARGIN face sides on each side, as x0, y0, x1, y1 in the same
    pixels: what a face may change around itself, left to it by both change gates (here and
    perception/unchanged_faces.py)."""
    x, y, w, h = box
    margin = FACE_MARGIN * max(w, h)
    return x - margin, y - margin, x + w + margin, y + h + margin


def _blank(difference: np.ndarray, box: Box, frame_shape: tuple[int, ...]) -> None:
    """Zero the thumbnail blocks that ``box`` (frame pixels), widened, touches."""
    scale_y = difference.shape[0] / frame_shape[0]
    scale_x = difference.shape[1] / frame_shape[1]
    left, top, right, bottom = widened(box)
    x0 = max(0, int(left * scale_x))
    y0 = max(0, int(top * scale_y))
    x1 = min(difference.shape[1], int(np.ceil(right * scale_x)))
    y1 = min(difference.shape[0], int(np.ceil(bottom * scale_y)))
    if x1 > x0 and y1 > y0:
        difference[y0:y1, x0:x1] = 0
