"""Find known faces again in a new frame at a fraction of a full detection's cost.

Between two full detections a face moves a few pixels, so it is sought only near where it was:
a region of ``CONTEXT`` times its side around its last box is cropped, scaled to a small square
cell, and the cells of all faces are laid side by side in one mosaic, on which the detector runs
once. A detector whose cost grows with its input's pixels (RetinaFace) then pays for a few
128 px cells instead of the whole frame: 8 faces make a 512x256 mosaic, a quarter of the pixels
of a 1280x720 frame shrunk to 960x544. Each face's boxes and landmarks are this frame's pixels,
found anew, never its last box carried over; a face not found in its cell is left out, which
the tracker counts as a miss. A face that was not tracked is not sought: it appears at the next
full detection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from fer_ros.perception.detection.detections import MIN_FACE_SIZE, Box, Detection, FaceDetector
from fer_ros.perception.detection.retinaface import MEAN_BGR, shrink_interpolation
from fer_ros.perception.tracking.tracks import iou_matrix

CONTEXT = 2.5
"""Side of the region searched, in face sides: a face that moves up to half its side between
two full detections stays inside, and the detector sees enough of the face's surroundings to
score it well: narrower regions lost faces in the HD test (test_hd_node), and a wider one costs
nothing more, as the cell's size stays the same."""
CELL = 128
"""Side of one face's cell, in mosaic pixels: the face lands at about 1/CONTEXT of it, 51 px, well
above RetinaFace's smallest anchors (16 px) and the detector's usual ``min_face_size``."""
KEEP_FRACTION = 2 / 3
"""A face is sought in its region at this fraction of the detector's score threshold
(RetinaFace: 0.6 for 0.9): a tracked face keeps its track on a weaker score than a new face
needs to start one, the hysteresis of a tracker. Where a face was a frame ago a face is likely;
and a face this small in its cell scores less steadily from frame to frame, so at the full
threshold one of bench/realtime.py's HD faces kept dropping out when it was followed for long
(``background_detection``)."""
FILL = tuple(round(c) for c in MEAN_BGR)
"""Colour around the crops: RetinaFace's mean, zero once it is subtracted, so no false edges."""


class RoiRedetector:
    """Runs ``detector`` on a mosaic of the regions around given boxes; see the module.

    ``min_face_size`` (frame pixels) is applied after mapping back to the frame; cells grow when
    it asks for faces larger than a cell over CONTEXT, so the detector's own size filter, which
    counts mosaic pixels, cannot drop a face the frame would keep.
    """

    def __init__(self, detector: FaceDetector, min_face_size: int = MIN_FACE_SIZE):
        self.detector = detector
        self.min_face_size = min_face_size
        threshold = getattr(detector, "score_threshold", None)
        self.keep_score = None if threshold is None else KEEP_FRACTION * threshold
        self.cell = max(CELL, 32 * math.ceil(CONTEXT * min_face_size / 32))

    def redetect(self, bgr: np.ndarray, boxes: Sequence[Box],
                 min_score: float | None = None) -> list[Detection | None]:
        """For each box (in frame pixels), the face found near it in ``bgr``, or None;
        ``min_score`` replaces the tracked faces' lower score (KEEP_FRACTION), as for a face
        not tracked yet."""
        if not boxes:
            return []
        height, width = bgr.shape[:2]
        rows = max(1, math.isqrt(len(boxes)))
        cols = -(-len(boxes) // rows)
        side = self.cell
        mosaic = np.empty((rows * side, cols * side, 3), np.uint8)
        mosaic[:] = FILL
        regions = []
        for k, (x, y, w, h) in enumerate(boxes):
            half = CONTEXT * max(w, h) / 2
            cx, cy = x + w / 2, y + h / 2
            x0, y0 = max(0, round(cx - half)), max(0, round(cy - half))
            x1, y1 = min(width, round(cx + half)), min(height, round(cy + half))
            if x1 - x0 < 2 or y1 - y0 < 2:
                regions.append(None)
                continue
            scale = side / max(x1 - x0, y1 - y0)
            cw, ch = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
            ox, oy = (k % cols) * side, (k // cols) * side
            # Not INTER_AREA throughout: at the usual 1.5-2x shrink it costs several times
            # INTER_LINEAR's, once per face and frame.
            cv2.resize(bgr[y0:y1, x0:x1], (cw, ch), dst=mosaic[oy:oy + ch, ox:ox + cw],
                       interpolation=shrink_interpolation(scale))
            regions.append((ox, oy, cw, ch, x0, y0, scale))
        gray = cv2.cvtColor(mosaic, cv2.COLOR_BGR2GRAY)
        best: list[Detection | None] = [None] * len(boxes)
        nearest = [math.inf] * len(boxes)
        score = self.keep_score if min_score is None else min_score
        for det in self.detector.detect(mosaic, gray, min_score=score):
            mx, my = det.box[0] + det.box[2] / 2, det.box[1] + det.box[3] / 2
            k = int(my // side) * cols + int(mx // side)
            if not 0 <= k < len(boxes) or regions[k] is None:
                continue
            ox, oy, cw, ch, x0, y0, scale = regions[k]
            if not (ox <= mx < ox + cw and oy <= my < oy + ch):
                continue
            found = _to_frame(det, ox, oy, x0, y0, scale)
            if found.box[2] < self.min_face_size:
                continue
            bx, by, bw, bh = boxes[k]
            distance = math.hypot(found.box[0] + found.box[2] / 2 - (bx + bw / 2),
                                  found.box[1] + found.box[3] / 2 - (by + bh / 2))
            # A neighbour's face can reach into the region: the one nearest the face sought is
            # the face sought.
            if distance < nearest[k]:
                best[k], nearest[k] = found, distance
        return _without_duplicates(best, nearest)


def _without_duplicates(best: list[Detection | None],
                        nearest: list[float]) -> list[Detection | None]:
    """Two faces close together can both find the same one in their regions: it goes to the
    face whose last box was nearest, the other counts a miss, so one face never gets two ids."""
    kept: list[int] = []
    for k in sorted(range(len(best)), key=lambda i: nearest[i]):
        if best[k] is None:
            continue
        if kept and iou_matrix(np.asarray([best[k].box], np.float64),
                               np.asarray([best[i].box for i in kept], np.float64)).max() > 0.5:
            best[k] = None
            continue
        kept.append(k)
    return best


def _to_frame(det: Detection, ox: int, oy: int, x0: int, y0: int, scale: float) -> Detection:
    """A detection in a cell of the mosaic, moved and scaled back to frame pixels."""
    x, y, w, h = det.box
    box = (round(x0 + (x - ox) / scale), round(y0 + (y - oy) / scale),
           max(1, round(w / scale)), max(1, round(h / scale)))
    landmarks = tuple((x0 + (px - ox) / scale, y0 + (py - oy) / scale)
                      for px, py in det.landmarks)
    return Detection(box, det.score, landmarks)
