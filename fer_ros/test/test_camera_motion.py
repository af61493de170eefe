"""How the whole view moved (perception/tracking/camera_motion.py), and a moving camera in the
pipeline.

The estimator on windows cut from a real photo (face-api's, ``make photos``): known shifts of
1 and 40 px a frame recovered under camera noise and blur, with a person moving on their own in
view; a zoom, a blank wall and a new frame size reported as not comparable. Then the pipeline,
with real RetinaFace and real expression models, behind a camera panning over a wide scene of
real faces: the faces that enter are reported within the cadence, each face keeps its id while
it stays in view, fewer whole-frame searches than a camera taken as still, and the same frames
give the same results."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_photos import crowd_frame, head_patch, needs_photos, photo
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.pipeline import PipelineConfig
from fer_ros.perception.tracking.camera_motion import CameraMotion, Position
from fer_ros.perception.tracking.search_schedule import ENTERING_MARGIN, WholeFrameSearch
from fer_ros.perception.tracking.tracks import iou_matrix
from test_search_schedule import noisy, pipeline_with, run

pytestmark = needs_photos

WIDTH, HEIGHT = 640, 360
TOLERANCE_PX = 1.0
"""Largest error of the view's position, frame pixels, after the frames of a sequence."""


def window(world: np.ndarray, x: int, y: int, seed: int, blur: bool = False) -> np.ndarray:
    """The grey view of ``world`` at (x, y), with camera noise and, if asked, motion blur."""
    frame = noisy(world[y:y + HEIGHT, x:x + WIDTH], seed)
    if blur:
        frame = cv2.GaussianBlur(frame, (0, 0), 1.5)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


@pytest.fixture(scope="module")
def world() -> np.ndarray:
    """A real photo (three people before a street) shrunk to a world of 1440x960."""
    return cv2.resize(photo("sample1.jpg"), (1440, 960), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("step", [(1, 0), (0, 1), (40, 0), (-30, 20)])
def test_known_shifts_are_recovered_under_noise_and_blur(world, step):
    """Ten frames, every other one blurred: the position after each frame is within
    TOLERANCE_PX of the true shift since the first, along one chain."""
    motion = CameraMotion()
    x, y = (20, 20) if step[0] >= 0 else (300, 20)
    first = motion.update(window(world, x, y, 0))
    for t in range(1, 10):
        position = motion.update(window(world, x + step[0] * t, y + step[1] * t, t,
                                        blur=t % 2 == 1))
        shift = position.shift_since(first)
        assert shift is not None, f"frame {t}: the chain broke"
        # The view moved right: the content moves left in the image.
        assert abs(shift[0] + step[0] * t) <= TOLERANCE_PX, (t, shift)
        assert abs(shift[1] + step[1] * t) <= TOLERANCE_PX, (t, shift)


def test_a_person_moving_in_view_does_not_move_the_camera(world):
    """A head walks 12 px a frame across a still view: the view stays where it was."""
    patch, _ = head_patch("sample2.jpg", (895, 249, 182, 182), 90)
    motion = CameraMotion()
    first = None
    for t in range(10):
        frame = world[100:100 + HEIGHT, 100:100 + WIDTH].copy()
        x = 40 + 12 * t
        frame[100:100 + patch.shape[0], x:x + patch.shape[1]] = patch
        position = motion.update(cv2.cvtColor(noisy(frame, t), cv2.COLOR_BGR2GRAY))
        first = first or position
        shift = position.shift_since(first)
        assert shift is not None and max(abs(shift[0]), abs(shift[1])) <= TOLERANCE_PX, shift


def test_a_zoom_is_reported_as_no_shift(world):
    """Forward motion, 2 % a frame: no translation describes it, so each frame starts a new
    chain and no shift is given between frames (the change gates then search on the cadence,
    as for a camera they know nothing of)."""
    motion = CameraMotion()
    positions = []
    for t in range(5):
        zoom = 1 + 0.02 * t
        matrix = cv2.getRotationMatrix2D((480, 320), 0, zoom)
        zoomed = cv2.warpAffine(world, matrix, world.shape[1::-1], flags=cv2.INTER_LINEAR)
        positions.append(motion.update(window(zoomed, 160, 140, t)))
    assert all(b.shift_since(a) is None for a, b in zip(positions, positions[1:]))
    assert abs(motion.last_zoom) > 0.01


def test_a_blank_view_and_a_new_frame_size_are_not_compared(world):
    """A covered lens (a flat grey frame) has no corners to follow, and a frame of another
    size comes from another camera: neither is given a shift from what came before."""
    motion = CameraMotion()
    start = motion.update(window(world, 20, 20, 0))
    blank = motion.update(np.full((HEIGHT, WIDTH), 128, np.uint8))
    after = motion.update(window(world, 20, 20, 1))
    assert blank.shift_since(start) is None and after.shift_since(start) is None
    small = motion.update(cv2.resize(window(world, 20, 20, 2), (320, 180)))
    assert small.shift_since(after) is None
    assert Position(1, 0.0, 0.0).shift_since(None) is None


PAN_PX = 6
SCENE_WIDTHS = 3


@pytest.fixture(scope="module")
def panorama() -> tuple[np.ndarray, list]:
    """A 1280x720 camera's world three frames wide: 9 real faces of 80-110 px before a grey
    wall with some texture (skimage-free: the photos' own backgrounds around each head)."""
    frame, boxes = crowd_frame(SCENE_WIDTHS * 1280, 720,
                               [90, 100, 80, 110, 95, 85, 105, 90, 100], seed=3)
    return textured(frame), boxes


def textured(frame: np.ndarray) -> np.ndarray:
    """``frame`` with its flat grey wall (crowd_frame's) given a blurred random texture, as a
    room has: a flat wall has no corners to follow."""
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.integers(0, 255, frame.shape[:2], np.uint8), (0, 0), 4)
    wall = (frame == 70).all(axis=2)
    frame[wall] = np.stack([cv2.normalize(texture, None, 40, 160, cv2.NORM_MINMAX)] * 3,
                           axis=2)[wall]
    return frame


def pan(panorama, frames: int) -> tuple[list[np.ndarray], list[list[tuple[int, tuple]]]]:
    """Frames of a camera panning PAN_PX a frame to the right, and the faces whole in each
    (index, box in frame pixels)."""
    world, boxes = panorama
    # The pan starts with a face 60 px beyond the view's right edge.
    start = min(bx + bw for bx, _, bw, _ in boxes if bx + bw > 1280 + 60) - 1280 - 60
    images, truth = [], []
    for t in range(frames):
        x = start + PAN_PX * t
        images.append(noisy(world[:, x:x + 1280], t))
        truth.append([(k, (bx - x, by, bw, bh)) for k, (bx, by, bw, bh) in enumerate(boxes)
                      if bx >= x and bx + bw <= x + 1280])
    return images, truth


@pytest.fixture(scope="module")
def classifier():
    return load_classifier("")


def matched_ids(faces, truth) -> dict[int, int]:
    """True face index -> reported id, for the true faces a reported box overlaps."""
    if not faces or not truth:
        return {}
    overlap = iou_matrix(np.asarray([b for _, b in truth], np.float64),
                         np.asarray([f.box for f in faces], np.float64))
    return {k: faces[int(overlap[i].argmax())].face_id
            for i, (k, _) in enumerate(truth) if overlap[i].max() >= 0.3}


def test_a_panning_camera_finds_entering_faces_and_keeps_ids(classifier, panorama):
    """60 frames of a 6 px a frame pan: every face whole in view is reported once it has been
    for detection_interval frames, including those that enter; each keeps one id while in
    view; the whole frame is searched far less often than by a pipeline that takes the camera
    as still (only the entering strip and what changed are searched), and no face is reported
    twice."""
    frames, truth = pan(panorama, 60)
    interval = PipelineConfig().detection_interval
    following, following_count = pipeline_with(classifier)
    still, still_count = pipeline_with(classifier, camera_motion=False)
    ours = run(following, following_count, frames)
    run(still, still_count, frames)
    since: dict[int, int] = {}
    ids: dict[int, set[int]] = {}
    entered = set()
    for t, (faces, whole) in enumerate(zip(ours, truth)):
        since = {k: since.get(k, t) for k, _ in whole}
        entered |= {k for k in since if since[k] > 0}
        found = matched_ids(faces, whole)
        due = [k for k, _ in whole if t - since[k] >= interval - 1]
        assert set(due) <= set(found), f"frame {t}: faces {set(due) - set(found)} missed"
        assert len(faces) <= len(whole) + 2, f"frame {t}: {len(faces)} faces reported"
        for k, face_id in found.items():
            ids.setdefault(k, set()).add(face_id)
    assert entered, "no face entered the view: the test shows nothing"
    assert all(len(v) == 1 for v in ids.values()), ids
    assert len(following_count.whole_frames) <= len(frames) // 30 + 1
    assert len(still_count.whole_frames) >= len(frames) // interval - 1
    assert following_count.region_frames


def test_the_same_frames_give_the_same_results(classifier, panorama):
    """Results depend on the frames only: two pipelines given the same panning frames report
    the same ids, boxes and labels in every frame."""
    frames, _ = pan(panorama, 20)
    first, first_count = pipeline_with(classifier)
    second, second_count = pipeline_with(classifier)
    a, b = run(first, first_count, frames), run(second, second_count, frames)
    assert [[(f.face_id, f.box, f.label) for f in faces] for faces in a] == \
        [[(f.face_id, f.box, f.label) for f in faces] for faces in b]
    assert first_count.region_frames == second_count.region_frames


def test_a_face_too_large_for_the_strips_margin_is_found_within_a_second(classifier):
    """A face of 260 px (a person close to the robot) enters an empty view by a pan, wider
    than the entering strip's margin: it is reported within a second of being whole in view
    (RetinaFace finds it cut by the frame's edge once most of it is in the strip, and a
    whole-frame search follows a second of region searches in any case), then in every
    frame."""
    crowd, boxes = crowd_frame(2 * 1280, 720, [260], seed=1)
    crowd = textured(np.ascontiguousarray(crowd[:, ::-1]))  # the face on the right
    x, _, w, _ = boxes[0]
    x = crowd.shape[1] - x - w
    start = x - 1280 - 12  # the face just beyond the view's right edge
    frames, whole = [], []
    for t in range(100):
        left = start + PAN_PX * t
        frames.append(noisy(crowd[:, left:left + 1280], t))
        whole.append(left <= x and x + w <= left + 1280)
    pipeline, counting = pipeline_with(classifier)
    results = run(pipeline, counting, frames)
    entered = whole.index(True)
    found = next(t for t, faces in enumerate(results) if faces)
    assert found <= entered + 30 + PipelineConfig().empty_detection_interval, (entered, found)
    assert all(len(faces) == 1 for faces in results[found:])


def test_a_small_face_entering_a_pan_is_reported_as_soon_with_coarse_regions(classifier):
    """A face of 40 px (a person far away) enters an empty view by a pan. With the strips
    searched coarse (``coarse_regions``, the default) it is proposed at the coarse scale and
    confirmed at the full one, and reported in the same frame as with the strips searched at
    the full scale: within detection_interval frames of being whole in view, then in every
    frame; the coarse pass searched fewer pixels."""
    crowd, boxes = crowd_frame(2 * 1280, 720, [40], seed=3)
    crowd = textured(np.ascontiguousarray(crowd[:, ::-1]))
    x, _, w, _ = boxes[0]
    x = crowd.shape[1] - x - w
    start = x - 1280 - 12
    frames, whole = [], []
    for t in range(45):
        left = start + PAN_PX * t
        frames.append(noisy(crowd[:, left:left + 1280], t))
        whole.append(left <= x and x + w <= left + 1280)
    entered = whole.index(True)
    first, pixels = {}, {}
    for coarse in (True, False):
        pipeline, counting = pipeline_with(classifier, coarse_regions=coarse)
        results = run(pipeline, counting, frames)
        first[coarse] = next(t for t, faces in enumerate(results) if faces)
        assert all(len(faces) == 1 for faces in results[first[coarse]:]), coarse
        pixels[coarse] = counting.region_pixels
    assert first[True] == first[False] <= entered + PipelineConfig().detection_interval
    assert pixels[True] < pixels[False]


def test_the_gate_searches_only_the_strip_that_entered_the_view(world):
    """The search gate given the camera's positions: a view moved 24 px left is, once the
    motion is undone, the last searched frame plus a 24 px strip on the right, and only that
    strip (widened inwards by ENTERING_MARGIN of the height) is to be searched; taken as
    still, the same frame has changed everywhere and is searched whole."""
    search = WholeFrameSearch(1, 1, 12.0)
    before = window(world, 100, 100, 0)
    after = window(world, 124, 100, 1)
    search.searched(before, [], Position(1, 0.0, 0.0))
    moved = search.area(after, (), Position(1, -24.0, 0.0))
    assert not moved.whole_frame and len(moved.regions) == 1
    x0, y0, x1, y1 = moved.regions[0]
    assert (x1, y0, y1) == (WIDTH, 0, HEIGHT)
    assert x0 == pytest.approx(WIDTH - 24 - ENTERING_MARGIN * HEIGHT)
    assert search.area(after, (), Position(1, 0.0, 0.0)).whole_frame
    assert search.area(after, (), Position(2, 0.0, 0.0)).whole_frame  # another chain
    assert not search.area(window(world, 100, 100, 2), (), Position(1, 0.0, 0.0))
    shaken = search.area(window(world, 103, 98, 3), (), Position(1, -3.0, 2.0))
    assert not shaken, "a shake of a few pixels is no strip to search"
