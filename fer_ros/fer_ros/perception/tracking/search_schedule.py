"""When to search the whole frame for faces: on a cadence, and only where the frame changed.

The whole-frame search is the most costly step of the pipeline, and its only job beside the
tracked faces is to find new ones; tracked faces are followed near their boxes
(roi_redetection.py) in every frame that is not searched. A robot's camera shows
nobody, or the same few people before a still background, most of the time; searching each such
frame again finds what the last search found. Two savings, bounded so that a face that walks in
is still reported within a fifth of a second at 30 Hz:

- a cadence: every ``interval``-th frame is due for a search while faces are tracked, every
  ``empty_interval``-th while none is, so a new face is reported at most that many frames - 1
  late. The frames in between of an empty scene report no face without looking, as they would
  have after a search that found none;
- a change gate: a frame due for a search is searched only where it differs from the last
  frame searched, outside the faces that search found and the faces tracked now. A search is a
  function of the frame: where the frame is the same, it finds the same. The frames are
  compared as thumbnails (``THUMB_SIDE`` px on the longer side): each thumbnail pixel averages
  a block of the frame, so a camera's pixel noise mostly cancels while a face, at least
  ``min_face_size`` px, changes the blocks it covers by tens of grey levels. Around each face a
  margin of ``FACE_MARGIN`` face sides is left out, so a face that moves or talks does not
  count as a change; a person's body that moves beyond it does, as does a camera that moves or
  a light that changes, and those cost a search on the cadence.

While faces are tracked, a search also comes at least every ``MOST_FRAMES_UNSEARCHED`` frames
whatever the gate says: a face that appears inside a tracked face's margin, or one the
re-detection lost while its region looked unchanged, is found within a second. So it does
after searches of regions only (below): a face larger than their margins is found within a
second too.

A frame that changed is searched where it changed: the blocks that differ, with a margin
(``ENTERING_MARGIN``), searched at the whole frame's scale, and the whole frame only when
those regions would cover half of it. A camera that pans, tilts or shakes moves every block;
given the camera's position (camera_motion.py) the gate undoes that motion first,
comparing each block of the last searched frame that is still in view with the same patch of
this frame, shrunk on the same block grid, and adds the strips that entered the view, each
widened inwards by ``ENTERING_MARGIN`` of the frame's height so that a face the edge cut
before lies whole in it. A panning camera then pays for the strip that is new to it, not for
the whole frame. Where the motion is unknown (a zoom, forward motion, a blank view: no
position to compare with) the whole frame is searched on the cadence, as without.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Box
from fer_ros.perception.tracking.camera_motion import Position, block_means
from fer_ros.perception.tracking.scheduling import interval_value

THUMB_SIDE = 160
"""Longer side of the thumbnails compared, px: a block of 8x8 frame pixels at 1280x720 and
12x12 at 1920x1080, small enough that a 30 px face covers several blocks whole."""
FACE_MARGIN = 0.5
"""Left out around each face, in face sides on each side: a face turning or nodding changes
its hair and neck too, and a tracked face moves between two searches."""
MOST_FRAMES_UNSEARCHED = 30
"""While faces are tracked, the most frames between two whole-frame searches, gate or not:
1 s at 30 Hz."""
MIN_SHIFT = 0.5
"""Camera motion below this (frame pixels) since the last search is taken as none: the frames
are compared as they are."""
ENTERING_MARGIN = 0.25
"""A strip that entered the view is searched together with this much of the frame's height
beside it: a face (of up to a quarter of the frame's height) that was cut by the edge of the
last searched frame lies whole in the strip and its margin once it is whole in view. The
blocks that changed are searched with half of it around them."""
MOST_REGION_SHARE = 0.5
"""Regions covering this share of the frame or more: the whole frame is searched instead."""


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
        """Frames since the last search of the whole frame."""
        self._regions_only = False
        """Whether only regions of the frame were searched since then."""
        self._searched_thumb: np.ndarray | None = None
        """Thumbnail of the last searched frame (with the gate on)."""
        self._searched_faces: list[Box] = []
        """Boxes that search found: their regions are no change."""
        self._searched_shape: tuple[int, ...] = ()
        self._searched_at: Position | None = None
        """The camera's position in the last searched frame."""

    def due(self, shape: tuple[int, ...], tracked: Sequence[Box] = ()) -> bool:
        """Whether a frame of ``shape`` is due for a search on the cadence, with ``tracked``
        the boxes of the faces tracked now. A frame of another size than the last searched
        one is due at once: it comes from another camera. Called once per frame; ask
        ``area`` next for a frame that is due."""
        self._frames_since_search += 1
        if self._frames_to_search > 0 and shape[:2] == self._searched_shape:
            self._frames_to_search -= 1
            return False
        self._frames_to_search = (self.interval if tracked else self.empty_interval) - 1
        return True

    def area(self, gray: np.ndarray, tracked: Sequence[Box] = (),
             position: Position | None = None) -> SearchArea:
        """For a frame due for a search, in grey, at the camera ``position``
        (camera_motion.py; None: the camera is taken as still): where it is to be
        searched. Nowhere when it is as the last frame searched, outside the faces, once the
        camera's motion since then is undone; the strips that entered the view and the blocks
        that changed, each widened (``regions``), when they are a small part of the frame;
        the whole frame otherwise, and when the gate is off, the frame is of another size,
        the camera's motion is unknown, or, with faces tracked or after searches of regions
        only, the last whole-frame search is MOST_FRAMES_UNSEARCHED frames old."""
        height, width = gray.shape[:2]
        whole = SearchArea.whole(width, height)
        if (self.change_threshold <= 0 or self._searched_thumb is None
                or gray.shape[:2] != self._searched_shape):
            return whole
        if ((tracked or self._regions_only)
                and self._frames_since_search >= MOST_FRAMES_UNSEARCHED):
            return whole
        shift = (0.0, 0.0) if position is None else position.shift_since(self._searched_at)
        if shift is None:
            return whole
        moved = abs(shift[0]) >= MIN_SHIFT or abs(shift[1]) >= MIN_SHIFT
        dx, dy = (round(shift[0]), round(shift[1])) if moved else (0, 0)
        if abs(dx) >= width / 2 or abs(dy) >= height / 2:
            return whole
        difference, (left, top), block = self._difference(gray, dx, dy)
        if difference is None:
            return whole
        # The differences are in the last searched frame's blocks; this frame's boxes are
        # moved back by the camera's shift to blank them.
        faces = [(x - dx, y - dy, w, h) for x, y, w, h in tracked]
        for box in (*self._searched_faces, *faces):
            _blank(difference, widened(box), block, (left, top))
        changed = np.argwhere(difference >= self.change_threshold)
        strips = entering_strips(dx, dy, width, height, block)
        margin = ENTERING_MARGIN * height
        regions = [_clip((x0 - margin if x0 > 0 else x0, y0 - margin if y0 > 0 else y0,
                          x1 + margin if x1 < width else x1, y1 + margin if y1 < height else y1),
                         width, height) for x0, y0, x1, y1 in strips]
        if len(changed):
            (row0, col0), (row1, col1) = changed.min(axis=0), changed.max(axis=0) + 1
            regions.append(_clip(((left + col0) * block[0] + dx - margin / 2,
                                  (top + row0) * block[1] + dy - margin / 2,
                                  (left + col1) * block[0] + dx + margin / 2,
                                  (top + row1) * block[1] + dy + margin / 2), width, height))
        if not regions:
            return SearchArea()
        covered = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions)
        if covered >= MOST_REGION_SHARE * width * height:
            return whole
        return SearchArea(regions=tuple(regions))

    def _difference(self, gray: np.ndarray, dx: int, dy: int
                    ) -> tuple[np.ndarray | None, tuple[int, int], tuple[float, float]]:
        """The last searched frame's thumbnail blocks that are still in view after the
        camera moved the content by ``dx``, ``dy`` pixels, each against the same patch of this
        frame, shrunk the same way: the absolute differences, the first block's column and
        row, and a block's width and height in frame pixels. Shrinking this frame on the
        searched frame's block grid compares like with like: a thumbnail shifted by a
        fraction of a block would blend each block with its neighbours, and a sharp edge
        (hair against a wall) would then differ by tens of grey levels. None when no block
        is left in view."""
        reference = self._searched_thumb
        height, width = gray.shape[:2]
        block = (width / reference.shape[1], height / reference.shape[0])
        left, top = max(0, math.ceil(-dx / block[0])), max(0, math.ceil(-dy / block[1]))
        right = min(reference.shape[1], math.floor((width - dx) / block[0]))
        bottom = min(reference.shape[0], math.floor((height - dy) / block[1]))
        if right <= left or bottom <= top:
            return None, (0, 0), block
        x0, y0 = round(left * block[0]) + dx, round(top * block[1]) + dy
        x1, y1 = round(right * block[0]) + dx, round(bottom * block[1]) + dy
        patch = block_means(gray[y0:y1, x0:x1], (right - left, bottom - top))
        return cv2.absdiff(patch, reference[top:bottom, left:right]), (left, top), block

    def searched(self, gray: np.ndarray, faces: Sequence[Box],
                 position: Position | None = None, whole: bool = True) -> None:
        """Every search, with the frame in grey, the boxes of the faces the frame holds and
        the camera's position: restarts the cadence and keeps what the next frames are
        compared with. ``whole``: the whole frame was searched, not only regions of it."""
        self._frames_to_search = (self.interval if faces else self.empty_interval) - 1
        if whole:
            self._frames_since_search = 0
        self._regions_only = not whole
        self._searched_shape = gray.shape[:2]
        self._searched_faces = list(faces)
        self._searched_at = position
        self._searched_thumb = thumbnail(gray) if self.change_threshold > 0 else None


@dataclass(frozen=True)
class SearchArea:
    """Where a frame is to be searched: nowhere (false), the whole frame, or ``regions``
    (x0, y0, x1, y1 in frame pixels)."""

    whole_frame: bool = False
    regions: tuple[tuple[float, float, float, float], ...] = ()

    @classmethod
    def whole(cls, width: int, height: int) -> SearchArea:
        return cls(True, ((0.0, 0.0, float(width), float(height)),))

    def __bool__(self) -> bool:
        return self.whole_frame or bool(self.regions)


def entering_strips(dx: float, dy: float, width: int, height: int,
                    block: tuple[float, float] = (0.0, 0.0)
                    ) -> list[tuple[float, float, float, float]]:
    """The strips of a frame that a view moved by ``dx``, ``dy`` (frame pixels, the content's
    motion in the image) did not show: on the left when the content moved right, and so on.
    None narrower than a ``block`` (width, height): a shaking camera shows a few pixels more
    on one side, then on the other, and a face cut by the edge that little is whole in view
    only in passing; a steady pan gives a strip a block wide within a few frames."""
    strips = []
    if dx >= max(MIN_SHIFT, block[0]):
        strips.append((0.0, 0.0, dx, float(height)))
    elif dx <= -max(MIN_SHIFT, block[0]):
        strips.append((width + dx, 0.0, float(width), float(height)))
    if dy >= max(MIN_SHIFT, block[1]):
        strips.append((0.0, 0.0, float(width), dy))
    elif dy <= -max(MIN_SHIFT, block[1]):
        strips.append((0.0, height + dy, float(width), float(height)))
    return strips


def _clip(rect: tuple[float, float, float, float], width: int,
          height: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = rect
    return max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """The grey frame shrunk so its longer side is THUMB_SIDE, each pixel a block mean."""
    height, width = gray.shape[:2]
    scale = THUMB_SIDE / max(height, width)
    if scale >= 1:
        return gray
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return block_means(gray, size)


def widened(box: Box) -> tuple[float, float, float, float]:
    """``box`` widened by FACE_MARGIN face sides on each side, as x0, y0, x1, y1 in the same
    pixels: what a face may change around itself, left to it by both change gates (here and
    unchanged_faces.py)."""
    x, y, w, h = box
    margin = FACE_MARGIN * max(w, h)
    return x - margin, y - margin, x + w + margin, y + h + margin


def _blank(difference: np.ndarray, rect: tuple[float, float, float, float],
           block: tuple[float, float], first: tuple[int, int] = (0, 0)) -> None:
    """Zero the blocks of ``difference`` that ``rect`` (x0, y0, x1, y1 in frame pixels)
    touches; its first block is the thumbnail's column and row ``first``, each ``block``
    (width, height) frame pixels."""
    left, top, right, bottom = rect
    x0 = max(0, int(left / block[0]) - first[0])
    y0 = max(0, int(top / block[1]) - first[1])
    x1 = min(difference.shape[1], math.ceil(right / block[0]) - first[0])
    y1 = min(difference.shape[0], math.ceil(bottom / block[1]) - first[1])
    if x1 > x0 and y1 > y0:
        difference[y0:y1, x0:x1] = 0
