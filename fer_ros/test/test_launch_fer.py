"""`ros2 launch fer_ros fer.launch.py` under launch_testing, as a ROS user starts it.

The installed launch file is included unchanged: camera_node plays the built-in sample (two
moving, smiling faces), emotion_node classifies it. The test peer reads /fer/emotions,
/fer/image_annotated and the headers of /fer/image_raw over real DDS on a private domain.
After shutdown every process must have exited with 0 and printed no traceback.

Runs under pytest (launch_testing's plugin) or alone: `launch_test fer_ros/test/test_launch_fer.py`.
"""

from __future__ import annotations

import sys
import unittest
from collections import deque
from pathlib import Path

import pytest

pytest.importorskip("launch_testing", reason="launch_testing is not installed (not on PyPI; "
                    "make setup installs it from ../shared/ros2-tools, a ROS install has it)")

import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
import numpy as np  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from fer_msgs.msg import EmotionArray  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fer_ros.nodes.process.dds_profile import use_bundled_dds_profile  # noqa: E402
from fer_ros.perception.annotation import COLORS  # noqa: E402
from fer_ros.perception.expressions.labels import EMOTIONS  # noqa: E402
from launch_harness import CleanExitChecks, private_ros_environment  # noqa: E402
from ros_harness import RosPeer, wait_until  # noqa: E402

use_bundled_dds_profile()

START_TIMEOUT = 60.0
"""First results on a loaded 2-core machine: nodes start, load models and match over DDS."""
ARRAYS_WANTED = 10
CAMERA_FRAME_ID = "camera"
"""frame_id in config/camera.yaml, which the launch file passes to camera_node."""
WIDTH, HEIGHT = 640, 480
"""The sample's frame size (camera.yaml keeps the source's own size)."""


@pytest.mark.launch_test
def generate_test_description():
    environment, domain_id = private_ros_environment()
    launch_file = Path(get_package_share_directory("fer_ros")) / "launch" / "fer.launch.py"
    fer = IncludeLaunchDescription(PythonLaunchDescriptionSource(str(launch_file)))
    return (LaunchDescription([*environment, fer, launch_testing.actions.ReadyToTest()]),
            {"domain_id": domain_id})


def stamp(msg) -> tuple[int, int]:
    return msg.header.stamp.sec, msg.header.stamp.nanosec


def image_pixels(msg: Image) -> np.ndarray:
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
    return rows[:, :msg.width * 3].reshape(msg.height, msg.width, 3)


class TestSampleThroughFerLaunch(unittest.TestCase):

    def test_emotions_and_annotated_image(self, domain_id):
        peer = RosPeer(domain_id)
        try:
            arrays: list[EmotionArray] = peer.collect(EmotionArray, "/fer/emotions")
            annotated: deque[Image] = deque(maxlen=3)
            peer.node.create_subscription(Image, "/fer/image_annotated",
                                          lambda m: annotated.append(m), 2)
            camera_frames: deque[tuple[int, int]] = deque(maxlen=300)
            peer.node.create_subscription(Image, "/fer/image_raw",
                                          lambda m: camera_frames.append(stamp(m)),
                                          qos_profile_sensor_data)

            def enough() -> bool:
                answered = {stamp(a) for a in arrays}
                return (len([a for a in arrays if len(a.emotions) == 2]) >= ARRAYS_WANTED
                        and any(stamp(i) in answered for i in list(annotated))
                        and any(frame in answered for frame in list(camera_frames)))

            self.assertTrue(
                wait_until(enough, START_TIMEOUT),
                f"in {START_TIMEOUT} s: {len(arrays)} EmotionArrays, {len(annotated)} annotated "
                f"images and {len(camera_frames)} camera frames, of the same frames")
            answered = {stamp(a): a for a in arrays}
            both = [a for a in arrays if len(a.emotions) == 2]
            image = next(i for i in reversed(annotated) if stamp(i) in answered)
            frames = set(camera_frames)
        finally:
            peer.close()

        for array in arrays:
            self.assertEqual(array.header.frame_id, CAMERA_FRAME_ID)
            self.assertEqual(tuple(array.labels), EMOTIONS)
            for emotion in array.emotions:
                self.assertIn(emotion.label, EMOTIONS)
                self.assertGreaterEqual(emotion.face_id, 1)
                self.assertTrue(0.0 <= emotion.confidence <= 1.0)
                self.assertEqual(len(emotion.scores), len(EMOTIONS))
                self.assertAlmostEqual(sum(emotion.scores), 1.0, places=3)
                roi = emotion.roi
                self.assertTrue(roi.width > 0 and roi.x_offset + roi.width <= WIDTH)
                self.assertTrue(roi.height > 0 and roi.y_offset + roi.height <= HEIGHT)
        # Two faces, tracked under two ids while they move (mostly the same two: a loaded
        # machine may skip enough frames to lose a track), read as smiling (both are smiling
        # public-domain portraits).
        pairs = [tuple(sorted(e.face_id for e in a.emotions)) for a in both]
        self.assertTrue(all(a != b for a, b in pairs), pairs)
        self.assertGreaterEqual(max(pairs.count(p) for p in pairs), len(pairs) / 2, pairs)
        labels = [e.label for a in both for e in a.emotions]
        self.assertEqual(max(set(labels), key=labels.count), "happy")
        # Results carry the header of the camera frame they were computed from.
        self.assertTrue(frames & set(answered))

        self.assertEqual((image.encoding, image.width, image.height),
                         ("bgr8", WIDTH, HEIGHT))
        self.assertEqual(image.header.frame_id, CAMERA_FRAME_ID)
        pixels = image_pixels(image)
        for emotion in answered[stamp(image)].emotions:
            # The box is drawn on the face's roi in its label's colour (2 px wide, centred on
            # the roi's edge): the middle of its left edge has exactly that colour.
            roi = emotion.roi
            if roi.x_offset < 2:
                continue
            edge = pixels[roi.y_offset + roi.height // 2, roi.x_offset]
            self.assertEqual(tuple(int(c) for c in edge), COLORS[emotion.label])


@launch_testing.post_shutdown_test()
class TestCleanExit(CleanExitChecks, unittest.TestCase):
    pass
