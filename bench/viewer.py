"""CPU cost of one browser viewer: emotion_node at 30 Hz with and without `fer view` watching.

emotion_node runs in its own process with its defaults; this process publishes 640x480 bgr8
frames with 4 faces (``sample_faces_frame``) on a 30 Hz clock, as in ``pipeline``. Windows
alternate between

- ``without``: nothing subscribes to the annotated image, so the node neither draws nor
  encodes it (the pipeline's own cost);
- ``one viewer``: `fer view` runs in its own process on the node's namespace, and one client
  in this process reads ``/stream.mjpg`` and ``/events`` as a browser would. The node then draws
  the annotated image and encodes it as JPEG (``image_annotated/compressed``) for every frame,
  and `fer view` passes it on.

CPU % is user+system time over the window from /proc (100 % = one core): the node's alone,
and the node's plus `fer view`'s. The client's own CPU (a browser, on another machine in
practice) is not counted. The viewer's cost is the difference of the medians of the windows;
the target is at most 10 % of one core. When the node is saturated (fewer results than
frames), a cost shows as fewer results per second as well as CPU, so both are in the table,
and so is node CPU per result.

On a loaded machine that difference drowns in the noise between windows, so the report also
builds the cost from CPU time per frame, which load hardly changes: what the node adds for a
viewer (drawing the annotated image and encoding it as JPEG, timed in this process on the same
frame, CPU time, median of DRAW_REPEATS) plus `fer view`'s CPU per result it passed on, both
at a full 30 results per second.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import socket
import statistics
import threading
import time
from dataclasses import dataclass

import cv2
from sensor_msgs.msg import Image

import harness
from fer_ros.perception.annotation import FaceAnnotation, draw_annotations
from fer_ros.sources.sample import sample_faces_frame
from run import Report, Target

FACES = 4
TARGET_PERCENT = 10.0
MODES = ("without", "one viewer")
JPEG_QUALITY = 80
"""emotion_node's default jpeg_quality."""
DRAW_REPEATS = 200
OPTIONS = {
    **harness.window_options(10.0, 3.0),
    "--rounds": (3, "windows of each kind, alternating"),
}


@dataclass
class Window:
    mode: str
    seconds: float
    sent: int
    results: int
    node_cpu_percent: float
    viewer_cpu_percent: float
    frames_to_client: int
    events_to_client: int

    @property
    def total_cpu_percent(self) -> float:
        return self.node_cpu_percent + self.viewer_cpu_percent


class Client:
    """Reads the MJPEG stream and the events as fast as they come, counting what arrives."""

    def __init__(self, port: int):
        self.frames = 0
        self.events = 0
        self._connections: list[http.client.HTTPConnection] = []
        for path, count in (("/stream.mjpg", self._count_frames),
                            ("/events", self._count_events)):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path)
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {response.reason}")
            self._connections.append(conn)
            threading.Thread(target=count, args=(response,), daemon=True).start()

    def _count_frames(self, response: http.client.HTTPResponse) -> None:
        try:
            while line := response.readline():
                if line.lower().startswith(b"content-length:"):
                    response.readline()
                    response.read(int(line.split(b":")[1]))
                    self.frames += 1
        except (OSError, ValueError):
            return

    def _count_events(self, response: http.client.HTTPResponse) -> None:
        try:
            while line := response.readline():
                if line.startswith(b"data: "):
                    self.events += 1
        except (OSError, ValueError):
            return

    def close(self) -> None:
        for conn in self._connections:
            conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serving(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def measure(feed: harness.Feed, frame: Image, node_stats: harness.ProcessStats,
            viewer: harness.NodeProcess | None, client: Client | None, mode: str,
            seconds: float, warm_up: float) -> Window:
    feed.at_rate(frame, warm_up)
    frames_before = client.frames if client else 0
    events_before = client.events if client else 0
    node_cpu = harness.CpuWindow(node_stats)
    viewer_cpu = (harness.CpuWindow(harness.ProcessStats(viewer.process.pid))
                  if viewer is not None else None)
    stamps = feed.at_rate(frame, seconds)
    node_percent, wall = node_cpu.reading()
    viewer_percent = viewer_cpu.reading()[0] if viewer_cpu else 0.0
    return Window(mode, wall, len(stamps), len(feed.answers(stamps)), node_percent,
                  viewer_percent, (client.frames - frames_before) if client else 0,
                  (client.events - events_before) if client else 0)


def draw_and_encode_ms() -> tuple[float, float]:
    """CPU ms per frame to draw the annotated image and to encode it, as the node does."""
    frame, boxes = sample_faces_frame(FACES)
    faces = [FaceAnnotation(tuple(box), i + 1, "happy", 0.9) for i, box in enumerate(boxes)]
    draw, encode = [], []
    for repeat in range(DRAW_REPEATS + 10):
        start = time.process_time()
        image = draw_annotations(frame.copy(), faces)
        drawn = time.process_time()
        cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if repeat >= 10:  # the first calls cache the emoji and warm OpenCV up
            draw.append(drawn - start)
            encode.append(time.process_time() - drawn)
    return 1000 * statistics.median(draw), 1000 * statistics.median(encode)


def run(args: argparse.Namespace) -> Report:
    frame = harness.bench_image(sample_faces_frame(FACES)[0])
    windows: list[Window] = []
    with harness.PrivateRos("bench-viewer", "bench_feeder") as ros:
        feed = harness.Feed(ros.peer, ros.namespace)
        node = ros.start("emotion_node", "emotion_node_0.log")
        feed.wait_for_first_answer(node, lambda: _one_frame(feed, frame), 60.0)
        stats = harness.ProcessStats(node.process.pid)
        for round_index in range(max(1, args.rounds)):
            windows.append(measure(feed, frame, stats, None, None, "without", args.seconds,
                                   args.warm_up))
            port = free_port()
            viewer = ros.start([*harness.executable("fer"), "view", "--namespace", ros.namespace,
                                "--port", str(port)], f"fer_view_{round_index}.log",
                               namespaced=False)
            if not harness.wait_until(lambda port=port: serving(port), 30):
                raise RuntimeError(f"fer view did not start; its log:\n{viewer.output}")
            client = Client(port)
            try:
                windows.append(measure(feed, frame, stats, viewer, client, "one viewer",
                                       args.seconds, args.warm_up))
            finally:
                client.close()
                viewer.stop(signal.SIGINT)
        node.stop(signal.SIGINT)
    return _report(args, windows, *draw_and_encode_ms())


def _one_frame(feed: harness.Feed, frame: Image) -> None:
    feed.publish(frame)
    time.sleep(0.2)


def _report(args: argparse.Namespace, windows: list[Window], draw_ms: float,
            encode_ms: float) -> Report:
    report = Report(
        "viewer", f"viewer: emotion_node at 30 Hz, 640x480, {FACES} faces, without and with "
        "one `fer view` client",
        ["window", "sent/s", "results/s", "node CPU %", "fer view CPU %", "total CPU %",
         "node CPU ms/result", "MJPEG frames/s", "events/s"])
    for w in windows:
        report.rows.append([
            w.mode, w.sent / w.seconds, w.results / w.seconds, w.node_cpu_percent,
            w.viewer_cpu_percent if w.mode != "without" else None, w.total_cpu_percent,
            10 * w.node_cpu_percent * w.seconds / max(w.results, 1),
            w.frames_to_client / w.seconds if w.mode != "without" else None,
            w.events_to_client / w.seconds if w.mode != "without" else None])
    medians = {mode: {
        "total_cpu_percent": statistics.median(w.total_cpu_percent for w in windows
                                               if w.mode == mode),
        "results_per_s": statistics.median(w.results / w.seconds for w in windows
                                           if w.mode == mode),
    } for mode in MODES}
    cost = medians["one viewer"]["total_cpu_percent"] - medians["without"]["total_cpu_percent"]
    report.rows.append(["median cost", None,
                        medians["one viewer"]["results_per_s"]
                        - medians["without"]["results_per_s"],
                        None, None, cost, None, None, None])
    view_ms = statistics.median(10 * w.viewer_cpu_percent * w.seconds / max(w.events_to_client, 1)
                                for w in windows if w.mode == "one viewer")
    per_frame_ms = draw_ms + encode_ms + view_ms
    estimate = per_frame_ms * 30.0 / 10  # ms per frame at 30 frames/s, in % of one core
    report.notes.append(
        f"per frame, CPU: the node draws in {draw_ms:.2f} ms and encodes JPEG q{JPEG_QUALITY} in "
        f"{encode_ms:.2f} ms (in-process, median of {DRAW_REPEATS}); fer view takes "
        f"{view_ms:.2f} ms per result; at 30 results/s: {estimate:.1f} % of one core")
    report.data = {"faces": FACES, "rate_hz": 30.0, "size": [640, 480],
                   "seconds": args.seconds, "warm_up": args.warm_up, "rounds": args.rounds,
                   "windows": [{**w.__dict__, "total_cpu_percent": w.total_cpu_percent}
                               for w in windows],
                   "medians": medians, "viewer_cost_cpu_percent": cost,
                   "draw_ms": draw_ms, "encode_ms": encode_ms, "fer_view_ms_per_result": view_ms,
                   "estimated_cost_at_30_hz_cpu_percent": estimate}
    report.targets = [
        Target("one viewer: extra CPU (node + fer view), 640x480 30 Hz 4 faces, measured",
               cost, TARGET_PERCENT, "% of a core"),
        Target("one viewer: the same from CPU per frame, at 30 results/s", estimate,
               TARGET_PERCENT, "% of a core")]
    report.notes.insert(0, "median cost: median of the viewer windows minus median of the "
                        "windows without; results/s there is the change in the node's rate")
    return report
