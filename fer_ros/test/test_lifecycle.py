"""emotion_node as a managed node, driven as a lifecycle manager and a ROS user drive it: through
its lifecycle services from an rclpy peer, and with the real `ros2 lifecycle` command."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fer_msgs.msg import EmotionArray
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from sensor_msgs.msg import Image

from frames import astronaut_frame, image_msg
from ros_harness import NodeProcess, RosPeer, executable, wait_until
from test_launch_files import PACKAGE_DIR, launched

START_TIMEOUT = 30.0
ANSWER_TIMEOUT = 10.0
ROS2 = next((str(p) for p in (Path(sys.executable).parent / "ros2",) if p.exists()),
            shutil.which("ros2"))
needs_ros2 = pytest.mark.skipif(
    ROS2 is None, reason="the ros2 command is not installed (a ROS 2 install has it; in the "
    "venv: ../shared/ros2-tools/install.sh .venv)")


class Lifecycle:
    """An emotion_node process and a peer that calls its lifecycle and parameter services,
    feeds it frames and collects its results."""

    def __init__(self, ros_domain, ros_env, tmp_path, *params: str):
        args = [a for p in params for a in ("-p", p)]
        self.node = NodeProcess([*executable("emotion_node"), "--ros-args", *args], ros_env,
                                tmp_path / "emotion.log")
        self.peer = RosPeer(ros_domain)
        self.results: list[EmotionArray] = self.peer.collect(EmotionArray, "emotions")
        self.pub = self.peer.publisher(Image, "image_raw")
        self.frame, _ = astronaut_frame()
        self.stamp = 1_700_000_000_000_000_000

    def call(self, srv_type, name: str, request):
        client = self.peer.node.create_client(srv_type, name)
        assert client.wait_for_service(timeout_sec=START_TIMEOUT), self.node.output
        future = client.call_async(request)
        assert wait_until(future.done, ANSWER_TIMEOUT), self.node.output
        self.peer.node.destroy_client(client)
        return future.result()

    def state(self) -> str:
        return self.call(GetState, "emotion_node/get_state", GetState.Request()).current_state.label

    def change(self, transition_id: int) -> bool:
        request = ChangeState.Request(transition=Transition(id=transition_id))
        return self.call(ChangeState, "emotion_node/change_state", request).success

    def set_model(self, model: str) -> bool:
        value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=model)
        request = SetParameters.Request(parameters=[ParameterMsg(name="model", value=value)])
        response = self.call(SetParameters, "emotion_node/set_parameters", request)
        return response.results[0].successful

    def answers(self, timeout: float = START_TIMEOUT) -> EmotionArray | None:
        """Publish frames until one comes back (the first ones may precede matching)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.stamp += 33_000_000
            msg = image_msg(self.frame, self.stamp)
            self.pub.publish(msg)
            if wait_until(lambda m=msg: any(r.header.stamp == m.header.stamp
                                            for r in self.results), 0.5):
                return next(r for r in self.results if r.header.stamp == msg.header.stamp)
        return None

    def silent_for(self, seconds: float) -> bool:
        """Publish frames for a while; True when none of them got a result."""
        before = len(self.results)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.stamp += 33_000_000
            self.pub.publish(image_msg(self.frame, self.stamp))
            time.sleep(0.1)
        time.sleep(0.5)
        return len(self.results) == before

    def close(self) -> tuple[int, str]:
        self.peer.close()
        code, _ = self.node.stop()
        return code, self.node.output


def test_autostart_node_is_active_and_can_be_paused_and_resumed(ros_domain, ros_env,
                                                                  tmp_path):
    lifecycle = Lifecycle(ros_domain, ros_env, tmp_path)
    try:
        assert lifecycle.state() == "active"
        result = lifecycle.answers()
        assert result is not None and [e.label for e in result.emotions] == ["happy"]
        assert lifecycle.change(Transition.TRANSITION_DEACTIVATE)
        assert lifecycle.state() == "inactive"
        assert wait_until(lambda: lifecycle.pub.get_subscription_count() == 0, ANSWER_TIMEOUT)
        assert lifecycle.silent_for(1.0)
        assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
        assert lifecycle.answers() is not None, lifecycle.node.output
    finally:
        code, output = lifecycle.close()
    assert code == 0 and "Traceback" not in output, output


def test_failed_configure_keeps_the_node_serving_until_the_model_is_fixed(ros_domain, ros_env,
                                                                           tmp_path):
    missing = tmp_path / "no_such_model.tflite"
    lifecycle = Lifecycle(ros_domain, ros_env, tmp_path, "autostart:=false",
                          f"model:={missing}")
    try:
        assert lifecycle.state() == "unconfigured"
        assert lifecycle.pub.get_subscription_count() == 0
        assert not lifecycle.change(Transition.TRANSITION_CONFIGURE)
        assert lifecycle.state() == "unconfigured"
        assert lifecycle.node.wait_for_output("configure failed:", ANSWER_TIMEOUT)
        assert "no_such_model" in lifecycle.node.output
        assert lifecycle.set_model("")
        assert lifecycle.change(Transition.TRANSITION_CONFIGURE)
        assert lifecycle.state() == "inactive"
        assert lifecycle.silent_for(0.5)
        assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
        result = lifecycle.answers()
        assert result is not None and len(result.emotions) == 1, lifecycle.node.output
        assert lifecycle.change(Transition.TRANSITION_DEACTIVATE)
        assert lifecycle.change(Transition.TRANSITION_CLEANUP)
        assert lifecycle.state() == "unconfigured"
        assert lifecycle.node.wait_for_output("models released", ANSWER_TIMEOUT)
        assert lifecycle.change(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert lifecycle.state() == "finalized"
        assert lifecycle.node.alive()
    finally:
        code, output = lifecycle.close()
    assert code == 0 and "Traceback" not in output, output


@needs_ros2
def test_ros2_lifecycle_set_drives_it_through_every_state(ros_domain, ros_env, tmp_path):
    def ros2(*args: str) -> subprocess.CompletedProcess:
        """Run a ros2 verb; a fresh process may miss the node within its discovery time on a
        busy machine ("Node not found"), so that alone is retried."""
        for _ in range(3):
            done = subprocess.run([ROS2, *args], env=ros_env, capture_output=True, text=True,
                                  timeout=60)
            if "Node not found" not in done.stdout + done.stderr:
                break
        return done

    def lifecycle_set(transition: str) -> str:
        done = ros2("lifecycle", "set", "--no-daemon", "--spin-time", "3", "/emotion_node",
                    transition)
        return done.stdout + done.stderr

    def lifecycle_get() -> str:
        return ros2("lifecycle", "get", "--no-daemon", "--spin-time", "3",
                    "/emotion_node").stdout.strip()

    lifecycle = Lifecycle(ros_domain, ros_env, tmp_path, "autostart:=false")
    try:
        assert lifecycle.node.wait_for_output("waiting for a lifecycle manager", START_TIMEOUT)
        assert lifecycle_get() == f"unconfigured [{State.PRIMARY_STATE_UNCONFIGURED}]"
        assert "Transitioning successful" in lifecycle_set("configure")
        assert lifecycle_get() == f"inactive [{State.PRIMARY_STATE_INACTIVE}]"
        assert lifecycle.pub.get_subscription_count() == 0
        assert "Transitioning successful" in lifecycle_set("activate")
        assert lifecycle_get() == f"active [{State.PRIMARY_STATE_ACTIVE}]"
        result = lifecycle.answers()
        assert result is not None and len(result.emotions) == 1, lifecycle.node.output
        assert "Transitioning successful" in lifecycle_set("deactivate")
        assert "Transitioning successful" in lifecycle_set("cleanup")
        assert lifecycle_get() == f"unconfigured [{State.PRIMARY_STATE_UNCONFIGURED}]"
        assert "Unknown transition requested" in lifecycle_set("activate")
        assert "Transitioning successful" in lifecycle_set("shutdown")
        assert lifecycle_get() == f"finalized [{State.PRIMARY_STATE_FINALIZED}]"
    finally:
        code, output = lifecycle.close()
        ros2("daemon", "stop")
    assert code == 0 and "Traceback" not in output, output


@pytest.mark.parametrize("name", ["fer.launch.py", "emotion.launch.py"])
def test_launch_files_pass_autostart_to_the_emotion_node(name):
    """``autostart:=false`` reaches the node as a bool after its parameter file; left unset,
    the file's (true) stands."""
    pytest.importorskip("launch_ros", reason="launch_ros is not installed")
    from fer_ros.nodes.parameters.launch_arguments import EMOTION_OVERRIDES, node_parameters

    _, context = launched(PACKAGE_DIR / "launch" / name, autostart="false")
    parameters = node_parameters(context, "emotion_params", EMOTION_OVERRIDES)
    assert parameters[1] == {"autostart": False}
    _, context = launched(PACKAGE_DIR / "launch" / name)
    assert len(node_parameters(context, "emotion_params", EMOTION_OVERRIDES)) == 1
