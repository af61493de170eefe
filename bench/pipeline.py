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
import time
from dataclasses import dataclass

from baseline import OPTIONS as BASELINE_OPTIONS
from baseline import measure as measure_baseline
from fer_ros.sources.sample import sample_faces_frame
from harness import (
    FACE_COUNTS,
    RATE_HZ,
    CpuWindow,
    Feed,
    NodeProcess,
    PrivateRos,
    ProcessStats,
    bench_image,
    error_lines,
    percentiles,
    window_options,
)
from run import Report, Target

LOST_AFTER_S = 1.0
TARGET_FACES = 4
TENSORFLOW_LIBRARY = "/tensorflow/libtensorflow"
READY_LINE = re.compile(r"\[INFO\] \[(\d+\.\d+)\] \[[^]]*emotion_node\]: ready:")
OPTIONS = {
    **window_options(8.0, 1.0),
    "--starts": (5, "node starts timed to the first EmotionArray"),
    **BASELINE_OPTIONS,
    "--model": ("", "the node's model parameter (empty: the default model)"),
}


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


def sample_messages() -> dict:
    """The 640x480 frame of each face count, as an Image."""
    return {n: bench_image(sample_faces_frame(n)[0]) for n in FACE_COUNTS}


def measure_window(feed: Feed, messages: dict, stats: ProcessStats, faces: int, mode: str,
                   seconds: float, warm_up: float) -> Window:
    def send(duration: float) -> tuple[list[int], float]:
        if mode == "30 Hz":
            stamps = feed.at_rate(messages[faces], duration)
            return stamps, len(stamps) / RATE_HZ
        return feed.closed_loop(messages[faces], duration, LOST_AFTER_S)

    send(warm_up)
    cpu = CpuWindow(stats)
    stamps, elapsed = send(seconds)
    cpu_percent, _ = cpu.reading()
    answers = feed.answers(stamps)
    reported = statistics.median(f for _, f in answers) if answers else 0
    return Window(faces, mode, len(stamps), len(answers), elapsed, [ms for ms, _ in answers],
                  int(reported), cpu_percent, stats.rss_mb())


def start_node(ros: PrivateRos, index: int, model: str = "") -> NodeProcess:
    return ros.start("emotion_node", f"emotion_node_{index}.log",
                     {"model": model} if model else None)


def time_to_ready(node: NodeProcess, launched_ns: int) -> float | None:
    """Seconds from launch to the node's "ready" log line: imports and models, before DDS."""
    found = READY_LINE.search(node.output)
    return float(found.group(1)) - launched_ns / 1e9 if found else None


def run(args: argparse.Namespace) -> Report:
    baseline = measure_baseline(args.baseline_seconds)
    messages = sample_messages()
    start_times, ready_times, exit_times = [], [], []
    windows: list[Window] = []
    with PrivateRos("bench-pipeline", "bench_feeder") as ros:
        feed = Feed(ros.peer, ros.namespace)
        node = None
        for index in range(max(1, args.starts)):
            if node is not None:
                exit_times.append(node.stop(signal.SIGINT)[1])
            launched = time.time_ns()
            node = start_node(ros, index, args.model)
            first = feed.wait_for_first_answer(node, lambda: _one_frame(feed, messages), 30.0)
            start_times.append((first - launched) / 1e9)
            ready_times.append(time_to_ready(node, launched))
        stats = ProcessStats(node.process.pid)
        for faces in FACE_COUNTS:
            for mode in ("30 Hz", "max"):
                windows.append(measure_window(feed, messages, stats, faces, mode, args.seconds,
                                              args.warm_up))
        peak_rss = stats.peak_rss_mb()
        tensorflow_maps = stats.maps_mention(TENSORFLOW_LIBRARY)
        exit_times.append(node.stop(signal.SIGINT)[1])
        errors = error_lines(node.output)
    return _report(args, baseline, windows, start_times, ready_times, exit_times, peak_rss,
                   tensorflow_maps, errors)


def _one_frame(feed: Feed, messages: dict) -> None:
    """A frame with one face, then a camera's frame period."""
    feed.publish(messages[1])
    time.sleep(1.0 / RATE_HZ)


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
