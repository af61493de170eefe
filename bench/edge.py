"""The edge budget: emotion_node's CPU per scene over DDS at 30 Hz, and where each ms goes.

A robot's camera shows nobody most of the time, and its CPU is shared with navigation and
speech; this benchmark measures what each scene costs, from outside as bench/hd.py does (frames
published on a 30 Hz clock with SensorDataQoS, EmotionArrays timed against their stamps; node
CPU in % of one core and RSS from /proc), with the node run by bench/staged_node.py, which
times each stage of a frame inside it. Scenes:

- 640x480 and 1280x720 with no face and with one: ``sample_faces_frame`` (skimage's launch
  pad, textured);
- 1920x1080 with 8 faces of 90-120 px from face-api's photos (``make photos``), as bench/hd.py.

Each frame gets camera noise (``--edge-noise`` grey levels, ``NOISE_FRAMES`` noisy copies sent
in turn), so no two consecutive frames are equal, as from a real camera.

Then ``--edge-trials`` times in the 1280x720 empty scene: after a second or so without a face
(varied by a frame per trial, so the face comes at each phase of the cadence), the one-face
scene; the time from the stamp of its first frame to the first EmotionArray with a face.

Variants, each a node of its own, run in turn in every run:

- ``before``: the behaviour before the search schedule, by parameters
  (``empty_detection_interval`` 1, ``change_threshold`` 0), or, with
  ``--edge-baseline-pythonpath``, another checkout's fer_ros with its own defaults;
- ``after``: this checkout's defaults;
- ``after, no gate``: ``change_threshold`` 0, the cadence alone: what a moving camera,
  whose every frame differs, pays.

Figures are medians over ``--edge-runs`` runs; CPU per answer also in yardsticks (u), one
whole-frame RetinaFace search at 960x544 on one onnxruntime thread measured in this process
before each run (bench/yardstick.py). Stage times are wall time in % of the window,
that is % of one core with a model's second onnxruntime thread not counted (bench/staged_node.py
says what each stage holds); the node's CPU % is its whole process's, from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from sensor_msgs.msg import Image

from face_photos import crowd_frame
from fer_ros.sources.sample import sample_faces_frame
from harness import (
    RATE_HZ,
    REPO,
    CpuWindow,
    Feed,
    PrivateRos,
    ProcessStats,
    bench_image,
    cli_params,
    error_lines,
    median,
    percentiles,
    window_options,
)
from hd import HD_FACE_SIZES
from run import Report, Target, format_table
from staged_node import STAGES
from yardstick import yardstick_ms

SCENES: dict[str, tuple[int, int, int]] = {
    "1280x720, no face": (1280, 720, 0),
    "1280x720, one face": (1280, 720, 1),
    "640x480, no face": (640, 480, 0),
    "640x480, one face": (640, 480, 1),
    "1920x1080, 8 faces": (1920, 1080, 8),
}
"""Scene -> (width, height, faces): the rows of the issue's table."""
NOISE_FRAMES = 4
APPEAR_LIMIT_MS = 200.0
BEFORE_PARAMS = ("empty_detection_interval=1", "change_threshold=0.0")
VARIANTS = ("before", "after", "after, no gate")


OPTIONS = {
    **window_options(6.0, 2.0, "edge"),
    "--edge-runs": (3, "runs; figures are their medians"),
    "--edge-trials": (8, "faces walking into the empty 1280x720 scene per run"),
    "--edge-noise": (4.0, "camera noise, grey levels (sigma)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--edge-variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--edge-scenes", nargs="+", default=list(SCENES), choices=list(SCENES))
    parser.add_argument("--edge-params", nargs="*", default=[], metavar="NAME=VALUE",
                        help="parameters given to this checkout's variants on top of theirs, "
                             "to price a setting (e.g. num_threads=1)")
    parser.add_argument("--edge-baseline-pythonpath", default="",
                        help="fer_ros package folder whose node, with its defaults, is "
                             "'before' (e.g. an unchanged checkout's fer_ros); default: this "
                             "checkout with the parameters of the old behaviour")


def scene_messages(noise: float) -> dict[str, list[Image]]:
    rng = np.random.default_rng(0)
    messages = {}
    for scene, (width, height, faces) in SCENES.items():
        if faces == 8:
            frame, _ = crowd_frame(width, height, HD_FACE_SIZES, seed=0)
        else:
            frame, _ = sample_faces_frame(faces, width, height)
        copies = []
        for _ in range(NOISE_FRAMES):
            noisy = np.clip(frame + rng.normal(0.0, noise, frame.shape), 0, 255)
            copies.append(bench_image(noisy.astype(np.uint8)))
        messages[scene] = copies
    return messages


def read_stages(path: Path) -> dict:
    for _ in range(50):
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    return {"seconds": {}, "calls": {}, "time": time.monotonic()}


def stage_shares(before: dict, after: dict) -> dict[str, float]:
    """Each stage's wall time between two readings, in % of their interval: % of one core,
    counting a model's second thread once."""
    interval = max(after["time"] - before["time"], 1e-9)
    return {stage: 100 * (after["seconds"].get(stage, 0.0) - before["seconds"].get(stage, 0.0))
            / interval for stage in ("frame", *STAGES)}


def run_variant(variant: str, args: argparse.Namespace, messages: dict, ros: PrivateRos,
                feed: Feed) -> dict:
    node_env = dict(ros.env)
    params: tuple[str, ...] = ()
    if variant == "before" and args.edge_baseline_pythonpath:
        node_env["PYTHONPATH"] = args.edge_baseline_pythonpath
    else:
        node_env["PYTHONPATH"] = str(REPO / "fer_ros")
        params = {"before": BEFORE_PARAMS, "after": (),
                  "after, no gate": ("change_threshold=0.0",)}[variant]
        params = (*params, *args.edge_params)
    stages_file = ros.logs / f"stages-{os.getpid()}-{variant.replace(', ', '-')}.json"
    node_env["FER_STAGES_OUT"] = str(stages_file)
    node = ros.start([sys.executable, str(REPO / "bench" / "staged_node.py")],
                     f"node-{variant.replace(', ', '-')}.log", cli_params(params), env=node_env)
    result: dict = {"scenes": {}, "appear_ms": []}
    try:
        small = messages["640x480, one face"]
        feed.wait_for_first_answer(node, lambda: feed.at_rate(small, 0.2), 60.0)
        stats = ProcessStats(node.process.pid)
        for scene in args.edge_scenes:
            faces = SCENES[scene][2]
            feed.at_rate(messages[scene], args.edge_warm_up)
            stages_before = read_stages(stages_file)
            cpu_window = CpuWindow(stats)
            stamps = feed.at_rate(messages[scene], args.edge_seconds)
            cpu, wall = cpu_window.reading()
            stages = stage_shares(stages_before, read_stages(stages_file))
            answered = feed.answers(stamps)
            p50, _, p99 = percentiles([ms for ms, _ in answered])
            complete = sum(reported == faces for _, reported in answered)
            result["scenes"][scene] = {
                "cpu_percent": cpu, "latency_ms_p50": p50, "latency_ms_p99": p99,
                "cpu_ms_per_answer": 10 * cpu * wall / max(len(answered), 1),
                "answers_per_second": len(answered) / (len(stamps) / RATE_HZ),
                "all_faces_share": complete / max(len(answered), 1),
                "rss_mb": stats.rss_mb(), "stage_percent": stages}
        empty, one = messages["1280x720, no face"], messages["1280x720, one face"]
        for trial in range(args.edge_trials):
            feed.at_rate(empty, 1.0 + trial / RATE_HZ)
            stamps = feed.at_rate(one, 0.5)
            seen = [(feed.arrivals[s][0], k) for k, s in enumerate(stamps)
                    if s in feed.arrivals and feed.arrivals[s][1] > 0]
            result["appear_ms"].append((min(seen)[0] - stamps[0]) / 1e6 if seen else None)
            result.setdefault("appear_frames_late", []).append(
                min(k for _, k in seen) if seen else None)
        result["peak_rss_mb"] = stats.peak_rss_mb()
        node.stop(signal.SIGINT)
        result["log_errors"] = error_lines(node.output)
    finally:
        if node.alive():
            node.stop(signal.SIGKILL)
    return result


def run(args: argparse.Namespace) -> Report:
    messages = scene_messages(args.edge_noise)
    runs: dict[str, list[dict]] = {v: [] for v in args.edge_variants}
    loads, yardsticks = [], []
    with PrivateRos("bench-edge", "bench_edge_feeder") as ros:
        feed = Feed(ros.peer, ros.namespace)
        for _ in range(args.edge_runs):
            yardsticks.append(yardstick_ms())
            for variant in args.edge_variants:
                loads.append(os.getloadavg()[0])
                figures = run_variant(variant, args, messages, ros, feed)
                for scene in figures["scenes"].values():
                    scene["u_per_answer"] = scene["cpu_ms_per_answer"] / yardsticks[-1]
                runs[variant].append(figures)

    rows, stage_rows, summary = [], [], {}
    for scene in args.edge_scenes:
        for variant in args.edge_variants:
            figures = [r["scenes"][scene] for r in runs[variant]]
            med = {key: median([f[key] for f in figures])
                   for key in ("cpu_percent", "cpu_ms_per_answer", "u_per_answer",
                               "latency_ms_p50",
                               "latency_ms_p99",
                               "answers_per_second", "all_faces_share", "rss_mb")}
            stages = {stage: median([f["stage_percent"][stage] for f in figures])
                      for stage in ("frame", *STAGES)}
            summary.setdefault(scene, {})[variant] = {**med, "stage_percent": stages}
            rows.append([scene, variant, med["cpu_percent"], med["cpu_ms_per_answer"],
                         med["u_per_answer"], med["latency_ms_p50"],
                         med["latency_ms_p99"], med["answers_per_second"],
                         100 * med["all_faces_share"], med["rss_mb"]])
            stage_rows.append([scene, variant, *(stages[s] for s in ("frame", *STAGES))])
    appear_rows = []
    for variant in args.edge_variants:
        trials = [r["appear_ms"] for r in runs[variant]]
        within = [sum(t is not None and t <= APPEAR_LIMIT_MS for t in run_) for run_ in trials]
        worst = [max(((t if t is not None else float("inf")) for t in run_), default=None)
                 for run_ in trials]
        late = [f for r in runs[variant] for f in r.get("appear_frames_late", [])]
        summary.setdefault("appearing face, 1280x720", {})[variant] = {
            "within_limit_per_run": within, "worst_ms_per_run": worst, "trials_ms": trials,
            "frames_late": late}
        appear_rows.append([variant, " ".join(f"{w}/{args.edge_trials}" for w in within),
                            median(worst), median([median(t) for t in trials]),
                            max((f for f in late if f is not None), default=None)])
    peak = {v: median([r["peak_rss_mb"] for r in runs[v]]) for v in args.edge_variants}

    report = Report(
        "edge", f"edge: emotion_node over DDS at 30 Hz, camera noise {args.edge_noise:g}, "
        f"medians of {args.edge_runs} runs",
        ["scene", "variant", "node CPU % of a core", "CPU ms/answer", "u per answer",
         "p50 ms", "p99 ms",
         "answers/s", "answers with every face %", "RSS MB"], rows)
    report.notes = [
        "stages, wall time in % of the window (% of one core, a model's 2nd thread not counted; "
        "frame = the worker's whole frame, receive runs beside it):",
        format_table(["scene", "variant", "frame", *STAGES], stage_rows),
        f"a face walking into the empty 1280x720 scene ({args.edge_trials} trials per run): "
        f"reported within {APPEAR_LIMIT_MS:g} ms, worst and median ms",
        format_table(["variant", "within limit per run", "worst ms", "median ms",
                      "most frames late (first face frame answered with it)"],
                     appear_rows),
        "u: one whole-frame RetinaFace search at 960x544 on one onnxruntime thread, CPU ms, "
        f"measured before each run: {', '.join(f'{y:.1f}' for y in yardsticks)}",
        "node peak RSS (VmHWM) MB: " + ", ".join(f"{v} {p:.0f}" for v, p in peak.items()),
        f"load average (1 min) at each node start: {', '.join(f'{x:.2f}' for x in loads)}",
        "errors or tracebacks in the nodes' logs: "
        f"{sum(len(r['log_errors']) for v in runs.values() for r in v)}",
    ]
    if "after" in summary.get("1280x720, no face", {}):
        after = {scene: summary[scene]["after"] for scene in summary}
        targets = [("1280x720, no face", "cpu_percent", 20.0, "%"),
                   ("1280x720, one face", "cpu_percent", 25.0, "%"),
                   ("1920x1080, 8 faces", "cpu_percent", 50.0, "%"),
                   ("1280x720, one face", "latency_ms_p99", 50.0, "ms"),
                   ("1920x1080, 8 faces", "latency_ms_p99", 66.0, "ms")]
        for scene, key, limit, unit in targets:
            if scene in after:
                report.targets.append(Target(f"after: {scene}, {key}", after[scene][key],
                                             limit, unit))
        for scene, limit in (("1280x720, one face", 95.0), ("1920x1080, 8 faces", 100.0)):
            if scene in after:
                report.targets.append(Target(
                    f"after: {scene}, answers with every face", 100 * after[scene][
                        "all_faces_share"], limit, "%", higher_is_better=True))
        appear = after["appearing face, 1280x720"]
        if args.edge_trials:
            report.targets.append(Target(
                f"after: a face appearing reported within {APPEAR_LIMIT_MS:g} ms (worst run)",
                float(min(appear["within_limit_per_run"])), float(args.edge_trials), "trials",
                higher_is_better=True))
        report.targets.append(Target("after: peak RSS (VmHWM)", peak["after"], 300, "MB"))
    report.data.update({"summary": summary, "runs": runs, "peak_rss_mb": peak,
                        "yardstick_ms": yardsticks,
                        "load_average_1min_at_starts": loads,
                        "settings": {"seconds": args.edge_seconds,
                                     "warm_up": args.edge_warm_up, "runs": args.edge_runs,
                                     "trials": args.edge_trials, "noise": args.edge_noise,
                                     "baseline_pythonpath": args.edge_baseline_pythonpath,
                                     "params": args.edge_params,
                                     "rate_hz": RATE_HZ}})
    return report
