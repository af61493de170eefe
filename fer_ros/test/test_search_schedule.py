"""The whole frame is searched on a cadence and only where it changed: an empty scene, and the
scene around tracked faces. A face that walks in is reported within the cadence, alone or
beside a tracked one; tracked faces keep their ids, boxes and labels. Real RetinaFace and real
expression models on the sample scene (skimage's launch pad, with faces pasted in), with camera
noise added to every frame so that no two frames are equal."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_photos import crowd_frame, needs_photos
from fer_ros.perception.detection.detections import Detection
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig
from fer_ros.perception.tracking.search_schedule import MOST_FRAMES_UNSEARCHED, WholeFrameSearch
from fer_ros.perception.tracking.tracks import box_iou
from fer_ros.perception.tracking.unchanged_faces import MOST_FRAMES_KEPT
from fer_ros.sources.sample import sample_faces_frame

WIDTH, HEIGHT = 1280, 720
NOISE_SIGMA = 4.0
"""Grey levels of pixel noise per frame, about a webcam's in a lit room."""


@pytest.fixture(scope="module")
def classifier():
    return load_classifier("")


@pytest.fixture(scope="module")
def scenes():
    empty, _ = sample_faces_frame(0, WIDTH, HEIGHT)
    one, boxes = sample_faces_frame(1, WIDTH, HEIGHT)
    return empty, one, boxes[0]


def noisy(frame: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frame + rng.normal(0.0, NOISE_SIGMA, frame.shape), 0, 255).astype(np.uint8)


class CountingDetector:
    """The pipeline's real detector, noting the frames it searches whole, those in which it
    searches regions of the frame at a given scale (and the detector input pixels those
    came to), and those in which it is run on a re-detection mosaic (any other image than the
    frame)."""

    def __init__(self, detector):
        self.detector = detector
        self.whole_frames: list[int] = []
        self.region_frames: list[int] = []
        self.mosaic_frames: list[int] = []
        self.region_pixels = 0.0
        self.frame = 0
        self.current: np.ndarray | None = None

    def __getattr__(self, name):
        return getattr(self.detector, name)

    def detect(self, bgr: np.ndarray, gray: np.ndarray, **kwargs) -> list[Detection]:
        if "scale" in kwargs:
            self.region_pixels += bgr.shape[0] * bgr.shape[1] * kwargs["scale"] ** 2
        (self.whole_frames if bgr is self.current else self.region_frames if "scale" in kwargs
         else self.mosaic_frames).append(self.frame)
        return self.detector.detect(bgr, gray, **kwargs)


def pipeline_with(classifier, **settings) -> tuple[EmotionPipeline, CountingDetector]:
    pipeline = EmotionPipeline.from_config(PipelineConfig(**settings), classifier)
    counting = CountingDetector(pipeline.detector)
    pipeline.detector = counting
    pipeline.redetector.detector = counting
    return pipeline, counting


def run(pipeline, counting, frames) -> list[list]:
    results = []
    for t, frame in enumerate(frames):
        counting.frame, counting.current = t, frame
        results.append(pipeline.process(frame))
    return results


def test_an_empty_scene_is_searched_only_on_the_cadence(classifier, scenes):
    empty, _, _ = scenes
    pipeline, counting = pipeline_with(classifier, empty_detection_interval=4,
                                       change_threshold=0.0)
    results = run(pipeline, counting, [noisy(empty, t) for t in range(13)])
    assert all(faces == [] for faces in results)
    assert counting.whole_frames == [0, 4, 8, 12]


def test_an_unchanged_empty_scene_is_not_searched_again(classifier, scenes):
    """Camera noise alone does not trip the change gate; a frame of another size is searched
    at once, whatever the cadence."""
    empty, _, _ = scenes
    pipeline, counting = pipeline_with(classifier, empty_detection_interval=2,
                                       change_threshold=12.0)
    frames = [noisy(empty, t) for t in range(9)]
    frames.append(cv2.resize(frames[-1], (640, 360), interpolation=cv2.INTER_AREA))
    results = run(pipeline, counting, frames)
    assert all(faces == [] for faces in results)
    assert counting.whole_frames == [0, 9]


@pytest.mark.parametrize("threshold", [0.0, 12.0])
def test_a_face_walking_in_is_reported_within_the_cadence_every_time(classifier, scenes,
                                                                     threshold):
    """Eight trials, the face appearing at each phase of the cadence in turn: with the
    default empty_detection_interval (3) it is reported at most 2 frames (67 ms at 30 Hz)
    late."""
    empty, one, box = scenes
    interval = PipelineConfig().empty_detection_interval
    for trial in range(8):
        pipeline, counting = pipeline_with(classifier, change_threshold=threshold)
        appears = 5 + trial
        frames = [noisy(empty if t < appears else one, t) for t in range(appears + interval)]
        results = run(pipeline, counting, frames)
        assert all(faces == [] for faces in results[:appears])
        first = next(t for t, faces in enumerate(results) if faces)
        assert first - appears <= interval - 1, f"trial {trial}: {first - appears} frames late"
        assert all(len(faces) == 1 and box_iou(faces[0].box, box) > 0.5
                   for faces in results[first:])


def test_tracked_faces_are_followed_as_with_a_search_on_every_cadence(classifier, scenes):
    """Before a still background the gate skips the searches while a face is tracked: the same
    ids and labels, boxes within a few pixels of the searched ones (each frame's face found
    anew near its box), and searches only at the start and once every
    MOST_FRAMES_UNSEARCHED frames."""
    _, one, _ = scenes
    frames = [noisy(one, t) for t in range(MOST_FRAMES_UNSEARCHED + 5)]
    saving, saving_count = pipeline_with(classifier)
    every, every_count = pipeline_with(classifier, change_threshold=0.0)
    assert (saving.search.interval, saving.search.empty_interval,
            saving.search.change_threshold) == (3, 3, 12.0)
    for ours, theirs in zip(run(saving, saving_count, frames), run(every, every_count, frames)):
        assert len(ours) == len(theirs) == 1
        assert (ours[0].face_id, ours[0].label) == (theirs[0].face_id, theirs[0].label)
        assert box_iou(ours[0].box, theirs[0].box) > 0.85
    assert every_count.whole_frames == list(range(0, len(frames), 3))
    assert saving_count.whole_frames == [0, MOST_FRAMES_UNSEARCHED]


def shifted(frame: np.ndarray, dx: int) -> np.ndarray:
    """The frame moved ``dx`` px to the right, the left edge repeated: a camera panning."""
    return np.concatenate([np.repeat(frame[:, :1], dx, axis=1), frame[:, :-dx]], axis=1) \
        if dx else frame


def test_a_still_face_keeps_its_detection_and_a_moving_one_is_found_again(classifier,
                                                                           scenes):
    """Without camera_motion: before a still camera the face is found again only every
    MOST_FRAMES_KEPT frames and keeps its box in between; once the camera pans (3 px a frame)
    it is found again in every frame not searched whole, and its box follows the face as with
    the gate off."""
    _, one, box = scenes
    still = [noisy(one, t) for t in range(12)]
    panning = [noisy(shifted(one, 3 * (t - 11)), t) for t in range(12, 24)]
    frames = still + panning
    gated, gated_count = pipeline_with(classifier, camera_motion=False)
    open_, open_count = pipeline_with(classifier, change_threshold=0.0)
    ours, theirs = run(gated, gated_count, frames), run(open_, open_count, frames)
    assert gated_count.mosaic_frames[:1] == [MOST_FRAMES_KEPT]
    assert set(range(13, 24)) - set(gated_count.whole_frames) \
        <= set(gated_count.mosaic_frames)
    assert all(len(faces) == 1 for faces in ours)
    assert all(faces[0].box == ours[0][0].box for faces in ours[:MOST_FRAMES_KEPT])
    for t, (a, b) in enumerate(zip(ours, theirs)):
        assert a[0].face_id == b[0].face_id
        assert box_iou(a[0].box, b[0].box) > (0.85 if t > 12 else 0.7), t
    x = ours[-1][0].box[0]
    assert abs(x - (box[0] + 3 * 12)) <= 6


def test_a_face_before_a_panning_camera_keeps_its_detection_moved_with_the_camera(
        classifier, scenes):
    """With camera_motion (the default) the pan is undone before the face's region is
    compared: once the pan is followed (within detection_interval frames of its start) the
    face is found again only every MOST_FRAMES_KEPT frames, as before a still camera, and in
    between its box moves with the camera, as the boxes of a pipeline that finds it anew in
    every frame (the gate off) do."""
    _, one, box = scenes
    frames = [noisy(one, t) for t in range(12)] + [
        noisy(shifted(one, 3 * (t - 11)), t) for t in range(12, 32)]
    gated, gated_count = pipeline_with(classifier)
    open_, open_count = pipeline_with(classifier, change_threshold=0.0)
    ours, theirs = run(gated, gated_count, frames), run(open_, open_count, frames)
    interval = PipelineConfig().detection_interval
    followed = [t for t in gated_count.mosaic_frames if t >= 12 + interval]
    assert all(b - a >= MOST_FRAMES_KEPT for a, b in zip(followed, followed[1:])), \
        gated_count.mosaic_frames
    assert len(gated_count.mosaic_frames) <= 1 + interval + len(frames) // MOST_FRAMES_KEPT
    assert gated_count.whole_frames == [0, MOST_FRAMES_UNSEARCHED]
    for t, (a, b) in enumerate(zip(ours, theirs)):
        assert len(a) == len(b) == 1 and a[0].face_id == b[0].face_id
        assert box_iou(a[0].box, b[0].box) > 0.7, t
    assert abs(ours[-1][0].box[0] - (box[0] + 3 * 20)) <= 6


def one_of_two(scenes_two: tuple[np.ndarray, list], empty: np.ndarray) -> np.ndarray:
    """The two-face sample frame with its second face painted over by the background."""
    frame, boxes = scenes_two
    out = frame.copy()
    x, y, w, h = boxes[1]
    x0, y0 = max(0, x - w // 2), max(0, y - h // 2)
    out[y0:y + h + h // 2, x0:x + w + w // 2] = empty[y0:y + h + h // 2, x0:x + w + w // 2]
    return out


@pytest.mark.parametrize("threshold", [0.0, 12.0])
def test_a_face_joining_a_tracked_one_is_reported_within_the_cadence(classifier, scenes,
                                                                       threshold):
    """A second face appears while the first is tracked, at each phase of the cadence: it is
    reported at most detection_interval - 1 frames late, and the first keeps its id."""
    empty, _, _ = scenes
    two, boxes = sample_faces_frame(2, WIDTH, HEIGHT)
    single = one_of_two((two, boxes), empty)
    interval = PipelineConfig().detection_interval
    for trial in range(interval * 2):
        pipeline, counting = pipeline_with(classifier, change_threshold=threshold)
        appears = 4 + trial
        frames = [noisy(single if t < appears else two, t)
                  for t in range(appears + interval)]
        results = run(pipeline, counting, frames)
        assert all(len(faces) == 1 for faces in results[:appears])
        first_id = results[0][0].face_id
        both = next(t for t, faces in enumerate(results) if len(faces) == 2)
        assert both - appears <= interval - 1, f"trial {trial}: {both - appears} frames late"
        assert all(first_id in {f.face_id for f in faces} for faces in results)


def test_a_change_outside_the_faces_costs_a_search_and_inside_none(classifier, scenes):
    """A light switched on in a corner (outside the face) trips the gate on the next frame due,
    which searches that corner and its surroundings, not the whole frame; the face itself
    changing (a grimace, here its pixels brightened) does not."""
    _, one, box = scenes
    x, y, w, h = box
    face_changed = one.copy()
    face_changed[y:y + h, x:x + w] = np.clip(one[y:y + h, x:x + w].astype(int) + 40, 0, 255)
    corner = one.copy()
    corner[:120, -160:] = 255
    frames = ([noisy(one, t) for t in range(6)] + [noisy(face_changed, t) for t in range(6, 12)]
              + [noisy(corner, t) for t in range(12, 16)])
    pipeline, counting = pipeline_with(classifier)
    results = run(pipeline, counting, frames)
    assert all(len(faces) == 1 for faces in results)
    assert counting.whole_frames == [0] and counting.region_frames == [12]


def test_a_face_that_leaves_is_followed_by_searches_on_the_cadence(classifier, scenes):
    """When the face leaves, each frame is searched whole while its track lives (none of the
    tracked faces was found), then every empty_detection_interval-th frame."""
    empty, one, _ = scenes
    pipeline, counting = pipeline_with(classifier, empty_detection_interval=4,
                                       change_threshold=0.0, track_max_misses=2)
    frames = [noisy(one if t < 3 else empty, t) for t in range(14)]
    results = run(pipeline, counting, frames)
    assert [len(faces) for faces in results] == [1, 1, 1] + [0] * 11
    assert counting.whole_frames == [0, 3, 4, 5, 9, 13]


def test_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="detection interval"):
        WholeFrameSearch(0)
    with pytest.raises(ValueError, match="empty detection interval"):
        WholeFrameSearch(3, 0)
    with pytest.raises(ValueError, match="change threshold"):
        WholeFrameSearch(3, 4, 300.0)


@needs_photos
def test_a_camera_switch_reports_each_face_once(classifier):
    """From a 640x480 camera with 4 faces to a 1280x720 one with 8 real faces (face-api's
    photos, 90-120 px, as bench/hd.py's): the old camera's tracks, searched for near their old
    boxes, reach faces whose own tracks kept their detection; each face is still reported once
    in every frame."""
    small, _ = sample_faces_frame(4, 640, 480)
    crowd, boxes = crowd_frame(WIDTH, HEIGHT, [90, 97, 104, 111, 118, 120, 100, 93], seed=0)
    pipeline, counting = pipeline_with(classifier)
    results = run(pipeline, counting, [noisy(small, t) for t in range(10)]
                  + [noisy(crowd, t) for t in range(10, 40)])
    assert [len(faces) for faces in results] == [4] * 10 + [len(boxes)] * 30
