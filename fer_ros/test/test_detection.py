"""Face detectors on real photographs that scikit-image ships, with the real models.

Only robust facts are asserted: clear faces are found with their box on the face, and the
default detector stays silent on images whose highest BlazeFace score is far below threshold.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from fer_ros.perception.detection.blazeface import BlazeFaceDetector
from fer_ros.perception.detection.detections import Box, Detection
from fer_ros.perception.detection.detectors import DEFAULT_DETECTOR, DETECTORS, create_detector
from fer_ros.perception.tracking.tracks import box_iou
from skimage_pictures import ASTRONAUT_FACE, CAMERAMAN_FACE, NO_FACE_IMAGES, to_bgr

ASTRONAUT_LANDMARKS = ((207, 100), (245, 100), (223, 147))
"""Left eye, right eye and mouth of the astronaut, by eye."""


def detect(detector, bgr: np.ndarray) -> list[Detection]:
    return detector.detect(bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))



@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return to_bgr(skimage.data.astronaut())


@pytest.fixture(scope="module")
def blazeface():
    return create_detector("blazeface")


def zoom_on_astronaut_face(astronaut: np.ndarray, face_px: float) -> tuple[np.ndarray, Box]:
    """A 640x480 frame in which the astronaut's face is ``face_px`` wide, and its true box."""
    x, y, w, h = ASTRONAUT_FACE
    scale = face_px / w
    x0 = x + w / 2 - 320 / scale
    y0 = y + h / 2 - 240 / scale
    matrix = np.float32([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
    frame = cv2.warpAffine(astronaut, matrix, (640, 480), flags=cv2.INTER_LINEAR)
    box = (round((x - x0) * scale), round((y - y0) * scale), round(w * scale), round(h * scale))
    return frame, box


@pytest.mark.parametrize("name", DETECTORS)
def test_every_listed_detector_finds_the_astronaut_on_her_face(name, astronaut):
    (found,) = detect(create_detector(name), astronaut)
    x, y, w, h = found.box
    assert all(x < px < x + w and y < py < y + h for px, py in ASTRONAUT_LANDMARKS)
    assert box_iou(found.box, ASTRONAUT_FACE) > 0.6
    assert 0.5 < found.score <= 1.0


def test_haar_box_is_the_hand_checked_one(astronaut):
    (found,) = detect(create_detector("haar"), astronaut)
    assert box_iou(found.box, ASTRONAUT_FACE) > 0.85


def test_blazeface_is_its_full_range_variant(blazeface):
    assert DEFAULT_DETECTOR == "retinaface"
    assert blazeface.name == "blazeface_full"


def test_blazeface_finds_a_face_that_fills_the_frame(blazeface, astronaut):
    frame, true_box = zoom_on_astronaut_face(astronaut, 420)
    (found,) = detect(blazeface, frame)
    assert box_iou(found.box, true_box) > 0.7


def test_blazeface_finds_the_cameramans_profile(blazeface):
    """``camera()`` is no face-free image: the cameraman's face shows in profile."""
    (found,) = detect(blazeface, to_bgr(skimage.data.camera()))
    assert box_iou(found.box, CAMERAMAN_FACE) >= 0.3


@pytest.mark.parametrize("name", NO_FACE_IMAGES)
def test_blazeface_finds_nothing_without_faces(blazeface, name):
    image = to_bgr(getattr(skimage.data, name)())
    assert detect(blazeface, image) == []
    assert detect(blazeface, cv2.flip(image, 1)) == []


def test_min_face_size_drops_smaller_faces(astronaut):
    assert detect(BlazeFaceDetector(min_face_size=120), astronaut) == []


def test_same_frame_same_faces_after_a_frame_of_another_shape(blazeface, astronaut):
    """The letterbox buffer is reused; bars left from another frame shape must not leak."""
    landscape, _ = zoom_on_astronaut_face(astronaut, 150)
    before = detect(blazeface, landscape)
    detect(blazeface, cv2.rotate(landscape, cv2.ROTATE_90_CLOCKWISE))
    assert detect(blazeface, landscape) == before


def test_blazeface_rejects_frames_that_are_not_bgr(blazeface, astronaut):
    with pytest.raises(ValueError, match="BGR"):
        gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
        blazeface.detect(gray, gray)


def test_unknown_names_are_rejected_with_the_choices():
    with pytest.raises(ValueError) as error:
        create_detector("yunet")
    assert all(name in str(error.value) for name in DETECTORS)
    with pytest.raises(ValueError, match="short, full"):
        BlazeFaceDetector(variant="back")
    with pytest.raises(ValueError, match="score_threshold"):
        BlazeFaceDetector(score_threshold=1.0)
