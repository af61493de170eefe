"""Stable face ids across frames, and expression smoothing per face.

A per-frame classifier flickers between neighbouring expressions; a robot reacting to every flip
looks erratic. Following each face over time lets the expression be smoothed per person, and
gives the caller an id to attach reactions to. Only the label and confidence are smoothed: the
raw per-frame scores stay untouched, so the caller can still publish what the model saw.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fer_ros.perception.detection.detections import Box
from fer_ros.perception.expressions.labels import EMOTIONS

SMOOTHING_MODES: tuple[str, ...] = ("none", "ema", "window")
MAX_SIZE_RATIO = 1.5
"""A box this many times larger or smaller (by side) than a face's last one is another face:
a face does not grow by half between two frames, while two people crossing at different
distances from the camera do differ so."""


@dataclass
class Track:
    """One face of the current frame: a snapshot, changing it does not affect the tracker."""

    face_id: int
    box: Box
    label: str
    confidence: float
    smoothed: np.ndarray
    """Smoothed probabilities, one per label (float32)."""
    hits: int
    """Frames in which this face was seen, this one included."""
    misses: int
    """Consecutive frames the face went unseen just before this one (0 if seen in the last)."""


class SmoothedScores:
    """One face's expression probabilities smoothed over its classifications (``smoothing``:
    ``none``, ``ema`` with weight ``alpha`` on the newest, or the mean of the last ``window``).
    The tracker keeps one per face; hri_expression_node one per REP-155 face id."""

    def __init__(self, smoothing: str = "ema", alpha: float = 0.5, window: int = 5):
        self.smoothing = smoothing
        self.alpha = float(alpha)
        self._ema: np.ndarray | None = None
        self._history: deque[np.ndarray] = deque(maxlen=window)

    def add(self, probs: np.ndarray) -> np.ndarray:
        """Take one fresh classification; the smoothed probabilities (float32)."""
        if self.smoothing == "ema":
            if self._ema is None:
                self._ema = probs.copy()
            else:
                self._ema = self.alpha * probs + (1.0 - self.alpha) * self._ema
            return self._ema.astype(np.float32)
        if self.smoothing == "window":
            self._history.append(probs.copy())
            return np.mean(self._history, axis=0, dtype=np.float64).astype(np.float32)
        return probs.copy()


class _State:
    """What the tracker remembers of a live face between frames."""

    def __init__(self, face_id: int, box: Box, scores: SmoothedScores):
        self.face_id = face_id
        self.box = box
        self.hits = 0
        self.misses = 0
        self.gap = 0
        """``misses`` just before this frame's match, reported as ``Track.misses``."""
        self.velocity = np.zeros(2)
        """Pixels per frame the box centre moved lately: where to expect the face next."""
        self.smoothed: np.ndarray | None = None
        self.scores = scores

    def predicted(self) -> Box:
        """The box expected in the next frame: the last one moved on at the face's velocity
        for every frame since it was seen."""
        x, y, w, h = self.box
        dx, dy = self.velocity * (self.misses + 1)
        return round(x + dx), round(y + dy), w, h

    def moved_to(self, box: Box) -> None:
        """Take this frame's box and update the velocity: the first step sets it, later ones
        average with it, which halves a detector's jitter yet follows a turn within frames."""
        step = (_centre(box) - _centre(self.box)) / (self.misses + 1)
        self.velocity = step if self.hits == 1 else (self.velocity + step) / 2
        self.box = tuple(int(v) for v in box)


def _centre(box: Box) -> np.ndarray:
    x, y, w, h = box
    return np.array([x + w / 2, y + h / 2], np.float64)


def _as_array(boxes: Sequence[Box]) -> np.ndarray:
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4)."""
    ax0, ay0, aw, ah = (a[:, i, None] for i in range(4))
    bx0, by0, bw, bh = (b[None, :, i] for i in range(4))
    iw = np.clip(np.minimum(ax0 + aw, bx0 + bw) - np.maximum(ax0, bx0), 0.0, None)
    ih = np.clip(np.minimum(ay0 + ah, by0 + bh) - np.maximum(ay0, by0), 0.0, None)
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (x, y, w, h); 0 where neither has an area."""
    return float(iou_matrix(_as_array([a]), _as_array([b]))[0, 0])


def _greedy(cost: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int]]:
    """Pair rows with columns, cheapest first; a stable sort makes ties resolve by index order."""
    rows, cols = np.nonzero(allowed)
    order = np.argsort(cost[rows, cols], kind="stable")
    pairs = []
    free_rows, free_cols = set(rows.tolist()), set(cols.tolist())
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r in free_rows and c in free_cols:
            pairs.append((r, c))
            free_rows.discard(r)
            free_cols.discard(c)
    return pairs


class FaceTracker:
    """Gives each face an integer id that stays with it while it moves.

    Each live face is expected where its velocity takes it (its last box while it has none).
    A box may be that face when it overlaps the expected box by ``iou_threshold`` (IoU) or its
    centre lies within ``center_distance`` face sides of the expected centre or of the last
    one (the face may have stopped or turned), and its side is within MAX_SIZE_RATIO of the
    face's. A face moving half its width a frame keeps no overlap with its last box, which is
    why the centre counts too. Of the allowed pairs the cheapest go first (greedy,
    deterministic): the cost is the distance from the expected centre in face sides plus the
    log of the size ratio. Expecting each face where it is heading is what keeps two faces
    apart when they cross: halfway, each is nearer the other's last box than its own, but not
    nearer the other's expected one.

    A face unseen for more than ``max_misses`` consecutive frames is forgotten; if it comes back
    it gets a new id. Ids start at 1 and are never reused until ``reset()``.
    """

    def __init__(self, iou_threshold: float = 0.3, max_misses: int = 5,
                 smoothing: str = "ema", smoothing_alpha: float = 0.5, window: int = 5,
                 labels: Sequence[str] = EMOTIONS, center_distance: float = 1.0):
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if isinstance(max_misses, bool) or not isinstance(max_misses, int) or max_misses < 0:
            raise ValueError(f"max_misses must be an integer >= 0, got {max_misses!r}")
        if smoothing not in SMOOTHING_MODES:
            raise ValueError(
                f"unknown smoothing {smoothing!r}: expected one of {', '.join(SMOOTHING_MODES)}"
            )
        if not 0.0 < smoothing_alpha <= 1.0:
            raise ValueError(f"smoothing_alpha must be in (0, 1], got {smoothing_alpha}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        if not labels or len(set(labels)) != len(labels):
            raise ValueError(f"labels must be non-empty and unique, got {list(labels)}")
        if center_distance < 0.0:
            raise ValueError(f"center_distance must be >= 0, got {center_distance}")
        self.iou_threshold = float(iou_threshold)
        self.max_misses = max_misses
        self.smoothing = smoothing
        self.smoothing_alpha = float(smoothing_alpha)
        self.window = window
        self.labels = tuple(labels)
        self.center_distance = float(center_distance)
        self._tracks: list[_State] = []
        self._next_id = 1

    def reset(self) -> None:
        """Forget every face and restart ids at 1 (e.g. when the camera changes)."""
        self._tracks = []
        self._next_id = 1

    def continue_ids_of(self, previous: FaceTracker) -> None:
        """Hand out ids after the highest ``previous`` ever gave: a node that rebuilds its
        tracker (a parameter change) must never give a new face an id that another face had,
        or downstream nodes mix up people."""
        self._next_id = max(self._next_id, previous._next_id)

    def update(self, boxes: Sequence[Box], scores: np.ndarray) -> list[Track]:
        """Match this frame's faces to the live ones and smooth each face's scores; one Track
        per box, in input order. ``scores`` holds one row of probabilities per box."""
        return self.smooth(self.associate(boxes), scores)

    def associate(self, boxes: Sequence[Box]) -> list[int]:
        """Match this frame's boxes to the live faces, before anything is classified: the face
        id of each box, in input order. Faces left unmatched count a miss; a new box gets a new
        id. Call ``smooth`` with the ids to get the frame's Tracks."""
        new = _as_array(boxes)
        if np.any(new[:, 2:] <= 0):
            raise ValueError(f"face boxes need a positive width and height, got {list(boxes)}")
        assignment = self._match(new)
        matched = set(assignment.values())
        survivors = []
        for j, state in enumerate(self._tracks):
            if j not in matched:
                state.misses += 1
                if state.misses > self.max_misses:
                    continue
            survivors.append(state)
        ids = []
        for i, box in enumerate(boxes):
            if i in assignment:
                state = self._tracks[assignment[i]]
            else:
                state = _State(self._next_id, box, SmoothedScores(
                    self.smoothing, self.smoothing_alpha, self.window))
                self._next_id += 1
                survivors.append(state)
            state.gap = state.misses
            if state.hits:
                state.moved_to(box)
            state.hits += 1
            state.misses = 0
            ids.append(state.face_id)
        self._tracks = survivors
        return ids

    def smooth(self, face_ids: Sequence[int], scores: np.ndarray,
               fresh: Sequence[bool] | None = None) -> list[Track]:
        """The Tracks of faces ``associate`` just returned, one per id, in that order.

        ``scores`` holds one row per id. Only rows marked ``fresh`` (all when None) are new
        classifications and move the smoothing; the others are a face's earlier scores reused
        (see ``ClassificationSchedule``), and counting them again would weigh one old look at
        the face as many.
        """
        scores = np.asarray(scores, dtype=np.float32)
        if scores.shape != (len(face_ids), len(self.labels)):
            raise ValueError(
                f"scores must have shape ({len(face_ids)}, {len(self.labels)}) for "
                f"{len(face_ids)} faces, got {scores.shape}"
            )
        states = {state.face_id: state for state in self._tracks}
        out = []
        for i, face_id in enumerate(face_ids):
            state = states.get(face_id)
            if state is None:
                raise ValueError(f"face {face_id} is not a live face of this tracker")
            if fresh is None or fresh[i] or state.smoothed is None:
                state.smoothed = state.scores.add(scores[i])
            best = int(np.argmax(state.smoothed))
            out.append(Track(face_id, state.box, self.labels[best],
                             float(state.smoothed[best]), state.smoothed.copy(), state.hits,
                             state.gap))
        return out

    def camera_moved(self, dx: float, dy: float) -> None:
        """The camera moved the view's content by ``dx``, ``dy`` pixels since the last frame
        (camera_motion.py): each face is expected there plus its own motion, and
        its velocity stays its own, so a face that stands still while the head turns is
        expected where the turn takes it, not where it drifted before."""
        step = round(dx), round(dy)
        if step == (0, 0):
            return
        for state in self._tracks:
            x, y, w, h = state.box
            state.box = (x + step[0], y + step[1], w, h)

    def live_boxes(self) -> dict[int, Box]:
        """Expected box in the next frame of every face still remembered, seen in the last frame
        or not: where to look for each face again between full detections."""
        return {state.face_id: state.predicted() for state in self._tracks}

    def _match(self, new: np.ndarray) -> dict[int, int]:
        """Map indices of this frame's boxes to indices of live tracks."""
        if not len(new) or not self._tracks:
            return {}
        expected = _as_array([t.predicted() for t in self._tracks])
        last = _as_array([t.box for t in self._tracks])
        centre_new = new[:, None, :2] + new[:, None, 2:] / 2
        side_new = np.sqrt(new[:, None, 2] * new[:, None, 3])
        side_old = np.sqrt(last[None, :, 2] * last[None, :, 3])
        from_expected, from_last = (
            np.linalg.norm(centre_new - (old[None, :, :2] + old[None, :, 2:] / 2), axis=2)
            / side_old for old in (expected, last))
        size_change = np.abs(np.log(side_new / side_old))
        allowed = ((iou_matrix(new, expected) >= self.iou_threshold)
                   | (np.minimum(from_expected, from_last) <= self.center_distance))
        allowed &= size_change <= np.log(MAX_SIZE_RATIO)
        return dict(_greedy(from_expected + size_change, allowed))
