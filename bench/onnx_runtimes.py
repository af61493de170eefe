"""onnxruntime against OpenCV's dnn module on the RetinaFace model: which one runs it.

OpenCV 4's dnn module refuses the model as shipped (its input size is dynamic), so each input
size is frozen into a copy first with the ``onnx`` package, which is no dependency of the
project. Run it in a scratch venv, from the repository root after ``make setup`` and
``make photos``::

    python3 -m venv /tmp/onnx-bench
    /tmp/onnx-bench/bin/pip install onnx==1.23.2 onnxruntime==1.32.0 \\
        opencv-python-headless==4.14.0.94 numpy==2.4.6
    /tmp/onnx-bench/bin/python bench/onnx_runtimes.py

Both runtimes get the same blob of a real photo; their outputs are compared, then each is timed
with 1 and 2 threads, interleaved (one call of each in turn, 40 rounds), medians printed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime
from onnx.tools import update_model_dims

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "fer_ros" / "fer_ros" / "perception" / "models" / "retinaface_mnet025.onnx"
PHOTO = REPO / "fer_ros" / "test" / "photos" / "face-api" / "sample4.jpg"
SIZES = ((640, 480), (960, 544))
OUTPUTS = ["loc", "conf", "landmarks"]
ROUNDS = 40


def frozen_copy(width: int, height: int, folder: Path) -> Path:
    model = update_model_dims.update_inputs_outputs_dims(
        onnx.load(MODEL), {"input": [1, 3, height, width]},
        {"loc": [1, -1, 4], "conf": [1, -1, 2], "landmarks": [1, -1, 10]})
    path = folder / f"retinaface_{width}x{height}.onnx"
    onnx.save(onnx.shape_inference.infer_shapes(model), path)
    return path


def ort_call(threads: int, blob: np.ndarray):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(MODEL), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    return lambda: session.run(OUTPUTS, {"input": blob})


def dnn_call(net, threads: int, blob: np.ndarray):
    def call():
        cv2.setNumThreads(threads)
        net.setInput(blob)
        return net.forward(OUTPUTS)
    return call


def main() -> None:
    print(f"OpenCV {cv2.__version__}, onnxruntime {onnxruntime.__version__}")
    try:
        cv2.dnn.readNetFromONNX(str(MODEL))
        print("cv2.dnn loads the model as shipped")
    except cv2.error:
        print("cv2.dnn refuses the model as shipped (dynamic input shape)")
    image = cv2.imread(str(PHOTO))
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in SIZES:
            net = cv2.dnn.readNetFromONNX(str(frozen_copy(width, height, Path(tmp))))
            blob = cv2.dnn.blobFromImage(cv2.resize(image, (width, height)), 1.0,
                                         mean=(104, 117, 123))
            calls = {}
            for threads in (1, 2):
                calls[f"onnxruntime, {threads} thread(s)"] = ort_call(threads, blob)
                calls[f"cv2.dnn, {threads} thread(s)"] = dnn_call(net, threads, blob)
            reference = calls["onnxruntime, 2 thread(s)"]()
            other = calls["cv2.dnn, 2 thread(s)"]()
            difference = max(float(np.abs(a - b).max()) for a, b in zip(reference, other))
            print(f"{width}x{height}: largest difference between the outputs {difference:.1e}")
            times: dict[str, list[float]] = {name: [] for name in calls}
            for _ in range(ROUNDS):
                for name, call in calls.items():
                    start = time.perf_counter()
                    call()
                    times[name].append((time.perf_counter() - start) * 1e3)
            for name, values in times.items():
                print(f"  {name:<26} median {np.median(values):6.1f} ms, "
                      f"p90 {np.percentile(values, 90):6.1f} ms")


if __name__ == "__main__":
    main()
