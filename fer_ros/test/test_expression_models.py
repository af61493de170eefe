"""FaceExpressionNet as converted at set-up, the ensemble, and the names a ``model`` takes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_ros.perception.expressions.classification import load_classifier, load_single_model
from fer_ros.perception.expressions.ensemble import EnsembleClassifier
from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.expressions.model_metadata import ModelMetadata
from fer_ros.perception.model_files import DEFAULT_MODEL, ModelLoadError, bundled_model
from frames import astronaut_frame, image_msg

REFERENCE = Path(__file__).parent / "data" / "face_expression_net_reference.json"
SIZE = 112


def reference_input(kind: str) -> np.ndarray:
    """The inputs of tools/face_expression_reference/generate.js, from the same formulas."""
    y, x, c = np.mgrid[0:SIZE, 0:SIZE, 0:3]
    if kind == "gray128":
        return np.full((SIZE, SIZE, 3), 128, np.float32)
    if kind == "gradient":
        return ((2 * x + y + 40 * c) % 256).astype(np.float32)
    if kind == "blocks":
        return ((((x >> 4) + (y >> 4) + c) % 3) * 100 + 20).astype(np.float32)
    state = int(kind.removeprefix("noise"))
    values = np.empty(SIZE * SIZE * 3, np.float32)
    for i in range(values.size):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        values[i] = (state >> 16) & 255
    return values.reshape(SIZE, SIZE, 3)


def test_conversion_matches_face_api_tfjs_outputs():
    """The ONNX graph built at set-up gives what face-api.js's own TF.js code gives."""
    reference = json.loads(REFERENCE.read_text())
    batch = np.stack([reference_input(kind) for kind in reference["inputs"]])
    model = load_single_model("face_expression_net")
    expected = np.array(reference["probabilities"], np.float32)
    got = model.predict(batch)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert [label for label in model.metadata.labels] == [
        "neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"]
    assert len(reference["labels"]) == len(model.metadata.labels)
    assert expected.std(axis=0).max() > 0.05, "the inputs must lead to different outputs"


def test_face_expression_net_reads_the_astronaut_as_happy_in_colour_and_gray():
    model = load_single_model("face_expression_net")
    frame, face = astronaut_frame()
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    happy = model.metadata.labels.index("happy")
    for bgr in (frame, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)):
        scores = model.classify(bgr, gray, [face])
        assert scores.shape == (1, 7)
        assert int(np.argmax(scores[0])) == happy, scores


def test_ensemble_scores_are_the_members_mean_in_fer_order_and_sum_to_one():
    ensemble = load_classifier("ensemble")
    assert isinstance(ensemble, EnsembleClassifier)
    assert ensemble.metadata.labels == EMOTIONS
    frame, face = astronaut_frame()
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    boxes = [face, (face[0] + 5, face[1] + 3, face[2] - 4, face[3] - 4), (10, 300, 90, 90),
             (600, 440, 60, 60)]
    scores = ensemble.classify(frame, gray, boxes)
    assert scores.shape == (4, 7) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    members = {m.metadata.architecture: m for m in ensemble.members}
    xception = members["mini_xception"].classify(frame, gray, boxes)
    net = members["face_expression_net"]
    by_name = net.classify(frame, gray, boxes)
    reordered = np.stack([by_name[:, net.metadata.labels.index(label)] for label in EMOTIONS],
                         axis=1)
    np.testing.assert_allclose(scores, (xception + reordered) / 2, atol=1e-6)
    assert EMOTIONS[int(np.argmax(scores[0]))] == "happy"
    assert ensemble.classify(frame, gray, []).shape == (0, 7)


def test_default_model_and_the_names_a_model_parameter_takes():
    assert DEFAULT_MODEL == "ensemble"
    default = load_classifier("")
    assert isinstance(default, EnsembleClassifier) and default.path.name == "ensemble"
    listed = load_classifier("mini_xception, face_expression_net")
    assert [m.path for m in listed.members] == [m.path for m in default.members]
    assert load_classifier("mini_xception").path == bundled_model("fer_mini_xception.tflite")
    onnx_file = load_classifier(str(bundled_model("face_expression_net.onnx")))
    assert onnx_file.metadata.channels == 3


def test_bad_models_are_refused_with_the_file_and_the_reason(tmp_path):
    with pytest.raises(ModelLoadError, match="nothing.onnx: model file not found"):
        load_classifier(f"mini_xception,{tmp_path / 'nothing.onnx'}")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(bundled_model("face_expression_net.onnx").read_bytes()[:20000])
    ModelMetadata.load(bundled_model("face_expression_net.json")).save(broken.with_suffix(".json"))
    with pytest.raises(ModelLoadError, match="broken.onnx: not a valid ONNX model"):
        load_classifier(broken)
    odd = tmp_path / "odd.tflite"
    odd.write_bytes(bundled_model("fer_mini_xception.tflite").read_bytes())
    metadata = ModelMetadata.load(bundled_model("fer_mini_xception.json"))
    labels = ("angry", "disgust", "fear", "happy", "sad", "surprise", "bored")
    ModelMetadata(labels=labels, input_size=metadata.input_size, crop=metadata.crop) \
        .save(odd.with_suffix(".json"))
    assert load_classifier(odd).metadata.labels == labels
    with pytest.raises(ModelLoadError, match=r"odd.tflite: cannot join an ensemble.*bored"):
        load_classifier(f"face_expression_net,{odd}")
    with pytest.raises(ModelLoadError, match="face_expression_nett: no such model file, nor a "
                                             "bundled model.*face_expression_net, ensemble"):
        load_classifier("face_expression_nett")


def test_node_runs_face_expression_net_and_says_its_class_order(ros_domain, ros_env, tmp_path):
    from test_emotion_node import Session

    session = Session(ros_domain, ros_env, tmp_path, "model:=face_expression_net")
    try:
        frame, _ = astronaut_frame()
        for encoding in ("bgr8", "mono8"):
            result = session.send(image_msg(frame, session.next_stamp(), encoding))
            assert result is not None, session.node.output
            assert list(result.labels) == ["neutral", "happy", "sad", "angry", "fear",
                                           "disgust", "surprise"]
            assert len(result.emotions) == 1
            assert result.emotions[0].label == "happy", (encoding, result.emotions[0].scores)
            assert sum(result.emotions[0].scores) == pytest.approx(1.0, abs=1e-4)
    finally:
        session.close()
