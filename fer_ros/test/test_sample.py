import cv2
import numpy as np
import pytest

from fer_ros.perception.detection.haar import HaarDetector
from fer_ros.perception.tracking.tracks import iou_matrix
from fer_ros.sources.sample import MAX_FACES, SampleSequence, sample_faces_frame


@pytest.fixture(scope="module")
def haar() -> HaarDetector:
    return HaarDetector()


def found_near(detector: HaarDetector, frame: np.ndarray, truth: list) -> int:
    """How many ground-truth boxes Haar finds again (IoU > 0.5 with some detection)."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    found = [d.box for d in detector.detect(frame, gray)]
    if not found or not truth:
        return 0
    iou = iou_matrix(np.array(truth, float), np.array(found, float))
    return int((iou.max(axis=1) > 0.5).sum())


def test_frames_are_640x480_bgr_and_deterministic():
    a, b = SampleSequence(), SampleSequence()
    assert len(a) == 120
    for index in (0, 7, 119):
        frame = a.frame(index)
        assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
        np.testing.assert_array_equal(frame, b.frame(index))
    np.testing.assert_array_equal(a.frame(125), a.frame(5))
    assert a.face_boxes(-1) == a.face_boxes(119)


def test_frames_are_independent_copies():
    seq = SampleSequence()
    first = seq.frame(0)
    first[:] = 0
    assert seq.frame(0).any()


def test_faces_move_smoothly_between_frames():
    seq = SampleSequence()
    boxes = np.array([seq.face_boxes(i) for i in range(len(seq) + 1)])
    assert boxes.shape == (121, 2, 4)
    steps = np.abs(np.diff(boxes[:, :, :2], axis=0))
    assert steps.max() <= 8
    assert (steps.sum(axis=(1, 2)) > 0).mean() > 0.9
    np.testing.assert_array_equal(boxes[0], boxes[-1])
    assert np.abs(seq.frame(0).astype(int) - seq.frame(10).astype(int)).mean() > 2


def test_the_two_faces_never_overlap():
    seq = SampleSequence()
    for index in range(len(seq)):
        iou = iou_matrix(np.array(seq.face_boxes(index), float),
                         np.array(seq.face_boxes(index), float))
        assert iou[0, 1] == 0.0


def test_haar_finds_the_faces_near_the_ground_truth(haar):
    seq = SampleSequence()
    for index in (0, 30, 60, 90):
        assert found_near(haar, seq.frame(index), seq.face_boxes(index)) == 2


@pytest.mark.parametrize("num_faces", [0, 1])
def test_fewer_faces(num_faces, haar):
    seq = SampleSequence(num_faces=num_faces, width=320, height=240, period_frames=10)
    assert len(seq.face_boxes(3)) == num_faces
    frame = seq.frame(3)
    assert frame.shape == (240, 320, 3)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    assert len(haar.detect(frame, gray)) == num_faces


def test_sample_faces_frame_four_faces(haar):
    frame, boxes = sample_faces_frame(4)
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert len(boxes) == 4
    assert all(60 <= side <= 140 for _, _, side, _ in boxes)
    assert found_near(haar, frame, boxes) >= 3
    again, same = sample_faces_frame(4)
    assert same == boxes
    np.testing.assert_array_equal(again, frame)


@pytest.mark.parametrize("num_faces", [0, 8, MAX_FACES])
def test_sample_faces_frame_faces_inside_and_apart(num_faces):
    _, boxes = sample_faces_frame(num_faces)
    assert len(boxes) == num_faces
    for x, y, w, h in boxes:
        assert 0 <= x and x + w <= 640 and 0 <= y and y + h <= 480
    if num_faces:
        iou = iou_matrix(np.array(boxes, float), np.array(boxes, float))
        np.testing.assert_array_equal(iou, np.eye(num_faces))


@pytest.mark.parametrize("kwargs", [
    {"num_faces": 3}, {"num_faces": -1}, {"period_frames": 0}, {"width": 100},
])
def test_bad_sequence_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        SampleSequence(**kwargs)


def test_too_many_faces_raise():
    with pytest.raises(ValueError):
        sample_faces_frame(MAX_FACES + 1)
    with pytest.raises(ValueError, match="fit"):
        sample_faces_frame(40, width=160, height=120)
