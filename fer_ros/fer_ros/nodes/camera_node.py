"""The camera node: frames from a device, file, folder, stream or the built-in sample, to ROS.

Publishes ``image_raw`` (bgr8), ``camera_info`` under the same header, and on request
``image_raw/compressed`` (JPEG). A recording (a ``.mcap`` file or a rosbag2 folder) is played
like a camera: at its recorded pace, with its recorded stamps, frame_id and camera_info, so a
replay gives the results the recorded run gave.

Capture runs in its own thread because ``VideoCapture.read`` blocks for up to a frame period;
the executor stays free for parameter services and the node stops promptly. The sources
themselves live in fer_ros.sources (frame_sources, bags), free of ROS.

QoS: reliable, keep-last. A reliable publisher matches both best-effort subscribers (the emotion
node's SensorDataQoS) and reliable ones (rqt_image_view and image_transport's defaults), while a
best-effort publisher would silently match no reliable subscriber. Keep-last bounds memory and
never blocks the capture thread on a slow reader; the newest frame is the one that matters.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from ament_index_python.packages import get_package_share_directory
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from fer_ros.nodes.diagnostics.camera_health import TASK, CameraHealth, hardware_id
from fer_ros.nodes.diagnostics.stats_log import StatsLog
from fer_ros.nodes.diagnostics.updater import DiagnosticsPublisher
from fer_ros.nodes.messages.decoder_output import (
    decoder_output_to,
    keep_python_stderr_apart,
)
from fer_ros.nodes.messages.image_conversion import compressed_to_bgr, raw_to_bgr
from fer_ros.nodes.messages.image_messages import bgr_to_image
from fer_ros.nodes.messages.publishing import publish_guarded
from fer_ros.nodes.parameters.camera import SOURCE, parameter_specs
from fer_ros.nodes.parameters.reference import camera_table, with_parameters
from fer_ros.nodes.parameters.table import (
    ParameterTable,
    accept,
    refuse,
    warn_unknown_overrides,
)
from fer_ros.nodes.process.node_runner import node_main
from fer_ros.nodes.process.stop_request import StopRequest
from fer_ros.sources.calibration import (
    Calibration,
    CalibrationError,
    calibration_path,
    load_calibration,
)
from fer_ros.sources.frame_sources import (
    DEFAULT_RATE,
    SAMPLE,
    FrameUnreadable,
    SourceError,
    SourceUnavailable,
    fit_frame,
)
from fer_ros.sources.opening import make_source, parse_source
from fer_ros.sources.pacing import Pacer

QOS_DEPTH = 5


@with_parameters(camera_table())
class CameraNode(Node):
    """camera_node: frames of one source published as ROS images, at the source's pace.

    As `ros2 node info` lists it; relative names resolve in the node's namespace, rclpy's own
    parameter services and /rosout, /parameter_events left out.

    Subscribers:
        none
    Publishers:
        image_raw: sensor_msgs/msg/Image, reliable, keep last 5
        camera_info: sensor_msgs/msg/CameraInfo, reliable, keep last 5; beside image_raw
            wherever that is remapped
        image_raw/compressed: sensor_msgs/msg/CompressedImage, reliable, keep last 5; with
            publish_compressed, encoded only while it has subscribers
        /diagnostics: diagnostic_msgs/msg/DiagnosticArray, reliable, keep last 10
    Service Servers:
        none
    """

    def __init__(self, on_finished: Callable[[], None] | None = None, **kwargs: Any):
        """``on_finished`` runs in the capture thread when the source ends or fails for good;
        by default it shuts the context down, which ends ``run_nodes``."""
        keep_python_stderr_apart()
        super().__init__("camera_node", **kwargs)
        self._source_table = ParameterTable(self, (SOURCE,))
        try:
            self.spec = parse_source(self._source_table.values["source"])
        except SourceError as exc:
            raise ValueError(f"invalid parameter: {exc}") from exc
        self._params = ParameterTable(self, parameter_specs(self.spec.kind == SAMPLE))
        warn_unknown_overrides(self)
        values = self._params.values
        self._source = make_source(self.spec, values["loop"], values["width"],
                                   values["height"], values["fps"], values["max_image_pixels"],
                                   values["bag_topic"], self._decode_recorded)
        self._source.check()
        if self._source.warning:
            self.get_logger().warning(self._source.warning)
        self._info_checked = False
        self._calibration = self._load_calibration(values["camera_info_url"])
        self.add_on_set_parameters_callback(self._on_set_parameters)

        qos = QoSProfile(depth=QOS_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self._image_pub = self.create_publisher(Image, "image_raw", qos)
        self._info_pub = self.create_publisher(CameraInfo, self._camera_info_topic(), qos)
        self._compressed_pub = None
        if values["publish_compressed"]:
            self._compressed_pub = self.create_publisher(
                CompressedImage, self.resolve_topic_name("image_raw") + "/compressed", qos)

        self.counts = {"published": 0, "dropped": 0, "unreadable": 0, "publish_errors": 0,
                       "reconnects": 0}
        self.exit_code = 0
        self.finished = threading.Event()
        self._on_finished = on_finished or self.context.try_shutdown
        self._size_checked = False
        StatsLog(self, values["stats_period"], lambda: self.counts["published"],
                 self._stats_totals)
        self._diagnostics = DiagnosticsPublisher(self, hardware_id(self.spec))
        self._diagnostics.add(TASK, CameraHealth(self.spec, self.counts, self._rate).check)
        self._stop = threading.Event()
        self._wake = threading.Event()
        """Set to cut short a wait for the next frame slot: on stop, or when fps changes."""
        self.context.on_shutdown(self._request_stop)
        self._thread = threading.Thread(target=self._capture, name="camera_capture",
                                        daemon=True)
        self._thread.start()

    def _request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _camera_info_topic(self) -> str:
        """camera_info beside image_raw, as image_transport and image_proc expect: with
        ``-r image_raw:=/x/image_raw`` it is /x/camera_info. A remap of camera_info itself wins."""
        namespace = self.get_namespace().rstrip("/")
        image, info = self.resolve_topic_name("image_raw"), self.resolve_topic_name("camera_info")
        if image == f"{namespace}/image_raw" or info != f"{namespace}/camera_info":
            return info
        return image.rsplit("/", 1)[0] + "/camera_info"

    def _load_calibration(self, url: str) -> Calibration | None:
        if not url:
            return None
        if url.startswith("package://"):
            package, _, rest = url[len("package://"):].partition("/")
            try:
                path = Path(get_package_share_directory(package)) / rest
            except (LookupError, OSError, ValueError) as exc:
                raise CalibrationError(f"camera_info_url {url}: package {package!r} not "
                                       f"found ({exc})") from exc
        else:
            path = calibration_path(url)
        calibration = load_calibration(path)
        self.get_logger().info(f"calibration {calibration.camera_name or path.name}: "
                               f"{calibration.width}x{calibration.height}, "
                               f"{calibration.distortion_model or 'no'} distortion")
        return calibration

    def _on_set_parameters(self, parameters: list[Parameter]):
        proposed, reason = self._params.check(parameters)
        if reason is not None:
            return refuse(reason)
        rate_changed = proposed["fps"] != self._params.values["fps"]
        self._params.values = proposed
        if rate_changed:
            self._wake.set()
        return accept()

    def _capture(self) -> None:
        """Open, stream, and reopen after losses until stopped or the source ends."""
        try:
            self._capture_until_done()
        except SourceError as exc:
            self.exit_code = 1
            self.get_logger().fatal(f"{exc}; stopping")
        except Exception as exc:  # the thread must never die silently and leave a mute node
            self.exit_code = 1
            self.get_logger().fatal(f"capture failed: {exc!r}; stopping")
        finally:
            self._source.release()
            self.finished.set()
            if not self._stop.is_set():
                self._on_finished()

    def _capture_until_done(self) -> None:
        """Open and stream until stopped or the end; every reconnect waits its backoff.

        ``failures`` counts consecutive opens that failed; ``fruitless`` consecutive opens that
        worked but published nothing before the source was lost (an HTTP stream that ends at
        once opens fine every time): those reconnect after a growing delay too.
        """
        failures = fruitless = 0
        pacer = Pacer(self._rate())
        while not self._stop.is_set():
            try:
                with decoder_output_to(self._decoder_said):
                    description = self._source.open()
            except SourceUnavailable as exc:
                failures += 1
                delay = self._backoff(failures)
                self.get_logger().error(f"cannot open {self.spec}: {exc}; retry {failures} "
                                        f"in {delay:.1f} s")
                self.counts["reconnects"] += 1
                if self._stop.wait(delay):
                    return
                continue
            failures = 0
            self.get_logger().info(f"opened {description}; publishing on "
                                   f"{self.resolve_topic_name('image_raw')} at "
                                   f"{self._describe_rate()}")
            published = self.counts["published"]
            try:
                ended = self._stream(pacer)
            except SourceUnavailable as exc:
                self._source.release()
                fruitless = fruitless + 1 if self.counts["published"] == published else 0
                delay = self._backoff(fruitless + 1)
                self.get_logger().error(f"lost {self.spec}: {exc}; reconnecting in {delay:.1f} s")
                if self._stop.wait(delay):
                    return
                continue
            if ended:
                self.get_logger().info(
                    f"end of {self.spec} after {self.counts['published']} frames "
                    "(loop is false); stopping")
                return

    def _backoff(self, failures: int) -> float:
        values = self._params.values
        return min(values["reconnect_delay"] * 2 ** min(failures - 1, 16),
                   max(values["reconnect_max_delay"], values["reconnect_delay"]))

    def _rate(self) -> float:
        wanted = self._params.values["fps"]
        if wanted > 0 or self.spec.live:
            return wanted
        return self._source.native_fps or DEFAULT_RATE

    def _describe_rate(self) -> str:
        rate = self._rate()
        if self.spec.kind == "bag" and not self._params.values["fps"]:
            return "its recorded pace"
        if rate <= 0:
            return "the source's own rate"
        cap = "at most " if self.spec.live else ""
        return f"{cap}{rate:g} fps"

    def _stream(self, pacer: Pacer) -> bool:
        """Publish frames until stopped (False) or the source ends (True).

        Files, folders and the sample are paced: the next frame is decoded first, then held
        until its slot. Live sources deliver at their own rate; frames arriving before the next
        slot are dropped so that ``fps`` caps the rate without adding latency. The pacer lives
        across reconnects, so a stream that restarts cannot exceed the cap either.
        """
        pacer.set_rate(self._rate())
        while not self._stop.is_set():
            try:
                with decoder_output_to(self._decoder_said):
                    frame = self._source.read()
            except FrameUnreadable as exc:
                self.counts["unreadable"] += 1
                self.get_logger().warning(f"{exc} ({self.counts['unreadable']} so far)",
                                          throttle_duration_sec=5.0)
                continue
            if frame is None:
                return True
            pacer.set_rate(self._rate())
            if self.spec.live:
                if not pacer.due():
                    self.counts["dropped"] += 1
                    continue
            elif self._wait_for_slot(pacer):
                return False
            self._publish_frame(frame)
            pacer.advance()
        return False

    def _wait_for_slot(self, pacer: Pacer) -> bool:
        """Wait until the pacer's next slot; True when stopped meanwhile. A change of ``fps``
        wakes the wait and re-times the slot, so a new rate applies within one new period."""
        while (delay := pacer.delay()) > 0:
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return True
            pacer.set_rate(self._rate())
        return self._stop.is_set()

    def _decode_recorded(self, msgtype: str, msg: Any) -> np.ndarray:
        """Pixels of a recorded sensor_msgs image (as rosbags decodes it); ValueError if bad."""
        if msgtype.endswith("CompressedImage"):
            return compressed_to_bgr(msg.format, msg.data,
                                     self._params.values["max_image_pixels"])
        return raw_to_bgr(msg.encoding, msg.height, msg.width, msg.step, msg.data)

    def _decoder_said(self, line: str) -> None:
        self.get_logger().warning(f"decoder: {line}", throttle_duration_sec=5.0)

    def _publish_frame(self, frame: np.ndarray) -> None:
        values = self._params.values
        recorded = self._source.recorded
        if recorded is not None:
            header = Header(frame_id=recorded.frame_id)
            header.stamp.sec, header.stamp.nanosec = recorded.sec, recorded.nanosec
        else:
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id=values["frame_id"])
        frame = fit_frame(frame, values["width"], values["height"])
        height, width = frame.shape[:2]
        publish_guarded(self, self._image_pub, bgr_to_image(frame, header), self.counts)
        info = self._camera_info(header, width, height)
        if self._calibration is None and recorded is not None \
                and recorded.camera_info is not None:
            info = self._recorded_info(info, recorded.camera_info)
        publish_guarded(self, self._info_pub, info, self.counts)
        if self._compressed_pub is not None and self._compressed_pub.get_subscription_count():
            ok, jpeg = cv2.imencode(".jpg", frame,
                                    [cv2.IMWRITE_JPEG_QUALITY, values["jpeg_quality"]])
            if ok:
                publish_guarded(self, self._compressed_pub, CompressedImage(
                    header=header, format="bgr8; jpeg compressed bgr8", data=jpeg.tobytes()),
                    self.counts)
        self.counts["published"] += 1

    def _camera_info(self, header: Header, width: int, height: int) -> CameraInfo:
        info = CameraInfo(header=header, width=width, height=height)
        calibration = self._calibration
        if calibration is None:
            return info
        if not self._size_checked:
            self._size_checked = True
            if (calibration.width, calibration.height) != (width, height):
                self.get_logger().warning(
                    f"calibration is for {calibration.width}x{calibration.height} but frames "
                    f"are {width}x{height}; camera_info will not match the images")
        info.distortion_model = calibration.distortion_model
        info.d = list(calibration.d)
        info.k = list(calibration.k)
        info.r = list(calibration.r)
        info.p = list(calibration.p)
        return info

    def _recorded_info(self, info: CameraInfo, recorded: Any) -> CameraInfo:
        """The recorded intrinsics under the published header, if they fit the frame size."""
        if (recorded.width, recorded.height) != (info.width, info.height):
            if not self._info_checked:
                self._info_checked = True
                self.get_logger().warning(
                    f"the recorded camera_info is for {recorded.width}x{recorded.height} but "
                    f"frames are published at {info.width}x{info.height}; camera_info gives "
                    "only the size")
            return info
        info.distortion_model = recorded.distortion_model
        info.d = [float(x) for x in recorded.d]
        info.k = [float(x) for x in recorded.k]
        info.r = [float(x) for x in recorded.r]
        info.p = [float(x) for x in recorded.p]
        info.binning_x, info.binning_y = int(recorded.binning_x), int(recorded.binning_y)
        return info

    def _stats_totals(self) -> list[tuple[int, str]]:
        names = {"published": "published", "dropped": "over the fps cap",
                 "unreadable": "unreadable", "reconnects": "failed opens",
                 "publish_errors": "publish errors"}
        return [(self.counts[key], what) for key, what in names.items()]

    def close(self) -> None:
        """Stop capturing and release the device before the node goes away.

        The capture thread releases the device itself (VideoCapture is not safe to release
        while another thread reads it); a read blocks for at most a frame period or the stream
        timeout, and if it outlasts the wait the process exit frees the device.
        """
        self._request_stop()
        self._thread.join(timeout=1.5)
        if self._thread.is_alive():
            self.get_logger().warning(f"{self.spec} is still blocked in a read; it is "
                                      "released when the process exits")


def main(args: list[str] | None = None, stop: StopRequest | None = None) -> int:
    return node_main("camera_node", CameraNode, (SourceError, CalibrationError), args,
                     stop)


if __name__ == "__main__":
    sys.exit(main())
