"""emotion_node over DDS at 30 Hz on HD frames with 8 real faces, beside 640x480 with 4.

The issue's real-time table, measured from outside as bench/pipeline.py measures (this process
publishes bgr8 frames with SensorDataQoS on a 30 Hz clock and times each EmotionArray against
its header stamp), with the node's defaults (RetinaFace, detection_size 960, detection_interval and
classification_interval 3):

- 640x480, the 4 faces of ``sample_faces_frame(4)`` (scikit-image's astronaut);
- 1280x720 and 1920x1080, 8 faces of 90 to 120 px from face-api's demo photos
  (``make photos``), composed by fer_ros/test/face_photos.py as the tests compose them.

Per case: EmotionArray/s received, latency p50/p95/p99, how many EmotionArrays report as many
faces as the frame holds (that each box lies on its face is what fer_ros/test/test_hd_node.py
checks), the node's CPU use in % of one core and its RSS.
"""

from __future__ import annotations

import argparse
import signal
import time
from collections.abc import Sequence

from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from face_photos import crowd_frame
from fer_ros.nodes.messages.image_messages import bgr_to_image
from fer_ros.sources.sample import sample_faces_frame
from pipeline import RATE_HZ, Collector
from run import (
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

HD_FACE_SIZES = [90, 97, 104, 111, 118, 120, 100, 93]
"""Face widths in the HD frames, px (the same as fer_ros/test/test_retinaface.py's)."""
CASES: dict[str, tuple[int, int, float, float]] = {
    "640x480, 4 faces": (640, 480, 40.0, 29.0),
    "1280x720, 8 faces": (1280, 720, 50.0, 29.0),
    "1920x1080, 8 faces": (1920, 1080, 66.0, 29.0),
}
"""Case -> (width, height, p99 latency limit ms, EmotionArray/s limit), from issue 9."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hd-seconds", type=float, default=8.0,
                        help="measured seconds per HD case (default %(default)s)")
    parser.add_argument("--hd-warm-up", type=float, default=2.0,
                        help="unmeasured seconds before each HD case (default %(default)s)")
    parser.add_argument("--hd-param", action="append", default=[], metavar="NAME=VALUE",
                        help="an emotion_node parameter for the HD cases, e.g. "
                             "detection_size=1280 (repeatable; default: the node's defaults)")


def frames() -> dict[str, tuple[Image, int]]:
    """Each case's message and its number of faces."""
    messages = {}
    for case, (width, height, _, _) in CASES.items():
        if width == 640:
            frame, faces = sample_faces_frame(4)[0], 4
        else:
            frame, boxes = crowd_frame(width, height, HD_FACE_SIZES, seed=0)
            faces = len(boxes)
        messages[case] = (bgr_to_image(frame, Header(frame_id="bench")), faces)
    return messages


def send_at_rate(publisher, collector: Collector, msg: Image | Sequence[Image],
                 seconds: float) -> list[int]:
    """Publish on a 30 Hz clock under fresh stamps; a late tick is sent at once. Several
    messages (one scene under changing camera noise, say) are sent in turn."""
    messages = [msg] if isinstance(msg, Image) else list(msg)
    stamps = []
    period = 1.0 / RATE_HZ
    start = time.perf_counter()
    for i in range(round(seconds * RATE_HZ)):
        delay = start + i * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        msg = messages[i % len(messages)]
        stamp = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
        collector.expect(stamp)
        publisher.publish(msg)
        stamps.append(stamp)
    time.sleep(0.3)  # the last answers are still on their way
    return stamps


def run(args: argparse.Namespace) -> Report:
    logs = log_dir("bench-hd")
    env = private_ros_env(logs)
    namespace = bench_namespace()
    peer = RosPeer(int(env["ROS_DOMAIN_ID"]), name="bench_hd_feeder")
    collector = Collector(peer, f"{namespace}/emotions")
    publisher = peer.node.create_publisher(Image, f"{namespace}/image_raw",
                                           qos_profile_sensor_data)
    messages = frames()
    # NAME=VALUE here, as rclpy.init in this process would read NAME:=VALUE as its own remapping.
    params = [a for p in args.hd_param for a in ("-p", p.replace("=", ":=", 1))]
    node = NodeProcess([*executable("emotion_node"), "--ros-args", "-r", f"__ns:={namespace}",
                        *params], env, logs / "emotion_node.log")
    rows, data = [], []
    try:
        small = messages["640x480, 4 faces"][0]
        deadline = time.monotonic() + 30.0
        while not collector.arrivals and time.monotonic() < deadline and node.alive():
            send_at_rate(publisher, collector, small, 0.2)
        if not collector.arrivals:
            raise RuntimeError(f"emotion_node gave no result; its log:\n{node.output}")
        stats = ProcessStats(node.process.pid)
        for case, (msg, faces) in messages.items():
            send_at_rate(publisher, collector, msg, args.hd_warm_up)
            cpu_before, wall_before = stats.cpu_seconds(), time.perf_counter()
            stamps = send_at_rate(publisher, collector, msg, args.hd_seconds)
            wall = time.perf_counter() - wall_before
            cpu = 100 * (stats.cpu_seconds() - cpu_before) / wall
            answered = [s for s in stamps if s in collector.arrivals]
            latencies = [(collector.arrivals[s][0] - s) / 1e6 for s in answered]
            complete = sum(collector.arrivals[s][1] == faces for s in answered)
            p50, p95, p99 = percentiles(latencies)
            per_second = len(answered) / (len(stamps) / RATE_HZ)
            rows.append([case, len(stamps), per_second, p50, p95, p99,
                         f"{complete}/{len(answered)}", cpu, stats.rss_mb()])
            data.append({"case": case, "faces": faces, "sent": len(stamps),
                         "received": len(answered), "per_second": per_second,
                         "latency_ms_p50": p50, "latency_ms_p95": p95, "latency_ms_p99": p99,
                         "all_faces_reported": complete, "cpu_percent": cpu,
                         "rss_mb": stats.rss_mb()})
        peak_rss = stats.peak_rss_mb()
        node.stop(signal.SIGINT)
        errors = [line for line in node.output.splitlines()
                  if "Traceback" in line or "ERROR" in line]
    finally:
        if node.alive():
            node.stop(signal.SIGKILL)
        peer.close()

    settings = ", ".join(args.hd_param) or "defaults (RetinaFace, detection_size 960, intervals 3)"
    report = Report(
        "hd", f"hd: emotion_node over DDS at 30 Hz, node parameters: {settings}",
        ["case", "sent", "EmotionArray/s", "p50 ms", "p95 ms", "p99 ms",
         "every face reported", "node CPU %", "node RSS MB"], rows)
    for row in data:
        _, _, p99_limit, rate_limit = CASES[row["case"]]
        report.targets += [
            Target(f"{row['case']} at 30 Hz: EmotionArray/s received", row["per_second"],
                   rate_limit, "/s", higher_is_better=True),
            Target(f"{row['case']} at 30 Hz: latency p99", row["latency_ms_p99"], p99_limit,
                   "ms"),
            Target(f"{row['case']} at 30 Hz: EmotionArrays missing a face",
                   float(row["received"] - row["all_faces_reported"]), 0, ""),
        ]
    report.targets.append(Target("emotion_node peak RSS (VmHWM), HD cases", peak_rss, 300, "MB"))
    report.notes = [f"errors or tracebacks in the node's log: {len(errors)}"]
    report.data.update({"cases": data, "peak_rss_mb": peak_rss, "log_errors": errors,
                        "settings": {"seconds": args.hd_seconds, "warm_up": args.hd_warm_up,
                                     "rate_hz": RATE_HZ, "node_parameters": args.hd_param}})
    return report
