"""What the user configures is what runs: both launch files under launch_testing with a parameter
file of the user's, read back with `ros2 param get` as a user would.

`fer.launch.py emotion_params:=<file>` (no camera) must run the file's detector, model and
detection_interval, though the launch file declares `detector` and `model` arguments: an
argument left unset overrides nothing. `emotion.launch.py` with the same file and
`detector:=blazeface` on the command line must run blazeface (the argument given wins over the
file) and keep the file's other values. A misspelt name in the file is named in a warning.

Runs under pytest (launch_testing's plugin) or alone:
`launch_test fer_ros/test/test_launch_params.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import pytest

pytest.importorskip("launch_testing", reason="launch_testing is not installed (not on PyPI; "
                    "make setup installs it from ../shared/ros2-tools, a ROS install has it)")

import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
import yaml  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from launch_harness import CleanExitChecks, private_ros_environment  # noqa: E402
from ros_harness import executable  # noqa: E402

START_TIMEOUT = 60.0
FROM_FILE = "/from_file/emotion_node"
FROM_COMMAND_LINE = "/from_command_line/emotion_node"
USER_PARAMETERS = {"detector": "haar", "model": "mini_xception", "detection_interval": 1,
                   "detecton_size": 480}
"""The user's file, with one misspelt name (detecton_size) that must be warned about."""


def user_parameter_file() -> str:
    handle, path = tempfile.mkstemp(prefix="fer-user-params-", suffix=".yaml")
    with os.fdopen(handle, "w") as out:
        yaml.safe_dump({"/**": {"ros__parameters": USER_PARAMETERS}}, out)
    return path


@pytest.mark.launch_test
def generate_test_description():
    environment, domain_id = private_ros_environment()
    launch_dir = Path(get_package_share_directory("fer_ros")) / "launch"
    params = user_parameter_file()
    from_file = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(launch_dir / "fer.launch.py")),
        launch_arguments={"namespace": "from_file", "use_camera": "false",
                          "emotion_params": params}.items())
    from_command_line = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(launch_dir / "emotion.launch.py")),
        launch_arguments={"namespace": "from_command_line", "emotion_params": params,
                          "detector": "blazeface"}.items())
    return (LaunchDescription([*environment, from_file, from_command_line,
                               launch_testing.actions.ReadyToTest()]),
            {"domain_id": domain_id})


def ros2_param_get(domain_id: int, node: str, name: str) -> str:
    """The value line of `ros2 param get`, e.g. "String value is: haar"."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    run = subprocess.run([*executable("ros2"), "param", "get", "--no-daemon", "--timeout",
                          "20", node, name], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout.strip()


class TestWhatIsConfiguredRuns(unittest.TestCase):

    def assertRunning(self, domain_id: int, node: str, detector: str) -> None:
        """`ros2 param get` shows ``detector`` and the file's model and detection_interval."""
        self.assertEqual(ros2_param_get(domain_id, node, "detector"), detector)
        self.assertEqual(ros2_param_get(domain_id, node, "model"),
                         "String value is: mini_xception")
        self.assertEqual(ros2_param_get(domain_id, node, "detection_interval"),
                         "Integer value is: 1")

    def test_the_parameter_file_beats_the_launch_files_defaults(self, proc_output, domain_id):
        proc_output.assertWaitFor("configured: detector haar, model fer_mini_xception.tflite",
                                  timeout=START_TIMEOUT)
        self.assertRunning(domain_id, FROM_FILE, "String value is: haar")

    def test_an_argument_given_on_the_command_line_beats_the_file(self, proc_output,
                                                                  domain_id):
        proc_output.assertWaitFor(
            "configured: detector blazeface_full, model fer_mini_xception.tflite",
            timeout=START_TIMEOUT)
        self.assertRunning(domain_id, FROM_COMMAND_LINE, "String value is: blazeface")

    def test_an_unknown_name_in_the_file_is_named_in_a_warning(self, proc_output):
        proc_output.assertWaitFor("unknown parameter(s) ignored: detecton_size",
                                  timeout=START_TIMEOUT)


@launch_testing.post_shutdown_test()
class TestCleanExit(CleanExitChecks, unittest.TestCase):
    pass
