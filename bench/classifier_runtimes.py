"""ms per face of each expression model and runtime: onnxruntime against OpenCV dnn for ONNX.

Run from the repository root: ``.venv/bin/python bench/classifier_runtimes.py``. The node runs
.onnx models in onnxruntime; the OpenCV dnn rows show what the runtime that comes with OpenCV
would cost instead (the measurement behind that choice). In-process, real face crops,
medians over ``--seconds`` of calls after warm-up, per face at batch 1, 4 and 8, with 1 and 2
threads; and the process's CPU time per face over the same calls (the mean), which a second
thread raises while it shortens the wall time: on a robot's shared CPU the CPU time is what the
other processes lose. Every row of one run shares the machine's conditions; compare rows, not
runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fer_ros.perception.expressions.classification import load_classifier, load_single_model
from fer_ros.perception.expressions.preprocessing import prepare_frame_faces
from fer_ros.perception.model_files import bundled_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import build_frames, load_labels  # noqa: E402
from run import Report, standalone  # noqa: E402

BATCHES = (1, 4, 8)
THREADS = (1, 2)
OPTIONS = {"--seconds": (2.0, "timed window per cell")}


def timed_ms(seconds: float, call: Callable[..., object], *args: object) -> tuple[float, float]:
    """Median wall time and mean process CPU time of ``call(*args)`` over ``seconds`` after
    three warm-up calls, in ms."""
    for _ in range(3):
        call(*args)
    times = []
    cpu_start = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        call(*args)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), (time.process_time() - cpu_start) * 1000 / len(times)


def opencv_dnn_predict(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    net = cv2.dnn.readNetFromONNX(str(path))

    def predict(batch: np.ndarray) -> np.ndarray:
        cv2.setNumThreads(threads)
        net.setInput(batch)
        return net.forward()

    return predict


def run(args: argparse.Namespace) -> Report:
    frame = next(f for f in build_frames(load_labels()) if len(f.faces) >= max(BATCHES))
    gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
    boxes = [face.box for face in frame.faces][:max(BATCHES)]
    report = Report("classifier_runtimes", "expression models: ms per face",
                    ["model", "runtime", "threads", *(f"batch {b}" for b in BATCHES),
                     *(f"CPU, batch {b}" for b in BATCHES)])
    onnx_path = bundled_model("face_expression_net.onnx")
    for threads in THREADS:
        xception = load_single_model("mini_xception", num_threads=threads)
        net = load_single_model("face_expression_net", num_threads=threads)
        ensemble = load_classifier("ensemble", num_threads=threads)
        cases = [("mini_xception", "LiteRT", xception.predict, xception.metadata),
                 ("face_expression_net", "onnxruntime", net.predict, net.metadata),
                 ("face_expression_net", "OpenCV dnn", opencv_dnn_predict(onnx_path, threads),
                  net.metadata)]
        for model, runtime, predict, metadata in cases:
            per_batch = [timed_ms(args.seconds, predict, prepare_frame_faces(
                frame.image, gray, boxes[:batch], metadata)) for batch in BATCHES]
            report.rows.append(per_face_row([model, runtime, threads], per_batch))
        per_batch = [timed_ms(args.seconds, ensemble.classify, frame.image, gray, boxes[:batch])
                     for batch in BATCHES]
        report.rows.append(per_face_row(["ensemble (crops included)", "LiteRT + onnxruntime",
                                         threads], per_batch))
    cv2.setNumThreads(cv2.getNumberOfCPUs())
    return report


def per_face_row(head: list, per_batch: list[tuple[float, float]]) -> list:
    """``head``, then wall and CPU ms per face at each of BATCHES."""
    return [*head, *(round(wall / b, 2) for (wall, _), b in zip(per_batch, BATCHES)),
            *(round(cpu / b, 2) for (_, cpu), b in zip(per_batch, BATCHES))]


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__]))
