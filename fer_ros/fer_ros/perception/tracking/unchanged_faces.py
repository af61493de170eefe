"""Which tracked faces to find again in a frame: those whose region changed since they were.

Between two whole-frame searches each tracked face is found again near its box
(roi_redetection.py). A person before a robot sits or stands still much of the
time, and a detector is a function of its pixels: where a face's region is the same as when the
face was last found, it would be found where it was. Such a face keeps that detection, box,
score and landmarks, at the cost of comparing two thumbnails; the others are found again, as
before. The regions are compared as a grey thumbnail of ``THUMB_CELLS`` x ``THUMB_CELLS``
blocks, each a block mean, so a camera's pixel noise cancels while a face that moves, turns or
nods shifts its edges and the blocks across them by tens of grey levels. The region is the box
widened by ``FACE_MARGIN`` face sides on each side, the same as the whole-frame search's gate
leaves out (search_schedule.py): whatever changes around a face is seen by one of
the two.

Expressions change within a still face, more subtly than a thumbnail shows: classification is
not gated, it keeps its own schedule (scheduling.py) on the crops of the kept boxes.
A face is found again at least every ``MOST_FRAMES_KEPT`` frames whatever its region says.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Detection
from fer_ros.perception.tracking.camera_motion import Position
from fer_ros.perception.tracking.search_schedule import MIN_SHIFT, widened

THUMB_CELLS = 16
"""Blocks per side of a face region's thumbnail: about 12 px blocks for a 100 px face with its
margins, as the whole-frame gate's at 1920x1080."""
MOST_FRAMES_KEPT = 10
"""The most frames a face keeps a detection without being found again: a third of a second at
30 Hz."""


@dataclass(frozen=True)
class _Found:
    """A face's last detection that was found, not kept, and its region then."""

    detection: Detection
    region: tuple[int, int, int, int]
    thumb: np.ndarray
    frame: int
    position: Position | None
    """The camera's position in that frame (camera_motion.py)."""


class UnchangedFaces:
    """Remembers each tracked face's region when it was last found; see the module."""

    def __init__(self, change_threshold: float = 0.0):
        """``change_threshold``: the largest block difference, in grey levels (0-255), below
        which a region counts as unchanged; 0 finds every face again in every frame."""
        self.change_threshold = change_threshold
        self._found: dict[int, _Found] = {}
        self.changed: set[int] = set()
        """The faces of the last ``kept`` call whose region changed (not those due to be
        found again by age, or never found): where a moving camera may be the cause."""

    def kept(self, gray: np.ndarray, frame: int, face_ids: Iterable[int],
             position: Position | None = None) -> dict[int, Detection]:
        """Of ``face_ids``, those whose region in ``gray`` (frame number ``frame``, camera
        ``position``; None: a still camera) is as when they were last found, once the
        camera's motion since then is undone, with that detection moved as the camera moved
        it."""
        self.changed = set()
        if self.change_threshold <= 0:
            return {}
        kept = {}
        for face_id in face_ids:
            found = self._found.get(face_id)
            if found is None or frame - found.frame >= MOST_FRAMES_KEPT:
                continue
            shift = (0.0, 0.0) if position is None else position.shift_since(found.position)
            if shift is None:
                continue
            if abs(shift[0]) < MIN_SHIFT and abs(shift[1]) < MIN_SHIFT:
                shift = (0.0, 0.0)  # a still camera: compared as it is, as without motion
            thumb = _thumbnail(gray, found.region, shift)
            if thumb is not None and float(cv2.absdiff(thumb, found.thumb).max()) \
                    < self.change_threshold:
                kept[face_id] = moved(found.detection, round(shift[0]), round(shift[1]))
            else:
                self.changed.add(face_id)
        return kept

    def found(self, gray: np.ndarray, frame: int, detections: Mapping[int, Detection],
              position: Position | None = None) -> None:
        """The faces found (searched or found again, not kept) in frame number ``frame``
        at the camera ``position``, by id; every other face is forgotten unless ``keep_only``
        keeps it."""
        if self.change_threshold <= 0:
            return
        for face_id, detection in detections.items():
            region = _region(detection.box, gray.shape)
            thumb = _thumbnail(gray, region)
            if thumb is None:
                self._found.pop(face_id, None)
            else:
                self._found[face_id] = _Found(detection, region, thumb, frame, position)

    def keep_only(self, face_ids: Iterable[int]) -> None:
        """Forget faces the tracker forgot, so memory stays bounded by the live faces."""
        live = set(face_ids)
        for face_id in [f for f in self._found if f not in live]:
            del self._found[face_id]

    def forget(self) -> None:
        """Forget every face: the frames to come are of another size or another scene."""
        self._found.clear()


def moved(detection: Detection, dx: int, dy: int) -> Detection:
    """``detection`` moved by ``dx``, ``dy`` pixels, box and landmarks."""
    if not dx and not dy:
        return detection
    x, y, w, h = detection.box
    return Detection((x + dx, y + dy, w, h), detection.score,
                     tuple((px + dx, py + dy) for px, py in detection.landmarks))


def _region(box: tuple[int, int, int, int],
            shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The whole pixels of ``box`` widened (search_schedule.widened) within the frame: x0,
    y0, x1, y1."""
    left, top, right, bottom = widened(box)
    return (max(0, math.floor(left)), max(0, math.floor(top)),
            min(shape[1], math.ceil(right)), min(shape[0], math.ceil(bottom)))


def _thumbnail(gray: np.ndarray, region: tuple[int, int, int, int],
               shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray | None:
    """The region of ``gray`` as THUMB_CELLS x THUMB_CELLS block means, moved by ``shift``
    (frame pixels, to a fraction of a pixel: half a pixel off made a sharp edge differ by the
    whole threshold); None when the region is too small to have blocks or, moved, leaves the
    frame."""
    x0, y0, x1, y1 = region
    if x1 - x0 < THUMB_CELLS or y1 - y0 < THUMB_CELLS:
        return None
    dx, dy = shift
    if dx == 0 and dy == 0:
        patch = gray[y0:y1, x0:x1]
    else:
        if x0 + dx < 0 or y0 + dy < 0 or x1 + dx > gray.shape[1] or y1 + dy > gray.shape[0]:
            return None
        patch = cv2.getRectSubPix(gray, (x1 - x0, y1 - y0),
                                  ((x0 + x1 - 1) / 2 + dx, (y0 + y1 - 1) / 2 + dy))
    return cv2.resize(patch, (THUMB_CELLS, THUMB_CELLS), interpolation=cv2.INTER_AREA)
