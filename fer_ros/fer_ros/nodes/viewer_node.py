"""`fer view` and the ROS side of the browser viewer: topics in, fer_ros.viewer's streams out.

The node subscribes to a namespace's ``emotions`` and its annotated image, by default
``image_annotated/compressed``: the emotion node's JPEG goes to the browsers as it is, encoded
once however many browsers watch, and this node never decodes or encodes an image. With
``--raw`` it takes ``image_annotated`` and encodes itself. Either image is subscribed to
only while a browser watches it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import rclpy
from fer_msgs.msg import EmotionArray
from rclpy.exceptions import InvalidNamespaceException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.validate_namespace import validate_namespace
from sensor_msgs.msg import CompressedImage, Image

from fer_ros.nodes.messages.emotion_records import emotion_record
from fer_ros.nodes.messages.image_conversion import (
    ImageConversionError,
    bgr_to_jpeg,
    compressed_to_bgr,
)
from fer_ros.nodes.messages.image_messages import image_to_bgr
from fer_ros.nodes.parameters.reference import with_parameters
from fer_ros.nodes.process.dds_profile import use_bundled_dds_profile
from fer_ros.nodes.process.node_runner import run_nodes
from fer_ros.nodes.process.stop_request import StopRequest
from fer_ros.viewer.broadcast import FRAMES, Broadcast
from fer_ros.viewer.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ViewerServer,
    ViewerStartError,
    exposure_warning,
    start_viewer,
)

JPEG_QUALITY = 80
"""Quality of the JPEG this node encodes itself (``--raw``, or a PNG on the compressed topic)."""


@with_parameters(())
class ViewerNode(Node):
    """fer_viewer: feeds a Broadcast from a namespace's results and annotated image.

    The image is subscribed to only while some client watches the MJPEG stream, checked every
    WATCH_PERIOD seconds on the executor's thread: the emotion node draws and encodes it only
    for subscribers, so a viewer that nobody has open costs it nothing.

    As `ros2 node info` lists it while a browser watches; relative names resolve in the node's
    namespace, rclpy's own parameter services and /rosout, /parameter_events left out.

    Subscribers:
        emotions: fer_msgs/msg/EmotionArray, reliable, keep last 10
        image_annotated/compressed: sensor_msgs/msg/CompressedImage, best effort, keep last
            1; without ``raw``
        image_annotated: sensor_msgs/msg/Image, reliable, keep last 1; with ``raw``
    Publishers:
        none
    Service Servers:
        none
    """

    WATCH_PERIOD = 0.5

    def __init__(self, broadcast: Broadcast, raw: bool = False, **kwargs: Any):
        super().__init__("fer_viewer", **kwargs)
        self.broadcast = broadcast
        self.create_subscription(EmotionArray, "emotions", self._on_emotions,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self._raw = raw
        self.image_topic = self.resolve_topic_name(
            "image_annotated" if raw else "image_annotated/compressed")
        self._image_subscription = None
        self._follow_clients()
        self.create_timer(self.WATCH_PERIOD, self._follow_clients)

    def _follow_clients(self) -> None:
        watched = self.broadcast.clients(FRAMES) > 0
        if watched and self._image_subscription is None:
            if self._raw:
                # Reliable as the publisher offers it: best effort loses fragments of 1 MB.
                self._image_subscription = self.create_subscription(
                    Image, "image_annotated", self._on_image,
                    QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
            else:
                self._image_subscription = self.create_subscription(
                    CompressedImage, "image_annotated/compressed", self._on_compressed,
                    QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        elif not watched and self._image_subscription is not None:
            self.destroy_subscription(self._image_subscription)
            self._image_subscription = None

    def _on_emotions(self, msg: EmotionArray) -> None:
        self.broadcast.publish_event(emotion_record(msg, scores=True))

    def _on_compressed(self, msg: CompressedImage) -> None:
        if "jpeg" in msg.format.lower():
            self.broadcast.publish_frame(bytes(msg.data))
        else:
            self._encode(lambda: compressed_to_bgr(msg.format, msg.data))

    def _on_image(self, msg: Image) -> None:
        self._encode(lambda: image_to_bgr(msg))

    def _encode(self, pixels) -> None:
        try:
            self.broadcast.publish_frame(bgr_to_jpeg(pixels(), JPEG_QUALITY))
        except ImageConversionError as exc:
            self.get_logger().warning(f"bad annotated image: {exc}", throttle_duration_sec=5.0)


def add_host_argument(parser: argparse.ArgumentParser) -> None:
    """``--host``, shared by `fer view` and `fer bringup --view`."""
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address the viewer listens on (default {DEFAULT_HOST}: this "
                        "machine only; 0.0.0.0 exposes it to the network, without "
                        "authentication)")


def port_number(text: str) -> int:
    """An argparse type: a TCP port (0: one the system picks), else a one-line error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number 0..65535, got {text!r}") \
            from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0..65535, got {value}")
    return value


def ros_namespace(text: str) -> str:
    """An argparse type: a ROS namespace, relative (``fer``) or absolute (``/robot1/fer``),
    checked as rclpy checks it, so that a bad one is a usage error, not a traceback."""
    try:
        validate_namespace(text if text.startswith("/") else "/" + text)
    except InvalidNamespaceException as exc:
        reason = str(exc).splitlines()[0].removeprefix("Invalid namespace: ")
        raise argparse.ArgumentTypeError(f"{text!r} is no ROS namespace: {reason}") from None
    return text


def open_viewer(host: str, port: int, program: str) -> ViewerServer | None:
    """A started server, its address and any exposure warning printed; None (with a one-line
    error) when it cannot bind."""
    broadcast = Broadcast()
    try:
        server = start_viewer(host, port, broadcast)
    except ViewerStartError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        return None
    warning = exposure_warning(host)
    if warning:
        print(f"{program}: {warning}", file=sys.stderr)
    everywhere = " (listening on every interface)" if server.on_every_interface else ""
    print(f"{program}: viewer at {server.url}{everywhere}", file=sys.stderr, flush=True)
    return server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namespace", type=ros_namespace, default="fer",
                        help="namespace of the emotion node to watch (default fer: "
                        "/fer/emotions, /fer/image_annotated/compressed)")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                        help=f"port to serve on (default {DEFAULT_PORT})")
    add_host_argument(parser)
    parser.add_argument("--raw", action="store_true",
                        help="subscribe to the raw image_annotated and encode here (for an "
                        "emotion node without image_annotated/compressed)")


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; 1 when the port cannot be had."""
    stop = StopRequest()
    server = open_viewer(args.host, args.port, "fer view")
    if server is None:
        return 1
    use_bundled_dds_profile()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = ViewerNode(server.broadcast, raw=args.raw, namespace=args.namespace)
        print(f"fer view: watching {node.resolve_topic_name('emotions')} and "
              f"{node.image_topic}", file=sys.stderr, flush=True)
        run_nodes([node], stop)
    finally:
        server.stop()
        rclpy.try_shutdown(uninstall_handlers=False)
        stop.ignore_from_now()
    return 0
