"""The package through the real `ros2` command: `ros2 pkg executables`, `ros2 run`, and
`ros2 launch fer_ros fer.launch.py` stopped the three ways a user or a supervisor stops it.

Shutdown is checked on the launch process itself, not under launch_testing: Ctrl-C reaches
`ros2 launch` alone (a signal to its pid) or its whole process group (a terminal's Ctrl-C), and
`timeout -s INT` without a terminal signals its own group too, after which launch forwards a
second SIGINT to every node. Each way must end with exit status 0, every node "finished
cleanly", and no traceback, over repeated runs. The two SIGINTs of `timeout` once left launch
itself waiting forever, about one run in 30 (fer_ros/nodes/process/launch_signals.py, whose cure the
launch files apply; bench/launch_sigint.py counts it over hundreds of runs, which a test
cannot afford).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from fer_msgs.msg import EmotionArray
from sensor_msgs.msg import Image

from frames import astronaut_frame, image_msg
from optional_dependencies import needs_ros2_tools
from ros_harness import RosPeer, executable, wait_until

pytestmark = needs_ros2_tools

START_TIMEOUT = 60.0
"""First EmotionArray after `ros2 launch` on a loaded 2-core machine."""
STOP_TIMEOUT = 20.0
"""launch escalates to SIGTERM after 5 s, then SIGKILL; a clean stop is far quicker."""
TIMEOUT_SECONDS = 25
"""The `timeout -s INT` run's length: long enough to see results first on a loaded machine."""
REPEATS = 2
NODES = ("camera_node", "emotion_node")


def ros2(*args: str) -> list[str]:
    return [*executable("ros2"), *args]


def test_ros2_pkg_executables_lists_the_console_scripts(ros_env):
    run = subprocess.run(ros2("pkg", "executables", "fer_ros"), env=ros_env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert set(run.stdout.split()) == {"fer_ros", "camera_node", "emotion_node",
                                       "hri_expression_node", "fer"}


def test_ros2_run_fer_runs_the_cli(ros_env):
    run = subprocess.run(ros2("run", "fer_ros", "fer", "predict", "--help"), env=ros_env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "usage: fer predict" in run.stdout


def test_ros2_run_emotion_node_serves_and_stops_cleanly(ros_domain, ros_env, tmp_path):
    log = tmp_path / "emotion_node.log"
    with log.open("wb") as out:
        process = subprocess.Popen(ros2("run", "fer_ros", "emotion_node"), env=ros_env,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    peer = RosPeer(ros_domain)
    try:
        arrays: list[EmotionArray] = peer.collect(EmotionArray, "emotions")
        camera = peer.publisher(Image, "image_raw")
        frame, _ = astronaut_frame()
        stamps = itertools.count(1)

        def answered() -> bool:
            camera.publish(image_msg(frame, next(stamps)))
            return wait_until(lambda: bool(arrays), 0.3)

        served = wait_until(answered, START_TIMEOUT, interval=0.0)
    finally:
        peer.close()
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=STOP_TIMEOUT)
    output = log.read_text(errors="replace")
    assert served, output
    assert [e.label for e in arrays[0].emotions] == ["happy"]
    assert code == 0, output
    assert "Traceback" not in output


def launch_command() -> list[str]:
    return ros2("launch", "fer_ros", "fer.launch.py")


def check_clean_stop(code: int, output: str) -> None:
    assert code == 0, output
    assert "Traceback" not in output, output
    for node in NODES:
        assert re.search(rf"\[{node}-\d+\]: process has finished cleanly", output), output
    assert "process has died" not in output, output


class LaunchRun:
    """`ros2 launch fer_ros fer.launch.py` in a session of its own, and a peer on its domain."""

    def __init__(self, command: list[str], ros_domain: int, ros_env: dict[str, str],
                 log: Path):
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, env=ros_env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        self.peer = RosPeer(ros_domain)
        self.arrays: list[EmotionArray] = self.peer.collect(EmotionArray, "/fer/emotions")

    def wait_for_results(self) -> bool:
        found = wait_until(lambda: len(self.arrays) >= 3 or self.process.poll() is not None,
                           START_TIMEOUT)
        return found and len(self.arrays) >= 3

    def finish(self, timeout: float) -> tuple[int, str]:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"ros2 launch had not exited {timeout} s later; its output:\n"
                                 + self.log.read_text(errors="replace")) from None
        finally:
            self.peer.close()
        return code, self.log.read_text(errors="replace")


@pytest.mark.parametrize("run", range(REPEATS))
@pytest.mark.parametrize("target", ["launch process", "process group"])
def test_ros2_launch_stops_cleanly_on_sigint(ros_domain, ros_env, tmp_path, target, run):
    launch = LaunchRun(launch_command(), ros_domain, ros_env, tmp_path / "launch.log")
    try:
        started = launch.wait_for_results()
    finally:
        if target == "launch process":
            launch.process.send_signal(signal.SIGINT)
        else:
            os.killpg(launch.process.pid, signal.SIGINT)
        code, output = launch.finish(STOP_TIMEOUT)
    assert started, output
    check_clean_stop(code, output)


@pytest.mark.parametrize("run", range(REPEATS))
def test_ros2_launch_stops_cleanly_under_timeout_without_a_terminal(ros_domain, ros_env,
                                                                    tmp_path, run):
    command = ["timeout", "--preserve-status", "-s", "INT", str(TIMEOUT_SECONDS),
               *launch_command()]
    launch = LaunchRun(command, ros_domain, ros_env, tmp_path / "launch.log")
    started = launch.wait_for_results()
    code, output = launch.finish(TIMEOUT_SECONDS + STOP_TIMEOUT)
    assert started, output
    check_clean_stop(code, output)
