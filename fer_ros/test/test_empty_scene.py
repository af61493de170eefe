"""An empty scene is searched on a cadence and only when it changed; a face that walks in is
reported within the cadence; tracked faces are processed as before. Real RetinaFace and real
expression models on the sample scene (skimage's launch pad, with faces pasted in), with camera
noise added to every frame so that no two frames are equal."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_ros.perception.classification import load_classifier
from fer_ros.perception.detection_types import Detection
from fer_ros.perception.empty_scene import EmptySceneSearch
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig
from fer_ros.perception.tracking import box_iou
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
    """The pipeline's real detector, noting the frames it searches whole (the mosaics of the
    re-detection go to the same detector and are not noted: they are not the frame)."""

    def __init__(self, detector):
        self.detector = detector
        self.whole_frames: list[int] = []
        self.frame = 0
        self.current: np.ndarray | None = None

    def __getattr__(self, name):
        return getattr(self.detector, name)

    def detect(self, bgr: np.ndarray, gray: np.ndarray, **kwargs) -> list[Detection]:
        if bgr is self.current:
            self.whole_frames.append(self.frame)
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
                                       empty_change_threshold=0.0)
    results = run(pipeline, counting, [noisy(empty, t) for t in range(13)])
    assert all(faces == [] for faces in results)
    assert counting.whole_frames == [0, 4, 8, 12]


def test_an_unchanged_empty_scene_is_not_searched_again(classifier, scenes):
    """Camera noise alone does not trip the change gate; a frame of another size is searched
    at once, whatever the cadence."""
    empty, _, _ = scenes
    pipeline, counting = pipeline_with(classifier, empty_detection_interval=2,
                                       empty_change_threshold=12.0)
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
        pipeline, counting = pipeline_with(classifier, empty_change_threshold=threshold)
        appears = 5 + trial
        frames = [noisy(empty if t < appears else one, t) for t in range(appears + interval)]
        results = run(pipeline, counting, frames)
        assert all(faces == [] for faces in results[:appears])
        first = next(t for t, faces in enumerate(results) if faces)
        assert first - appears <= interval - 1, f"trial {trial}: {first - appears} frames late"
        assert all(len(faces) == 1 and box_iou(faces[0].box, box) > 0.5
                   for faces in results[first:])


def test_tracked_faces_are_processed_as_without_the_empty_scene_savings(classifier, scenes):
    """With a face in every frame the savings never apply: the same boxes, ids, scores and
    labels, and the same whole-frame searches, as searching every empty frame."""
    _, one, _ = scenes
    frames = [noisy(one, t) for t in range(10)]
    saving, saving_count = pipeline_with(classifier)
    every, every_count = pipeline_with(classifier, empty_detection_interval=1,
                                       empty_change_threshold=0.0)
    assert (saving.empty_scene.interval, saving.empty_scene.change_threshold) == (3, 12.0)
    for ours, theirs in zip(run(saving, saving_count, frames), run(every, every_count, frames)):
        assert len(ours) == len(theirs) == 1
        assert [(f.face_id, f.box, f.label) for f in ours] == \
               [(f.face_id, f.box, f.label) for f in theirs]
        np.testing.assert_array_equal(ours[0].scores, theirs[0].scores)
    assert saving_count.whole_frames == every_count.whole_frames == [0, 3, 6, 9]


def test_a_face_that_leaves_is_followed_by_searches_on_the_cadence(classifier, scenes):
    """When the face leaves, each frame is searched whole while its track lives (none of the
    tracked faces was found), then every empty_detection_interval-th frame."""
    empty, one, _ = scenes
    pipeline, counting = pipeline_with(classifier, empty_detection_interval=4,
                                       empty_change_threshold=0.0, track_max_misses=2)
    frames = [noisy(one if t < 3 else empty, t) for t in range(14)]
    results = run(pipeline, counting, frames)
    assert [len(faces) for faces in results] == [1, 1, 1] + [0] * 11
    assert counting.whole_frames == [0, 3, 4, 5, 9, 13]


def test_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="empty detection interval"):
        EmptySceneSearch(0)
    with pytest.raises(ValueError, match="change threshold"):
        EmptySceneSearch(4, 300.0)
