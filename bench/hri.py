"""REP-155 (ROS4HRI): what emotion_node's ``hri_topics`` costs, whether 300 faces coming and
going leave it as it was, and how fast hri_expression_node answers a detector's faces.

    .venv/bin/python bench/hri.py                      # all three parts, about 4 minutes
    .venv/bin/python bench/hri.py --parts churn --faces 300

Real node processes over DDS on a private domain; this process plays camera and consumer.

- ``cpu``: emotion_node at 30 Hz on a 640x480 frame with 4 faces (three versions under camera
  noise, sent in turn), ``--seconds`` per run, node CPU from /proc in % of one core: with
  ``hri_topics`` off; on, with a consumer of /humans/faces/tracked, roi and expression; on,
  with the ``cropped`` and ``aligned`` images subscribed too (they are made only then). The
  runs alternate ``--repeats`` times; medians. CPU is also given in yardsticks: the CPU time
  of one whole-frame RetinaFace search at 960x544 on one onnxruntime thread, measured here
  (median of 9) in the same run.
- ``churn``: emotion_node with ``hri_topics`` (``track_max_misses`` 1, searches in every frame)
  sees a face for one frame, then three frames without it, ``--faces`` times after a tenth as
  many of warm-up (the first classifications size the models' buffers), each answer awaited:
  every face a new track, a new id, four publishers made and destroyed. Reported: the node's
  publishers from the ROS graph before the first face and after the last (the same set is the
  target), RSS before any face, after the warm-up and at the end (within 10 MB of the
  warm-up's figure is the target), error lines in its log.
- ``expression``: hri_expression_node fed as a REP-155 detector feeds it: 8 tracked ids and
  their 128 x 128 crops (faces of face-api's photos) at 30 Hz for ``--seconds``. Reported: the
  share of (face, frame) pairs answered, the share answered within one frame period (33 ms
  after the crops were sent), latency p50 / p99, node CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

import cv2
import numpy as np
from fer_msgs.msg import EmotionArray
from hri_msgs.msg import Expression, IdsList, NormalizedRegionOfInterest2D
from sensor_msgs.msg import Image

from fer_ros.nodes.hri.face_images import cropped_face
from fer_ros.sources.sample import sample_faces_frame
from harness import (
    RATE_HZ,
    CpuWindow,
    Feed,
    PrivateRos,
    ProcessStats,
    bench_image,
    error_lines,
    percentiles,
    wait_until,
)
from run import Report, Target, standalone

PARTS = ("cpu", "churn", "expression")
_OPTIONS = {
    "--parts": (list(PARTS), "which parts to run"),
    "--seconds": (20.0, "seconds per CPU run and of the expression feed"),
    "--repeats": (2, "CPU runs per setting (alternating)"),
    "--faces": (300, "faces that come and go in the churn part"),
}
START_TIMEOUT = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name, (default, help_text) in _OPTIONS.items():
        if isinstance(default, list):
            parser.add_argument(name, nargs="+", choices=PARTS, default=default, help=help_text)
        else:
            parser.add_argument(name, type=type(default), default=default, help=help_text)


def yardstick_s() -> float:
    """CPU seconds of one whole-frame RetinaFace search at 960x544 on one thread (median of 9)."""
    from fer_ros.perception.detection.detectors import create_detector

    detector = create_detector("retinaface", num_threads=1, detection_size=960)
    frame, _ = sample_faces_frame(4, 960, 544)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    detector.detect(frame, gray)
    times = []
    for _ in range(9):
        start = time.process_time()
        detector.detect(frame, gray)
        times.append(time.process_time() - start)
    return statistics.median(times)


def noisy_frames(faces: int = 4) -> list[Image]:
    frame, _ = sample_faces_frame(faces)
    rng = np.random.default_rng(0)
    return [bench_image(np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8))
            for _ in range(3)]


class FaceConsumer:
    """A ROS4HRI consumer: subscribes to the per-face topics of every id it sees tracked."""

    def __init__(self, ros: PrivateRos, images: bool):
        self.node = ros.peer.node
        self.topics = ("roi", "expression", *(("cropped", "aligned") if images else ()))
        self.received = 0
        self._ids: set[str] = set()
        self._lock = threading.Lock()
        self.node.create_subscription(IdsList, "/humans/faces/tracked", self._on_tracked, 10)

    def _count(self, _msg) -> None:
        self.received += 1

    def _on_tracked(self, msg: IdsList) -> None:
        kinds = {"roi": NormalizedRegionOfInterest2D, "expression": Expression,
                 "cropped": Image, "aligned": Image}
        for face in msg.ids:
            if face not in self._ids:
                self._ids.add(face)
                for topic in self.topics:
                    self.node.create_subscription(kinds[topic], f"/humans/faces/{face}/{topic}",
                                                  self._count, 10)


def cpu_run(ros_name: str, setting: str, seconds: float) -> dict:
    params = {"hri_topics": "true" if setting != "off" else "false"}
    with PrivateRos(ros_name, peer_name="bench_peer") as ros:
        node = ros.start("emotion_node", "emotion.log", params)
        feed = Feed(ros.peer, ros.namespace)
        consumer = FaceConsumer(ros, images=setting == "on + images") if setting != "off" \
            else None
        frames = noisy_frames()
        feed.wait_for_first_answer(node, lambda: (feed.publish(frames[0]), time.sleep(0.1)),
                                   START_TIMEOUT)
        feed.at_rate(frames, 3.0)  # warm-up: consumers matched, every face classified
        window = CpuWindow(ProcessStats(node.process.pid))
        stamps = feed.at_rate(frames, seconds)
        cpu, wall = window.reading()
        answers = feed.answers(stamps)
        node.stop()
        return {"cpu_percent": cpu, "results_per_s": len(answers) / wall,
                "p99_ms": percentiles([a[0] for a in answers], (99,))[0] if answers else None,
                "hri_messages": consumer.received if consumer else 0,
                "errors": error_lines(node.output)}


def cpu_part(args: argparse.Namespace, report: Report) -> None:
    settings = ("off", "on", "on + images")
    runs: dict[str, list[dict]] = {s: [] for s in settings}
    for _ in range(args.repeats):
        for setting in settings:
            runs[setting].append(cpu_run("hri-cpu", setting, args.seconds))
    stick = yardstick_s()
    off = statistics.median(r["cpu_percent"] for r in runs["off"])
    for setting in settings:
        cpu = statistics.median(r["cpu_percent"] for r in runs[setting])
        # CPU seconds per wall second over the yardstick's CPU seconds.
        report.rows.append([
            f"cpu: hri_topics {setting}", round(cpu, 1), round(cpu - off, 1),
            round(cpu / 100 / stick, 2),
            round(statistics.median(r["results_per_s"] for r in runs[setting]), 1),
            round(statistics.median(r["p99_ms"] for r in runs[setting]), 1),
            sum(len(r["errors"]) for r in runs[setting])])
    report.data["cpu"] = runs
    report.data["yardstick_cpu_s"] = stick
    report.notes.append(f"yardstick (one RetinaFace search at 960x544, 1 thread, CPU time): "
                        f"{stick * 1000:.1f} ms; CPU in yardsticks = searches' worth of CPU "
                        "per second")


def churn_part(args: argparse.Namespace, report: Report) -> None:
    params = {"hri_topics": "true", "track_max_misses": 1, "empty_detection_interval": 1,
              "detection_interval": 1}
    with PrivateRos("hri-churn", peer_name="bench_peer") as ros:
        node = ros.start("emotion_node", "emotion.log", params, namespaced=False)
        peer = ros.peer.node
        arrays: dict[int, EmotionArray] = {}
        peer.create_subscription(EmotionArray, "emotions",
                                 lambda m: arrays.__setitem__(_ns(m), m), 10)
        tracked: list[IdsList] = []
        peer.create_subscription(IdsList, "/humans/faces/tracked", tracked.append, 10)
        publisher = peer.create_publisher(Image, "image_raw", 10)
        frame, _ = sample_faces_frame(1)
        blank = sample_faces_frame(0)[0]
        stamp = [1_700_000_000_000_000_000]

        def send(image: np.ndarray) -> EmotionArray | None:
            stamp[0] += 33_333_333
            msg = bench_image(image)
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp[0], 10**9)
            wanted = stamp[0]
            publisher.publish(msg)
            wait_until(lambda: wanted in arrays, 10.0, interval=0.005)
            return arrays.get(wanted)

        assert wait_until(lambda: (send(blank) is not None), START_TIMEOUT, interval=0.2), \
            node.output

        def publishers() -> set[str]:
            return {t for t, _ in peer.get_publisher_names_and_types_by_node("emotion_node", "/")}

        wait_until(lambda: "/humans/faces/tracked" in publishers(), 10.0)
        steady = publishers()
        stats = ProcessStats(node.process.pid)
        rss_start = stats.rss_mb()
        ids: list[str] = []
        found = 0
        rss_warm = None
        most_publishers = len(steady)
        warm_up = max(1, args.faces // 10)
        started = time.monotonic()
        for i in range(warm_up + args.faces):
            if i == warm_up:
                rss_warm = stats.rss_mb()
                started = time.monotonic()
            answer = send(frame)
            if answer is not None and i >= warm_up:
                found += len(answer.emotions)
                key = _ns(answer)
                wait_until(lambda k=key: any(_ns(t) == k for t in tracked[-5:]), 2.0)
                ids.extend(i for t in tracked[-5:] if _ns(t) == key for i in t.ids)
            if i % 25 == 0:
                most_publishers = max(most_publishers, len(publishers()))
            for _ in range(3):
                send(blank)
        elapsed = time.monotonic() - started
        settled = wait_until(lambda: publishers() == steady, 10.0)
        after = publishers()
        rss_end = stats.rss_mb()
        node.stop()
        errors = error_lines(node.output)
    report.rows.append([f"churn: {args.faces} faces, {len(set(ids))} ids", "-", "-", "-", "-",
                        "-", len(errors)])
    report.notes.append(
        f"churn: {args.faces} faces (after {warm_up} of warm-up) in {elapsed:.0f} s, found in "
        f"{found} of their frames, {len(set(ids))} distinct ids of {len(ids)} tracked; "
        f"publishers before {len(steady)}, after {len(after)} (same set: {settled}), most "
        f"seen during {most_publishers}; RSS before any face {rss_start:.1f} MB, after the "
        f"warm-up {rss_warm:.1f} MB, at the end {rss_end:.1f} MB ({rss_end - rss_warm:+.1f} MB "
        f"over the {args.faces} faces); error lines {len(errors)}")
    report.targets += [
        Target("churn: publishers not back to the steady set", float(not settled), 0, ""),
        Target("churn: RSS growth after warm-up", rss_end - rss_warm, 10.0, "MB"),
        Target("churn: error lines", float(len(errors)), 0, ""),
    ]
    report.data["churn"] = {"faces": args.faces, "ids": len(set(ids)), "steady": sorted(steady),
                            "after": sorted(after), "rss_start_mb": rss_start,
                            "rss_warm_mb": rss_warm, "rss_end_mb": rss_end, "errors": errors,
                            "seconds": elapsed}


def _ns(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def expression_part(args: argparse.Namespace, report: Report) -> None:
    sys.path.insert(0, "fer_ros/test")
    from face_photos import all_faces, photo

    crops = [cropped_face(photo(name), box, 128, 128) for name, box in all_faces()[:8]]
    ids = [f"bench{i}" for i in range(8)]
    with PrivateRos("hri-expression", peer_name="bench_peer") as ros:
        node = ros.start("hri_expression_node", "hri_expression.log", namespaced=False)
        peer = ros.peer.node
        tracked = peer.create_publisher(IdsList, "/humans/faces/tracked", 10)
        publishers = {f: peer.create_publisher(Image, f"/humans/faces/{f}/cropped", 1)
                      for f in ids}
        arrivals: dict[tuple[str, int], int] = {}
        for face in ids:
            peer.create_subscription(
                Expression, f"/humans/faces/{face}/expression",
                lambda m, f=face: arrivals.setdefault((f, _ns(m)), time.time_ns()), 10)
        messages = [bench_image(c) for c in crops]

        def frame() -> int:
            now = time.time_ns()
            sec, nanosec = divmod(now, 10**9)
            ids_msg = IdsList(ids=ids)
            ids_msg.header.stamp.sec, ids_msg.header.stamp.nanosec = sec, nanosec
            tracked.publish(ids_msg)
            for face, msg in zip(ids, messages):
                msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
                publishers[face].publish(msg)
            return now

        assert wait_until(lambda: (frame(), len({f for f, _ in arrivals}) == 8)[1],
                          START_TIMEOUT, interval=0.3), node.output
        period = 1 / RATE_HZ
        window = CpuWindow(ProcessStats(node.process.pid))
        sent = []
        start = time.perf_counter()
        for i in range(round(args.seconds * RATE_HZ)):
            delay = start + i * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent.append(frame())
        time.sleep(0.5)
        cpu, _ = window.reading()
        node.stop()
        errors = error_lines(node.output)
    latencies = [(arrivals[(f, s)] - s) / 1e6 for s in sent for f in ids if (f, s) in arrivals]
    pairs = len(sent) * len(ids)
    within = sum(1 for v in latencies if v <= period * 1000)
    p50, p99 = percentiles(latencies, (50, 99)) if latencies else (None, None)
    report.rows.append([
        "hri_expression_node, 8 faces at 30 Hz", round(cpu, 1), "-", "-",
        f"{100 * len(latencies) / pairs:.1f} % answered, {100 * within / pairs:.1f} % "
        "within 33 ms", f"p50 {p50:.1f}, p99 {p99:.1f}" if latencies else "-", len(errors)])
    report.data["expression"] = {"pairs": pairs, "answered": len(latencies),
                                 "within_one_frame": within, "latency_ms": latencies,
                                 "cpu_percent": cpu, "errors": errors}
    report.targets.append(Target("expression: (face, frame) pairs answered within one frame",
                                 100 * within / pairs, 100, "%", higher_is_better=True))


def run(args: argparse.Namespace) -> Report:
    report = Report("hri", "REP-155: emotion_node's hri_topics cost, 300 faces of churn, "
                    "hri_expression_node at 30 Hz",
                    ["run", "node CPU %", "over off", "yardsticks", "results/s", "p99 ms",
                     "error lines"])
    if "cpu" in args.parts:
        cpu_part(args, report)
    if "churn" in args.parts:
        churn_part(args, report)
    if "expression" in args.parts:
        expression_part(args, report)
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__]))
