"""The node through which `fer bringup` sees its results: the summary and the ``--output`` files
are fed from the emotion node's topics, as any other client would read them."""

from __future__ import annotations

from typing import Any

import numpy as np
from fer_msgs.msg import EmotionArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from fer_ros.nodes.messages.emotion_records import emotion_record, stamp_seconds
from fer_ros.nodes.messages.image_conversion import ImageConversionError
from fer_ros.nodes.messages.image_messages import image_to_bgr
from fer_ros.nodes.parameters.reference import with_parameters
from fer_ros.nodes.recording.face_summary import FaceSummary
from fer_ros.nodes.recording.output_folder import Output


@with_parameters(())
class Recorder(Node):
    """bringup_recorder: subscribes to the emotion node's outputs like any other client would.

    As `ros2 node info` lists it; relative names resolve in the node's namespace, rclpy's own
    parameter services and /rosout, /parameter_events left out.

    Subscribers:
        emotions: fer_msgs/msg/EmotionArray, reliable, keep last 10
        image_annotated: sensor_msgs/msg/Image, reliable, keep last 10; with ``annotated``
    Publishers:
        none
    Service Servers:
        none
    """

    def __init__(self, namespace: str, output: Output | None, annotated: bool,
                 limit: int | None, **kwargs: Any):
        super().__init__("bringup_recorder", namespace=namespace, **kwargs)
        self.summary = FaceSummary()
        self.limit = limit
        """Results recorded at most; later ones (in flight when stopping) are ignored."""
        self._output = output
        self._last_stamp: float | None = None
        self._last_annotated: float | None = None
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(EmotionArray, "emotions", self._on_emotions, qos)
        self._annotated = annotated
        if annotated:
            self.create_subscription(Image, "image_annotated", self._on_annotated, qos)

    def _full(self) -> bool:
        return self.limit is not None and self.summary.frames >= self.limit

    def _on_emotions(self, msg: Any) -> None:
        if self._full():
            return
        record = emotion_record(msg)
        self.summary.add(record)
        self._last_stamp = record["stamp"]
        if self._output is not None:
            self._output.add_record(record)

    def _on_annotated(self, msg: Any) -> None:
        stamp = stamp_seconds(msg.header.stamp)
        if self._full() and (self._last_stamp is None or stamp > self._last_stamp + 1e-6):
            return
        try:
            frame = image_to_bgr(msg)
        except ImageConversionError as exc:
            self.get_logger().warning(f"bad annotated image: {exc}", throttle_duration_sec=5.0)
            return
        self._last_annotated = stamp
        if self._output is not None:
            self._output.add_frame(np.ascontiguousarray(frame), stamp)

    def failed(self) -> bool:
        """Whether writing the output failed (a full disk): the run stops then."""
        return self._output is not None and self._output.error is not None

    def caught_up(self) -> bool:
        """Whether the annotated image of the last recorded result has arrived."""
        if not self._annotated or self._last_stamp is None:
            return True
        return self._last_annotated is not None and self._last_annotated >= self._last_stamp
