"""The two real-time intervals on real faces with the real models: re-detection near tracked
faces between full detections (``detection_interval``), and classification of each face at a
bounded rate (``classification_interval``). Faces are face-api's photos (``make photos``),
moved across an HD frame a few pixels per frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_photos import all_faces, head_patch, needs_photos
from fer_ros.perception.detection.detectors import create_detector
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig, make_tracker
from fer_ros.perception.tracking.roi_redetection import RoiRedetector
from fer_ros.perception.tracking.scheduling import ClassificationSchedule
from fer_ros.perception.tracking.tracks import box_iou

pytestmark = needs_photos

WIDTH, HEIGHT = 1280, 720
STEP = 8
"""Pixels each face moves per frame, each in its own direction: after two frames a box carried
over would overlap its face by IoU ~0.55, so a stale box fails the 0.7 the tests ask for."""
START = [(80, 80), (420, 90), (760, 70), (1080, 100), (90, 440), (430, 460), (780, 430),
         (1070, 450)]
DIRECTIONS = [(1, 1), (-1, 1), (1, -1), (-1, -1), (1, 0), (0, 1), (-1, 0), (0, -1)]
SIZES = [100, 110, 96, 104, 118, 92, 112, 106]


@pytest.fixture(scope="module")
def classifier():
    return load_classifier("")


@pytest.fixture(scope="module")
def patches():
    faces = all_faces()
    return [head_patch(*faces[(k * 5) % len(faces)], size) for k, size in enumerate(SIZES)]


def scene(patches, t: int, present: list[int]) -> np.ndarray:
    """Frame ``t`` of the sequence, with the faces of ``present`` (indices into START)."""
    frame = np.full((HEIGHT, WIDTH, 3), 70, np.uint8)
    for k in present:
        patch, _ = patches[k]
        x = START[k][0] + DIRECTIONS[k][0] * STEP * t
        y = START[k][1] + DIRECTIONS[k][1] * STEP * t
        h, w = patch.shape[:2]
        frame[y:y + h, x:x + w] = patch[:HEIGHT - y, :WIDTH - x]
    return frame


def pipeline_with(classifier, **settings) -> EmotionPipeline:
    return EmotionPipeline.from_config(PipelineConfig(**settings), classifier)


def full_boxes(frame: np.ndarray) -> list:
    detector = create_detector("retinaface")
    return [d.box for d in detector.detect(frame, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))]


def best_iou(box, boxes) -> float:
    return max((box_iou(box, b) for b in boxes), default=0.0)


def test_boxes_between_full_detections_follow_the_moving_faces(classifier, patches):
    pipeline = pipeline_with(classifier, detection_interval=3, classification_interval=1)
    everyone = list(range(8))
    ids = None
    previous_full = None
    for t in range(7):
        frame = scene(patches, t, everyone)
        faces = pipeline.process(frame)
        truth = full_boxes(frame)
        assert len(truth) == 8
        assert len(faces) == 8, f"frame {t}: {len(faces)} faces"
        for face in faces:
            assert best_iou(face.box, truth) > 0.7, f"frame {t}: {face.box} vs {truth}"
            assert len(face.landmarks) == 5
            x, y, w, h = face.box
            assert all(x <= px <= x + w and y - h / 2 <= py <= y + 1.5 * h
                       for px, py in face.landmarks)
        if t % 3 == 2:
            # The test's motion must be large enough that last full detection's boxes fail.
            assert min(best_iou(b, truth) for b in previous_full) < 0.7
        if t % 3 == 0:
            previous_full = [f.box for f in faces]
        frame_ids = {f.face_id for f in faces}
        ids = ids or frame_ids
        assert frame_ids == ids


def test_a_face_that_appears_is_found_at_the_next_full_detection(classifier, patches):
    pipeline = pipeline_with(classifier, detection_interval=3)
    counts = [len(pipeline.process(scene(patches, t, [0, 1] if t == 0 else [0, 1, 2])))
              for t in range(4)]
    # It appears in frame 1; frames 1 and 2 only look near the tracked faces.
    assert counts == [2, 2, 2, 3]


def test_while_no_face_is_tracked_every_frame_can_be_searched_whole(classifier, patches):
    """With empty_detection_interval 1 the first face is found in its first frame
    (test_search_schedule.py covers the cadence)."""
    pipeline = pipeline_with(classifier, detection_interval=5, empty_detection_interval=1)
    counts = [len(pipeline.process(scene(patches, t, [] if t < 2 else [0, 1])))
              for t in range(4)]
    assert counts == [0, 0, 2, 2]


def test_a_scene_cut_is_searched_whole_in_the_same_frame(classifier, patches):
    """None of the tracked faces is near its box any more: the frame is searched whole."""
    pipeline = pipeline_with(classifier, detection_interval=5)
    assert len(pipeline.process(scene(patches, 0, [0, 1]))) == 2
    faces = pipeline.process(scene(patches, 1, [5, 6, 7]))
    truth = [patches_box(patches, k, 1) for k in (5, 6, 7)]
    assert len(faces) == 3 and all(best_iou(t, [f.box for f in faces]) > 0.7 for t in truth)


def test_a_new_frame_size_is_searched_whole(classifier, patches):
    pipeline = pipeline_with(classifier, detection_interval=5)
    assert len(pipeline.process(scene(patches, 0, list(range(8))))) == 8
    small = cv2.resize(scene(patches, 0, [0, 1]), (960, 540), interpolation=cv2.INTER_AREA)
    faces = pipeline.process(small)
    truth = [tuple(round(v * 0.75) for v in patches_box(patches, k, 0)) for k in (0, 1)]
    assert len(faces) == 2 and all(best_iou(t, [f.box for f in faces]) > 0.6 for t in truth)


def test_a_face_that_leaves_is_dropped_at_once_and_the_others_keep_their_ids(classifier,
                                                                           patches):
    pipeline = pipeline_with(classifier, detection_interval=5)
    first = pipeline.process(scene(patches, 0, [0, 1, 2]))
    after = [pipeline.process(scene(patches, t, [0, 2])) for t in (1, 2, 3, 4, 5)]
    left_id = next(f.face_id for f in first if box_iou(f.box, patches_box(patches, 1, 0)) > 0.5)
    for faces in after:
        assert len(faces) == 2
        assert {f.face_id for f in faces} == {f.face_id for f in first} - {left_id}


def patches_box(patches, k: int, t: int):
    """The true face box of face ``k`` in frame ``t``."""
    fx, fy, fw, fh = patches[k][1]
    return (START[k][0] + DIRECTIONS[k][0] * STEP * t + fx,
            START[k][1] + DIRECTIONS[k][1] * STEP * t + fy, fw, fh)


class RecordingClassifier:
    """The real classifier, noting the boxes it is given."""

    def __init__(self, classifier):
        self.classifier = classifier
        self.metadata = classifier.metadata
        self.given: list = []

    def classify(self, bgr, gray, boxes, rolls=None):
        self.given.extend(boxes)
        return self.classifier.classify(bgr, gray, boxes, rolls)


def classified_per_frame(pipeline: EmotionPipeline, frames: list[np.ndarray]) -> list[int]:
    """Per frame, how many faces the classifier was given. Checks that every other face kept
    its last scores, and that no face's scores grew classification_interval frames old."""
    interval = pipeline.schedule.interval
    recording = pipeline.classifier = RecordingClassifier(pipeline.classifier)
    last: dict[int, tuple[int, np.ndarray]] = {}
    counts = []
    for t, frame in enumerate(frames):
        recording.given.clear()
        for face in pipeline.process(frame):
            assert face.scores.sum() == pytest.approx(1.0, abs=1e-4)
            if face.box in recording.given:
                last[face.face_id] = (t, face.scores)
            else:
                assert np.array_equal(face.scores, last[face.face_id][1])
                assert t - last[face.face_id][0] < interval, f"frame {t}: face {face.face_id}"
        counts.append(len(recording.given))
    return counts


def test_each_frame_classifies_a_share_of_the_faces(classifier, patches):
    pipeline = pipeline_with(classifier, detection_interval=1, classification_interval=3)
    counts = classified_per_frame(pipeline, [scene(patches, t, list(range(6))) for t in range(7)])
    # All six are new in frame 0; after that each frame classifies two of them, not six at once.
    assert counts == [6, 2, 2, 2, 2, 2, 2]


def test_frames_that_search_the_whole_frame_classify_only_new_faces(classifier, patches):
    """Frames 0, 3 and 6 search the whole frame (the slow ones): after frame 0, where all six
    faces are new, they classify none; the two frames between classify three faces each, so
    each face still gets new scores every third frame."""
    pipeline = pipeline_with(classifier, detection_interval=3, classification_interval=3)
    counts = classified_per_frame(pipeline, [scene(patches, t, list(range(6))) for t in range(7)])
    assert counts == [6, 3, 3, 0, 3, 3, 0]


def test_intervals_of_1_give_the_results_of_a_full_detection_and_classification(classifier,
                                                                                patches):
    """Interval 1 is the behaviour before the intervals existed: detect the whole frame, classify
    every face, track and smooth, frame by frame."""
    config = PipelineConfig(detection_interval=1, classification_interval=1)
    pipeline = EmotionPipeline.from_config(config, classifier)
    detector = create_detector("retinaface")
    tracker = make_tracker(config, classifier.metadata.labels)
    for t in range(4):
        frame = scene(patches, t, list(range(5)))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        detections = detector.detect(frame, gray)
        boxes = [d.box for d in detections]
        scores = classifier.classify(frame, gray, boxes)
        tracks = tracker.update(boxes, scores)
        faces = pipeline.process(frame)
        assert [f.box for f in faces] == boxes
        assert [f.face_id for f in faces] == [tr.face_id for tr in tracks]
        assert [(f.label, f.confidence) for f in faces] == [(tr.label, tr.confidence)
                                                            for tr in tracks]
        assert np.array_equal(np.array([f.scores for f in faces]), scores)


def test_redetection_finds_faces_near_the_frame_edge_and_misses_where_none_is(patches):
    detector = create_detector("retinaface")
    frame = scene(patches, 0, [0, 3])
    truth = [patches_box(patches, 0, 0), patches_box(patches, 3, 0)]
    empty = (600, 500, 100, 100)
    found = RoiRedetector(detector).redetect(frame, [truth[0], empty, truth[1]])
    assert found[1] is None
    assert box_iou(found[0].box, truth[0]) > 0.6 and box_iou(found[2].box, truth[1]) > 0.6


def test_a_tracked_face_is_kept_on_a_weaker_score_than_a_new_one_needs(patches):
    """Hysteresis: in its region a face needs 2/3 of the detector's threshold (0.6 for
    RetinaFace's 0.9). A face faded to a tenth of its contrast scores between the two there:
    followed, not dropped; the empty region beside it still gives nothing."""
    detector = create_detector("retinaface")
    redetector = RoiRedetector(detector)
    assert redetector.keep_score == pytest.approx(0.6)
    faded = (scene(patches, 0, [0]).astype(np.float32) * 0.1 + 70 * 0.9).round().astype(np.uint8)
    box = patches_box(patches, 0, 0)
    found, empty = redetector.redetect(faded, [box, (700, 400, 100, 100)])
    assert found is not None and box_iou(found.box, box) > 0.6
    assert redetector.keep_score <= found.score < detector.score_threshold
    assert empty is None


def test_schedule_spreads_faces_over_the_frames_between_searches_and_forgets_the_gone():
    schedule = ClassificationSchedule(3, detection_interval=3)
    assert schedule.due(0, [1, 2, 3, 4], searching=True) == [True] * 4
    schedule.record(0, [1, 2, 3, 4], np.eye(4, 7))
    assert schedule.due(1, [1, 2, 3, 4]) == [True, True, False, False]
    schedule.record(1, [1, 2], np.eye(2, 7))
    assert schedule.due(2, [1, 2, 3, 4, 5]) == [False, False, True, True, True]
    schedule.record(2, [3, 4, 5], np.eye(3, 7))
    # A searching frame classifies only faces whose scores would grow 3 frames old.
    assert schedule.due(3, [1, 2, 3, 4, 5], searching=True) == [False] * 5
    assert schedule.due(4, [1, 2, 3, 4, 5])[:2] == [True, True]
    schedule.record(4, [1, 2], np.eye(2, 7))
    schedule.keep_only([2])
    with pytest.raises(KeyError):
        schedule.scores(1)
    assert schedule.due(5, [1]) == [True]  # new again
    with pytest.raises(ValueError, match="integer >= 1"):
        ClassificationSchedule(0)
    with pytest.raises(ValueError, match="detection interval must be an integer >= 1"):
        ClassificationSchedule(3, detection_interval=0)


def test_reused_scores_do_not_move_the_smoothing(classifier):
    tracker = make_tracker(PipelineConfig(), classifier.metadata.labels)
    happy, sad = np.eye(7, dtype=np.float32)[[3, 4]]
    ids = tracker.associate([(10, 10, 50, 50)])
    tracker.smooth(ids, happy[None])
    ids = tracker.associate([(12, 10, 50, 50)])
    mixed = tracker.smooth(ids, sad[None])[0].smoothed
    for _ in range(3):
        ids = tracker.associate([(14, 10, 50, 50)])
        again = tracker.smooth(ids, sad[None], fresh=[False])[0]
        assert np.array_equal(again.smoothed, mixed)
    with pytest.raises(ValueError, match="not a live face"):
        tracker.smooth([99], sad[None])


def test_background_detection_follows_moving_faces_and_finds_a_new_one(classifier, patches):
    """The node's default: whole-frame searches on their own thread. Every frame still gives
    every tracked face's box found anew in its pixels; a face that appears is reported once a
    search that saw it has finished, a frame or two after the search started."""
    pipeline = pipeline_with(classifier, detection_interval=3, background_detection=True)
    assert pipeline.background is not None
    appears = 4
    counts = []
    for t in range(12):
        present = [0, 1, 4] if t < appears else [0, 1, 4, 6]
        frame = scene(patches, t, present)
        faces = pipeline.process(frame)
        # The test waits for the search a robot would not wait for, so the frame it ends in
        # does not depend on this machine's load.
        pipeline.close()
        counts.append(len(faces))
        truth = [patches_box(patches, k, t) for k in present]
        for face in faces:
            assert best_iou(face.box, truth) > 0.7, f"frame {t}: {face.box} vs {truth}"
    assert counts[:appears] == [3] * appears
    # Searches start at frames 1, 4, 7 (frame 0 is searched in its turn: nothing tracked yet);
    # the one of frame 4 is taken in frame 5, whose own pixels place the new face.
    assert counts[appears:] == [3] + [4] * (len(counts) - appears - 1)


def test_background_detection_reports_a_detector_error_in_the_callers_thread(classifier,
                                                                             patches):
    pipeline = pipeline_with(classifier, detection_interval=1, background_detection=True)
    frame = scene(patches, 0, [0, 1])
    assert len(pipeline.process(frame)) == 2

    def broken(bgr, gray):
        raise RuntimeError("detector failed")

    pipeline.background.detector.detect = broken
    pipeline.process(frame)  # starts the search, which fails on its thread
    pipeline.close()
    with pytest.raises(RuntimeError, match="detector failed"):
        pipeline.process(frame)


def test_without_searches_each_face_is_classified_once_per_interval():
    """When the search schedule skips the searches (a still scene), every frame classifies its
    share: 9 faces at interval 3 cost 3 classifications a frame, each face every 3 frames, not
    the share of the frames between searches (4 or 5 a frame), which holds only until the next
    search on the cadence is due."""
    schedule = ClassificationSchedule(3, detection_interval=3)
    faces = list(range(9))
    assert schedule.due(0, faces, searching=True) == [True] * 9
    schedule.record(0, faces, np.eye(9, 7))
    counts = []
    for frame in range(1, 31):
        due = schedule.due(frame, faces)
        chosen = [f for f, now in zip(faces, due) if now]
        schedule.record(frame, chosen, np.eye(len(chosen), 7))
        counts.append(len(chosen))
    assert counts == [4, 5] + [3] * 28
