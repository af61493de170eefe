"""Soak: camera_node (built-in sample, looping, 30 fps) and emotion_node for many frames.

    .venv/bin/python bench/soak.py --frames 10000    # make soak; about 6 minutes at 30 fps

Both nodes run in their own processes, as deployed; this process only counts EmotionArrays and
reads /proc. It checks, over ``--frames`` EmotionArrays:

- memory: emotion_node's RSS, sampled every second, may grow at most 5 % over the rest of the
  run beyond its value at the end of the warm-up (the first ``--warm-up`` fraction of frames,
  at least 300): allocator pools and caches fill during warm-up; a leak keeps growing after it.
- age: for every EmotionArray, how old its frame was when emotion_node published the result:
  the message's DDS source timestamp (the system clock when emotion_node wrote it) minus its
  header stamp (the system clock when camera_node published the frame). That is transport to
  the node, the wait in its mailbox and the processing; no frame may exceed 200 ms. The age on
  arrival here (arrival time minus stamp) adds the return trip and this process's own
  scheduling, and is reported beside it.
- logs: no traceback, ERROR, FATAL or exception line in either node's output.

It prints a table and writes bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time

from fer_msgs.msg import EmotionArray
from rclpy.subscription import MessageInfo

from harness import PrivateRos, ProcessStats, RosPeer, percentiles, wait_until
from run import Report, Target, standalone

MAX_AGE_MS = 200.0
MAX_RSS_GROWTH_PERCENT = 5.0
MIN_WARM_UP_FRAMES = 300
STATS_LINE = re.compile(r"totals: (\d+) taken, (\d+) stale dropped")
BAD_LOG_LINE = re.compile(r"Traceback|\bERROR\b|\bFATAL\b|[Ee]xception")
OPTIONS = {
    "--frames": (10_000, "EmotionArrays to run for"),
    "--fps": (30.0, "camera rate"),
    "--warm-up": (0.1, "fraction of the frames before memory is compared"),
}


class Soak:
    """Counts EmotionArrays and their ages while sampling the nodes' memory."""

    def __init__(self, peer: RosPeer, topic: str):
        self.ages_ms: list[float] = []
        """Age of each frame when emotion_node published its result."""
        self.arrival_ages_ms: list[float] = []
        self.arrivals: list[float] = []
        """time.monotonic() of each arrival, to place late frames in the run."""
        self.faces = 0
        peer.node.create_subscription(EmotionArray, topic, self._on_message, 10)

    def _on_message(self, msg: EmotionArray, info: MessageInfo) -> None:
        arrival = time.time_ns()
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.arrivals.append(time.monotonic())
        self.arrival_ages_ms.append((arrival - stamp) / 1e6)
        self.ages_ms.append((info["source_timestamp"] - stamp) / 1e6)
        self.faces += len(msg.emotions)


def bad_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if BAD_LOG_LINE.search(line)]


def run(args: argparse.Namespace) -> Report:
    warm_up = max(MIN_WARM_UP_FRAMES, int(args.warm_up * args.frames))
    samples: list[dict] = []
    exits = {}
    with PrivateRos("soak", "soak_monitor") as ros:
        soak = Soak(ros.peer, f"{ros.namespace}/emotions")
        emotion = ros.start("emotion_node", "emotion_node.log", {"stats_period": 30.0})
        camera = ros.start("camera_node", "camera_node.log",
                           {"source": "sample", "loop": "true", "fps": args.fps})
        stats = {"emotion_node": ProcessStats(emotion.process.pid),
                 "camera_node": ProcessStats(camera.process.pid)}
        started = time.monotonic()
        if not wait_until(lambda: soak.ages_ms, 60):
            raise RuntimeError(f"no EmotionArray within 60 s\n{emotion.output}\n{camera.output}")
        first_result_s = time.monotonic() - started
        last_print = 0.0
        while len(soak.ages_ms) < args.frames:
            if not (emotion.alive() and camera.alive()):
                raise RuntimeError(f"a node died\n{emotion.output}\n{camera.output}")
            time.sleep(1.0)
            frames = len(soak.ages_ms)
            samples.append({"t": time.monotonic() - started, "frames": frames,
                            **{f"{name}_rss_mb": s.rss_mb() for name, s in stats.items()}})
            if time.monotonic() - last_print >= 15:
                last_print = time.monotonic()
                print(f"{frames} / {args.frames} frames, emotion_node "
                      f"{samples[-1]['emotion_node_rss_mb']:.0f} MB, max age "
                      f"{max(soak.ages_ms):.0f} ms", flush=True)
        elapsed = time.monotonic() - started
        cpu = {name: s.cpu_seconds() for name, s in stats.items()}
        for name, node in (("camera_node", camera), ("emotion_node", emotion)):
            exits[name] = node.stop(signal.SIGINT)

    report = summarise(args, soak, samples, warm_up, elapsed, first_result_s, cpu, exits,
                       {"emotion_node": emotion.output, "camera_node": camera.output})
    report.notes.append(f"node logs in {ros.logs}")
    return report


def summarise(args: argparse.Namespace, soak: Soak, samples: list[dict], warm_up: int,
              elapsed: float, first_result_s: float, cpu: dict[str, float],
              exits: dict[str, tuple[int, float]], outputs: dict[str, str]) -> Report:
    ages = soak.ages_ms[:args.frames]
    arrival_ages = soak.arrival_ages_ms[:args.frames]
    late = [{"frame": i, "s_after_first": soak.arrivals[i] - soak.arrivals[0], "age_ms": age,
             "arrival_age_ms": arrival_ages[i]}
            for i, age in enumerate(ages) if max(age, arrival_ages[i]) > MAX_AGE_MS]
    after = [s for s in samples if s["frames"] >= warm_up]
    growth = {}
    for name in ("emotion_node", "camera_node"):
        key = f"{name}_rss_mb"
        if after:
            base = after[0][key]
            growth[name] = (base, max(s[key] for s in after), 100 * (max(
                s[key] for s in after) / base - 1))
    p50, p99, p999 = percentiles(ages, (50, 99, 99.9))
    a50, a99, a999 = percentiles(arrival_ages, (50, 99, 99.9))
    over = sum(a > MAX_AGE_MS for a in ages)
    totals = STATS_LINE.findall(outputs["emotion_node"])
    bad = {name: bad_lines(text) for name, text in outputs.items()}
    report = Report("soak", f"soak: camera_node (sample, {args.fps:g} fps) + emotion_node, "
                    f"{len(ages)} frames", ["measure", "value"])
    emotion_base, emotion_peak, emotion_growth = growth.get("emotion_node", (None,) * 3)
    report.rows = [
        ["duration", f"{elapsed:.0f} s ({len(ages) / (elapsed - first_result_s):.1f} "
                     "EmotionArray/s after the first)"],
        ["first EmotionArray after launch", f"{first_result_s:.2f} s"],
        ["faces reported", soak.faces],
        ["age at the node's publish p50 / p99 / p99.9 / max",
         f"{p50:.1f} / {p99:.1f} / {p999:.1f} / {max(ages):.1f} ms"],
        ["age on arrival here p50 / p99 / p99.9 / max",
         f"{a50:.1f} / {a99:.1f} / {a999:.1f} / {max(arrival_ages):.1f} ms"],
        [f"frames older than {MAX_AGE_MS:.0f} ms (at publish / on arrival)",
         f"{over} / {sum(a > MAX_AGE_MS for a in arrival_ages)}"],
        ["frames taken / stale dropped by emotion_node (last statistics line)",
         " / ".join(totals[-1]) if totals else "-"],
        [f"emotion_node RSS after warm-up ({warm_up} frames) -> peak",
         f"{emotion_base:.1f} -> {emotion_peak:.1f} MB ({emotion_growth:+.2f} %)"],
        ["camera_node RSS after warm-up -> peak",
         "{:.1f} -> {:.1f} MB ({:+.2f} %)".format(*growth["camera_node"])],
        ["CPU s (camera_node / emotion_node)",
         f"{cpu['camera_node']:.0f} / {cpu['emotion_node']:.0f}"],
        ["exit after SIGINT (code, s)", ", ".join(
            f"{name} {code} {seconds:.2f}" for name, (code, seconds) in exits.items())],
        ["error lines in logs", sum(len(lines) for lines in bad.values())],
    ]
    report.targets = [
        Target("emotion_node RSS growth after warm-up", emotion_growth, MAX_RSS_GROWTH_PERCENT,
               "%"),
        Target("oldest frame processed (node's publish - stamp)", max(ages), MAX_AGE_MS, "ms"),
        Target("exception or error lines in the logs", float(sum(map(len, bad.values()))), 0,
               "lines"),
    ]
    report.data.update({"frames": len(ages), "seconds": elapsed, "warm_up_frames": warm_up,
                        "age_ms": {"p50": p50, "p99": p99, "p99_9": p999, "max": max(ages),
                                   "over_limit": over},
                        "arrival_age_ms": {"p50": a50, "p99": a99, "p99_9": a999,
                                           "max": max(arrival_ages)},
                        "late_frames": late,
                        "rss_growth": growth, "memory_samples": samples, "cpu_s": cpu,
                        "exits": exits, "log_errors": bad, "fps": args.fps})
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__], missed_target_fails=True))
