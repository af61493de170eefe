"""camera_node over real DDS (video file, image folder, missing device, with emotion_node),
and its ROS-free sources, pacing and calibration parsing."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import rclpy
from fer_msgs.msg import EmotionArray
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from fake_clock import FakeClock
from fer_ros.nodes import camera_node
from fer_ros.sources.calibration import CalibrationError, calibration_path, load_calibration
from fer_ros.sources.frame_sources import (
    CaptureSource,
    FolderSource,
    FrameSource,
    FrameUnreadable,
    SampleSource,
    SourceError,
    SourceSpec,
    SourceUnavailable,
    output_size,
)
from fer_ros.sources.opening import parse_source
from fer_ros.sources.pacing import Pacer
from fer_ros.sources.sample import SampleSequence
from ros_harness import NodeProcess, RosPeer, executable, wait_until

START_TIMEOUT = 30.0
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)

CALIBRATION = """\
image_width: 320
image_height: 240
camera_name: test_cam
camera_matrix:
  rows: 3
  cols: 3
  data: [300.0, 0.0, 160.0, 0.0, 301.0, 120.0, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.1, -0.2, 0.0, 0.0, 0.0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
projection_matrix:
  rows: 3
  cols: 4
  data: [300.0, 0.0, 160.0, 0.0, 0.0, 301.0, 120.0, 0.0, 0.0, 0.0, 1.0, 0.0]
"""


def write_video(path: Path, frames: int, size: tuple[int, int] = (320, 240),
                fps: float = 25.0) -> Path:
    sequence = SampleSequence(*size)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for index in range(frames):
        writer.write(sequence.frame(index))
    writer.release()
    return path


def write_folder(folder: Path, frames: int, size: tuple[int, int] = (640, 480)) -> Path:
    folder.mkdir()
    sequence = SampleSequence(*size)
    for index in range(frames):
        cv2.imwrite(str(folder / f"img_{index:03d}.jpg"), sequence.frame(index))
    return folder


def start_camera(ros_env, tmp_path, *params: str, name: str = "camera") -> NodeProcess:
    args = [a for p in params for a in ("-p", p)]
    return NodeProcess([*executable("camera_node"), "--ros-args", *args], ros_env,
                       tmp_path / f"{name}.log")


class Arrivals:
    """Messages of one topic with the monotonic time each arrived.

    Subscribe before starting the node: a participant that joins later is only discovered by
    the node at its next periodic announcement, seconds after the first frames.
    """

    def __init__(self, peer: RosPeer, msg_type, topic: str):
        self.items: list[tuple[float, object]] = []
        self._lock = threading.Lock()
        peer.node.create_subscription(msg_type, topic, self._on_message, RELIABLE)

    def _on_message(self, msg) -> None:
        with self._lock:
            self.items.append((time.monotonic(), msg))

    def messages(self) -> list:
        with self._lock:
            return [msg for _, msg in self.items]

    def rate_over(self, seconds: float, timeout: float) -> float:
        """Frames per second over ``seconds`` of arrivals, starting with the first one."""
        assert wait_until(lambda: bool(self.items), timeout), "no message arrived"
        first = self.items[0][0]
        assert wait_until(lambda: self.items[-1][0] - first >= seconds, seconds + 5)
        with self._lock:
            times = [t for t, _ in self.items if t - first <= seconds]
        return (len(times) - 1) / (times[-1] - times[0])


def key(header) -> tuple[int, int, str]:
    return header.stamp.sec, header.stamp.nanosec, header.frame_id


def assert_infos_match(images: list, infos: list, size: tuple[int, int]) -> None:
    info_by_header = {key(info.header): info for info in infos}
    matched = [info_by_header[key(image.header)] for image in images
               if key(image.header) in info_by_header]
    assert len(matched) >= len(images) - 2, (len(matched), len(images))
    for image, info in zip(images, matched):
        assert (image.width, image.height, image.encoding) == (*size, "bgr8")
        assert (info.width, info.height) == size


def test_video_file_is_paced_then_ends_cleanly(ros_domain, ros_env, tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=60)
    peer = RosPeer(ros_domain)
    images = Arrivals(peer, Image, "image_raw")
    infos = Arrivals(peer, CameraInfo, "camera_info")
    node = start_camera(ros_env, tmp_path, f"source:={video}", "fps:=15.0",
                        "frame_id:=test_cam", "loop:=false")
    try:
        rate = images.rate_over(2.0, START_TIMEOUT)
        assert rate == pytest.approx(15.0, rel=0.2), rate
        assert wait_until(lambda: not node.alive(), 10), node.output
        received = images.messages()
        assert_infos_match(received, infos.messages(), (320, 240))
        assert {image.header.frame_id for image in received} == {"test_cam"}
        stamps = [image.header.stamp.sec + image.header.stamp.nanosec * 1e-9
                  for image in received]
        assert all(b > a for a, b in zip(stamps, stamps[1:]))
        assert info_is_plain(infos.messages()[0])
    finally:
        peer.close()
        code, _ = node.stop()
    assert code == 0, node.output
    assert "end of file" in node.output and "after 60 frames" in node.output, node.output
    assert "Traceback" not in node.output


def info_is_plain(info: CameraInfo) -> bool:
    return not any(info.k) and not any(info.p) and info.distortion_model == ""


def test_image_folder_resized_calibrated_compressed_and_stopped(ros_domain, ros_env,
                                                                tmp_path):
    folder = write_folder(tmp_path / "images", frames=12)
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    calibration = tmp_path / "calib.yaml"
    calibration.write_text(CALIBRATION)
    peer = RosPeer(ros_domain)
    images = Arrivals(peer, Image, "image_raw")
    infos = Arrivals(peer, CameraInfo, "camera_info")
    compressed = Arrivals(peer, CompressedImage, "image_raw/compressed")
    node = start_camera(ros_env, tmp_path, f"source:={folder}", "fps:=10", "width:=320",
                        "height:=240", "frame_id:=folder_cam", "loop:=true",
                        f"camera_info_url:=file://{calibration}", "publish_compressed:=true")
    try:
        rate = images.rate_over(2.0, START_TIMEOUT)
        assert rate == pytest.approx(10.0, rel=0.2), rate
        assert node.alive(), node.output
        received = images.messages()
        assert_infos_match(received, infos.messages(), (320, 240))
        info = infos.messages()[-1]
        assert info.header.frame_id == "folder_cam"
        assert list(info.k) == [300.0, 0.0, 160.0, 0.0, 301.0, 120.0, 0.0, 0.0, 1.0]
        assert list(info.d) == [0.1, -0.2, 0.0, 0.0, 0.0]
        assert info.distortion_model == "plumb_bob"
        assert wait_until(lambda: bool(compressed.items), 5)
        jpeg = compressed.messages()[0]
        decoded = cv2.imdecode(np.frombuffer(bytes(jpeg.data), np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (240, 320, 3)
        assert "jpeg" in jpeg.format
        assert "skipped" in node.output and "broken.png" in node.output
    finally:
        peer.close()
        code, seconds = node.stop(signal.SIGINT)
    assert seconds < 2.0
    assert code == 0, node.output
    assert "Traceback" not in node.output


@pytest.mark.parametrize("source, sig", [("/dev/video99", signal.SIGINT),
                                         ("99", signal.SIGTERM)],
                         ids=["path, SIGINT", "integer index, SIGTERM"])
def test_missing_device_is_retried_with_backoff_and_stops_on_signal(ros_env, tmp_path,
                                                                    source, sig):
    node = start_camera(ros_env, tmp_path, f"source:={source}", "reconnect_delay:=0.1",
                        "reconnect_max_delay:=0.4")
    try:
        assert wait_until(lambda: node.output.count("retry") >= 4 or not node.alive(),
                          START_TIMEOUT), node.output
        assert node.alive(), node.output
        output = node.output
        assert "/dev/video99 does not exist" in output
        assert "retry 1 in 0.1 s" in output and "retry 3 in 0.4 s" in output, output
    finally:
        code, seconds = node.stop(sig)
    assert seconds < 2.0
    assert code == 0, node.output
    assert "Traceback" not in node.output


class FlakyDevice(FrameSource):
    """A camera that is unplugged after three frames, still missing at the next attempt, and
    then back for good."""

    def __init__(self) -> None:
        self.spec = SourceSpec("device", "/dev/video_flaky")
        self.opens = 0
        self.releases = 0
        self._frames_left = 0

    def open(self) -> str:
        self.opens += 1
        if self.opens == 2:
            raise SourceUnavailable("not there")
        self._frames_left = 3 if self.opens == 1 else -1
        return "flaky camera"

    def read(self) -> np.ndarray:
        if self._frames_left == 0:
            raise SourceUnavailable("unplugged")
        self._frames_left -= 1
        time.sleep(0.01)
        return np.zeros((48, 64, 3), np.uint8)

    def release(self) -> None:
        self.releases += 1


def test_an_unplugged_device_is_reopened_and_released(ros_domain, monkeypatch, capfd):
    device = FlakyDevice()
    monkeypatch.setattr(camera_node, "make_source", lambda *args, **kwargs: device)
    context = Context()
    rclpy.init(context=context, domain_id=ros_domain)
    try:
        node = camera_node.CameraNode(context=context, parameter_overrides=[
            Parameter("source", value=device.spec.target), Parameter("fps", value=0.0),
            Parameter("reconnect_delay", value=0.05)])
        assert wait_until(lambda: node.counts["published"] >= 10, 10)
        assert device.opens == 3 and node.counts["reconnects"] == 1
        node.close()
        assert node.finished.is_set() and device.releases >= 2
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    log = capfd.readouterr().err
    assert "lost camera /dev/video_flaky: unplugged; reconnecting" in log
    assert "cannot open camera /dev/video_flaky: not there; retry 1 in 0.1 s" in log


def test_missing_file_or_bad_calibration_refuses_to_start(ros_env, tmp_path):
    missing = tmp_path / "nothing.mp4"
    run = subprocess.run([*executable("camera_node"), "--ros-args", "-p",
                          f"source:={missing}"], env=ros_env, capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 1
    assert f"no such video file or image folder: {missing}" in run.stderr
    bad = tmp_path / "calib.yaml"
    bad.write_text("image_width: 320\nimage_height: 240\ncamera_matrix: {rows: 3, cols: 3, "
                   "data: [1, 2, 3]}\n")
    run = subprocess.run([*executable("camera_node"), "--ros-args", "-p",
                          f"camera_info_url:={bad}"], env=ros_env, capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 1
    assert "camera_matrix is 3x3 but has 3 values" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_emotions_carry_the_camera_headers(ros_domain, ros_env, tmp_path):
    peer = RosPeer(ros_domain)
    images = Arrivals(peer, Image, "image_raw")
    results = Arrivals(peer, EmotionArray, "emotions")
    camera = start_camera(ros_env, tmp_path, "source:=sample", "fps:=10",
                          "frame_id:=sample_cam")
    emotion = NodeProcess([*executable("emotion_node")], ros_env, tmp_path / "emotion.log")
    try:

        def answered() -> list[EmotionArray]:
            """Results with both faces for frames the test saw the camera publish."""
            image_headers = {key(image.header) for image in images.messages()}
            return [r for r in results.messages()
                    if key(r.header) in image_headers and len(r.emotions) == 2]

        assert wait_until(lambda: len(answered()) >= 3, START_TIMEOUT), \
            camera.output + emotion.output
        assert all(r.header.frame_id == "sample_cam" for r in results.messages())
    finally:
        peer.close()
        emotion.stop()
        code, _ = camera.stop()
    assert code == 0
    assert "Traceback" not in camera.output + emotion.output


@pytest.mark.parametrize("value, expected", [
    (0, SourceSpec("device", 0)),
    ("0", SourceSpec("device", 0)),
    (" 2 ", SourceSpec("device", 2)),
    ("/dev/video1", SourceSpec("device", "/dev/video1")),
    ("sample", SourceSpec("sample", "sample")),
    ("rtsp://cam.local:554/stream", SourceSpec("url", "rtsp://cam.local:554/stream")),
    ("http://10.0.0.2/video.mjpg", SourceSpec("url", "http://10.0.0.2/video.mjpg")),
    ("file:///data/clip.mp4", SourceSpec("file", "/data/clip.mp4")),
    ("/data/clip.mp4", SourceSpec("file", "/data/clip.mp4")),
])
def test_parse_source(value, expected):
    assert parse_source(value) == expected


def test_parse_source_folder_and_refusals(tmp_path):
    assert parse_source(str(tmp_path)) == SourceSpec("folder", str(tmp_path))
    for bad in ("", "  ", -1, True, 1.5):
        with pytest.raises(SourceError):
            parse_source(bad)


def test_output_size_keeps_the_aspect_when_one_side_is_given():
    assert output_size(640, 480, 0, 0) == (640, 480)
    assert output_size(640, 480, 320, 0) == (320, 240)
    assert output_size(640, 480, 0, 120) == (160, 120)
    assert output_size(640, 480, 100, 100) == (100, 100)


def test_pacer_slots_do_not_drift_with_uneven_work():
    clock = FakeClock()
    pacer = Pacer(20.0, clock)
    emitted = []
    rng = np.random.default_rng(0)
    for _ in range(200):
        clock.now += pacer.delay()
        emitted.append(clock.now)
        pacer.advance()
        clock.now += float(rng.uniform(0.0, 0.045))
    assert emitted[-1] - emitted[0] == pytest.approx(199 / 20.0, abs=1e-9)


def test_pacer_restarts_after_a_stall_instead_of_bursting():
    clock = FakeClock()
    pacer = Pacer(10.0, clock)
    pacer.advance()
    clock.now += 2.0
    assert pacer.delay() == 0.0
    pacer.advance()
    assert pacer.delay() == pytest.approx(0.1)


def test_pacer_caps_a_faster_live_source():
    clock = FakeClock()
    pacer = Pacer(10.0, clock)
    published = 0
    for _ in range(300):
        clock.now += 1 / 30
        if pacer.due():
            published += 1
            pacer.advance()
    assert published == pytest.approx(100, abs=1)


def test_video_file_ends_or_loops(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=5)
    once = CaptureSource(SourceSpec("file", str(video)), loop=False)
    assert "320x240" in once.open()
    assert once.native_fps == pytest.approx(25.0)
    assert [once.read() is not None for _ in range(6)] == [True] * 5 + [False]
    once.release()
    looped = CaptureSource(SourceSpec("file", str(video)), loop=True)
    looped.open()
    assert all(looped.read() is not None for _ in range(12))
    looped.release()


def test_missing_device_is_unavailable_not_an_error():
    source = CaptureSource(SourceSpec("device", "/dev/video99"))
    source.check()
    with pytest.raises(SourceUnavailable, match="/dev/video99 does not exist"):
        source.open()


def test_folder_skips_unreadable_images_and_refuses_when_none_is_readable(tmp_path):
    folder = write_folder(tmp_path / "images", frames=2, size=(160, 120))
    (folder / "img_001.jpg").write_bytes(b"garbage")
    source = FolderSource(SourceSpec("folder", str(folder)), loop=True)
    source.check()
    source.open()
    assert source.read().shape == (120, 160, 3)
    with pytest.raises(FrameUnreadable, match="img_001.jpg"):
        source.read()
    assert source.read() is not None
    (folder / "img_000.jpg").write_bytes(b"garbage")
    with pytest.raises((FrameUnreadable, SourceError)):
        for _ in range(3):
            source.read()
    with pytest.raises(SourceError, match="none of the images"):
        source.read()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no images"):
        FolderSource(SourceSpec("folder", str(empty))).check()


def test_sample_ends_after_one_period_without_loop():
    source = SampleSource(loop=False, width=320, height=240)
    source.open()
    frames = [source.read() for _ in range(121)]
    assert frames[0].shape == (240, 320, 3)
    assert frames[-1] is None and all(f is not None for f in frames[:-1])


def test_calibration_file_and_defaults(tmp_path):
    path = tmp_path / "calib.yaml"
    path.write_text(CALIBRATION)
    calibration = load_calibration(calibration_path(f"file://{path}"))
    assert (calibration.camera_name, calibration.width, calibration.height) == \
        ("test_cam", 320, 240)
    assert calibration.k[0] == 300.0 and len(calibration.p) == 12
    minimal = tmp_path / "minimal.yaml"
    minimal.write_text("image_width: 64\nimage_height: 48\ncamera_matrix: {rows: 3, cols: 3, "
                       "data: [50, 0, 32, 0, 50, 24, 0, 0, 1]}\n")
    calibration = load_calibration(minimal)
    assert calibration.r == (1, 0, 0, 0, 1, 0, 0, 0, 1)
    assert calibration.p == (50, 0, 32, 0, 0, 50, 24, 0, 0, 0, 1, 0)
    assert calibration.d == () and calibration.distortion_model == ""


@pytest.mark.parametrize("text, problem", [
    ("image_height: 48\n", "image_width missing"),
    ("image_width: 64\nimage_height: 48\n", "camera_matrix is missing"),
    ("image_width: 64\nimage_height: 48\ncamera_matrix: {rows: 3, cols: 4, "
     "data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}\n", "camera_matrix must be 3x3"),
    ("[1, 2]\n", "not a YAML mapping"),
    ("image_width: [\n", "not valid YAML"),
])
def test_calibration_errors_name_the_problem(tmp_path, text, problem):
    path = tmp_path / "calib.yaml"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=problem):
        load_calibration(path)


def test_calibration_url_schemes(tmp_path):
    assert calibration_path("/a/b.yaml") == Path("/a/b.yaml")
    assert calibration_path("file:///a/b.yaml") == Path("/a/b.yaml")
    with pytest.raises(CalibrationError, match="http://"):
        calibration_path("http://example.com/b.yaml")
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(tmp_path / "absent.yaml")


def set_camera_parameter(peer: RosPeer, name: str, value) -> object:
    """Set one parameter of /camera_node through its service, as `ros2 param set` does."""
    from rcl_interfaces.srv import SetParameters

    client = peer.node.create_client(SetParameters, "/camera_node/set_parameters")
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(SetParameters.Request(
        parameters=[Parameter(name, value=value).to_parameter_msg()]))
    assert wait_until(future.done, 10)
    return future.result().results[0]


def test_a_new_fps_applies_within_one_new_period(ros_domain, ros_env, tmp_path):
    """fps 0.01 holds the next frame for 100 s; back at 30 the frames must resume at once,
    not after the old period. Rates the range admits but that mean days are refused."""
    peer = RosPeer(ros_domain)
    images = Arrivals(peer, Image, "image_raw")
    node = start_camera(ros_env, tmp_path, "source:=sample", "width:=160", "height:=120")
    try:
        assert wait_until(lambda: len(images.items) >= 10, START_TIMEOUT), node.output
        assert set_camera_parameter(peer, "fps", 0.01).successful
        time.sleep(0.5)
        stalled = len(images.items)
        time.sleep(1.0)
        assert len(images.items) == stalled, "fps 0.01 did not slow the camera"
        assert set_camera_parameter(peer, "fps", 30.0).successful
        resumed = time.monotonic()
        assert wait_until(lambda: len(images.items) >= stalled + 10, 3.0), node.output
        assert images.items[stalled][0] - resumed < 0.5
        refused = set_camera_parameter(peer, "fps", 1e-7)
        assert not refused.successful and "0.01" in refused.reason
    finally:
        peer.close()
        node.stop()
    assert "Traceback" not in node.output


def test_a_video_file_plays_at_its_own_rate_unless_fps_is_set(ros_domain, ros_env, tmp_path):
    video = write_video(tmp_path / "clip15.avi", frames=90, fps=15.0)
    peer = RosPeer(ros_domain)
    images = Arrivals(peer, Image, "image_raw")
    node = start_camera(ros_env, tmp_path, f"source:={video}", "loop:=true")
    try:
        rate = images.rate_over(2.0, START_TIMEOUT)
        assert rate == pytest.approx(15.0, rel=0.2), (rate, node.output)
    finally:
        node.stop()
    assert "15 fps" in node.output
    images.items.clear()
    node = start_camera(ros_env, tmp_path, f"source:={video}", "loop:=true", "fps:=30",
                        name="camera30")
    try:
        rate = images.rate_over(2.0, START_TIMEOUT)
        assert rate == pytest.approx(30.0, rel=0.2), (rate, node.output)
        from rcl_interfaces.srv import GetParameters
        from rclpy.parameter import parameter_value_to_python

        client = peer.node.create_client(GetParameters, "/camera_node/get_parameters")
        assert client.wait_for_service(timeout_sec=10)
        future = client.call_async(GetParameters.Request(names=["fps"]))
        assert wait_until(future.done, 10)
        value = future.result().values[0]
        assert value.type == Parameter.Type.DOUBLE.value, value  # -p fps:=30 is an integer
        assert parameter_value_to_python(value) == 30.0
    finally:
        peer.close()
        node.stop()


def test_camera_info_follows_a_remapped_image_topic(ros_domain, ros_env, tmp_path):
    peer = RosPeer(ros_domain)
    images = Arrivals(peer, Image, "/x/image_raw")
    infos = Arrivals(peer, CameraInfo, "/x/camera_info")
    node = NodeProcess([*executable("camera_node"), "--ros-args", "-p", "source:=sample",
                        "-p", "width:=160", "-p", "height:=120", "-r", "image_raw:=/x/image_raw"],
                       ros_env, tmp_path / "remapped.log")
    try:
        assert wait_until(lambda: len(images.items) >= 3 and len(infos.items) >= 3,
                          START_TIMEOUT), node.output
        topics = dict(peer.node.get_topic_names_and_types())
        assert "/camera_info" not in topics, topics
    finally:
        peer.close()
        node.stop()


class _EndingStream:
    """An HTTP server whose clip ends after two frames: each GET is one short 'stream'."""

    def __init__(self, clip: bytes):
        import http.server

        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                owner.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "video/x-msvideo")
                self.send_header("Content-Length", str(len(clip)))
                self.end_headers()
                self.wfile.write(clip)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/clip.avi"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_stream_that_ends_reconnects_with_backoff_and_within_the_fps_cap(ros_domain, ros_env,
                                                                            tmp_path):
    """Used to reconnect at once, hundreds of times a second, beyond the fps cap."""
    stream = _EndingStream(write_video(tmp_path / "two.avi", frames=2).read_bytes())
    peer = RosPeer(ros_domain)
    images = Arrivals(peer, Image, "image_raw")
    node = start_camera(ros_env, tmp_path, f"source:={stream.url}", "fps:=5.0",
                        "reconnect_delay:=0.5", "reconnect_max_delay:=1.0")
    try:
        assert wait_until(lambda: len(images.items) >= 1, START_TIMEOUT), node.output
        start, requests = time.monotonic(), stream.requests
        time.sleep(4.0)
        elapsed = time.monotonic() - start
        made = stream.requests - requests
        times = [t for t, _ in images.items if t >= start]
    finally:
        peer.close()
        node.stop()
        stream.close()
    assert made <= 2 * elapsed / 0.5 + 2, (made, node.output)
    assert len(times) <= 5.0 * elapsed + 1, len(times)
    assert "reconnecting in" in node.output


def test_corrupt_images_in_a_folder_are_logged_throttled(ros_domain, ros_env, tmp_path):
    """libpng and libjpeg print on stderr for every corrupt file, every loop; only the node's
    throttled warning may reach the log."""
    folder = write_folder(tmp_path / "mixed", 2, size=(160, 120))
    good = (folder / "img_000.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(good[: len(good) // 2])
    png = bytearray(cv2.imencode(".png", np.full((120, 160, 3), 90, np.uint8))[1].tobytes())
    png[60:70] = b"x" * 10
    (folder / "crc.png").write_bytes(bytes(png))
    peer = RosPeer(ros_domain)
    images = Arrivals(peer, Image, "image_raw")
    node = start_camera(ros_env, tmp_path, f"source:={folder}", "loop:=true", "fps:=60")
    try:
        assert wait_until(lambda: len(images.items) >= 60, START_TIMEOUT), node.output
    finally:
        peer.close()
        node.stop()
    output = node.output
    raw_lines = [line for line in output.splitlines()
                 if line.startswith(("libpng", "Premature end", "Corrupt JPEG"))]
    assert raw_lines == [], raw_lines[:5]
    assert "decoder: " in output
    assert output.count("decoder: ") <= 6, output
