"""Shutdown under load: how long camera_node and emotion_node take to exit after a signal.

    .venv/bin/python bench/shutdown.py --runs 20      # about 6 minutes on 2 busy cores

Each run starts camera_node (a looping video file, 30 fps) and emotion_node in their own
processes with every core kept busy by other processes, waits until EmotionArrays flow, then
signals emotion_node and then camera_node, each in one of three ways: SIGINT, SIGTERM, or
SIGINT twice 0.1 s apart (what `ros2 launch` without a terminal does). It records the time from
the first signal to the process's exit, the exit status, and whether the output holds a
traceback or an abort. The promise: every exit within 2 s, status 0 (or the signal's), quiet.

It prints a table (median, 95th percentile and maximum exit time per node and signal) and writes
bench/results/shutdown.json with every run.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

from fer_msgs.msg import EmotionArray

from harness import LOAD_OPTION, NodeProcess, PrivateRos, busy_loops, percentiles, wait_until
from run import Report, Target, standalone

EXIT_LIMIT_S = 2.0
MODES = {"SIGINT": (signal.SIGINT,), "SIGTERM": (signal.SIGTERM,),
         "SIGINT twice": (signal.SIGINT, signal.SIGINT)}
BAD_OUTPUT = ("Traceback", "KeyboardInterrupt", "terminate called", "RCLError")
START_TIMEOUT = 60.0
OPTIONS = {
    "--runs": (20, "runs per signal"),
    **LOAD_OPTION,
}


def video_file(path: Path) -> Path:
    import cv2

    from fer_ros.sources.sample import SampleSequence

    sequence = SampleSequence()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    for index in range(60):
        writer.write(sequence.frame(index))
    writer.release()
    return path


def stop(process: NodeProcess, signals: tuple[int, ...]) -> tuple[int, float]:
    """Send the signals (0.1 s apart) and wait up to 10 s; exit status and seconds."""
    start = time.monotonic()
    for index, sig in enumerate(signals):
        if index:
            time.sleep(0.1)
        if process.alive():
            process.process.send_signal(sig)
    try:
        code = process.process.wait(timeout=10.0)
    except subprocess.TimeoutExpired:
        process.process.kill()
        code = process.process.wait()
    return code, time.monotonic() - start


def one_run(ros: PrivateRos, video: Path, mode: str, index: int) -> list[dict]:
    log_suffix = f"{mode.replace(' ', '_')}-{index}.log"
    emotion = ros.start("emotion_node", f"emotion-{log_suffix}", {"stats_period": 0.0})
    camera = ros.start("camera_node", f"camera-{log_suffix}", {"source": video, "loop": "true"})
    peer = ros.new_peer(f"shutdown_bench_{index}")
    results: list = peer.collect(EmotionArray, f"{ros.namespace}/emotions")
    records = []
    try:
        flowing = wait_until(lambda: len(results) >= 5, START_TIMEOUT)
        for name, process in (("emotion_node", emotion), ("camera_node", camera)):
            code, seconds = stop(process, MODES[mode])
            output = process.output
            records.append({
                "node": name, "signal": mode, "run": index, "flowing": flowing,
                "exit_code": code, "seconds": seconds,
                "quiet": not any(bad in output for bad in BAD_OUTPUT),
            })
    finally:
        peer.close()
        for process in (camera, emotion):
            if process.alive():
                process.process.kill()
                process.process.wait()
    return records


def run(args: argparse.Namespace) -> Report:
    records: list[dict] = []
    with PrivateRos("shutdown") as ros:
        video = video_file(ros.logs / "faces.avi")
        with busy_loops(args.load):
            for index in range(args.runs):
                for mode in MODES:
                    records += one_run(ros, video, mode, index)
                    print(f"run {index + 1}/{args.runs} {mode}: " + ", ".join(
                        f"{r['node']} {r['seconds']:.2f} s (status {r['exit_code']})"
                        for r in records[-2:]), flush=True)

    report = Report("shutdown", f"Exit after a signal, {args.runs} runs each, {args.load} "
                    "busy-loop processes beside the nodes",
                    ["node", "signal", "runs", "median s", "p95 s", "max s", "over 2 s",
                     "bad status", "not quiet"])
    for node in ("emotion_node", "camera_node"):
        for mode, signals in MODES.items():
            mine = [r for r in records if r["node"] == node and r["signal"] == mode]
            seconds = [r["seconds"] for r in mine]
            median, p95 = percentiles(seconds, (50, 95))
            report.rows.append([
                node, mode, len(mine), median, p95, max(seconds),
                sum(s >= EXIT_LIMIT_S for s in seconds),
                sum(r["exit_code"] not in (0, -signals[0]) for r in mine),
                sum(not r["quiet"] for r in mine)])
    slowest = max(r["seconds"] for r in records)
    report.targets.append(Target("slowest exit after a signal", slowest, EXIT_LIMIT_S, "s"))
    report.targets.append(Target("exits with a traceback, abort or bad status",
                                 sum(not r["quiet"] or r["exit_code"] not in (0, -2, -15)
                                     for r in records), 0, "runs"))
    report.notes.append(f"node logs: {ros.logs}")
    report.data["runs"] = records
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__], missed_target_fails=True))
