"""RetinaFace, the default detector, on real faces in the frames a robot's camera gives: HD
frames with 8 faces, close-ups cut by the frame edge, gray (mono8) frames, far faces, and
face-free scenes; with its five landmarks and its bounded inference size.

Faces come from face-api's demo photos (``make photos``), composed by face_photos.py.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from face_photos import all_faces, close_up, crowd_frame, needs_photos, to_gray_bgr
from fer_ros.perception.detection.detectors import DEFAULT_DETECTOR, create_detector
from fer_ros.perception.detection.retinaface import RetinaFaceDetector
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig
from fer_ros.perception.tracking.tracks import box_iou
from skimage_pictures import ASTRONAUT_FACE, NO_FACE_IMAGES, to_bgr

pytestmark = needs_photos

HD_SIZES = [90, 97, 104, 111, 118, 120, 100, 93]
"""Face widths of the HD frames: 90 to 120 px, as the issue's real-time targets ask."""


@pytest.fixture(scope="module")
def retinaface() -> RetinaFaceDetector:
    detector = create_detector("retinaface")
    assert isinstance(detector, RetinaFaceDetector)
    return detector


def found_faces(detector, frame: np.ndarray, truth: list) -> tuple[int, int]:
    """(faces with a box at IoU >= 0.3, boxes on no face)."""
    boxes = [d.box for d in detector.detect(frame, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))]
    hits = sum(any(box_iou(t, b) >= 0.3 for b in boxes) for t in truth)
    false = sum(not any(box_iou(t, b) >= 0.3 for t in truth) for b in boxes)
    return hits, false


def test_retinaface_is_the_default():
    assert DEFAULT_DETECTOR == "retinaface"
    assert create_detector(DEFAULT_DETECTOR).detection_size == 960


@pytest.mark.parametrize("width,height", [(1280, 720), (1920, 1080)])
@pytest.mark.parametrize("seed", [0, 1])
def test_hd_frame_with_8_faces_every_face_found(retinaface, width, height, seed):
    frame, truth = crowd_frame(width, height, HD_SIZES, seed=seed)
    assert found_faces(retinaface, frame, truth) == (8, 0)


@pytest.mark.parametrize("width,height", [(1280, 720), (1920, 1080)])
def test_gray_hd_frame_with_8_faces(retinaface, width, height):
    """mono8 cameras: the node hands the detector three equal channels."""
    frame, truth = crowd_frame(width, height, [104, 111, 118, 120, 100, 108, 115, 106], seed=2)
    assert found_faces(retinaface, to_gray_bgr(frame), truth) == (8, 0)


@pytest.mark.parametrize("name,box", all_faces(), ids=lambda v: str(v))
def test_close_up_cut_by_the_frame_edge(retinaface, name, box):
    """A face filling 80 % of the frame's height, hair, ears and chin outline cut off: one box,
    on the face. BlazeFace full found 19 of these 22."""
    frame, truth = close_up(name, box)
    (found,) = retinaface.detect(frame, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    assert box_iou(found.box, truth) > 0.5


def test_gray_close_ups(retinaface):
    faces = [close_up(name, box, fill=0.9) for name, box in all_faces()[::3]]
    assert [found_faces(retinaface, to_gray_bgr(f), [t]) for f, t in faces] == \
        [(1, 0)] * len(faces)


@pytest.mark.parametrize("threshold,least", [(0.0, 12), (0.5, 16)])
def test_far_faces_of_32_px_in_640x480(threshold, least):
    """Faces about 32 px wide (4 m from a 60 degree camera). Their boxes come out a little
    under 30 px, the default min_face_size, so it is lowered; their scores are lower than near
    faces', so the default threshold (0.9) keeps about 3 in 4 of them and 0.5 nearly all
    (13 and 17 of 18 when this was written)."""
    detector = create_detector("retinaface", min_face_size=20, score_threshold=threshold)
    hits = 0
    for seed in range(3):
        frame, truth = crowd_frame(640, 480, [32] * 6, seed=10 + seed)
        found, false = found_faces(detector, frame, truth)
        hits += found
        assert false == 0
    assert hits >= least


@pytest.mark.parametrize("name", NO_FACE_IMAGES)
def test_nothing_found_without_faces(retinaface, name):
    image = to_bgr(getattr(skimage.data, name)())
    assert retinaface.detect(image, None) == []
    assert retinaface.detect(to_gray_bgr(cv2.flip(image, 1)), None) == []


def test_five_landmarks_in_the_documented_order(retinaface):
    """Eye on the image's left, eye on the image's right, nose, then the two mouth corners."""
    (found,) = retinaface.detect(to_bgr(skimage.data.astronaut()), None)
    left_eye, right_eye, nose, mouth_left, mouth_right = found.landmarks
    x, y, w, h = ASTRONAUT_FACE
    assert all(x < px < x + w and y < py < y + h for px, py in found.landmarks)
    assert left_eye[0] < nose[0] < right_eye[0]
    assert mouth_left[0] < nose[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    # By eye on a 4x zoom: eyes at (207, 100) and (245, 100).
    assert np.hypot(left_eye[0] - 207, left_eye[1] - 100) < 6
    assert np.hypot(right_eye[0] - 245, right_eye[1] - 100) < 6


def test_detection_size_bounds_the_input_and_boxes_stay_in_frame_pixels():
    """A 1920x1080 frame seen at 480 px still gives its large faces at their place in the
    frame; the small ones are what a smaller detection size gives up."""
    frame, truth = crowd_frame(1920, 1080, [240, 250, 260], seed=3)
    small = create_detector("retinaface", detection_size=480)
    full = create_detector("retinaface", detection_size=1920)
    for detector in (small, full):
        detections = detector.detect(frame, None)
        assert found_faces(detector, frame, truth) == (3, 0)
        for d in detections:
            assert all(d.box[0] - 5 < px < d.box[0] + d.box[2] + 5 for px, _ in d.landmarks)
    boxes_small = sorted(d.box for d in small.detect(frame, None))
    boxes_full = sorted(d.box for d in full.detect(frame, None))
    assert all(box_iou(a, b) > 0.8 for a, b in zip(boxes_small, boxes_full))


def test_same_faces_after_frames_of_other_shapes(retinaface):
    """The padded input and its anchors are rebuilt when the frame's shape changes."""
    frame, _ = crowd_frame(1280, 720, HD_SIZES, seed=0)
    before = retinaface.detect(frame, None)
    retinaface.detect(cv2.rotate(frame, cv2.ROTATE_90_CLOCKWISE), None)
    retinaface.detect(frame[:301, :517].copy(), None)
    assert retinaface.detect(frame, None) == before


def test_bad_frames_and_settings_are_refused_clearly(retinaface):
    with pytest.raises(ValueError, match="BGR"):
        retinaface.detect(np.zeros((48, 64), np.uint8), None)
    with pytest.raises(ValueError, match="detection_size"):
        RetinaFaceDetector(detection_size=8)
    with pytest.raises(ValueError, match="score_threshold"):
        RetinaFaceDetector(score_threshold=0.0)


def test_pipeline_results_carry_the_landmarks():
    frame, truth = crowd_frame(1280, 720, HD_SIZES, seed=1)
    pipeline = EmotionPipeline.from_config(PipelineConfig())
    faces = pipeline.process(frame)
    assert len(faces) == 8
    for face in faces:
        assert len(face.landmarks) == 5
        x, y, w, h = face.box
        assert all(x <= px <= x + w and y <= py <= y + h for px, py in face.landmarks[:3])
