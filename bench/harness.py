"""What the benchmarks share to drive real nodes: a private ROS set-up, node processes, frames
out and EmotionArrays back over DDS, /proc readings, option tables and percentiles.

Node processes and the rclpy peer come from the tests' ros_harness, so the benchmarks start and
drive the nodes exactly as the tests do; importing this module puts fer_ros/test on the path
for the tests' frame helpers (frames, face_photos, bombs) as well.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fer_msgs.msg import EmotionArray
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from fer_ros.nodes.messages.image_messages import bgr_to_image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, not errors
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "fer_ros" / "test"))

# Re-exported: the benchmarks start and drive nodes with the tests' own harness.
from ros_harness import (  # noqa: E402, F401
    DomainClaim,
    NodeProcess,
    RosPeer,
    executable,
    node_environment,
    wait_until,
)

FACE_COUNTS: tuple[int, ...] = (0, 1, 4, 8)
"""Faces per 640x480 frame in every benchmark (``fer_ros.sources.sample.sample_faces_frame``)."""
RATE_HZ = 30.0
"""A camera's frame rate: the clock frames are published on."""
ANSWER_GRACE_S = 0.3
"""How long the answers to the last frames of a window may still be on their way."""


def add_options(parser: argparse.ArgumentParser, options: Mapping[str, tuple[Any, str]]) -> None:
    """Options typed by their default (a number, text or a path), each ``flag: (default, what
    it sets)``: one table per benchmark instead of one add_argument call per option."""
    for flag, (default, text) in options.items():
        shown = f"{text} (default %(default)s)" if default != "" else text
        parser.add_argument(flag, type=type(default), default=default, help=shown)


def window_options(seconds: float, warm_up: float, prefix: str = "") -> dict[str, tuple]:
    """The measured window and the warm-up before it, in an ``add_options`` table; a prefix
    keeps two benchmarks' windows apart where ``run.py all`` parses both."""
    flag = f"--{prefix}-" if prefix else "--"
    return {f"{flag}seconds": (seconds, "measured seconds per window"),
            f"{flag}warm-up": (warm_up, "unmeasured seconds before each window")}


LOAD_OPTION = {"--load": (2, "busy-loop processes beside the measured ones")}
"""The option for ``busy_loops``."""


def percentiles(values: Sequence[float], points: Sequence[float] = (50, 95, 99)) -> list:
    """Percentiles of ``values`` (None for each when there are none)."""
    if len(values) == 0:
        return [None] * len(points)
    return [float(v) for v in np.percentile(np.asarray(values, float), points)]


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that were measured (None where none were)."""
    measured = [v for v in values if v is not None]
    return statistics.median(measured) if measured else None


class ProcessStats:
    """CPU time and memory of another process, read from /proc (no psutil needed)."""

    _TICKS = os.sysconf("SC_CLK_TCK")

    def __init__(self, pid: int):
        self.pid = pid

    def cpu_seconds(self) -> float:
        """User + system CPU time so far. Fields 14 and 15 of stat, counted after the
        parenthesised command name, which may itself hold spaces."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / self._TICKS

    def _status_mb(self, key: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        raise KeyError(key)

    def rss_mb(self) -> float:
        return self._status_mb("VmRSS")

    def peak_rss_mb(self) -> float:
        return self._status_mb("VmHWM")

    def maps_mention(self, text: str) -> bool:
        """Whether any mapped file's path holds ``text`` (a library loaded into the process)."""
        return text in Path(f"/proc/{self.pid}/maps").read_text()


class CpuWindow:
    """A process's CPU use from now on, in % of one core of the wall time that passed."""

    def __init__(self, stats: ProcessStats):
        self._stats = stats
        self._cpu = stats.cpu_seconds()
        self._wall = time.perf_counter()

    def reading(self) -> tuple[float, float]:
        """CPU % of one core and wall seconds so far."""
        wall = time.perf_counter() - self._wall
        return 100 * (self._stats.cpu_seconds() - self._cpu) / wall, wall


@contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """``count`` processes beside the measured ones, each keeping a core busy: a loaded machine
    widens the races that shutdown and signal handling can lose."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def error_lines(output: str) -> list[str]:
    """A node's log lines that hold a traceback or an error."""
    return [line for line in output.splitlines() if "Traceback" in line or "ERROR" in line]


_HELD_DOMAINS: list[DomainClaim] = []
"""Domains this benchmark process holds until it exits."""


def private_ros_env(log_dir: Path) -> dict[str, str]:
    """Environment for this process and its node processes: DDS on this machine only.

    Node topics also go under a namespace unique to this run (``bench_namespace``), so a test
    process given the same ROS_DOMAIN_ID by hand cannot feed frames into a benchmark.
    """
    from fer_ros.nodes.process.dds_profile import use_bundled_dds_profile

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.pop("ROS_LOCALHOST_ONLY", None)
    if "ROS_DOMAIN_ID" not in os.environ:
        _HELD_DOMAINS.append(DomainClaim())
        os.environ["ROS_DOMAIN_ID"] = str(_HELD_DOMAINS[-1].domain_id)
    os.environ["ROS_LOG_DIR"] = str(log_dir)
    use_bundled_dds_profile()
    env = node_environment(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def bench_namespace() -> str:
    return f"/fer_bench_{os.getpid()}"


def log_dir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"fer-{name}-"))


def node_command(program: str | Sequence[str], namespace: str = "",
                 params: Mapping[str, object] | None = None) -> list[str]:
    """A node's command line: a console script's name (or a whole command) with its namespace
    and parameters as --ros-args."""
    command = executable(program) if isinstance(program, str) else list(program)
    ros_args = ["-r", f"__ns:={namespace}"] if namespace else []
    for name, value in (params or {}).items():
        ros_args += ["-p", f"{name}:={value}"]
    return [*command, "--ros-args", *ros_args] if ros_args else command


def cli_params(pairs: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` options as parameters. Benchmarks take NAME=VALUE rather than ROS's
    NAME:=VALUE, which rclpy.init in this process would read as its own remapping."""
    return dict(pair.split("=", 1) for pair in pairs)


class PrivateRos:
    """One benchmark's ROS set-up: a log folder, a private domain, a namespace of its own, an
    rclpy peer in this process and the node processes it starts, all ended by ``close``."""

    def __init__(self, name: str, peer_name: str | None = None):
        self.logs = log_dir(name)
        self.env = private_ros_env(self.logs)
        self.namespace = bench_namespace()
        self.peer = self.new_peer(peer_name) if peer_name else None
        self._processes: list[NodeProcess] = []

    def new_peer(self, name: str) -> RosPeer:
        return RosPeer(int(self.env["ROS_DOMAIN_ID"]), name=name)

    def start(self, program: str | Sequence[str], log_name: str,
              params: Mapping[str, object] | None = None, namespaced: bool = True,
              env: Mapping[str, str] | None = None) -> NodeProcess:
        """A node process under this set-up's namespace (unless ``namespaced`` is off)."""
        command = node_command(program, self.namespace if namespaced else "", params)
        process = NodeProcess(command, dict(env or self.env), self.logs / log_name)
        self._processes.append(process)
        return process

    def close(self) -> None:
        """Kill whatever did not exit, then stop the peer."""
        for process in reversed(self._processes):
            if process.alive():
                process.stop(signal.SIGKILL)
        if self.peer is not None:
            self.peer.close()

    def __enter__(self) -> PrivateRos:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bench_image(bgr: np.ndarray) -> Image:
    """A bgr8 Image of a frame, stamped when it is sent."""
    return bgr_to_image(bgr, Header(frame_id="bench"))


class Feed:
    """Frames out on ``image_raw`` (SensorDataQoS, as camera drivers publish) under fresh
    stamps, and the arrival of each EmotionArray by its header stamp, which is the frame's."""

    def __init__(self, peer: RosPeer, namespace: str):
        self.arrivals: dict[int, tuple[int, int]] = {}
        """stamp (ns) -> (arrival time.time_ns(), faces in the message)"""
        self._expected: int | None = None
        self._arrived = threading.Event()
        peer.node.create_subscription(EmotionArray, f"{namespace}/emotions", self._on_message,
                                      10)
        self.publisher = peer.node.create_publisher(Image, f"{namespace}/image_raw",
                                                    qos_profile_sensor_data)

    def _on_message(self, msg: EmotionArray) -> None:
        arrival = time.time_ns()
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.arrivals[stamp] = (arrival, len(msg.emotions))
        if stamp == self._expected:
            self._arrived.set()

    def publish(self, msg: Image) -> int:
        """Send a frame under the current time as its stamp; returns the stamp."""
        stamp = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
        self._arrived.clear()
        self._expected = stamp
        self.publisher.publish(msg)
        return stamp

    def at_rate(self, messages: Image | Sequence[Image], seconds: float) -> list[int]:
        """Publish on a 30 Hz clock; a late tick is sent at once, as a camera would. Several
        messages (one scene under changing camera noise, say) are sent in turn."""
        messages = messages if isinstance(messages, Sequence) else [messages]
        stamps = []
        period = 1.0 / RATE_HZ
        start = time.perf_counter()
        for i in range(round(seconds * RATE_HZ)):
            delay = start + i * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stamps.append(self.publish(messages[i % len(messages)]))
        time.sleep(ANSWER_GRACE_S)
        return stamps

    def closed_loop(self, msg: Image, seconds: float, lost_after: float) -> tuple[list[int], float]:
        """Publish the next frame as soon as the previous one's EmotionArray arrives (or
        ``lost_after`` seconds without it); stamps and seconds taken."""
        stamps: list[int] = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            stamps.append(self.publish(msg))
            self._arrived.wait(lost_after)
        return stamps, time.perf_counter() - start

    def answers(self, stamps: Iterable[int]) -> list[tuple[float, int]]:
        """Latency in ms and faces reported of each frame that was answered."""
        arrivals = self.arrivals
        return [((arrivals[s][0] - s) / 1e6, arrivals[s][1]) for s in stamps if s in arrivals]

    def first_answer_since(self, stamp_ns: int) -> int | None:
        """Arrival time of the first EmotionArray for a frame stamped at or after ``stamp_ns``."""
        answered = [arrival for stamp, (arrival, _) in list(self.arrivals.items())
                    if stamp >= stamp_ns]
        return min(answered) if answered else None

    def wait_for_first_answer(self, node: NodeProcess, send: Callable[[], object],
                              timeout: float) -> int:
        """Keep sending until ``node`` answers a frame sent after this call; its arrival time.
        Raises with the node's log if it died or stayed silent."""
        since = time.time_ns()
        deadline = time.monotonic() + timeout
        while (self.first_answer_since(since) is None and time.monotonic() < deadline
               and node.alive()):
            send()
        first = self.first_answer_since(since)
        if first is None:
            raise RuntimeError(f"the node gave no result; its log:\n{node.output}")
        return first
