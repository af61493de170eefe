"""emotion_node in its own process, fed over DDS by this process, beside the original loop.

This process publishes 640x480 bgr8 frames holding 0, 1, 4 and 8 faces on ``image_raw`` (with
SensorDataQoS, as camera drivers do) and subscribes to ``emotions``; the node runs
``.venv/bin/emotion_node`` with its defaults. Two input modes, each after a warm-up:

- ``30 Hz``: frames on a 30 Hz clock, as a camera sends them, whatever the node does.
- ``max``: closed loop, one frame in flight: the next frame is published as soon as the
  EmotionArray of the previous one arrives (after 1 s without an answer it counts as lost and
  the next one goes out). Frames/s is then the rate of the whole chain, transport both ways
  included, which is what the original loop's frames/s is compared with.

Latency is the arrival time of an EmotionArray in this process minus its header stamp, which is
the source image's stamp, taken from the system clock just before publishing: serialisation,
DDS both ways, the wait in the node's one-frame mailbox, inference and publishing. CPU % is the
node's user+system time over the window (100 % = one core of two), RSS its resident memory
at the end of the window, both from /proc. Start-up is the time from launching the process to
the first EmotionArray while frames arrive at 30 Hz, discovery included.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fer_msgs.msg import EmotionArray
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from baseline import measure as measure_baseline
from fer_ros.nodes.messages.image_messages import bgr_to_image
from fer_ros.sources.sample import sample_faces_frame
from run import (
    FACE_COUNTS,
    NodeProcess,
    ProcessStats,
    Report,
    RosPeer,
    Target,
    bench_namespace,
    executable,
    log_dir,
    percentiles,
    private_ros_env,
)

RATE_HZ = 30.0
LOST_AFTER_S = 1.0
TARGET_FACES = 4
TENSORFLOW_LIBRARY = "/tensorflow/libtensorflow"
READY_LINE = re.compile(r"\[INFO\] \[(\d+\.\d+)\] \[[^]]*emotion_node\]: ready:")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="measured seconds per face count and mode (default %(default)s)")
    parser.add_argument("--warm-up", type=float, default=1.0,
                        help="unmeasured seconds before each window (default %(default)s)")
    parser.add_argument("--starts", type=int, default=5,
                        help="node starts timed to the first EmotionArray (default %(default)s)")
    parser.add_argument("--baseline-seconds", type=float, default=4.0,
                        help="seconds the original loop runs per face count (default %(default)s)")
    parser.add_argument("--model", default="",
                        help="the node's model parameter (default: empty, the default model)")


class Collector:
    """Arrival times of EmotionArrays by header stamp, and a way to wait for a given stamp."""

    def __init__(self, peer: RosPeer, topic: str):
        self.arrivals: dict[int, tuple[int, int]] = {}
        """stamp (ns) -> (arrival time.time_ns(), faces in the message)"""
        self._expected: int | None = None
        self._arrived = threading.Event()
        peer.node.create_subscription(EmotionArray, topic, self._on_message, 10)

    def _on_message(self, msg: EmotionArray) -> None:
        arrival = time.time_ns()
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.arrivals[stamp] = (arrival, len(msg.emotions))
        if stamp == self._expected:
            self._arrived.set()

    def expect(self, stamp: int) -> None:
        self._arrived.clear()
        self._expected = stamp

    def wait(self, timeout: float) -> bool:
        return self._arrived.wait(timeout)


@dataclass
class Window:
    """One measured run of one face count in one mode."""

    faces: int
    mode: str
    sent: int
    received: int
    seconds: float
    latencies_ms: list[float]
    faces_reported: int
    cpu_percent: float
    rss_mb: float

    @property
    def per_second(self) -> float:
        return self.received / self.seconds


class Feeder:
    """Publishes one frame's message again and again under fresh stamps."""

    def __init__(self, peer: RosPeer, topic: str, collector: Collector):
        self.publisher = peer.node.create_publisher(Image, topic, qos_profile_sensor_data)
        self.collector = collector
        self.messages = {n: bgr_to_image(sample_faces_frame(n)[0], Header(frame_id="bench"))
                         for n in FACE_COUNTS}

    def publish(self, faces: int) -> int:
        msg = self.messages[faces]
        stamp = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
        self.collector.expect(stamp)
        self.publisher.publish(msg)
        return stamp

    def at_rate(self, faces: int, seconds: float) -> tuple[list[int], float]:
        """Publish on a 30 Hz clock; a late tick is sent at once, as a camera would."""
        stamps: list[int] = []
        period = 1.0 / RATE_HZ
        start = time.perf_counter()
        count = round(seconds * RATE_HZ)
        for i in range(count):
            delay = start + i * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stamps.append(self.publish(faces))
        time.sleep(0.3)  # the last answers are still on their way
        return stamps, count * period

    def closed_loop(self, faces: int, seconds: float) -> tuple[list[int], float]:
        """Publish the next frame as soon as the previous one's EmotionArray arrives."""
        stamps: list[int] = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            stamps.append(self.publish(faces))
            self.collector.wait(LOST_AFTER_S)
        return stamps, time.perf_counter() - start


def measure_window(feeder: Feeder, stats: ProcessStats, faces: int, mode: str,
                   seconds: float, warm_up: float) -> Window:
    send = feeder.at_rate if mode == "30 Hz" else feeder.closed_loop
    send(faces, warm_up)
    cpu_before, wall_before = stats.cpu_seconds(), time.perf_counter()
    stamps, elapsed = send(faces, seconds)
    cpu = 100 * (stats.cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before)
    arrivals = feeder.collector.arrivals
    answered = [s for s in stamps if s in arrivals]
    latencies = [(arrivals[s][0] - s) / 1e6 for s in answered]
    reported = statistics.median(arrivals[s][1] for s in answered) if answered else 0
    return Window(faces, mode, len(stamps), len(answered), elapsed, latencies, int(reported),
                  cpu, stats.rss_mb())


def start_node(env: dict[str, str], logs: Path, namespace: str, index: int,
               model: str = "") -> NodeProcess:
    command = [*executable("emotion_node"), "--ros-args", "-r", f"__ns:={namespace}"]
    if model:
        command += ["-p", f"model:={model}"]
    return NodeProcess(command, env, logs / f"emotion_node_{index}.log")


def time_to_ready(node: NodeProcess, launched_ns: int) -> float | None:
    """Seconds from launch to the node's "ready" log line: imports and models, before DDS."""
    found = READY_LINE.search(node.output)
    return float(found.group(1)) - launched_ns / 1e9 if found else None


def time_to_first_result(feeder: Feeder, node: NodeProcess, launched_ns: int,
                         timeout: float = 30.0) -> float | None:
    """Seconds from launch to the first EmotionArray, frames arriving at 30 Hz meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and node.alive():
        feeder.publish(1)
        time.sleep(1.0 / RATE_HZ)
        answered = [arrival for stamp, (arrival, _) in list(feeder.collector.arrivals.items())
                    if stamp >= launched_ns]
        if answered:
            return (min(answered) - launched_ns) / 1e9
    return None


def run(args: argparse.Namespace) -> Report:
    baseline = measure_baseline(args.baseline_seconds)
    logs = log_dir("bench-pipeline")
    env = private_ros_env(logs)
    namespace = bench_namespace()
    peer = RosPeer(int(env["ROS_DOMAIN_ID"]), name="bench_feeder")
    collector = Collector(peer, f"{namespace}/emotions")
    feeder = Feeder(peer, f"{namespace}/image_raw", collector)

    start_times, ready_times, exit_times = [], [], []
    windows: list[Window] = []
    node = None
    try:
        for index in range(max(1, args.starts)):
            if node is not None:
                exit_times.append(node.stop(signal.SIGINT)[1])
            launched = time.time_ns()
            node = start_node(env, logs, namespace, index, args.model)
            start_times.append(time_to_first_result(feeder, node, launched))
            ready_times.append(time_to_ready(node, launched))
            if start_times[-1] is None:
                raise RuntimeError(f"emotion_node gave no result; its log:\n{node.output}")
        stats = ProcessStats(node.process.pid)
        for faces in FACE_COUNTS:
            for mode in ("30 Hz", "max"):
                windows.append(measure_window(feeder, stats, faces, mode, args.seconds,
                                              args.warm_up))
        peak_rss = stats.peak_rss_mb()
        tensorflow_maps = stats.maps_mention(TENSORFLOW_LIBRARY)
        exit_times.append(node.stop(signal.SIGINT)[1])
        errors = [line for line in node.output.splitlines()
                  if "Traceback" in line or "ERROR" in line]
    finally:
        if node is not None and node.alive():
            node.stop(signal.SIGKILL)
        peer.close()
    return _report(args, baseline, windows, start_times, ready_times, exit_times, peak_rss,
                   tensorflow_maps, errors)


def _report(args: argparse.Namespace, baseline: dict[int, dict], windows: list[Window],
            start_times: list[float | None], ready_times: list[float | None],
            exit_times: list[float], peak_rss: float, tensorflow_maps: bool,
            errors: list[str]) -> Report:
    report = Report(
        "pipeline", "pipeline: emotion_node over DDS, 640x480 bgr8, baseline from this run",
        ["faces", "mode", "sent", "EmotionArray/s", "p50 ms", "p95 ms", "p99 ms",
         "faces out", "node CPU %", "node RSS MB", "baseline fps", "speed-up"])
    rows = []
    for w in windows:
        p50, p95, p99 = percentiles(w.latencies_ms)
        base = baseline[w.faces]["frames_per_s"]
        speedup = w.per_second / base if w.mode == "max" else None
        report.rows.append([w.faces, w.mode, w.sent, w.per_second, p50, p95, p99,
                            w.faces_reported, w.cpu_percent, w.rss_mb,
                            base if w.mode == "max" else None, speedup])
        rows.append({**w.__dict__, "per_second": w.per_second, "latency_ms_p50": p50,
                     "latency_ms_p95": p95, "latency_ms_p99": p99,
                     "baseline_frames_per_s": base, "speedup": speedup})
    at_rate = next(w for w in windows if w.faces == TARGET_FACES and w.mode == "30 Hz")
    at_max = next(w for w in windows if w.faces == TARGET_FACES and w.mode == "max")
    startup = statistics.median(s for s in start_times if s is not None)
    report.targets = [
        Target(f"{TARGET_FACES} faces at 30 Hz: EmotionArray/s received", at_rate.per_second,
               29, "/s", higher_is_better=True),
        Target(f"{TARGET_FACES} faces at 30 Hz: latency p99", percentiles(
            at_rate.latencies_ms)[2], 40, "ms"),
        Target(f"{TARGET_FACES} faces at max rate: speed-up over the baseline",
               at_max.per_second / baseline[TARGET_FACES]["frames_per_s"], 20, "x",
               higher_is_better=True),
        Target("emotion_node peak RSS (VmHWM), default models", peak_rss, 250, "MB"),
        Target("libtensorflow mapped into emotion_node", float(tensorflow_maps), 0, "(0 = no)"),
        Target(f"first EmotionArray after start (median of {len(start_times)})", startup, 2,
               "s"),
    ]
    report.notes = [
        "start-up, launch to first EmotionArray: "
        f"{', '.join(f'{s:.2f}' for s in start_times)} s; of which launch to the 'ready' log "
        f"line (imports, models): {', '.join(f'{s:.2f}' for s in ready_times if s)} s; the "
        "rest is DDS discovery",
        f"exit after SIGINT: {', '.join(f'{s:.2f}' for s in exit_times)} s",
        "baseline (original loop, in-process): " + ", ".join(
            f"{n} faces {b['frames_per_s']:.1f} fps ({b['faces_classified']} found)"
            for n, b in baseline.items()),
        f"errors or tracebacks in the node's log: {len(errors)}",
    ]
    report.data.update({
        "windows": rows, "baseline": {str(n): b for n, b in baseline.items()},
        "startup_s": start_times, "ready_s": ready_times, "sigint_exit_s": exit_times,
        "peak_rss_mb": peak_rss,
        "tensorflow_loaded": tensorflow_maps, "log_errors": errors,
        "settings": {"seconds": args.seconds, "warm_up": args.warm_up, "rate_hz": RATE_HZ,
                     "model": args.model or "(default)"},
    })
    return report
