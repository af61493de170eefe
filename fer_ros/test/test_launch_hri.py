"""`ros2 launch fer_ros fer.launch.py hri:=true` under launch_testing: REP-155 beside fer_msgs.

The installed launch file runs unchanged with its hri argument: camera_node plays the built-in
sample (two moving, smiling faces), emotion_node publishes /fer/emotions and the ROS4HRI
topics. The test peer reads them as a ROS4HRI consumer would and checks, frame by frame (by
stamp): /humans/faces/tracked lists the EmotionArray's faces, through nodes/hri/ids.py's
mapping; each face's roi, cropped (128 x 128), aligned and expression carry the camera frame's
stamp; the Expression is the EmotionArray's label through nodes/hri/expressions.py.

Runs under pytest (launch_testing's plugin) or alone: `launch_test fer_ros/test/test_launch_hri.py`.
"""

from __future__ import annotations

import sys
import unittest
from pathlib import Path

import pytest

pytest.importorskip("launch_testing", reason="launch_testing is not installed (not on PyPI; "
                    "make setup installs it from ../shared/ros2-tools, a ROS install has it)")

import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from fer_msgs.msg import EmotionArray  # noqa: E402
from hri_msgs.msg import Expression, IdsList, NormalizedRegionOfInterest2D  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fer_ros.nodes.hri.expressions import TO_EXPRESSION  # noqa: E402
from fer_ros.nodes.process.dds_profile import use_bundled_dds_profile  # noqa: E402
from launch_harness import CleanExitChecks, private_ros_environment  # noqa: E402
from ros_harness import RosPeer, wait_until  # noqa: E402

use_bundled_dds_profile()

START_TIMEOUT = 60.0
FRAMES_WANTED = 10
"""Frames whose every per-face topic was seen for the faces followed."""
CAMERA_FRAME_ID = "camera"
FACE_TOPICS = {"roi": NormalizedRegionOfInterest2D, "cropped": Image, "aligned": Image,
               "expression": Expression}


@pytest.mark.launch_test
def generate_test_description():
    environment, domain_id = private_ros_environment()
    launch_file = Path(get_package_share_directory("fer_ros")) / "launch" / "fer.launch.py"
    fer = IncludeLaunchDescription(PythonLaunchDescriptionSource(str(launch_file)),
                                   launch_arguments={"hri": "true"}.items())
    return (LaunchDescription([*environment, fer, launch_testing.actions.ReadyToTest()]),
            {"domain_id": domain_id})


def stamp(msg) -> tuple[int, int]:
    return msg.header.stamp.sec, msg.header.stamp.nanosec


class TestSampleAsRep155(unittest.TestCase):

    def test_face_topics_follow_the_emotion_arrays(self, domain_id):
        peer = RosPeer(domain_id)
        try:
            arrays: list[EmotionArray] = peer.collect(EmotionArray, "/fer/emotions")
            tracked: list[IdsList] = peer.collect(IdsList, "/humans/faces/tracked")
            self.assertTrue(wait_until(lambda: any(len(t.ids) == 2 for t in tracked),
                                       START_TIMEOUT), f"{len(tracked)} tracked lists")
            followed = next(t for t in tracked if len(t.ids) == 2).ids
            got = {(face, name): peer.collect(kind, f"/humans/faces/{face}/{name}")
                   for face in followed for name, kind in FACE_TOPICS.items()}

            def complete() -> set[tuple[int, int]]:
                """Stamps for which every followed face's every topic arrived."""
                stamps = None
                for messages in got.values():
                    these = {stamp(m) for m in list(messages)}
                    stamps = these if stamps is None else stamps & these
                return stamps or set()

            self.assertTrue(wait_until(lambda: len(complete()) >= FRAMES_WANTED,
                                       START_TIMEOUT),
                            {key: len(v) for key, v in got.items()})
            frames = complete()
            arrays_by_stamp = {stamp(a): a for a in list(arrays)}
            tracked_by_stamp = {stamp(t): t for t in list(tracked)}
        finally:
            peer.close()

        self.assertTrue(frames <= set(arrays_by_stamp) and frames <= set(tracked_by_stamp))
        # Every tracked list is its frame's EmotionArray's faces, in order, through the mapping.
        prefix = followed[0].rsplit("_", 1)[0] + "_"
        for key, ids in tracked_by_stamp.items():
            if key in arrays_by_stamp:
                self.assertEqual(list(ids.ids), [f"{prefix}{e.face_id}"
                                                 for e in arrays_by_stamp[key].emotions])
                self.assertEqual(ids.header.frame_id, CAMERA_FRAME_ID)
        for face in followed:
            face_id = int(face.rsplit("_", 1)[1])
            for key in frames:
                (emotion,) = [e for e in arrays_by_stamp[key].emotions if e.face_id == face_id]
                expression = next(m for m in got[(face, "expression")] if stamp(m) == key)
                self.assertEqual(expression.expression, TO_EXPRESSION[emotion.label])
                self.assertAlmostEqual(expression.confidence, emotion.confidence, places=5)
                self.assertEqual(expression.header.frame_id, CAMERA_FRAME_ID)
                roi = next(m for m in got[(face, "roi")] if stamp(m) == key)
                self.assertTrue(0.0 <= roi.xmin < roi.xmax <= 1.0)
                self.assertTrue(0.0 <= roi.ymin < roi.ymax <= 1.0)
                for name in ("cropped", "aligned"):
                    image = next(m for m in got[(face, name)] if stamp(m) == key)
                    self.assertEqual((image.width, image.height, image.encoding),
                                     (128, 128, "bgr8"))


@launch_testing.post_shutdown_test()
class TestCleanExit(CleanExitChecks, unittest.TestCase):
    pass
