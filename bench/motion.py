"""A moving camera: emotion_node's CPU per answer, latency, recall and ids over DDS at 30 Hz.

A robot's camera is rarely still while people are around it: the head pans to look at them,
the body sways, the base drives forward. Each scene here is a camera window moving over a wide
world (skimage's pictures side by side, blurred a little as a lens does, with face-api's faces,
``make photos``, pasted in at 60-120 px, 90-120 px at 1920x1080), with camera noise
(``--motion-noise`` grey levels) on every frame. Faces enter and leave the view by the camera's
motion, and where the camera does not pan, one more person walks across the world:

- ``still``: the camera does not move;
- ``slow pan``: 6 px a frame, back and forth over the world (a slow head turn);
- ``fast pan``: 30 px a frame, back and forth;
- ``shake``: a still camera jittering by up to 3 px a frame on each axis;
- ``forward``: a slow zoom, 0.3 % a frame in and out between 1x and 1.4x (the base driving
  towards the scene and back);

at 1280x720 (with faces, and with none: the same world without its faces or walker) and at
1920x1080 (about 8 faces in view). Frames are made from the frame's number, not the clock, so
a late frame shows what it would have shown on time.

Figures per scene, each the median over ``--motion-runs`` runs:

- node CPU in % of one core, from /proc, and per answer in milliseconds and in yardsticks (u):
  one whole-frame RetinaFace search at 960x544 on one onnxruntime thread, CPU time, measured in
  this process before each run (bench/yardstick.py);
- answers/s and latency p50 / p99 from the frame's stamp;
- recall: the share of answers that report every face that has been whole in view for the last
  200 ms (a face is reported when a box overlaps its true box by IoU 0.3), and the share of
  those faces reported;
- id changes: times a face that stayed whole in view was reported under another id than the
  last time;
- entering delay: from the stamp of the first frame that shows a face whole to the arrival of
  the first answer that reports it, median and worst, for the faces that stay in view long
  enough to be reported (300 ms).

Variants: ``after`` (this checkout's node with its defaults) and ``before`` (another
checkout's fer_ros with its defaults, ``--motion-baseline-pythonpath``; without it this
checkout with ``camera_motion`` off), each a node of its own, run in turn.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from fer_msgs.msg import EmotionArray
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from face_photos import all_faces, head_patch
from fer_ros.perception.tracking.tracks import iou_matrix
from harness import (
    ANSWER_GRACE_S,
    RATE_HZ,
    REPO,
    CpuWindow,
    PrivateRos,
    ProcessStats,
    bench_image,
    cli_params,
    error_lines,
    median,
    percentiles,
    window_options,
)
from run import Report, Target
from yardstick import yardstick_ms

SCENES: dict[str, tuple[int, int, bool, str]] = {
    "1280x720, 2 faces, still": (1280, 720, True, "still"),
    "1280x720, slow pan": (1280, 720, True, "slow pan"),
    "1280x720, fast pan": (1280, 720, True, "fast pan"),
    "1280x720, shake": (1280, 720, True, "shake"),
    "1280x720, forward": (1280, 720, True, "forward"),
    "1280x720, empty, still": (1280, 720, False, "still"),
    "1280x720, empty, slow pan": (1280, 720, False, "slow pan"),
    "1920x1080, 8 faces, still": (1920, 1080, True, "still"),
    "1920x1080, 8 faces, slow pan": (1920, 1080, True, "slow pan"),
    "1920x1080, fast pan": (1920, 1080, True, "fast pan"),
    "1920x1080, shake": (1920, 1080, True, "shake"),
    "1920x1080, forward": (1920, 1080, True, "forward"),
}
"""Scene -> (width, height, faces, motion)."""
VARIANTS = ("before", "after")
WORLD_WIDTHS = 2.5
"""The world is this many frames wide."""
PAN_PX = {"slow pan": 6, "fast pan": 30}
SHAKE_PX = 3
ZOOM_STEP, ZOOM_MOST = 0.003, 1.4
WALKER_PX = 4
"""The walker's pace, px a frame (about 1.2 m/s seen from 3 m at 720p)."""
IN_VIEW_FRAMES = 6
"""A face whole in view for this many frames (200 ms) is to be reported."""
ENTER_LIMIT_MS = 300.0
MATCH_IOU = 0.3
NOISE_COPIES = 4

OPTIONS = {
    **window_options(6.0, 1.5, "motion"),
    "--motion-runs": (3, "runs; figures are their medians"),
    "--motion-noise": (4.0, "camera noise, grey levels (sigma)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--motion-variants", nargs="+", default=list(VARIANTS),
                        choices=VARIANTS)
    parser.add_argument("--motion-scenes", nargs="+", default=list(SCENES),
                        choices=list(SCENES))
    parser.add_argument("--motion-params", nargs="*", default=[], metavar="NAME=VALUE",
                        help="parameters given to this checkout's node on top of its defaults")
    parser.add_argument("--motion-baseline-pythonpath", default="",
                        help="fer_ros package folder whose node, with its defaults, is "
                             "'before' (e.g. an unchanged checkout's fer_ros); default: this "
                             "checkout with camera_motion off")


@lru_cache(maxsize=2)
def background(width: int, height: int) -> np.ndarray:
    """skimage's face-free pictures side by side, WORLD_WIDTHS frames wide, the height of a
    frame and the shake: textured and smooth parts, as a room has."""
    from skimage import data

    parts = []
    for name in ("rocket", "coffee", "brick", "coins", "gravel", "page", "hubble_deep_field"):
        image = getattr(data, name)()
        image = np.dstack([image] * 3) if image.ndim == 2 else image[:, :, :3]
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
        scale = (height + 2 * SHAKE_PX) / image.shape[0]
        parts.append(cv2.resize(image, (round(image.shape[1] * scale), height + 2 * SHAKE_PX),
                                interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC))
    strip = np.hstack(parts)
    world_width = round(WORLD_WIDTHS * width)
    reps = -(-world_width // strip.shape[1])
    world = np.hstack([strip] * reps)[:, :world_width]
    return cv2.GaussianBlur(world, (0, 0), 1.0)


@dataclass
class World:
    """The scene's world, its faces' true boxes and the walker."""

    image: np.ndarray
    faces: list[tuple[int, int, int, int]]
    walker: tuple[np.ndarray, tuple[int, int, int, int]] | None


@lru_cache(maxsize=4)
def world(width: int, height: int, faces: bool) -> World:
    image = background(width, height).copy()
    boxes: list[tuple[int, int, int, int]] = []
    if not faces:
        return World(image, boxes, None)
    rng = np.random.default_rng(width)
    sizes = (90, 120) if width >= 1920 else (60, 120)
    count = 18 if width >= 1920 else 5
    photos = all_faces()
    columns = np.linspace(0, image.shape[1], count + 1)
    for k in range(count):
        size = int(rng.integers(sizes[0], sizes[1] + 1))
        patch, (fx, fy, fw, fh) = head_patch(*photos[(3 * k + 1) % len(photos)], size)
        ph, pw = patch.shape[:2]
        x0 = int(rng.integers(int(columns[k]), max(int(columns[k]) + 1,
                                                    int(columns[k + 1]) - pw)))
        row = k % 2 if width >= 1920 else 0
        band = (height - ph) // (2 if width >= 1920 else 1)
        y0 = int(rng.integers(row * band, row * band + max(1, band - ph // 2)))
        y0 = min(y0, height - ph)
        image[y0:y0 + ph, x0:x0 + pw] = patch
        boxes.append((x0 + fx, y0 + fy, fw, fh))
    walker = head_patch(*photos[2], 100 if width < 1920 else 110)
    return World(image, boxes, walker)


class Camera:
    """A scene's frames and true boxes by frame number."""

    def __init__(self, scene: str, noise: float):
        width, height, faces, motion = SCENES[scene]
        self.width, self.height, self.motion = width, height, motion
        self.world = world(width, height, faces)
        rng = np.random.default_rng(1)
        self.noise = []
        for _ in range(NOISE_COPIES):
            field = rng.normal(0.0, noise, (height, width, 3))
            self.noise.append((np.clip(field, 0, 255).astype(np.uint8),
                               np.clip(-field, 0, 255).astype(np.uint8)))
        self.jitter = rng.integers(-SHAKE_PX, SHAKE_PX + 1, (4096, 2))
        self.span = self.world.image.shape[1] - width

    def view(self, t: int) -> tuple[float, float, float]:
        """Left, top (world pixels) and zoom of frame ``t``."""
        centre = self.span / 2
        if self.motion in PAN_PX:
            travel = (PAN_PX[self.motion] * t + self.span // 3) % (2 * self.span)
            return (float(travel if travel <= self.span else 2 * self.span - travel),
                    float(SHAKE_PX), 1.0)
        if self.motion == "shake":
            dx, dy = self.jitter[t % len(self.jitter)]
            return centre + dx, float(dy + SHAKE_PX), 1.0
        if self.motion == "forward":
            steps = round((ZOOM_MOST - 1) / ZOOM_STEP)
            phase = t % (2 * steps)
            zoom = 1 + ZOOM_STEP * (phase if phase <= steps else 2 * steps - phase)
            return centre, float(SHAKE_PX), zoom
        return centre, float(SHAKE_PX), 1.0

    def walker_box(self, t: int) -> tuple[int, int, tuple[int, int, int, int]] | None:
        """Where the walker's patch lies in the world in frame ``t``, and its face box; none
        in a pan, where the camera's motion brings faces in and out of view."""
        if self.world.walker is None or self.motion in PAN_PX:
            return None
        patch, (fx, fy, fw, fh) = self.world.walker
        lane = self.world.image.shape[1] + patch.shape[1]
        phase = (WALKER_PX * t + lane // 2) % (2 * lane)
        x = (phase if phase < lane else 2 * lane - phase) - patch.shape[1]
        y = self.world.image.shape[0] - patch.shape[0] - self.height // 8
        return x, y, (x + fx, y + fy, fw, fh)

    def frame(self, t: int) -> tuple[np.ndarray, list[tuple[int, tuple[int, int, int, int]]]]:
        """Frame ``t`` and the true boxes (key, frame pixels) of the faces whole in it."""
        left, top, zoom = self.view(t)
        image = self.world.image
        walker = self.walker_box(t)
        boxes = list(enumerate(self.world.faces))
        if walker is not None:
            x, y, box = walker
            h, w = self.world.walker[0].shape[:2]
            # A face the walker passes in front of is hidden, not to be reported.
            boxes = [(key, (bx, by, bw, bh)) for key, (bx, by, bw, bh) in boxes
                     if bx + bw <= x or bx >= x + w or by + bh <= y or by >= y + h]
            boxes.append((len(self.world.faces), box))
        width, height = self.width, self.height
        view_w, view_h = round(width / zoom), round(height / zoom)
        x0, y0 = int(left + (width - view_w) / 2), int(top + (height - view_h) / 2)
        frame = image[y0:y0 + view_h, x0:x0 + view_w].copy()
        if walker is not None:
            _paste(frame, self.world.walker[0], walker[0] - x0, walker[1] - y0)
        if (view_w, view_h) != (width, height):
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
        scale_x, scale_y = width / view_w, height / view_h
        positive, negative = self.noise[t % NOISE_COPIES]
        cv2.add(frame, positive, dst=frame)
        cv2.subtract(frame, negative, dst=frame)
        whole = []
        for key, (bx, by, bw, bh) in boxes:
            fx, fy = (bx - x0) * scale_x, (by - y0) * scale_y
            fw, fh = bw * scale_x, bh * scale_y
            if fx >= 0 and fy >= 0 and fx + fw <= width and fy + fh <= height:
                whole.append((key, (round(fx), round(fy), round(fw), round(fh))))
        return frame, whole


def _paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    h, w = patch.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]


class FaceFeed:
    """Frames out on ``image_raw``, EmotionArrays back with each face's id and box."""

    def __init__(self, peer, namespace: str):
        self.arrivals: dict[int, tuple[int, list[tuple[int, tuple[int, int, int, int]]]]] = {}
        peer.node.create_subscription(EmotionArray, f"{namespace}/emotions", self._on_message,
                                      10)
        self.publisher = peer.node.create_publisher(Image, f"{namespace}/image_raw",
                                                    qos_profile_sensor_data)

    def _on_message(self, msg: EmotionArray) -> None:
        arrival = time.time_ns()
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.arrivals[stamp] = (arrival, [
            (e.face_id, (e.roi.x_offset, e.roi.y_offset, e.roi.width, e.roi.height))
            for e in msg.emotions])

    def at_rate(self, make: Callable[[int], tuple[np.ndarray, list]], first: int,
                seconds: float) -> list[tuple[int, list]]:
        """Frames ``first``, ``first`` + 1, ... on a 30 Hz clock, each made when due; the
        stamp and true boxes of each."""
        sent = []
        period = 1.0 / RATE_HZ
        start = time.perf_counter()
        for i in range(round(seconds * RATE_HZ)):
            frame, truth = make(first + i)
            msg = bench_image(frame)
            delay = start + i * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stamp = time.time_ns()
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
            self.publisher.publish(msg)
            sent.append((stamp, truth))
        time.sleep(ANSWER_GRACE_S)
        return sent


def score(sent: list[tuple[int, list]], arrivals: dict) -> dict:
    """Recall, id changes and entering delays of one window (see the module)."""
    whole_since: dict[int, int] = {}
    last_id: dict[int, int] = {}
    id_changes = 0
    due_faces = reported_faces = 0
    complete = answered = 0
    entering: list[float | None] = []
    pending: dict[int, int] = {}
    """face -> index of the frame it came whole into view in (not yet reported)."""
    for k, (stamp, truth) in enumerate(sent):
        keys = {key for key, _ in truth}
        for key in list(whole_since):
            if key not in keys:
                del whole_since[key]
                last_id.pop(key, None)
                start = pending.pop(key, None)
                if start is not None and (k - start) / RATE_HZ * 1e3 >= ENTER_LIMIT_MS:
                    entering.append(None)
        for key in keys:
            if key not in whole_since:
                whole_since[key] = k
                if k > 0:
                    pending[key] = k
        if stamp not in arrivals:
            continue
        arrival, reported = arrivals[stamp]
        answered += 1
        match = _match([box for _, box in truth], [box for _, box in reported])
        due = [i for i, (key, _) in enumerate(truth) if k - whole_since[key] >= IN_VIEW_FRAMES]
        due_faces += len(due)
        reported_faces += sum(match[i] is not None for i in due)
        complete += all(match[i] is not None for i in due)
        for i, (key, _) in enumerate(truth):
            if match[i] is None:
                continue
            face_id = reported[match[i]][0]
            if key in last_id and last_id[key] != face_id:
                id_changes += 1
            last_id[key] = face_id
            if key in pending:
                entering.append((arrival - sent[pending.pop(key)][0]) / 1e6)
    for start in pending.values():
        if (len(sent) - start) / RATE_HZ * 1e3 >= ENTER_LIMIT_MS:
            entering.append(None)
    delays = [d for d in entering if d is not None]
    return {"complete_share": complete / max(answered, 1),
            "face_recall": reported_faces / max(due_faces, 1) if due_faces else None,
            "id_changes": id_changes,
            "entering_ms_median": median(delays),
            "entering_ms_worst": (None if not entering else
                                  float("inf") if None in entering else max(delays)),
            "entering_faces": len(entering),
            "entering_within_limit": sum(d is not None and d <= ENTER_LIMIT_MS
                                         for d in entering)}


def _match(truth: list, reported: list) -> list[int | None]:
    """For each true box, the reported box it is (IoU >= MATCH_IOU, best first), or None."""
    out: list[int | None] = [None] * len(truth)
    if not truth or not reported:
        return out
    overlap = iou_matrix(np.asarray(truth, np.float64), np.asarray(reported, np.float64))
    for flat in np.argsort(-overlap, axis=None):
        i, j = divmod(int(flat), len(reported))
        if overlap[i, j] < MATCH_IOU:
            break
        if out[i] is None and j not in out:
            out[i] = j
    return out


def run_variant(variant: str, args: argparse.Namespace, ros: PrivateRos, feed: FaceFeed,
                cameras: dict[str, Camera]) -> dict:
    node_env = dict(ros.env)
    params: tuple[str, ...] = ()
    if variant == "before" and args.motion_baseline_pythonpath:
        node_env["PYTHONPATH"] = args.motion_baseline_pythonpath
    else:
        node_env["PYTHONPATH"] = str(REPO / "fer_ros")
        params = ("camera_motion=false",) if variant == "before" else ()
        params = (*params, *args.motion_params)
    node = ros.start([sys.executable, str(REPO / "bench" / "staged_node.py")],
                     f"node-motion-{variant}.log", cli_params(params), env=node_env)
    result: dict = {"scenes": {}}
    try:
        first = cameras[next(iter(cameras))]
        deadline = time.monotonic() + 60.0
        while not feed.arrivals and time.monotonic() < deadline and node.alive():
            feed.at_rate(first.frame, 0, 0.3)
        if not feed.arrivals:
            raise RuntimeError(f"the node gave no result; its log:\n{node.output}")
        stats = ProcessStats(node.process.pid)
        for scene, camera in cameras.items():
            warm = round(args.motion_warm_up * RATE_HZ)
            feed.at_rate(camera.frame, 0, args.motion_warm_up)
            feed.arrivals.clear()
            cpu_window = CpuWindow(stats)
            sent = feed.at_rate(camera.frame, warm, args.motion_seconds)
            cpu, wall = cpu_window.reading()
            answered = [(feed.arrivals[s][0] - s) / 1e6 for s, _ in sent if s in feed.arrivals]
            p50, _, p99 = percentiles(answered)
            result["scenes"][scene] = {
                "cpu_percent": cpu,
                "cpu_ms_per_answer": 10 * cpu * wall / max(len(answered), 1),
                "answers_per_second": len(answered) / (len(sent) / RATE_HZ),
                "latency_ms_p50": p50, "latency_ms_p99": p99, "rss_mb": stats.rss_mb(),
                **score(sent, feed.arrivals)}
        result["peak_rss_mb"] = stats.peak_rss_mb()
        node.stop(signal.SIGINT)
        result["log_errors"] = error_lines(node.output)
    finally:
        if node.alive():
            node.stop(signal.SIGKILL)
    return result


def run(args: argparse.Namespace) -> Report:
    cameras = {scene: Camera(scene, args.motion_noise) for scene in args.motion_scenes}
    runs: dict[str, list[dict]] = {v: [] for v in args.motion_variants}
    loads, yardsticks = [], []
    with PrivateRos("bench-motion", "bench_motion_feeder") as ros:
        feed = FaceFeed(ros.peer, ros.namespace)
        for _ in range(args.motion_runs):
            yardsticks.append(yardstick_ms())
            for variant in args.motion_variants:
                loads.append(os.getloadavg()[0])
                figures = run_variant(variant, args, ros, feed, cameras)
                for scene in figures["scenes"].values():
                    scene["u_per_answer"] = scene["cpu_ms_per_answer"] / yardsticks[-1]
                runs[variant].append(figures)

    keys = ("cpu_percent", "cpu_ms_per_answer", "u_per_answer", "answers_per_second",
            "latency_ms_p50", "latency_ms_p99", "complete_share", "face_recall", "id_changes",
            "entering_ms_median", "entering_ms_worst", "rss_mb")
    rows, summary = [], {}
    for scene in args.motion_scenes:
        for variant in args.motion_variants:
            figures = [r["scenes"][scene] for r in runs[variant]]
            med = {key: median([f[key] for f in figures]) for key in keys}
            med["entering"] = " ".join(f"{f['entering_within_limit']}/{f['entering_faces']}"
                                       for f in figures)
            summary.setdefault(scene, {})[variant] = med
            rows.append([scene, variant, med["cpu_percent"], med["u_per_answer"],
                         med["answers_per_second"], med["latency_ms_p50"],
                         med["latency_ms_p99"],
                         None if med["complete_share"] is None else 100 * med["complete_share"],
                         med["id_changes"], med["entering_ms_median"],
                         med["entering_ms_worst"], med["entering"]])
    peak = {v: max(r["peak_rss_mb"] for r in runs[v]) for v in args.motion_variants}
    report = Report(
        "motion", f"motion: emotion_node over DDS at 30 Hz with a moving camera, camera noise "
        f"{args.motion_noise:g}, medians of {args.motion_runs} runs; u = "
        f"{median(yardsticks):.1f} ms",
        ["scene", "variant", "node CPU % of a core", "u per answer", "answers/s", "p50 ms",
         "p99 ms", "answers with every face in view 200 ms %", "id changes",
         "entering ms median", "entering ms worst",
         f"entering faces within {ENTER_LIMIT_MS:g} ms per run"], rows)
    report.notes = [
        "u: one whole-frame RetinaFace search at 960x544 on one onnxruntime thread, CPU ms, "
        f"measured before each run: {', '.join(f'{y:.1f}' for y in yardsticks)}",
        "node peak RSS (VmHWM) MB, most of the runs: "
        + ", ".join(f"{v} {p:.0f}" for v, p in peak.items()),
        f"load average (1 min) at each node start: {', '.join(f'{x:.2f}' for x in loads)}",
        "errors or tracebacks in the nodes' logs: "
        f"{sum(len(r['log_errors']) for v in runs.values() for r in v)}",
    ]
    if "after" in args.motion_variants:
        after = {scene: summary[scene]["after"] for scene in summary}
        limits = [("1280x720, slow pan", "u_per_answer", 0.25, "u", False),
                  ("1280x720, slow pan", "answers_per_second", 29.0, "/s", True),
                  ("1280x720, slow pan", "complete_share", 0.97, "", True),
                  ("1280x720, slow pan", "id_changes", 0.0, "", False),
                  ("1280x720, fast pan", "u_per_answer", 0.5, "u", False),
                  ("1280x720, fast pan", "answers_per_second", 29.0, "/s", True),
                  ("1280x720, fast pan", "entering_ms_worst", ENTER_LIMIT_MS, "ms", False),
                  ("1920x1080, 8 faces, still", "u_per_answer", 0.5, "u", False),
                  ("1920x1080, 8 faces, slow pan", "u_per_answer", 0.8, "u", False),
                  ("1920x1080, 8 faces, slow pan", "answers_per_second", 29.0, "/s", True),
                  ("1280x720, empty, still", "u_per_answer", 0.15, "u", False),
                  ("1280x720, empty, slow pan", "u_per_answer", 0.15, "u", False)]
        for scene, key, limit, unit, higher in limits:
            if scene in after:
                report.targets.append(Target(f"after: {scene}, {key}", after[scene][key],
                                             limit, unit, higher_is_better=higher))
        report.targets.append(Target("after: peak RSS (VmHWM)", peak["after"], 300, "MB"))
    report.data.update({"summary": summary, "runs": runs, "peak_rss_mb": peak,
                        "yardstick_ms": yardsticks, "load_average_1min_at_starts": loads,
                        "settings": {"seconds": args.motion_seconds,
                                     "warm_up": args.motion_warm_up, "runs": args.motion_runs,
                                     "noise": args.motion_noise,
                                     "baseline_pythonpath": args.motion_baseline_pythonpath,
                                     "params": args.motion_params, "rate_hz": RATE_HZ}})
    return report
