"""Decompression bombs against the nodes and `fer predict`: peak memory and recovery.

    .venv/bin/python bench/bombs.py          # about 1 minute, most of it building the bombs

Three attacks from issue 10 and the replay of MCAP chunk bombs from issue 27, each on a real
process:

- emotion_node, ``image_transport:=compressed``: a PNG claiming 32000x32000 pixels on
  ``image_raw/compressed``, then a good JPEG frame. Peak RSS (VmHWM) before and after the bomb,
  and the time from publishing the good frame to its EmotionArray.
- camera_node playing a folder that holds a 30000x30000 PNG beside a real frame: its peak RSS,
  and the largest Image it published.
- ``fer predict`` on a 30000x30000 PNG: the process's peak RSS (from wait4).
- ``fer bringup --source`` on a 97 KB MCAP whose zstd chunk unpacks to 3 GiB, and on one whose
  lz4 chunk unpacks to 2 GiB: peak RSS and the time to the refusal (before the fix 6.3 GB and
  about 55 s, and a traceback).

Before the fix the issue measured 6 GB (and 13 s to answer the next frame), 4.7 GB (and a 1.2 GB
Image) and 5.3 GB. It prints a table and writes bench/results/bombs.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
from fer_msgs.msg import EmotionArray
from sensor_msgs.msg import CompressedImage, Image

from harness import PrivateRos, ProcessStats, executable, wait_until
from run import Report, Target, standalone

START_TIMEOUT = 60.0
RSS_LIMIT_MB = 500.0


def emotion_node_case(ros: PrivateRos, bomb: bytes) -> dict:
    from frames import astronaut_frame, header, jpeg_msg  # on the path once harness is imported

    node = ros.start("emotion_node", "emotion.log", {"image_transport": "compressed"})
    peer = ros.new_peer("bombs_bench")
    results: list[EmotionArray] = peer.collect(EmotionArray, f"{ros.namespace}/emotions")
    pub = peer.publisher(CompressedImage, f"{ros.namespace}/image_raw/compressed")
    frame, _ = astronaut_frame()
    stats = ProcessStats(node.process.pid)
    try:
        stamp = 1_700_000_000_000_000_000
        deadline = time.monotonic() + START_TIMEOUT
        while not results and time.monotonic() < deadline:
            stamp += 1
            pub.publish(jpeg_msg(frame, stamp))
            wait_until(lambda: bool(results), 0.25)
        before = stats.peak_rss_mb()
        pub.publish(CompressedImage(header=header(stamp + 1), format="png", data=bomb))
        time.sleep(0.2)
        good = jpeg_msg(frame, stamp + 2)
        sent = time.monotonic()
        pub.publish(good)
        answered = wait_until(lambda: any(r.header.stamp == good.header.stamp for r in results),
                              30.0)
        latency = time.monotonic() - sent if answered else None
        after = stats.peak_rss_mb()
        refused = "32000x32000" in node.output
    finally:
        peer.close()
        node.stop()
    return {"peak_rss_before_mb": before, "peak_rss_mb": after, "next_frame_s": latency,
            "warning_names_size": refused}


def camera_node_case(ros: PrivateRos, bomb: bytes) -> dict:
    from frames import astronaut_frame

    folder = ros.logs / "folder"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), astronaut_frame()[0])
    (folder / "b.png").write_bytes(bomb)
    peer = ros.new_peer("bombs_bench_camera")
    images: list[Image] = peer.collect(Image, f"{ros.namespace}/image_raw")
    node = ros.start("camera_node", "camera.log", {"source": folder, "loop": "true", "fps": 5.0})
    stats = ProcessStats(node.process.pid)
    try:
        wait_until(lambda: len(images) >= 5, START_TIMEOUT)
        peak = stats.peak_rss_mb()
        largest = max((i.width * i.height for i in images), default=0)
        refused = "30000x30000" in node.output
    finally:
        peer.close()
        node.stop()
    return {"peak_rss_mb": peak, "frames": len(images), "largest_image_pixels": largest,
            "warning_names_size": refused}


def predict_case(logs: Path, bomb: bytes) -> dict:
    path = logs / "bomb.png"
    path.write_bytes(bomb)
    process = subprocess.Popen([*executable("fer"), "predict", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    stderr = process.stderr.read().decode(errors="replace")
    return {"peak_rss_mb": usage.ru_maxrss / 1024, "exit_status": os.waitstatus_to_exitcode(status),
            "warning_names_size": "30000x30000" in stderr}


def replay_case(ros: PrivateRos, name: str, bomb: bytes) -> dict:
    """`fer bringup --source` on an MCAP file whose one chunk unpacks to gigabytes: peak RSS
    (from wait4), time to the refusal, and whether the one line names the file."""
    path = ros.logs / name
    path.write_bytes(bomb)
    started = time.monotonic()
    process = subprocess.Popen([*executable("fer"), "bringup", "--source", str(path)],
                               env=ros.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    stderr = process.stderr.read().decode(errors="replace")
    return {"peak_rss_mb": usage.ru_maxrss / 1024, "seconds": seconds,
            "exit_status": os.waitstatus_to_exitcode(status), "bytes": len(bomb),
            "refused_naming_file": f"cannot read the bag {path}" in stderr
            and "Traceback" not in stderr}


def run(args: argparse.Namespace) -> Report:
    from bombs import mcap_chunk_bomb, png_bomb  # fer_ros/test, on the path via harness

    started = time.monotonic()
    bomb32 = png_bomb(32000, 32000)
    bomb30 = png_bomb(30000, 30000)
    print(f"bombs built in {time.monotonic() - started:.0f} s: 32000x32000 PNG "
          f"{len(bomb32) // 1024} KB, 30000x30000 PNG {len(bomb30) // 1024} KB", flush=True)
    with PrivateRos("bombs") as ros:
        emotion = emotion_node_case(ros, bomb32)
        camera = camera_node_case(ros, bomb30)
        predict = predict_case(ros.logs, bomb30)
        replays = {f"{compression} chunk of {size >> 30} GiB": replay_case(
            ros, f"{compression}.mcap", mcap_chunk_bomb(compression, size))
            for compression, size in (("zstd", 3 << 30), ("lz4", 2 << 30))}

    report = Report("bombs", "Decompression bombs: peak RSS of the process under attack",
                    ["attack", "bomb", "peak RSS MB", "refused, size named", "other"])
    report.rows = [
        ["emotion_node, image_raw/compressed", f"32000x32000 PNG, {len(bomb32) // 1024} KB",
         emotion["peak_rss_mb"], emotion["warning_names_size"],
         f"next frame answered in {emotion['next_frame_s']:.2f} s; peak before the bomb "
         f"{emotion['peak_rss_before_mb']:.0f} MB" if emotion["next_frame_s"] is not None
         else "next frame never answered"],
        ["camera_node, image folder", f"30000x30000 PNG, {len(bomb30) // 1024} KB",
         camera["peak_rss_mb"], camera["warning_names_size"],
         f"largest Image published: {camera['largest_image_pixels']} pixels"],
        ["fer predict", f"30000x30000 PNG, {len(bomb30) // 1024} KB", predict["peak_rss_mb"],
         predict["warning_names_size"], f"exit status {predict['exit_status']}"],
    ]
    for label, case in replays.items():
        report.rows.append([f"fer bringup --source, MCAP {label}",
                            f"{case['bytes'] // 1024} KB", case["peak_rss_mb"],
                            case["refused_naming_file"],
                            f"exit status {case['exit_status']} after {case['seconds']:.1f} s"])
    for name, case in (("emotion_node", emotion), ("camera_node", camera),
                       ("fer predict", predict),
                       *((f"replay, {label}", case) for label, case in replays.items())):
        report.targets.append(Target(f"{name} peak RSS under a bomb", case["peak_rss_mb"],
                                     RSS_LIMIT_MB, "MB"))
    report.data = {"emotion_node": emotion, "camera_node": camera, "fer_predict": predict,
                   "replay": replays}
    report.notes.append(f"node logs: {ros.logs}")
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__], missed_target_fails=True))
