"""How the whole view moved: the camera's pan, tilt and shake, from a few tracked corners.

A robot's camera is rarely still while people are around it: the head turns to look at them,
the base drives, the body sways. Every frame of a moving camera differs from the last one, so
the change gates (search_schedule.py, unchanged_faces.py) would see
change everywhere. Undoing the camera's motion first leaves what really changed: the strip
that entered the view, a person who moved.

The motion is a translation in frame pixels, measured on a grey thumbnail (``MOTION_SIDE`` px
on its longer side, block means, so a camera's pixel noise mostly cancels) by following up to
``CORNERS`` corners with pyramidal Lucas-Kanade optical flow from the last frame measured to
this one; the median of their steps is the view's. Corners were chosen over phase correlation
of the change gate's 160 px thumbnails after measuring both (bench/camera_motion.py): chained
over 40 frames of pans of 1 to 40 px a frame with camera noise and blur, phase correlation
drifted by up to 27 px and followed a person who crossed the view, the corners stayed within
half a pixel, for 1-2 ms a frame at 1280x720 (the thumbnail included).

Each frame gets a ``Position``: where the view is, in frame pixels, since the chain of
measurements began. Two positions of one chain give the shift between their frames, so a
detection or a thumbnail from an earlier frame is moved to where it is now. A measurement that
cannot be trusted (too few corners followed, too few agreeing, or steps that grow with the
distance from the centre: forward motion, a zoom) starts a new chain: positions of different
chains have no shift between them, and whatever compares with an earlier frame counts it as
changed everywhere, as without this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

MOTION_SIDE = 320
"""Longer side of the thumbnail the corners are followed on: 4x4 frame pixels a block at
1280x720, 6x6 at 1920x1080."""
CORNERS = 36
"""Corners followed at most; chosen again when fewer than half of them are left."""
GRID = (4, 3)
"""Columns and rows of cells that each give CORNERS / 12 corners."""
CORNER_QUALITY = 0.01
"""Weakest corner taken in a cell, relative to the cell's strongest."""
MIN_CORNERS = 8
"""Fewer corners followed than this: the motion is unknown (a blank wall, a covered lens)."""
AGREE_PX = 0.5
"""A corner whose step differs from the median step by more than this (thumbnail pixels: 2 px
of a 1280x720 frame) moved by itself (a person, a hand) or was lost."""
MIN_AGREEING = 0.5
"""Share of the followed corners that must agree with the median step."""
MAX_ZOOM = 0.004
"""Largest relative change of scale between two measured frames taken for a translation:
larger, the view grows or shrinks (forward motion, a zoom) and no shift describes it. 0.004
moves the edges of a 1280 px frame by 2.6 px against its centre: a face there would no longer
match its region moved by one shift."""
WINDOW = (11, 11)
LEVELS = 3
"""Lucas-Kanade's window and pyramid levels: steps up to about 50 thumbnail pixels (200 px of a
1280x720 frame) between two measured frames are followed."""


@dataclass(frozen=True)
class Position:
    """Where the view was in one frame: ``x``, ``y`` in frame pixels along ``chain``."""

    chain: int
    x: float
    y: float

    def shift_since(self, earlier: Position | None) -> tuple[float, float] | None:
        """How far the content moved in the image from ``earlier``'s frame to this one's
        (frame pixels), or None when the two cannot be compared (another chain, no earlier
        frame)."""
        if earlier is None or earlier.chain != self.chain:
            return None
        return self.x - earlier.x, self.y - earlier.y


class CameraMotion:
    """Measures each frame it is given against the last one; see the module. Not
    thread-safe: one caller at a time."""

    def __init__(self):
        self._thumb: np.ndarray | None = None
        self._corners: np.ndarray | None = None
        self._shape: tuple[int, ...] = ()
        self._chain = 0
        self._position: Position | None = None
        self.last_zoom = 0.0
        """Relative scale change of the last measurement (for tests and benchmarks)."""

    def update(self, gray: np.ndarray,
               faces: Sequence[tuple[int, int, int, int]] = ()) -> Position:
        """The position of this grey frame, measured against the last frame given. No corner
        is followed within ``faces`` (boxes in frame pixels, widened by half a side): people
        move by themselves, and a view that holds little else would move with them."""
        thumb, scale = motion_thumbnail(gray)
        mask = face_mask(thumb.shape, faces, scale)
        step = None
        if self._thumb is not None and gray.shape[:2] == self._shape:
            if mask is not None and self._corners is not None:
                x, y = self._corners[:, 0, 0].astype(int), self._corners[:, 0, 1].astype(int)
                inside = (x >= 0) & (y >= 0) & (x < mask.shape[1]) & (y < mask.shape[0])
                outside = np.ones(len(x), bool)
                outside[inside] = mask[y[inside], x[inside]] > 0
                self._corners = self._corners[outside]
            step = self._step(thumb)
        if step is None:
            self._chain += 1
            self._position = Position(self._chain, 0.0, 0.0)
        else:
            self._position = Position(self._chain, self._position.x + step[0] / scale,
                                      self._position.y + step[1] / scale)
        self._thumb, self._shape = thumb, gray.shape[:2]
        if self._corners is None or len(self._corners) < CORNERS // 2:
            self._corners = spread_corners(thumb, mask)
        return self._position

    def _step(self, thumb: np.ndarray) -> tuple[float, float] | None:
        """The median step of the corners from the last thumbnail to this one, in thumbnail
        pixels; None when it is not to be trusted. Keeps the corners that agreed, where they
        are now."""
        corners = self._corners
        self._corners = None
        self.last_zoom = 0.0
        if corners is None or len(corners) < MIN_CORNERS:
            return None
        moved, status, _ = cv2.calcOpticalFlowPyrLK(self._thumb, thumb, corners, None,
                                                    winSize=WINDOW, maxLevel=LEVELS)
        height, width = thumb.shape[:2]
        ok = status[:, 0] == 1
        ok &= ((moved[:, 0, 0] >= 0) & (moved[:, 0, 0] < width)
               & (moved[:, 0, 1] >= 0) & (moved[:, 0, 1] < height))
        if ok.sum() < MIN_CORNERS:
            return None
        start, end = corners[ok, 0], moved[ok, 0]
        steps = end - start
        median = np.median(steps, axis=0)
        self.last_zoom = zoom(start, steps - median, (width / 2, height / 2))
        if abs(self.last_zoom) > MAX_ZOOM:
            return None
        agree = np.abs(steps - median).max(axis=1) <= AGREE_PX
        if agree.sum() < max(MIN_CORNERS, MIN_AGREEING * len(steps)):
            return None
        self._corners = end[agree].reshape(-1, 1, 2)
        dx, dy = np.median(steps[agree], axis=0)
        return float(dx), float(dy)


def face_mask(shape: tuple[int, ...], faces: Sequence[tuple[int, int, int, int]],
              scale: float) -> np.ndarray | None:
    """A thumbnail mask, 0 over ``faces`` (frame pixels) widened by half a side, 255 elsewhere;
    None without faces."""
    if not faces:
        return None
    mask = np.full(shape[:2], 255, np.uint8)
    for x, y, w, h in faces:
        margin = max(w, h) / 2
        x0, y0 = max(0, int((x - margin) * scale)), max(0, int((y - margin) * scale))
        x1, y1 = int(np.ceil((x + w + margin) * scale)), int(np.ceil((y + h + margin) * scale))
        mask[y0:max(y0, y1), x0:max(x0, x1)] = 0
    return mask


def spread_corners(thumb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray | None:
    """Up to CORNERS corners, as many in each cell of a GRID over the thumbnail: corners
    picked over the whole view gather on its most textured part, often a face, and a person
    who moves would then carry the median with them."""
    height, width = thumb.shape[:2]
    columns, rows = GRID
    each = max(1, CORNERS // (columns * rows))
    found = []
    for row in range(rows):
        for column in range(columns):
            x0, x1 = column * width // columns, (column + 1) * width // columns
            y0, y1 = row * height // rows, (row + 1) * height // rows
            corners = cv2.goodFeaturesToTrack(
                thumb[y0:y1, x0:x1], each, CORNER_QUALITY, max(3.0, (x1 - x0) / (2 * each)),
                mask=None if mask is None else mask[y0:y1, x0:x1])
            if corners is not None:
                found.append(corners + np.float32([x0, y0]))
    return np.concatenate(found) if found else None


def zoom(points: np.ndarray, residuals: np.ndarray, centre: tuple[float, float]) -> float:
    """The relative change of scale that the corners' steps beyond the median step show: a
    zoom moves each point away from the centre in proportion to its distance. The median of
    the corners away from the centre, each one's own estimate, so that a person moving does
    not count as a zoom."""
    offsets = points - np.asarray(centre, np.float32)
    distance = (offsets ** 2).sum(axis=1)
    far = distance >= (min(centre) / 2) ** 2
    if far.sum() < MIN_CORNERS // 2:
        return 0.0
    return float(np.median((residuals[far] * offsets[far]).sum(axis=1) / distance[far]))


def motion_thumbnail(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The grey frame shrunk to MOTION_SIDE on its longer side (block means), and the scale."""
    height, width = gray.shape[:2]
    scale = min(1.0, MOTION_SIDE / max(height, width))
    if scale >= 1.0:
        return gray, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return block_means(gray, size), scale


def block_means(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``gray`` shrunk to ``size`` (width, height), each pixel the mean of its block: halved
    while the half is still a whole multiple of ``size``, then shrunk the rest of the way.
    OpenCV halves in one quick pass; a direct 4x shrink took four times as long (0.39 against
    0.09 ms at 1280x720), and the means are the same. A half that is no whole multiple (an
    odd side) would shift the blocks against those of a frame shrunk directly."""
    while (gray.shape[1] % 2 == 0 and gray.shape[0] % 2 == 0
           and (gray.shape[1] // 2) % size[0] == 0 and (gray.shape[0] // 2) % size[1] == 0):
        gray = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2),
                          interpolation=cv2.INTER_AREA)
    if gray.shape[1::-1] == size:
        return gray
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
