"""Cost and recall of detection_interval x classification_interval x model x detection_size
x background_detection.

In this process, without ROS: the pipeline runs on a sequence of HD frames with 8 real faces of
90-120 px (face-api's photos, ``make photos``, composed as bench/hd.py composes them) that drift
3 px right and 2 px down per frame and back every SWING frames, as people in front of a robot
do, never leaving the frame. Per combination: the
median and p99 time per frame, and the recall: the share of (frame, face) pairs with a reported
box on the face (IoU >= 0.5), and the frames where every face was reported. The first frames,
until every combination has run a full detection and classified every face, are a warm-up.
Frames come at 30 Hz, as from a camera; with ``background_detection`` the time per frame is the
frame's own, and the whole-frame search runs beside it on the other core.

``--threads`` also times the detector (960x544) and the classifiers (8 faces) under onnxruntime
with 1 and 2 intra-op threads, with and without spinning threads, one call at a time.
"""

from __future__ import annotations

import argparse
import itertools
import time

import cv2
import numpy as np

from face_photos import crowd_frame
from fer_ros.perception.detection.retinaface import MEAN_BGR, MODEL_FILE
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.preprocessing import prepare_frame_faces
from fer_ros.perception.model_files import bundled_model
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig
from fer_ros.perception.tracking.tracks import box_iou
from harness import RATE_HZ, percentiles
from hd import HD_FACE_SIZES
from run import Report

DRIFT = (3, 2)
"""Pixels the faces move per frame, right and down (then back)."""
SWING = 10
"""Frames the faces move one way before they turn."""
WARM_UP_FRAMES = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rt-frames", type=int, default=60,
                        help="measured frames per combination (default %(default)s)")
    parser.add_argument("--rt-size", default="1280x720", help="frame size (default %(default)s)")
    parser.add_argument("--rt-detection-interval", type=int, nargs="+", default=[1, 2, 3, 5])
    parser.add_argument("--rt-classification-interval", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rt-model", nargs="+", default=["ensemble"],
                        help="models (default %(default)s)")
    parser.add_argument("--rt-detection-size", type=int, nargs="+", default=[960])
    parser.add_argument("--rt-background", type=int, nargs="+", default=[0, 1], choices=[0, 1],
                        help="background_detection off (0) and/or on (1); with it on, the "
                             "time per frame leaves out the search running beside it")
    parser.add_argument("--threads", action="store_true",
                        help="also time onnxruntime's thread settings")


def sequence(width: int, height: int, count: int) -> list[tuple[np.ndarray, list]]:
    """Frames with the 8 faces drifting by DRIFT per frame, and their true boxes."""
    frame, boxes = crowd_frame(width, height, HD_FACE_SIZES, seed=0)
    frames = []
    for t in range(count):
        steps = SWING - abs(t % (2 * SWING) - SWING)
        dx, dy = DRIFT[0] * steps, DRIFT[1] * steps
        matrix = np.float32([[1, 0, dx], [0, 1, dy]])
        moved = cv2.warpAffine(frame, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
        frames.append((moved, [(x + dx, y + dy, w, h) for x, y, w, h in boxes]))
    return frames



def measure(pipeline: EmotionPipeline, frames) -> dict:
    times, found, complete = [], 0, 0
    tick = time.perf_counter()
    for index, (frame, truth) in enumerate(frames):
        # Frames come at a camera's rate: a background search runs in the time between.
        tick = max(tick + 1.0 / RATE_HZ, time.perf_counter())
        time.sleep(max(0.0, tick - time.perf_counter()))
        start = time.perf_counter()
        faces = pipeline.process(frame)
        elapsed = (time.perf_counter() - start) * 1e3
        if index < WARM_UP_FRAMES:
            continue
        times.append(elapsed)
        hits = sum(any(box_iou(t, f.box) >= 0.5 for f in faces) for t in truth)
        found += hits
        complete += hits == len(truth) and len(faces) == len(truth)
    p50, _, p99 = percentiles(times)
    measured = len(frames) - WARM_UP_FRAMES
    return {"ms_p50": p50, "ms_p99": p99, "recall": found / (measured * len(frames[0][1])),
            "complete_frames": complete, "frames": measured}


def thread_settings(rows: list, data: list) -> None:
    import onnxruntime

    frame, boxes = crowd_frame(1280, 720, HD_FACE_SIZES, seed=0)
    small = cv2.resize(frame, (960, 540), interpolation=cv2.INTER_AREA)
    blob = np.zeros((1, 3, 544, 960), np.float32)
    blob[0, :, :540] = (small.astype(np.float32) - np.float32(MEAN_BGR)).transpose(2, 0, 1)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    inputs = {"retinaface 960x544": (bundled_model(MODEL_FILE), blob)}
    for member in load_classifier("ensemble").members:
        batch = prepare_frame_faces(frame, gray, boxes, member.metadata)
        inputs[f"{member.path.stem} x8"] = (member.path, batch)
    for (name, (path, feed)), threads, spinning in itertools.product(
            inputs.items(), (1, 2), ("0", "1")):
        if path.suffix != ".onnx":
            continue
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        feeds = {session.get_inputs()[0].name: feed}
        for _ in range(3):
            session.run(None, feeds)
        times, cpu = [], time.process_time()
        wall = time.perf_counter()
        while time.perf_counter() - wall < 2.0:
            start = time.perf_counter()
            session.run(None, feeds)
            times.append((time.perf_counter() - start) * 1e3)
        cpu_share = 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)
        p50, _, p99 = percentiles(times)
        rows.append([f"threads: {name}", f"intra {threads}, spinning {spinning}", "", "", "",
                     p50, p99, None, f"CPU {cpu_share:.0f} %"])
        data.append({"session": name, "intra_op_threads": threads, "allow_spinning": spinning,
                     "ms_p50": p50, "ms_p99": p99, "cpu_percent": cpu_share})


def run(args: argparse.Namespace) -> Report:
    width, height = (int(v) for v in args.rt_size.split("x"))
    frames = sequence(width, height, args.rt_frames + WARM_UP_FRAMES)
    rows, data = [], []
    for model in args.rt_model:
        classifier = load_classifier("" if model == "ensemble" else model)
        for size, k, c, background in itertools.product(
                args.rt_detection_size, args.rt_detection_interval,
                args.rt_classification_interval, args.rt_background):
            config = PipelineConfig(model=model, detection_size=size, detection_interval=k,
                                    classification_interval=c,
                                    background_detection=bool(background))
            pipeline = EmotionPipeline.from_config(config, classifier)
            figures = measure(pipeline, frames)
            pipeline.close()
            rows.append([model, size, k, c, "on" if background else "off", figures["ms_p50"],
                         figures["ms_p99"], figures["recall"],
                         f"{figures['complete_frames']}/{figures['frames']}"])
            data.append({"model": model, "detection_size": size, "detection_interval": k,
                         "classification_interval": c, "background_detection": bool(background),
                         **figures})
    threads: list = []
    if args.threads:
        thread_settings(rows, threads)
    report = Report(
        "realtime", f"realtime: pipeline in-process, {width}x{height}, 8 faces drifting "
        f"{DRIFT} px/frame",
        ["model", "detection_size", "detection_interval", "classification_interval",
         "background", "ms/frame p50", "ms/frame p99", "recall", "frames with every face"], rows)
    report.data.update({"combinations": data, "threads": threads,
                        "settings": {"size": args.rt_size, "frames": args.rt_frames,
                                     "drift_px": DRIFT}})
    return report
