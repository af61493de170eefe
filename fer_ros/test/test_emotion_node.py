"""emotion_node in its own process, driven over real DDS with real faces and real models."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fer_msgs.msg import EmotionArray
from rcl_interfaces.msg import ParameterType, ParameterValue
from sensor_msgs.msg import CompressedImage, Image

from emotion_session import START_TIMEOUT, Session, set_parameter
from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.tracking.tracks import box_iou
from fer_ros.sources.sample import SampleSequence
from frames import astronaut_frame, image_msg, jpeg_msg, roi_box
from ros_harness import RosPeer, executable, wait_until


def test_astronaut_is_happy_with_her_header_and_box(session):
    frame, face = astronaut_frame()
    msg = image_msg(frame, session.next_stamp(), frame_id="head_camera")
    result = session.send(msg)
    assert result is not None, session.node.output
    assert result.header.stamp == msg.header.stamp
    assert result.header.frame_id == "head_camera"
    assert list(result.labels) == list(EMOTIONS)
    assert len(result.emotions) == 1
    emotion = result.emotions[0]
    assert box_iou(roi_box(emotion), face) > 0.5, (roi_box(emotion), face)
    assert len(emotion.scores) == 7
    assert sum(emotion.scores) == pytest.approx(1.0, abs=1e-3)
    assert emotion.label == "happy"
    assert emotion.scores[EMOTIONS.index("happy")] == max(emotion.scores)
    assert 0.0 < emotion.confidence <= 1.0
    assert emotion.face_id >= 1


def test_every_supported_encoding_and_row_padding(session):
    frame, face = astronaut_frame()
    for encoding in ("rgb8", "mono8", "bgra8", "rgba8"):
        for pad in (0, 13):
            result = session.send(image_msg(frame, session.next_stamp(), encoding, pad=pad))
            assert result is not None, (encoding, pad)
            assert len(result.emotions) == 1, (encoding, pad)
            assert box_iou(roi_box(result.emotions[0]), face) > 0.5, (encoding, pad)


def test_frame_without_faces_still_gets_an_empty_array(session):
    blank = np.full((480, 640, 3), 128, np.uint8)
    result = session.send(image_msg(blank, session.next_stamp()))
    assert result is not None
    assert list(result.emotions) == []
    assert len(result.labels) == 7


def test_face_ids_stay_while_faces_move(session):
    sequence = SampleSequence(num_faces=2)
    ids_per_frame = []
    for index in range(0, 24, 2):
        result = session.send(image_msg(sequence.frame(index), session.next_stamp()))
        assert result is not None
        truth = sequence.face_boxes(index)
        ids = {}
        for emotion in result.emotions:
            best = max(range(len(truth)), key=lambda i: box_iou(roi_box(emotion), truth[i]))
            ids[best] = emotion.face_id
        ids_per_frame.append(ids)
    full = [ids for ids in ids_per_frame if len(ids) == 2]
    assert len(full) >= 10, ids_per_frame
    assert all(ids == full[0] for ids in full), ids_per_frame
    assert full[0][0] != full[0][1]


BAD_INPUTS = {
    "unknown encoding": lambda m: setattr(m, "encoding", "32FC1"),
    "data shorter than step*height": lambda m: setattr(m, "data", bytes(m.data)[:1000]),
    "0x0 image": lambda m: (setattr(m, "width", 0), setattr(m, "height", 0),
                            setattr(m, "step", 0), setattr(m, "data", b"")),
    "step smaller than a row": lambda m: setattr(m, "step", 10),
}


def test_bad_input_is_skipped_and_good_frames_are_still_answered(session):
    frame, _ = astronaut_frame()
    for problem, spoil in BAD_INPUTS.items():
        bad = image_msg(frame, session.next_stamp())
        spoil(bad)
        assert session.send(bad, timeout=1.0) is None, problem
        good = session.send(image_msg(frame, session.next_stamp()))
        assert good is not None and len(good.emotions) == 1, problem
        assert session.node.alive(), session.node.output
    output = session.node.output
    assert "skipping bad frame" in output and "unsupported encoding '32FC1'" in output
    assert "Traceback" not in output


def test_annotated_image_only_while_subscribed_and_under_source_header(session):
    frame, _ = astronaut_frame()
    annotated: list[Image] = session.peer.collect(Image, "image_annotated")
    assert wait_until(lambda: session.node.alive() and _has_annotated_subscriber(session), 10)
    msg = image_msg(frame, session.next_stamp(), frame_id="head_camera")
    assert session.send(msg) is not None
    assert wait_until(lambda: any(a.header.stamp == msg.header.stamp for a in annotated), 5)
    image = next(a for a in annotated if a.header.stamp == msg.header.stamp)
    assert (image.width, image.height, image.encoding) == (640, 480, "bgr8")
    assert image.header.frame_id == "head_camera"
    pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(480, 640, 3)
    assert not np.array_equal(pixels, frame)


def _has_annotated_subscriber(session, topic: str = "/image_annotated") -> bool:
    infos = session.peer.node.get_publishers_info_by_topic(topic)
    return len(infos) > 0


def _diagnostic_value(arrays: list[DiagnosticArray], key: str) -> int | None:
    """The newest report's value of ``key`` from the emotion node's /diagnostics."""
    for array in reversed(list(arrays)):
        for status in array.status:
            if status.name == "emotion_node: emotion recognition":
                return int(next(kv.value for kv in status.values if kv.key == key))
    return None


def test_compressed_annotated_image_is_a_small_jpeg_only_while_subscribed(session):
    """image_transport's name and format; a quarter of the raw size at most; no JPEG encoded
    for nobody (the node's own count of them, on /diagnostics, stays at 0 until then)."""
    frame, _ = astronaut_frame()
    arrays = session.peer.collect(DiagnosticArray, "/diagnostics")
    for _ in range(3):
        assert session.send(image_msg(frame, session.next_stamp())) is not None
    before = session.stamp
    assert wait_until(lambda: _diagnostic_value(arrays, "frames processed") is not None
                      and _diagnostic_value(arrays, "frames processed") >= 4, 5)
    assert _diagnostic_value(arrays, "compressed annotated images") == 0

    compressed: list[CompressedImage] = session.peer.collect(
        CompressedImage, "image_annotated/compressed")
    assert wait_until(lambda: _has_annotated_subscriber(
        session, "/image_annotated/compressed"), 10)
    msg = image_msg(frame, session.next_stamp(), frame_id="head_camera")
    assert session.send(msg) is not None
    assert wait_until(lambda: any(c.header.stamp == msg.header.stamp for c in compressed), 5)
    image = next(c for c in compressed if c.header.stamp == msg.header.stamp)
    assert image.format == "bgr8; jpeg compressed bgr8"
    assert image.header.frame_id == "head_camera"
    assert not any(c.header.stamp.sec * 10**9 + c.header.stamp.nanosec <= before
                   for c in compressed)
    assert len(image.data) < len(msg.data) / 4, (len(image.data), len(msg.data))
    pixels = cv2.imdecode(np.frombuffer(bytes(image.data), np.uint8), cv2.IMREAD_COLOR)
    assert pixels.shape == frame.shape
    assert not np.array_equal(pixels, frame)
    assert wait_until(lambda: (_diagnostic_value(arrays, "compressed annotated images")
                               or 0) >= 1, 5)
    assert _diagnostic_value(arrays, "annotated images") == 0


def test_bad_parameter_values_are_refused_with_a_reason(session):
    result = set_parameter(session.peer, "smoothing", ParameterValue(
        type=ParameterType.PARAMETER_STRING, string_value="median"))
    assert not result.successful and "none, ema, window" in result.reason
    result = set_parameter(session.peer, "min_face_size", ParameterValue(
        type=ParameterType.PARAMETER_INTEGER, integer_value=-5))
    assert not result.successful
    result = set_parameter(session.peer, "model", ParameterValue(
        type=ParameterType.PARAMETER_STRING, string_value="/nonexistent/model.tflite"))
    assert not result.successful and "/nonexistent/model.tflite" in result.reason
    result = set_parameter(session.peer, "detector", ParameterValue(
        type=ParameterType.PARAMETER_STRING, string_value="haar"))
    assert result.successful, result.reason
    frame, face = astronaut_frame()
    answer = session.send(image_msg(frame, session.next_stamp()))
    assert answer is not None
    assert any(box_iou(roi_box(e), face) > 0.5 for e in answer.emotions), "haar missed the face"


def test_intervals_change_at_run_time_and_keep_the_face_and_its_id(session):
    """detection_interval and classification_interval are set on the running node: the face is
    still reported in every frame, under one id (a new one: a rebuilt pipeline starts a new
    tracker, whose ids continue the old one's), and its scores are reused in between."""
    frame, face = astronaut_frame()
    first = session.send(image_msg(frame, session.next_stamp()))
    assert first is not None and len(first.emotions) == 1
    for name, value in (("detection_interval", 4), ("classification_interval", 2)):
        result = set_parameter(session.peer, name, ParameterValue(
            type=ParameterType.PARAMETER_INTEGER, integer_value=value))
        assert result.successful, result.reason
    result = set_parameter(session.peer, "detection_interval", ParameterValue(
        type=ParameterType.PARAMETER_INTEGER, integer_value=0))
    assert not result.successful
    scores, ids = [], set()
    for offset in range(6):
        moved, box = astronaut_frame(offset_x=80 + 3 * offset)
        answer = session.send(image_msg(moved, session.next_stamp()))
        assert answer is not None and len(answer.emotions) == 1
        emotion = answer.emotions[0]
        assert box_iou(roi_box(emotion), box) > 0.5
        ids.add(emotion.face_id)
        scores.append(tuple(emotion.scores))
    assert len(ids) == 1 and ids.pop() > first.emotions[0].face_id
    assert len(set(scores)) < len(scores), "scores were not reused between classifications"


def test_compressed_transport_with_a_corrupt_jpeg(ros_domain, ros_env, tmp_path):
    s = Session(ros_domain, ros_env, tmp_path, "image_transport:=compressed", compressed=True)
    try:
        frame, face = astronaut_frame()
        good = s.send(jpeg_msg(frame, s.next_stamp()))
        assert good is not None and good.emotions[0].label == "happy"
        corrupt = jpeg_msg(frame, s.next_stamp())
        corrupt.data = bytes(corrupt.data[:200]) + bytes(range(256)) * 4
        assert s.send(corrupt, timeout=1.0) is None
        again = s.send(jpeg_msg(frame, s.next_stamp()))
        assert again is not None and len(again.emotions) == 1
        assert "corrupt or undecodable compressed image" in s.node.output
    finally:
        code, _ = s.close()
    assert code == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_exits_quickly_and_cleanly_on_signal(ros_domain, ros_env, tmp_path, sig):
    s = Session(ros_domain, ros_env, tmp_path)
    sequence = SampleSequence()
    for index in range(10):
        s.pub.publish(image_msg(sequence.frame(index), s.next_stamp()))
    s.peer.close()
    assert s.node.alive()
    code, seconds = s.node.stop(sig)
    assert seconds < 2.0
    assert code in (0, -sig), s.node.output
    assert "Traceback" not in s.node.output


@pytest.mark.parametrize("model, problem", [
    ("missing.tflite", "model file not found"),
    ("truncated.tflite", "not a valid TFLite model"),
])
def test_refuses_to_start_with_a_bad_model(ros_env, tmp_path, model, problem):
    from fer_ros.perception.model_files import bundled_model

    source = bundled_model("fer_mini_xception.tflite")
    (tmp_path / "truncated.tflite").write_bytes(source.read_bytes()[:5000])
    (tmp_path / "truncated.json").write_text(source.with_suffix(".json").read_text())
    path = tmp_path / model
    run = subprocess.run([*executable("emotion_node"), "--ros-args", "-p", f"model:={path}"],
                         env=ros_env, capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert str(path) in run.stderr and problem in run.stderr, run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_emotion_array_crosses_between_processes(ros_domain, ros_env):
    """A publisher process and this process agree on every field of the custom message."""
    script = (
        "import rclpy, time\n"
        "from fer_msgs.msg import Emotion, EmotionArray\n"
        "from sensor_msgs.msg import RegionOfInterest\n"
        "rclpy.init(); node = rclpy.create_node('publisher')\n"
        "pub = node.create_publisher(EmotionArray, 'emotions', 10)\n"
        "msg = EmotionArray(labels=['a', 'b'])\n"
        "msg.header.frame_id = 'cam'; msg.header.stamp.sec = 42\n"
        "msg.emotions = [Emotion(face_id=7, roi=RegionOfInterest(x_offset=1, y_offset=2, "
        "width=3, height=4), detection_score=0.9, label='b', confidence=0.75, "
        "scores=[0.25, 0.75])]\n"
        "end = time.monotonic() + 20\n"
        "while time.monotonic() < end:\n"
        "    pub.publish(msg); rclpy.spin_once(node, timeout_sec=0.1)\n"
    )
    peer = RosPeer(ros_domain)
    received = peer.collect(EmotionArray, "emotions")
    process = subprocess.Popen([sys.executable, "-c", script], env=ros_env)
    try:
        assert wait_until(lambda: len(received) > 0, 20)
    finally:
        process.kill()
        process.wait()
        peer.close()
    msg = received[0]
    assert (msg.header.frame_id, msg.header.stamp.sec, list(msg.labels)) == ("cam", 42, ["a", "b"])
    emotion = msg.emotions[0]
    assert (emotion.face_id, emotion.label, emotion.roi.width, emotion.roi.height) == (7, "b", 3, 4)
    assert list(emotion.scores) == pytest.approx([0.25, 0.75])
    assert emotion.confidence == pytest.approx(0.75)


def test_first_result_arrives_soon_after_start(ros_domain, ros_env, tmp_path):
    """Start-up is measured, not asserted tightly (timings belong to bench/); it must work."""
    started = time.monotonic()
    s = Session(ros_domain, ros_env, tmp_path)
    try:
        frame, _ = astronaut_frame()
        assert s.send(image_msg(frame, s.next_stamp())) is not None
        assert time.monotonic() - started < START_TIMEOUT
    finally:
        s.close()
