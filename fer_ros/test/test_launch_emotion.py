"""`ros2 launch fer_ros emotion.launch.py image_topic:=...` on a camera topic of the test's own,
under launch_testing, and its parameters set through the parameter services.

The test peer plays camera: it publishes skimage's astronaut portrait on /test_camera/image_raw
with its own stamps and frame_id, and expects each EmotionArray under exactly that header. Bad
parameter values are refused with a reason through rcl_interfaces' SetParameters service and
through `ros2 param set`, and a good one is taken. After shutdown every process must have
exited with 0 and printed no traceback.

Runs under pytest (launch_testing's plugin) or alone:
`launch_test fer_ros/test/test_launch_emotion.py`.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import unittest
from pathlib import Path

import pytest

pytest.importorskip("launch_testing", reason="launch_testing is not installed (not on PyPI; "
                    "make setup installs it from ../shared/ros2-tools, a ROS install has it)")

import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from fer_msgs.msg import EmotionArray  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import GetParameters, SetParameters  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fer_ros.nodes.process.dds_profile import use_bundled_dds_profile  # noqa: E402
from fer_ros.perception.tracking.tracks import box_iou  # noqa: E402
from frames import astronaut_frame, image_msg, roi_box  # noqa: E402
from launch_harness import CleanExitChecks, private_ros_environment  # noqa: E402
from ros_harness import RosPeer, executable, wait_for_subscriber, wait_until  # noqa: E402

use_bundled_dds_profile()

START_TIMEOUT = 60.0
SERVICE_TIMEOUT = 20.0
CAMERA_TOPIC = "/test_camera/image_raw"
NODE = "/fer/emotion_node"
STAMPS = itertools.count(1_700_000_000_000_000_000, 33_000_000)
"""Stamps of the published frames, unique across the tests of the file."""


@pytest.mark.launch_test
def generate_test_description():
    environment, domain_id = private_ros_environment()
    launch_file = Path(get_package_share_directory("fer_ros")) / "launch" / "emotion.launch.py"
    emotion = IncludeLaunchDescription(PythonLaunchDescriptionSource(str(launch_file)),
                                       launch_arguments={"image_topic": CAMERA_TOPIC}.items())
    return (LaunchDescription([*environment, emotion, launch_testing.actions.ReadyToTest()]),
            {"domain_id": domain_id})


def string_value(text: str) -> ParameterValue:
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=text)


def integer_value(number: int) -> ParameterValue:
    return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=number)


class TestEmotionLaunchOnACameraTopic(unittest.TestCase):

    def setUp(self):
        self.peer = None

    def tearDown(self):
        if self.peer is not None:
            self.peer.close()

    def start_peer(self, domain_id: int) -> None:
        self.peer = RosPeer(domain_id)
        self.arrays: list[EmotionArray] = self.peer.collect(EmotionArray, "/fer/emotions")
        self.camera = self.peer.publisher(Image, CAMERA_TOPIC)
        self.assertTrue(wait_for_subscriber(self.camera, START_TIMEOUT),
                        f"emotion_node did not subscribe to {CAMERA_TOPIC}")

    def answer(self, frame, timeout: float = START_TIMEOUT) -> tuple[Image, EmotionArray | None]:
        """Publish ``frame`` until the EmotionArray of one of its copies arrives."""
        sent: dict[tuple[int, int], Image] = {}

        def answered() -> EmotionArray | None:
            return next((a for a in self.arrays
                         if (a.header.stamp.sec, a.header.stamp.nanosec) in sent), None)

        deadline = time.monotonic() + timeout
        while answered() is None and time.monotonic() < deadline:
            msg = image_msg(frame, next(STAMPS), frame_id="test_camera_optical")
            sent[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg
            self.camera.publish(msg)
            wait_until(lambda: answered() is not None, 0.3)
        array = answered()
        key = None if array is None else (array.header.stamp.sec, array.header.stamp.nanosec)
        return sent.get(key), array

    def call(self, service_type, name: str, request):
        client = self.peer.node.create_client(service_type, f"{NODE}/{name}")
        self.assertTrue(client.wait_for_service(timeout_sec=SERVICE_TIMEOUT), name)
        future = client.call_async(request)
        self.assertTrue(wait_until(future.done, SERVICE_TIMEOUT), name)
        return future.result()

    def set_parameter(self, name: str, value: ParameterValue):
        request = SetParameters.Request(parameters=[Parameter(name=name, value=value)])
        return self.call(SetParameters, "set_parameters", request).results[0]

    def test_results_carry_the_camera_header(self, domain_id):
        self.start_peer(domain_id)
        frame, face = astronaut_frame()
        sent, array = self.answer(frame)
        self.assertIsNotNone(array, "no EmotionArray for the published frames")
        self.assertEqual(array.header, sent.header)
        self.assertEqual(len(array.emotions), 1)
        self.assertEqual(array.emotions[0].label, "happy")
        self.assertGreater(box_iou(roi_box(array.emotions[0]), face), 0.5)

    def parameter_values(self, names: list[str]) -> list:
        values = self.call(GetParameters, "get_parameters",
                           GetParameters.Request(names=names)).values
        return [(v.type, v.string_value, v.integer_value) for v in values]

    def test_parameter_refusals_through_the_parameter_services(self, domain_id):
        self.start_peer(domain_id)
        names = ["smoothing", "min_face_size", "detector", "num_threads"]
        before = self.parameter_values(names)
        refused = self.set_parameter("smoothing", string_value("median"))
        self.assertFalse(refused.successful)
        self.assertIn("none, ema, window", refused.reason)
        refused = self.set_parameter("min_face_size", integer_value(-5))
        self.assertFalse(refused.successful)
        self.assertTrue(refused.reason)
        refused = self.set_parameter("detector", string_value("yolo"))
        self.assertFalse(refused.successful)
        self.assertIn("haar", refused.reason)
        refused = self.set_parameter("num_threads", integer_value(4))
        self.assertFalse(refused.successful, "num_threads is read-only")
        self.assertEqual(self.parameter_values(names), before, "a refused value was kept")

        detector = before[2][1]
        taken = self.set_parameter("detector", string_value("haar"))
        self.assertTrue(taken.successful, taken.reason)
        try:
            frame, face = astronaut_frame()
            _, array = self.answer(frame)
            self.assertIsNotNone(array, "no EmotionArray after switching to haar")
            self.assertTrue(any(box_iou(roi_box(e), face) > 0.5 for e in array.emotions))
        finally:
            self.assertTrue(self.set_parameter("detector", string_value(detector)).successful)

    def test_ros2_param_set_reports_the_refusal(self, domain_id):
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
        run = subprocess.run([*executable("ros2"), "param", "set", "--no-daemon", "--timeout",
                              "20", NODE, "smoothing", "median"],
                             env=env, capture_output=True, text=True, timeout=60)
        self.assertIn("Setting parameter failed", run.stderr, run.stdout + run.stderr)
        self.assertIn("none, ema, window", run.stderr)


@launch_testing.post_shutdown_test()
class TestCleanExit(CleanExitChecks, unittest.TestCase):
    pass
