"""Real ROS plumbing for tests: node processes and an in-test rclpy peer on a private domain."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

MAX_DOMAIN_ID = 232
"""Fast DDS derives its ports from the domain id and accepts 0..232."""
PROFILE_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"
USER_DDS_PROFILE = os.environ.get(PROFILE_VARIABLE)
"""The Fast DDS profile the user chose, read before this process picks the bundled one."""


def node_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` for a node process, with the user's Fast DDS profile: the one this process
    picked for itself (it publishes camera frames) is left out, so each node picks its own as
    under ros2 launch (emotion_node's has a smaller segment;
    fer_ros/nodes/process/dds_profile.py)."""
    env = dict(base)
    env.pop(PROFILE_VARIABLE, None)
    if USER_DDS_PROFILE is not None:
        env[PROFILE_VARIABLE] = USER_DDS_PROFILE
    return env


class DomainClaim:
    """A ROS_DOMAIN_ID that no other process on this machine holds while this claim lives.

    Test runs, benchmarks and their node processes on one machine (two worktrees, CI beside a
    developer) would otherwise cross-talk on the same topics whenever their ids collide. An
    advisory lock per id makes the choice exclusive; ids are taken round-robin from a start, so
    one process does not reuse an id soon after releasing it (a slow node may still be leaving).
    """

    _next = 1 + os.getpid() % MAX_DOMAIN_ID
    _lock_dir = Path(tempfile.gettempdir()) / "fer_ros-domains"

    def __init__(self) -> None:
        self._lock_dir.mkdir(exist_ok=True)
        for _ in range(MAX_DOMAIN_ID):
            candidate = DomainClaim._next
            DomainClaim._next = candidate % MAX_DOMAIN_ID + 1
            handle = (self._lock_dir / f"{candidate}.lock").open("w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self.domain_id = candidate
            self._handle = handle
            return
        raise RuntimeError(f"every ROS_DOMAIN_ID 1..{MAX_DOMAIN_ID} is held by another process")

    def release(self) -> None:
        self._handle.close()


def executable(name: str) -> list[str]:
    """A console script of this install: beside the interpreter (venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"console script {name!r} is not installed")
    return [found]


class NodeProcess:
    """A node in its own process; its output is kept to check for tracebacks and log lines."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 5.0) -> tuple[int, float]:
        """Send a signal and wait; returns the exit code and seconds it took to exit."""
        start = time.monotonic()
        if self.alive():
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code, time.monotonic() - start

    def wait_for_output(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return True
            if not self.alive():
                return text in self.output
            time.sleep(0.05)
        return False


class RosPeer:
    """An rclpy node inside the test process, spun by a background thread."""

    def __init__(self, domain_id: int, name: str = "test_peer"):
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = Node(name, context=self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self._executor.spin_once(timeout_sec=0.05)

    def collect(self, msg_type: Any, topic: str, qos: QoSProfile | int = 10) -> list:
        """Subscribe and return the list that received messages are appended to."""
        received: list = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def publisher(self, msg_type: Any, topic: str, reliable: bool = True, depth: int = 10):
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliable
                         else ReliabilityPolicy.BEST_EFFORT)
        return self.node.create_publisher(msg_type, topic, qos)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def wait_for_subscriber(publisher, timeout: float = 10.0) -> bool:
    return wait_until(lambda: publisher.get_subscription_count() > 0, timeout)
