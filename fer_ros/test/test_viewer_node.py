"""`fer view` and `fer bringup --view` as users run them: real processes, DDS and HTTP."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import cv2
import numpy as np
import pytest
from fer_msgs.msg import Emotion, EmotionArray
from sensor_msgs.msg import RegionOfInterest

from fer_ros.perception.expressions.labels import EMOTIONS
from frames import header, image_msg, jpeg_msg
from ros_harness import NodeProcess, RosPeer, executable, wait_until
from viewer_client import MjpegReader, answers, free_port, get, sse_events

START_TIMEOUT = 30.0


def fer(*args: str) -> list[str]:
    return [*executable("fer"), *args]


def emotion_array(stamp_ns: int) -> EmotionArray:
    scores = [0.02, 0.01, 0.02, 0.85, 0.03, 0.04, 0.03]
    return EmotionArray(header=header(stamp_ns), labels=list(EMOTIONS), emotions=[Emotion(
        face_id=7, label="happy", confidence=0.85, scores=scores,
        roi=RegionOfInterest(x_offset=10, y_offset=20, width=30, height=40))])


class Publishing:
    """Publishes a message again and again until stopped: discovery takes its time, and a
    stream only shows what is published after a client joined."""

    def __init__(self, publish):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(publish,), daemon=True)
        self._thread.start()

    def _run(self, publish) -> None:
        while not self._stop.is_set():
            publish()
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize("raw", [False, True], ids=["compressed", "raw"])
def test_fer_view_serves_a_namespace_over_dds(ros_domain, ros_env, tmp_path, raw):
    port = free_port()
    view = NodeProcess(fer("view", "--namespace", "/robot1/fer", "--port", str(port),
                           "--host", "0.0.0.0", *(["--raw"] if raw else [])),
                       ros_env, tmp_path / "view.log")
    peer = RosPeer(ros_domain)
    frame = np.zeros((120, 160, 3), np.uint8)
    cv2.putText(frame, "fer", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    try:
        assert wait_until(lambda: answers(port), START_TIMEOUT), view.output
        emotions = peer.publisher(EmotionArray, "/robot1/fer/emotions")
        if raw:
            images = peer.publisher(type(image_msg(frame, 0)), "/robot1/fer/image_annotated",
                                    depth=1)
            image = image_msg(frame, 5)
        else:
            images = peer.publisher(type(jpeg_msg(frame, 0)),
                                    "/robot1/fer/image_annotated/compressed", depth=1)
            image = jpeg_msg(frame, 5)
        image_topic = images.topic_name
        feeding = Publishing(lambda: (emotions.publish(emotion_array(1_700_000_000_500_000_000)),
                                      images.publish(image)))
        try:
            event = next(sse_events(get(port, "/events")))
            assert peer.node.count_subscribers(image_topic) == 0, "no browser watches yet"
            stream = get(port, "/stream.mjpg")
            jpeg = MjpegReader(stream).next_frame()
            assert peer.node.count_subscribers(image_topic) == 1
            stream.close()
            assert wait_until(lambda: peer.node.count_subscribers(image_topic) == 0, 10), \
                "the image is let go when the last browser leaves"
        finally:
            feeding.stop()
    finally:
        peer.close()
        code, _ = view.stop()
    assert event == {"stamp": 1_700_000_000.5, "frame_id": "test_camera", "faces": [{
        "face_id": 7, "label": "happy", "confidence": 0.85, "box": [10, 20, 30, 40],
        "scores": dict(zip(EMOTIONS, [0.02, 0.01, 0.02, 0.85, 0.03, 0.04, 0.03]))}]}
    if not raw:
        assert jpeg == bytes(image.data), "the emotion node's JPEG goes out untouched"
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == frame.shape
    assert np.abs(decoded.astype(int) - frame).mean() < 5
    output = view.output
    assert "no authentication" in output and "0.0.0.0" in output
    assert f"viewer at http://127.0.0.1:{port}/ (listening on every interface)" in output, \
        "the address announced is one a browser can open"
    assert "/robot1/fer/emotions" in output
    assert code == 0 and "Traceback" not in output, output


@pytest.mark.parametrize("command", [["view", "--port"], ["bringup", "--view"]],
                         ids=["fer view", "fer bringup"])
def test_a_port_in_use_is_one_line_and_status_1(ros_env, command):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        run = subprocess.run(fer(*command, str(port)), env=ros_env,
                             capture_output=True, text=True, timeout=30)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"fer {command[0]}: cannot serve on 127.0.0.1:{port}: the port is in use (another "
        "viewer or program); choose another port"], run.stderr


@pytest.mark.parametrize("args", [
    ["view", "--port", "70000"], ["view", "--port", "-1"], ["view", "--port", "http"],
    ["view", "--namespace", "bad name!"], ["view", "--namespace", "/robot//fer"],
    ["view", "--namespace", "1fer"], ["bringup", "--view", "65536"],
    ["bringup", "--namespace", "bad name!"]], ids=" ".join)
def test_bad_arguments_are_a_usage_error_naming_them(ros_env, args):
    run = subprocess.run(fer(*args), env=ros_env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(
        f"fer {args[0]}: error: argument {args[1]}"), run.stderr


def test_bringup_view_serves_its_own_results(ros_env, tmp_path):
    port = free_port()
    run = NodeProcess(fer("bringup", "--seconds", "60", "--view", str(port)), ros_env,
                      tmp_path / "bringup.log")
    try:
        assert wait_until(lambda: answers(port), START_TIMEOUT), run.output
        page = get(port, "/")
        assert page.status == 200 and b"stream.mjpg" in page.read()
        events = sse_events(get(port, "/events", timeout=START_TIMEOUT))
        event = next(e for e in events if e["faces"])
        face = event["faces"][0]
        assert face["label"] in EMOTIONS and 0 < face["confidence"] <= 1
        assert set(face["scores"]) == set(EMOTIONS) and len(face["box"]) == 4
        reader = MjpegReader(get(port, "/stream.mjpg", timeout=START_TIMEOUT))
        first, second = reader.next_frame(), reader.next_frame()
        decoded = cv2.imdecode(np.frombuffer(second, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (480, 640, 3)
        assert first != second, "the image is live"
        assert "viewer at http://127.0.0.1:" in run.output
        assert "no authentication" not in run.output
    finally:
        code, _ = run.stop(timeout=15)
    assert code == 0 and "Traceback" not in run.output, run.output
    assert not answers(port), "the viewer stops with bringup"
