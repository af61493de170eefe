"""Tilted faces levelled before their expression is read (perception/expressions/alignment.py, the
``level_tilted_faces`` option): the roll of the eye line from RetinaFace's landmarks, a level
crop, and the pipeline using both when asked."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rcl_interfaces.msg import ParameterType, ParameterValue

from emotion_session import Session, set_parameter
from fer_ros.perception.detection.detectors import create_detector
from fer_ros.perception.expressions.alignment import LEVEL_ABOVE_DEGREES, eye_line_roll, level_rolls
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.model_metadata import CropSpec
from fer_ros.perception.expressions.preprocessing import crop_face
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig
from frames import astronaut_frame, image_msg

TILT = 25.0
CROP = CropSpec(square=True, margin_frac=0.1)


def tilted(frame: np.ndarray, box, degrees: float) -> np.ndarray:
    """The frame turned clockwise on screen by ``degrees`` about the face's centre."""
    x, y, w, h = box
    matrix = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), -degrees, 1.0)
    return cv2.warpAffine(frame, matrix, (frame.shape[1], frame.shape[0]),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


@pytest.fixture(scope="module")
def astronaut_tilted():
    frame, face = astronaut_frame()
    return frame, face, tilted(frame, face, TILT)


def test_roll_of_the_eye_line_and_which_faces_are_levelled():
    assert eye_line_roll(((10.0, 10.0), (20.0, 20.0), (15.0, 18.0))) == pytest.approx(45.0)
    assert eye_line_roll(((20.0, 10.0), (30.0, 5.0))) == pytest.approx(-26.565, abs=1e-3)
    assert eye_line_roll(()) == 0.0  # detectors without landmarks
    rolled = ((0.0, 0.0), (10.0, 10.0 * np.tan(np.radians(LEVEL_ABOVE_DEGREES + 1))))
    slight = ((0.0, 0.0), (10.0, 10.0 * np.tan(np.radians(LEVEL_ABOVE_DEGREES - 1))))
    assert level_rolls([rolled, slight, ()]) == [pytest.approx(LEVEL_ABOVE_DEGREES + 1), 0.0,
                                                 0.0]
    assert level_rolls([slight], above=0.0) == [pytest.approx(LEVEL_ABOVE_DEGREES - 1)]


def test_retinaface_measures_the_roll_of_a_tilted_real_face(astronaut_tilted):
    frame, _, turned = astronaut_tilted
    detector = create_detector("retinaface")
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    upright = detector.detect(frame, gray)
    assert len(upright) == 1 and abs(eye_line_roll(upright[0].landmarks)) < 8
    found = detector.detect(turned, cv2.cvtColor(turned, cv2.COLOR_BGR2GRAY))
    assert len(found) == 1
    assert eye_line_roll(found[0].landmarks) - eye_line_roll(upright[0].landmarks) == \
        pytest.approx(TILT, abs=4)


def test_a_levelled_crop_of_a_tilted_face_is_the_upright_crop(astronaut_tilted):
    frame, face, turned = astronaut_tilted
    upright = crop_face(frame, face, CROP)
    levelled = crop_face(turned, face, CROP, roll=TILT)
    assert levelled.shape == upright.shape
    assert correlation(levelled, upright) > 0.97
    assert correlation(crop_face(turned, face, CROP), upright) < 0.9
    # Without a roll the crop is cut as before, bit for bit.
    assert np.array_equal(crop_face(frame, face, CROP, roll=0.0), upright)
    with pytest.raises(ValueError, match="outside"):
        crop_face(frame, (-500, -500, 40, 40), CROP, roll=TILT)


@pytest.mark.parametrize("level", [True, False])
def test_the_pipeline_levels_a_tilted_face_only_when_asked(astronaut_tilted, level):
    _, _, turned = astronaut_tilted
    classifier = load_classifier("")
    pipeline = EmotionPipeline.from_config(PipelineConfig(level_tilted_faces=level), classifier)
    faces = pipeline.process(turned)
    assert len(faces) == 1
    roll = eye_line_roll(faces[0].landmarks)
    assert roll > LEVEL_ABOVE_DEGREES
    gray = cv2.cvtColor(turned, cv2.COLOR_BGR2GRAY)
    levelled = classifier.classify(turned, gray, [faces[0].box], [roll])[0]
    as_is = classifier.classify(turned, gray, [faces[0].box])[0]
    assert not np.allclose(levelled, as_is, atol=1e-3)
    assert np.allclose(faces[0].scores, levelled if level else as_is, atol=1e-6)
    assert faces[0].label == "happy"


def test_the_node_levels_tilted_faces_once_the_parameter_is_set(ros_domain, ros_env, tmp_path,
                                                                astronaut_tilted):
    _, _, turned = astronaut_tilted
    classifier = load_classifier("")
    detection = create_detector("retinaface").detect(turned, cv2.cvtColor(turned,
                                                                          cv2.COLOR_BGR2GRAY))[0]
    gray = cv2.cvtColor(turned, cv2.COLOR_BGR2GRAY)
    roll = eye_line_roll(detection.landmarks)
    expected = {False: classifier.classify(turned, gray, [detection.box])[0],
                True: classifier.classify(turned, gray, [detection.box], [roll])[0]}
    session = Session(ros_domain, ros_env, tmp_path)
    try:
        for level in (False, True):
            if level:
                result = set_parameter(session.peer, "level_tilted_faces", ParameterValue(
                    type=ParameterType.PARAMETER_BOOL, bool_value=True))
                assert result.successful, result.reason
            answer = session.send(image_msg(turned, session.next_stamp()))
            assert answer is not None and len(answer.emotions) == 1, session.node.output
            assert list(answer.labels) == list(classifier.metadata.labels)
            assert np.allclose(answer.emotions[0].scores, expected[level], atol=1e-4), level
    finally:
        session.close()
