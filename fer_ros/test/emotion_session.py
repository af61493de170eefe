"""A running emotion_node and a test peer that feeds it frames: what the node tests drive."""

from __future__ import annotations

import time

import numpy as np
from fer_msgs.msg import EmotionArray
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterValue
from rcl_interfaces.srv import SetParameters
from sensor_msgs.msg import CompressedImage, Image

from frames import image_msg, jpeg_msg
from ros_harness import NodeProcess, RosPeer, executable, wait_for_subscriber, wait_until

START_TIMEOUT = 30.0
ANSWER_TIMEOUT = 10.0


def start_node(ros_env, tmp_path, *params: str, name: str = "emotion") -> NodeProcess:
    args = [a for p in params for a in ("-p", p)]
    return NodeProcess([*executable("emotion_node"), "--ros-args", *args], ros_env,
                       tmp_path / f"{name}.log")


class Session:
    """A running emotion_node and a test peer publishing frames and collecting results."""

    def __init__(self, ros_domain, ros_env, tmp_path, *params: str, compressed: bool = False):
        self.node = start_node(ros_env, tmp_path, *params)
        self.peer = RosPeer(ros_domain)
        self.results: list[EmotionArray] = self.peer.collect(EmotionArray, "emotions")
        topic, msg_type = ("image_raw/compressed", CompressedImage) if compressed else \
            ("image_raw", Image)
        self.pub = self.peer.publisher(msg_type, topic)
        self.stamp = 1_700_000_000_000_000_000
        assert wait_for_subscriber(self.pub, START_TIMEOUT), self.node.output
        self._handshake(compressed)

    def _handshake(self, compressed: bool) -> None:
        """Publish until the node answers: matching is complete on both sides only then."""
        pixels = np.zeros((48, 64, 3), np.uint8)
        blank = jpeg_msg(pixels, 0) if compressed else image_msg(pixels, 0)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.results and time.monotonic() < deadline:
            self.pub.publish(blank)
            wait_until(lambda: bool(self.results), 0.25)
        assert self.results, self.node.output

    def send(self, msg, timeout: float = ANSWER_TIMEOUT) -> EmotionArray | None:
        """Publish one frame and wait for the EmotionArray with its stamp (None if none came)."""
        stamp = msg.header.stamp
        before = len(self.results)
        self.pub.publish(msg)
        found: list[EmotionArray] = []

        def answered() -> bool:
            found.extend(r for r in self.results[before:] if r.header.stamp == stamp)
            return bool(found)

        wait_until(answered, timeout)
        return found[0] if found else None

    def next_stamp(self) -> int:
        self.stamp += 33_000_000
        return self.stamp

    def close(self):
        self.peer.close()
        return self.node.stop()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def set_parameter(peer: RosPeer, name: str, value: ParameterValue):
    client = peer.node.create_client(SetParameters, "/emotion_node/set_parameters")
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(SetParameters.Request(
        parameters=[ParameterMsg(name=name, value=value)]))
    assert wait_until(future.done, 10)
    return future.result().results[0]
