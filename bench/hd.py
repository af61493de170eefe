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

from sensor_msgs.msg import Image

import harness
from face_photos import crowd_frame
from fer_ros.sources.sample import sample_faces_frame
from run import Report, Target

HD_FACE_SIZES = [90, 97, 104, 111, 118, 120, 100, 93]
"""Face widths in the HD frames, px (the same as fer_ros/test/test_retinaface.py's)."""
CASES: dict[str, tuple[int, int, float, float]] = {
    "640x480, 4 faces": (640, 480, 40.0, 29.0),
    "1280x720, 8 faces": (1280, 720, 50.0, 29.0),
    "1920x1080, 8 faces": (1920, 1080, 66.0, 29.0),
}
"""Case -> (width, height, p99 latency limit ms, EmotionArray/s limit), from issue 9."""
OPTIONS = harness.window_options(8.0, 2.0, "hd")


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
        messages[case] = (harness.bench_image(frame), faces)
    return messages


def run(args: argparse.Namespace) -> Report:
    messages = frames()
    rows, data = [], []
    with harness.PrivateRos("bench-hd", "bench_hd_feeder") as ros:
        feed = harness.Feed(ros.peer, ros.namespace)
        node = ros.start("emotion_node", "emotion_node.log", harness.cli_params(args.hd_param))
        small = messages["640x480, 4 faces"][0]
        feed.wait_for_first_answer(node, lambda: feed.at_rate(small, 0.2), 30.0)
        stats = harness.ProcessStats(node.process.pid)
        for case, (msg, faces) in messages.items():
            feed.at_rate(msg, args.hd_warm_up)
            cpu_window = harness.CpuWindow(stats)
            stamps = feed.at_rate(msg, args.hd_seconds)
            cpu, _ = cpu_window.reading()
            answers = feed.answers(stamps)
            complete = sum(reported == faces for _, reported in answers)
            p50, p95, p99 = harness.percentiles([ms for ms, _ in answers])
            per_second = len(answers) / (len(stamps) / harness.RATE_HZ)
            rows.append([case, len(stamps), per_second, p50, p95, p99,
                         f"{complete}/{len(answers)}", cpu, stats.rss_mb()])
            data.append({"case": case, "faces": faces, "sent": len(stamps),
                         "received": len(answers), "per_second": per_second,
                         "latency_ms_p50": p50, "latency_ms_p95": p95, "latency_ms_p99": p99,
                         "all_faces_reported": complete, "cpu_percent": cpu,
                         "rss_mb": stats.rss_mb()})
        peak_rss = stats.peak_rss_mb()
        node.stop(signal.SIGINT)
        errors = harness.error_lines(node.output)

    settings = (", ".join(args.hd_param)
                or "defaults (RetinaFace, detection_size 960, see docs/parameters.md)")
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
                                     "rate_hz": harness.RATE_HZ, "node_parameters": args.hd_param}})
    return report
