"""emotion_node under changes and input that used to confuse it: face ids across pipeline
rebuilds, integer values for double parameters, decoders printing on stderr, a model switch,
and model files and metadata that are not what they claim. Real node processes over DDS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters
from sensor_msgs.msg import CompressedImage

from emotion_session import Session, set_parameter
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.model_metadata import ModelMetadata, ModelMetadataError
from fer_ros.perception.model_files import ModelLoadError, bundled_model
from frames import astronaut_frame, header, image_msg
from ros_harness import executable, wait_until

TENSORFLOW_LIBRARY = "/tensorflow/libtensorflow"


def get_parameter_value(session: Session, name: str) -> ParameterValue:
    client = session.peer.node.create_client(GetParameters, "/emotion_node/get_parameters")
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(GetParameters.Request(names=[name]))
    assert wait_until(future.done, 10)
    return future.result().values[0]


def double(value: float) -> ParameterValue:
    return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)


def string(value: str) -> ParameterValue:
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)


def test_face_ids_are_never_reused_after_a_pipeline_rebuild(session):
    """A tracking parameter change rebuilds the pipeline; its ids used to restart at 1, so a
    new face got the id another face had had."""
    frame, _ = astronaut_frame()
    first = session.send(image_msg(frame, session.next_stamp()))
    assert first is not None and len(first.emotions) == 1
    old_id = first.emotions[0].face_id
    assert set_parameter(session.peer, "smoothing_alpha", double(0.3)).successful
    assert set_parameter(session.peer, "track_max_misses", ParameterValue(
        type=ParameterType.PARAMETER_INTEGER, integer_value=0)).successful
    moved, _ = astronaut_frame(offset_x=160)
    ids = set()
    for _ in range(3):
        answer = session.send(image_msg(moved, session.next_stamp()))
        assert answer is not None and len(answer.emotions) == 1
        ids.add(answer.emotions[0].face_id)
    assert old_id not in ids, (old_id, ids)


def test_an_integer_for_a_double_parameter_is_stored_as_a_double(session):
    result = set_parameter(session.peer, "smoothing_alpha", ParameterValue(
        type=ParameterType.PARAMETER_INTEGER, integer_value=1))
    assert result.successful, result.reason
    value = get_parameter_value(session, "smoothing_alpha")
    assert value.type == ParameterType.PARAMETER_DOUBLE and value.double_value == 1.0, value


def test_an_integer_override_of_a_read_only_double_is_a_double(ros_domain, ros_env, tmp_path):
    s = Session(ros_domain, ros_env, tmp_path, "stats_period:=5")
    try:
        value = get_parameter_value(s, "stats_period")
        assert value.type == ParameterType.PARAMETER_DOUBLE and value.double_value == 5.0
    finally:
        s.close()


def corrupt_png() -> bytes:
    data = bytearray(cv2.imencode(".png", np.full((120, 160, 3), 90, np.uint8))[1].tobytes())
    data[60:70] = b"x" * 10
    return bytes(data)


def test_decoder_messages_go_through_the_throttled_log(ros_domain, ros_env, tmp_path):
    """libpng printed one line per corrupt frame straight to stderr (4,216 lines in 40 s)."""
    s = Session(ros_domain, ros_env, tmp_path, "image_transport:=compressed", compressed=True)
    try:
        bad = corrupt_png()
        for _ in range(60):
            s.pub.publish(CompressedImage(header=header(s.next_stamp()), format="png", data=bad))
            time.sleep(0.03)
        frame, _ = astronaut_frame()
        good = CompressedImage(header=header(s.next_stamp()), format="png",
                               data=cv2.imencode(".png", frame)[1].tobytes())
        assert s.send(good) is not None
    finally:
        code, _ = s.close()
    output = s.node.output
    assert [line for line in output.splitlines() if line.startswith("libpng")] == []
    assert 1 <= output.count("decoder: libpng") <= 2, output
    assert code == 0


def test_a_keras_model_loads_in_the_background_while_frames_are_answered(session):
    """Switching to a Keras model (TensorFlow's import takes seconds) used to block results and
    the parameter services until it was loaded; the swap now happens between two frames."""
    frame, _ = astronaut_frame()
    answered: list[float] = []
    sending = threading.Event()
    sending.set()

    def send_frames() -> None:
        while sending.is_set():
            if session.send(image_msg(frame, session.next_stamp()), timeout=0.5) is not None:
                answered.append(time.monotonic())
            time.sleep(0.05)

    sender = threading.Thread(target=send_frames, daemon=True)
    sender.start()
    try:
        model = bundled_model("fer_mini_xception.h5")
        result = set_parameter(session.peer, "model", string(str(model)))
        accepted = time.monotonic()
        assert result.successful, result.reason
        assert wait_until(lambda: "loaded and in use" in session.node.output, 60), \
            session.node.output
        swapped = time.monotonic()
        during = [t for t in answered if accepted < t < swapped]
        assert len(during) >= 3, (len(during), swapped - accepted)
        assert get_parameter_value(session, "model").string_value == str(model)
        answer = session.send(image_msg(frame, session.next_stamp()))
        assert answer is not None and answer.emotions[0].label == "happy"
    finally:
        sending.clear()
        sender.join()


@pytest.fixture(scope="module")
def lambda_model(tmp_path_factory) -> Path:
    import keras

    model = keras.Sequential([keras.Input((64, 64, 1)), keras.layers.Lambda(lambda x: x * 2.0),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(7, activation="softmax")])
    path = tmp_path_factory.mktemp("lambda") / "lambda.keras"
    model.save(path)
    path.with_suffix(".json").write_text(bundled_model("fer_mini_xception.json").read_text())
    return path


def test_a_lambda_model_is_refused_without_loading_tensorflow(session, lambda_model):
    result = set_parameter(session.peer, "model", string(str(lambda_model)))
    assert not result.successful and "Lambda" in result.reason, result.reason
    maps = Path(f"/proc/{session.node.process.pid}/maps").read_text()
    assert TENSORFLOW_LIBRARY not in maps


@pytest.mark.parametrize("kind, problem", [
    ("device", "character device"),
    ("fifo", "named pipe"),
    ("loop", "symbolic link loop"),
    ("dangling", "dangling symbolic link"),
    ("missing", "model file not found"),
])
def test_a_model_path_that_is_not_a_file_says_what_it_is(tmp_path, kind, problem):
    path = tmp_path / "model.tflite"
    if kind == "device":
        path = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        path.symlink_to(tmp_path / "other.tflite")
        (tmp_path / "other.tflite").symlink_to(path)
    elif kind == "dangling":
        path.symlink_to(tmp_path / "gone.tflite")
    with pytest.raises(ModelLoadError) as refused:
        load_classifier(path)
    assert problem in str(refused.value) and str(path) in str(refused.value)


@pytest.mark.parametrize("crop, problem", [
    ({"margin_frac": -0.2}, "crop.margin_frac"),
    ({"margin_px": -5}, "crop.margin_px"),
    ({"margin_frac": 3.0}, "crop.margin_frac"),
    ({"square": "yes"}, "crop.square"),
    ([1, 2], "crop must be an object"),
])
def test_bad_crop_metadata_is_refused_at_load(tmp_path, crop, problem):
    data = json.loads(bundled_model("fer_mini_xception.json").read_text())
    data["crop"] = crop
    with pytest.raises(ModelMetadataError) as refused:
        ModelMetadata.from_dict(data, origin="model.json")
    assert problem in str(refused.value) and "model.json" in str(refused.value)


def test_a_node_refuses_a_model_with_a_negative_crop_margin(ros_env, tmp_path):
    """Used to start, then fail every frame with "face box ... lies outside the image"."""
    source = bundled_model("fer_mini_xception.tflite")
    model = tmp_path / "negative.tflite"
    shutil.copy(source, model)
    data = json.loads(source.with_suffix(".json").read_text())
    data["crop"] = {"square": True, "margin_frac": -0.6, "margin_px": 0}
    model.with_suffix(".json").write_text(json.dumps(data))
    run = subprocess.run([*executable("emotion_node"), "--ros-args", "-p", f"model:={model}"],
                         env=ros_env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "crop.margin_frac" in run.stderr and "Traceback" not in run.stderr, run.stderr
