"""Frame in, faces with ids and expressions out: the core the node, the CLI and benches share.

One frame costs one gray conversion, one detector call and one batched classifier call, however
many faces it holds. Two intervals trade freshness for CPU time: with ``detection_interval`` k
the whole frame is searched every k-th frame only, and in between each tracked face is found
again near its last box (tracking/roi_redetection.py), so a new face is reported at most k-1
frames late (at once when none of the tracked ones is found or when the frame size changes: the
whole frame is then searched); with ``classification_interval`` c each face is classified at
least every c-th frame and its scores reused in between, so they are at most c-1 frames old;
the frames that search the whole frame classify only new faces and faces at that limit, the
others take turns with the rest (tracking/scheduling.py), so that no frame pays for both a
search and many faces.

While no face is tracked there is nothing to follow, and every frame would be searched whole:
the most costly case would be the commonest, an empty scene. ``empty_detection_interval`` e
searches only every e-th of those frames: a face that walks in is reported at most e-1 frames
late. ``change_threshold`` skips the search of a frame due for one, tracked faces or not, that
did not change since the last search outside the faces (tracking/search_schedule.py), and
keeps a tracked face where it was found while its region did not change either
(tracking/unchanged_faces.py): before a still background and still people the cost follows
what moves.

A robot's camera moves, though: the head turns to the people it looks at. With
``camera_motion`` the pipeline measures how the whole view moved (tracking/camera_motion.py)
in every frame while the camera moves and every few frames otherwise
(``_measure_camera``), and both gates undo that motion before they compare: a panning
camera has only the strip that entered the view searched (and what changed within it, a
person walking), faces whose region did not change keep their detections moved as the camera
moved them, and the tracker expects each face where the camera's motion and its own take it.
Forward motion and zoom leave no position to compare with and fall back to the cadence.

With ``background_detection`` the whole-frame search runs on a thread of its own
(tracking/background_search.py) while the following frames follow the tracked faces; its
new faces are sought in the frame at hand once it has finished, so they are reported a frame or
two later than without, and no frame waits for a whole-frame search unless nothing is tracked
(then there is nothing to follow). Results then depend on timing. It is off by default: it
needs a core to spare, and on a 2-core computer beside the camera's publisher it gained nothing
over DDS while its second detector costs memory (docs/performance.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Box, Detection, FaceDetector, Landmarks
from fer_ros.perception.detection.detectors import create_detector
from fer_ros.perception.expressions.alignment import level_rolls
from fer_ros.perception.expressions.classification import ExpressionClassifier, load_classifier
from fer_ros.perception.pipeline_parameters import PIPELINE_DEFAULTS as _DEFAULTS
from fer_ros.perception.tracking.background_search import BackgroundDetection
from fer_ros.perception.tracking.camera_motion import CameraMotion, Position
from fer_ros.perception.tracking.roi_redetection import RoiRedetector
from fer_ros.perception.tracking.scheduling import ClassificationSchedule, interval_value
from fer_ros.perception.tracking.search_schedule import MIN_SHIFT, SearchArea, WholeFrameSearch
from fer_ros.perception.tracking.tracks import FaceTracker, iou_matrix
from fer_ros.perception.tracking.unchanged_faces import UnchangedFaces, moved

NEW_FACE_IOU = 0.3
"""A face of a background search whose box overlaps no tracked face's this much is new."""
CUT_MARGIN = 0.25
"""Around a face's box, in face sides, what must lie inside a searched region for the face to
count as whole in it: the box covers brows to chin, the head reaches beyond it."""
MIN_REGION_SIDE = 16
"""Regions narrower than this (frame pixels) hold no face and are not searched."""
COARSE_SHARE = 2 / 3
"""With ``coarse_regions``, regions of a frame (the strips that entered the view, the blocks
that changed) are searched at this share of the whole frame's scale, (2/3)^2 = 0.44 of its
pixels, for proposals; each new one is confirmed near its box at the full scale and the
detector's own score threshold (tracking/roi_redetection.py), so new faces get a full search's
boxes, landmarks and threshold, and what the coarse pass mistook for a face is dropped. A
panning camera pays for its strips most of all: on bench/motion.py's scenes (the pipeline
alone, 270 frames, two runs each) its CPU per frame fell from 8.77 to 7.9 ms (1280x720, slow
pan), from 10.2 to 8.9 ms (fast pan) and from 17.1 to 16.0 ms (1920x1080, 8 faces, slow pan),
every face whole in view for 6 frames still reported."""
PROPOSAL_FRACTION = 0.5
"""The coarse pass proposes what scores this fraction of the detector's threshold (RetinaFace:
0.45 for 0.9): a small face scores lower at the coarse scale. Proposals at the full threshold
left single 40-56 px faces entering a 1280x720 pan unreported until the next whole-frame search
(up to a second later); at half of it five of six such faces of the test photos were reported
in the same frame as with regions searched at the full scale. A face the coarse pass still
misses is found by the whole-frame search, always at the full scale, that comes at least once
a second while only regions are searched (tracking/search_schedule.py's
MOST_FRAMES_UNSEARCHED)."""


@dataclass(frozen=True)
class FaceResult:
    """One face of one frame. ``scores`` are the raw probabilities of the face's most recent
    classification, at most ``classification_interval`` - 1 frames old; ``label`` and
    ``confidence`` come from the track's smoothed probabilities when smoothing is on.
    ``landmarks`` are the detector's (five for RetinaFace, in its documented order; empty for
    detectors without them), in frame pixels."""

    face_id: int
    box: Box
    detection_score: float
    label: str
    confidence: float
    scores: np.ndarray
    landmarks: Landmarks = ()


@dataclass(frozen=True)
class PipelineConfig:
    """The knobs of a pipeline, named, typed and defaulted as the emotion node's parameters
    (perception/pipeline_parameters.py; a test keeps the two the same)."""

    detector: str = _DEFAULTS["detector"]
    model: str = _DEFAULTS["model"]
    min_face_size: int = _DEFAULTS["min_face_size"]
    detection_threshold: float = _DEFAULTS["detection_threshold"]
    detection_size: int = _DEFAULTS["detection_size"]
    max_faces: int = _DEFAULTS["max_faces"]
    smoothing: str = _DEFAULTS["smoothing"]
    smoothing_alpha: float = _DEFAULTS["smoothing_alpha"]
    smoothing_window: int = _DEFAULTS["smoothing_window"]
    track_iou_threshold: float = _DEFAULTS["track_iou_threshold"]
    track_max_misses: int = _DEFAULTS["track_max_misses"]
    num_threads: int = _DEFAULTS["num_threads"]
    classifier_threads: int = _DEFAULTS["classifier_threads"]
    detection_interval: int = _DEFAULTS["detection_interval"]
    classification_interval: int = _DEFAULTS["classification_interval"]
    empty_detection_interval: int = _DEFAULTS["empty_detection_interval"]
    change_threshold: float = _DEFAULTS["change_threshold"]
    camera_motion: bool = _DEFAULTS["camera_motion"]
    coarse_regions: bool = _DEFAULTS["coarse_regions"]
    background_detection: bool = _DEFAULTS["background_detection"]
    level_tilted_faces: bool = _DEFAULTS["level_tilted_faces"]


class EmotionPipeline:
    """Detect, classify in one batch, track. Not thread-safe: one caller at a time."""

    def __init__(self, detector: FaceDetector, classifier: ExpressionClassifier,
                 tracker: FaceTracker, max_faces: int = _DEFAULTS["max_faces"],
                 detection_interval: int = _DEFAULTS["detection_interval"],
                 classification_interval: int = _DEFAULTS["classification_interval"],
                 min_face_size: int = _DEFAULTS["min_face_size"],
                 background_detector: FaceDetector | None = None,
                 level_tilted_faces: bool = _DEFAULTS["level_tilted_faces"],
                 empty_detection_interval: int = _DEFAULTS["empty_detection_interval"],
                 change_threshold: float = _DEFAULTS["change_threshold"],
                 camera_motion: bool = _DEFAULTS["camera_motion"],
                 coarse_regions: bool = _DEFAULTS["coarse_regions"]):
        """``background_detector``, a second instance of ``detector``'s kind (one per thread),
        runs the whole-frame searches beside the frames that follow; see the module.
        ``level_tilted_faces``: classify faces rolled by more than
        expressions/alignment.py's ``LEVEL_ABOVE_DEGREES`` from a level crop.
        ``empty_detection_interval`` and ``change_threshold``: when to search the whole
        frame (tracking/search_schedule.py). ``camera_motion``: measure how the view moved
        (tracking/camera_motion.py) and undo it before both change gates compare frames;
        only with ``change_threshold`` above 0, which the gates need. ``coarse_regions``:
        search regions at COARSE_SHARE of the whole frame's scale and confirm new faces at the
        full scale."""
        self.detector = detector
        self.classifier = classifier
        self.tracker = tracker
        self.max_faces = max_faces
        self.level_tilted_faces = level_tilted_faces
        self.detection_interval = interval_value("detection_interval", detection_interval)
        # A search beside the frames (background) is no frame's cost: every frame classifies.
        self.schedule = ClassificationSchedule(
            classification_interval, 1 if background_detector is not None else detection_interval)
        self.redetector = RoiRedetector(detector, min_face_size=min_face_size)
        self.search = WholeFrameSearch(self.detection_interval, empty_detection_interval,
                                       change_threshold)
        self.unchanged = UnchangedFaces(change_threshold)
        self.motion = CameraMotion() if camera_motion and change_threshold > 0 else None
        threshold = getattr(detector, "score_threshold", None)
        coarse = (coarse_regions and threshold is not None
                  and getattr(detector, "frame_scale", None) is not None)
        self.region_share = COARSE_SHARE if coarse else 1.0
        """Share of the whole frame's scale that regions are searched at: COARSE_SHARE where
        the coarse pass applies (``coarse_regions``, a detector with a frame scale and a
        score threshold), else 1."""
        self.proposal_score = PROPOSAL_FRACTION * threshold if coarse else None
        """The score the coarse pass proposes at; None without it."""
        self._position: Position | None = None
        """The camera's position in the last frame measured, and in the frames since then
        that looked still (see ``_measure_camera``)."""
        self._measured = -1
        """Number of the last frame whose camera motion was measured."""
        self._camera_moving = False
        """Whether the camera moved at the last measurement."""
        self._unknown_until = 0
        """Number of the first frame to measure again after a measurement that failed."""
        self._still_at = -1_000_000
        """Number of the last frame measured to be where the one before it was: faces whose
        region changed soon after moved by themselves (a person, a zoom)."""
        self.background = (BackgroundDetection(background_detector)
                           if background_detector is not None else None)
        self.frame = 0
        """Number of the next frame; faces take their classification turns by it."""
        self._frames_to_full = 0
        """Frames left before the next full detection."""
        self._frame_shape: tuple[int, ...] = ()
        """Shape of the last frame: the tracked boxes are in its pixels."""
        self._found_last: list[Box] = []
        """Boxes of the faces found in the last frame (with ``background_detection``)."""

    @classmethod
    def from_config(cls, config: PipelineConfig,
                    classifier: ExpressionClassifier | None = None) -> EmotionPipeline:
        """Build a pipeline; pass the running ``classifier`` to keep it when only detector or
        tracking settings change (reloading a Keras model takes seconds)."""
        if classifier is None:
            classifier = load_classifier(config.model, num_threads=config.classifier_threads)
        # Half the threads for the background search: the frame at hand keeps the rest.
        background = (detector_from_config(config, max(1, config.num_threads // 2))
                      if config.background_detection else None)
        return cls(detector_from_config(config, config.num_threads), classifier,
                   make_tracker(config, classifier.metadata.labels),
                   max_faces=config.max_faces, detection_interval=config.detection_interval,
                   classification_interval=config.classification_interval,
                   min_face_size=config.min_face_size, background_detector=background,
                   level_tilted_faces=config.level_tilted_faces,
                   empty_detection_interval=config.empty_detection_interval,
                   change_threshold=config.change_threshold,
                   camera_motion=config.camera_motion,
                   coarse_regions=config.coarse_regions)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.metadata.labels

    def process(self, bgr: np.ndarray) -> list[FaceResult]:
        """All faces of one BGR frame, largest first when there are more than ``max_faces``."""
        frame, self.frame = self.frame, self.frame + 1
        nobody = not self.tracker.live_boxes()
        if nobody and not self.search.due(bgr.shape):
            # Nobody to follow and not this frame's turn to look: no face, at no cost.
            self._frame_shape = bgr.shape
            return []
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if self._camera_moving:
            # A camera that moved at the last measurement most likely still moves: measured
            # at once rather than after every gate has failed at its last position.
            self._measure_camera(gray, frame)
        area = None
        if nobody:
            area = self.search.area(gray, (), self._position)
            if area and self._measure_camera(gray, frame):
                area = self.search.area(gray, (), self._position)
            if not area:
                # Nobody to follow, and the frame is as the last one searched in vain.
                self._frame_shape = bgr.shape
                return []
        detections, searched, kept = self._detect(bgr, gray, frame, area)
        detections = largest_faces(detections, self.max_faces)
        boxes = [d.box for d in detections]
        face_ids = self.tracker.associate(boxes)
        live = self.tracker.live_boxes()
        self.schedule.keep_only(live)
        self.unchanged.keep_only(live)
        kept_now = {id(d) for d in kept}
        self.unchanged.found(gray, frame, {f: d for f, d in zip(face_ids, detections)
                                           if id(d) not in kept_now}, self._position)
        due = self.schedule.due(frame, face_ids, searching=searched)
        chosen = [i for i, now in enumerate(due) if now]
        if chosen:
            rolls = (level_rolls([detections[i].landmarks for i in chosen])
                     if self.level_tilted_faces else None)
            fresh = self.classifier.classify(bgr, gray, [boxes[i] for i in chosen], rolls)
            self.schedule.record(frame, [face_ids[i] for i in chosen], fresh)
        scores = np.array([self.schedule.scores(f) for f in face_ids], np.float32).reshape(
            len(face_ids), len(self.labels))
        tracks = self.tracker.smooth(face_ids, scores, due)
        return [
            FaceResult(track.face_id, det.box, det.score, track.label, track.confidence, row,
                       det.landmarks)
            for det, track, row in zip(detections, tracks, scores)
        ]

    def _measure_camera(self, gray: np.ndarray, frame: int) -> bool:
        """Measure the camera's motion in this frame (frame number ``frame``), once, and move
        the tracked faces as it moved them since the last measurement; whether it was measured
        now (not without ``camera_motion``, nor twice). Measured in every frame while the camera
        moves; otherwise where a search is due and the gate found the frame changed at the
        camera's last position, and where a tracked face's region changed, at most once every
        ``detection_interval`` frames after a measurement found the camera still: a still
        camera before people who move, or one that zooms (no shift describes it), costs a
        measurement every few frames, and a camera that starts to move is followed within
        that many frames."""
        if self.motion is None or self._measured == frame or frame < self._unknown_until:
            return False
        self._measured = frame
        position = self.motion.update(gray, list(self.tracker.live_boxes().values()))
        step = position.shift_since(self._position)
        if step is None and self._position is not None:
            # No shift describes this frame (a zoom, forward motion, a jolt): until the next
            # search is due, the camera is taken as still, as without camera_motion, rather
            # than measured again in every frame in vain.
            self._position, self._camera_moving = None, False
            self._unknown_until = frame + self.detection_interval
            return True
        if step is not None:
            self.tracker.camera_moved(*step)
        self._camera_moving = step is not None and max(abs(step[0]), abs(step[1])) >= MIN_SHIFT
        if not self._camera_moving:
            self._still_at = frame
        self._position = position
        return True

    def _detect(self, bgr: np.ndarray, gray: np.ndarray, frame: int,
                area: SearchArea | None = None
                ) -> tuple[list[Detection], bool, list[Detection]]:
        """The frame's faces, whether the whole frame was searched in this frame's turn, and
        which of the faces kept their last detection (tracking/unchanged_faces.py).

        The whole frame when the search schedule says so (tracking/search_schedule.py), and
        in every frame handed here while no face is tracked with the ``area`` the schedule
        gave (``process`` hands over only the empty scene's frames due for a search); near the
        tracked faces in between, and in the regions of the frame that entered the view or
        changed since the last search when the schedule names them. When none of the tracked
        faces is found near its box, the scene has changed (another camera, a cut, a turn of
        the head camera that was too fast to follow): the whole frame is searched at once
        rather than up to k-1 frames later; so it is when the frame size changes, as the
        tracked boxes are in the old frame's pixels."""
        live = self.tracker.live_boxes()
        tracked = list(live.values())
        same_size, self._frame_shape = bgr.shape == self._frame_shape, bgr.shape
        if not same_size:
            self.unchanged.forget()
        if self.background is not None:
            return *self._detect_beside(bgr, gray, frame, tracked, same_size), []
        if tracked and same_size:
            if self.search.due(bgr.shape, tracked):
                area = self.search.area(gray, tracked, self._position)
                if area and self._measure_camera(gray, frame):
                    live = self.tracker.live_boxes()
                    area = self.search.area(gray, list(live.values()), self._position)
            if not (area and area.whole_frame):
                kept = self.unchanged.kept(gray, frame, live, self._position)
                if (len(kept) < len(live) and frame - self._still_at >= self.detection_interval
                        and self._measure_camera(gray, frame)):
                    live = self.tracker.live_boxes()
                    kept.update(self.unchanged.kept(
                        gray, frame, [f for f in live if f not in kept], self._position))
                sought = [f for f in live if f not in kept]
                again = dict(zip(sought,
                                 self.redetector.redetect(bgr, [live[f] for f in sought])))
                again = apart_from(again, list(kept.values()))
                found = [d for d in (kept.get(f) or again.get(f) for f in live) if d is not None]
                if found and area:
                    entered = self._search_regions(bgr, gray, area.regions)
                    found += self._confirmed(bgr, [d for d, new in zip(entered, overlapping_none(
                        [d.box for d in entered], [d.box for d in found])) if new])
                    self.search.searched(gray, [d.box for d in found], self._position,
                                         whole=False)
                if found:
                    return found, False, list(kept.values())
        elif not tracked and area and not area.whole_frame:
            found = self._confirmed(bgr, self._search_regions(bgr, gray, area.regions))
            self.search.searched(gray, [d.box for d in found], self._position, whole=False)
            return found, False, []
        return self._search(bgr, gray, frame), True, []

    def _detect_beside(self, bgr: np.ndarray, gray: np.ndarray, frame: int, tracked: list[Box],
                       same_size: bool) -> tuple[list[Detection], bool]:
        """``_detect`` with the whole-frame search in the background: the tracked faces and
        the faces of the last finished search that the last frame did not show are sought near
        their boxes in this frame, and a new search starts every ``detection_interval``-th
        frame once the last one has finished. With nothing to follow (no face tracked, a new
        frame size, none of the sought faces found) the frame is searched whole in its own
        turn, as without."""
        finished = self.background.take()
        found: list[Detection] = []
        if tracked and same_size:
            sought = tracked
            if finished is not None and finished.shape == bgr.shape:
                # New faces, and tracked ones that the last frame's regions missed, sought
                # again from where the search saw them.
                sought = tracked + new_faces(finished.detections, self._found_last)
            found = [d for d in self.redetector.redetect(bgr, sought) if d is not None]
            if self._frames_to_full > 0:
                self._frames_to_full -= 1
            elif not self.background.busy:
                self.background.start(bgr, gray)
                self._frames_to_full = self.detection_interval - 1
        searched = not found
        if searched:
            found = self._search(bgr, gray, frame)
        self._found_last = [d.box for d in found]
        return found, searched

    def _search(self, bgr: np.ndarray, gray: np.ndarray, frame: int) -> list[Detection]:
        """The whole frame (frame number ``frame``) searched in its own turn."""
        self._measure_camera(gray, frame)
        found = self.detector.detect(bgr, gray)
        self.search.searched(gray, [d.box for d in found], self._position)
        return found

    def _search_regions(self, bgr: np.ndarray, gray: np.ndarray,
                        regions: Sequence[tuple[float, float, float, float]]
                        ) -> list[Detection]:
        """The faces in ``regions`` of the frame (x0, y0, x1, y1), each searched at the region share
        (COARSE_SHARE with ``coarse_regions``, else 1) of the scale the whole frame would be
        (detectors with ``frame_scale``; others search the whole frame), to be confirmed
        (``_confirmed``) where they are new. A face cut by a region's edge inside the frame is left
        out: it lay whole in the last searched frame or is larger than the regions' margins
        (search_schedule.ENTERING_MARGIN), and its cut box would count as a new face."""
        height, width = gray.shape[:2]
        frame_scale = getattr(self.detector, "frame_scale", None)
        if frame_scale is None:
            return self.detector.detect(bgr, gray)
        scale = frame_scale(width, height) * self.region_share
        found: list[Detection] = []
        for region in regions:
            x0, y0 = max(0, math.floor(region[0])), max(0, math.floor(region[1]))
            x1, y1 = min(width, math.ceil(region[2])), min(height, math.ceil(region[3]))
            if x1 - x0 < MIN_REGION_SIDE or y1 - y0 < MIN_REGION_SIDE:
                continue
            for detection in self.detector.detect(bgr[y0:y1, x0:x1], gray[y0:y1, x0:x1],
                                                  min_score=self.proposal_score, scale=scale):
                detection = moved(detection, x0, y0)
                if within_region(detection.box, (x0, y0, x1, y1), width, height):
                    found.append(detection)
        return [d for k, d in enumerate(found)
                if overlapping_none([d.box], [e.box for e in found[:k]])[0]]

    def _confirmed(self, bgr: np.ndarray, candidates: list[Detection]) -> list[Detection]:
        """The faces of a coarse pass (``_search_regions``) found again near their boxes at
        the full scale, with the boxes and landmarks found there; the others dropped."""
        if not candidates or self.proposal_score is None:
            return candidates
        again = self.redetector.redetect(bgr, [d.box for d in candidates],
                                         min_score=self.detector.score_threshold)
        return [d for d in again if d is not None]

    def close(self) -> None:
        """Wait for a background search in progress; the pipeline stays usable."""
        if self.background is not None:
            self.background.join()


def overlapping_none(boxes: list[Box], others: list[Box]) -> list[bool]:
    """For each of ``boxes``: whether it overlaps each of ``others`` by less than
    NEW_FACE_IOU, that is, is another face than all of them."""
    if not boxes or not others:
        return [True] * len(boxes)
    overlap = iou_matrix(np.asarray(boxes, np.float64),
                         np.asarray(others, np.float64)).max(axis=1)
    return [bool(best < NEW_FACE_IOU) for best in overlap]


def new_faces(detections: list[Detection], tracked: list[Box]) -> list[Box]:
    """Boxes of ``detections`` that overlap none of the ``tracked`` boxes."""
    boxes = [d.box for d in detections]
    return [box for box, new in zip(boxes, overlapping_none(boxes, tracked)) if new]


def apart_from(found: dict[int, Detection | None],
               kept: list[Detection]) -> dict[int, Detection]:
    """The detections of ``found`` that overlap no ``kept`` one: another track's region can
    reach a face that kept its detection, and one face must not be reported twice; the kept
    face stays where it was, the other track counts a miss."""
    present = {f: d for f, d in found.items() if d is not None}
    apart = overlapping_none([d.box for d in present.values()], [d.box for d in kept])
    return {f: d for (f, d), keep in zip(present.items(), apart) if keep}


def within_region(box: Box, region: tuple[int, int, int, int], width: int,
                  height: int) -> bool:
    """Whether ``box``, widened by CUT_MARGIN of its side, stays off the edges of ``region``
    that lie inside the frame (``width`` x ``height``): a face the region's edge cut is
    found with a box of its part."""
    x, y, w, h = box
    margin = CUT_MARGIN * max(w, h)
    x0, y0, x1, y1 = region
    return ((x0 == 0 or x - margin >= x0) and (y0 == 0 or y - margin >= y0)
            and (x1 == width or x + w + margin <= x1) and (y1 == height or y + h + margin <= y1))


def largest_faces(detections: list[Detection], max_faces: int) -> list[Detection]:
    """The ``max_faces`` largest of ``detections``; all of them, in their order, when fewer."""
    if len(detections) <= max_faces:
        return detections
    return sorted(detections, key=lambda d: d.box[2] * d.box[3], reverse=True)[:max_faces]


def detector_from_config(config: PipelineConfig, num_threads: int) -> FaceDetector:
    return create_detector(
        config.detector, min_face_size=config.min_face_size,
        score_threshold=config.detection_threshold, num_threads=num_threads,
        detection_size=config.detection_size,
    )


def make_tracker(config: PipelineConfig, labels: tuple[str, ...]) -> FaceTracker:
    return FaceTracker(
        iou_threshold=config.track_iou_threshold, max_misses=config.track_max_misses,
        smoothing=config.smoothing, smoothing_alpha=config.smoothing_alpha,
        window=config.smoothing_window, labels=labels,
    )
