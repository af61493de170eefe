"""The yardstick CPU figures are given in: one whole-frame RetinaFace search at 960x544 on one
onnxruntime thread, CPU time, measured in the benchmark's own process and run.

A node's CPU per answer in milliseconds says as much about the machine as about the node; the
same figure in yardsticks (u) compares machines: a slower or busier machine slows the yardstick
about as much as the node. The input is a real frame (bench/hd.py's 8 faces at 1280x720, shrunk
to 960x540 and padded to 544 as the detector does), so the session does the work a search does.
"""

from __future__ import annotations

import statistics
import time

import cv2
import numpy as np

from face_photos import crowd_frame
from fer_ros.perception.detection.retinaface import MEAN_BGR, MODEL_FILE
from fer_ros.perception.model_files import bundled_model

RUNS = 12
WARM_UP = 3


def yardstick_ms(runs: int = RUNS) -> float:
    """Median CPU milliseconds of one RetinaFace session run at 960x544 on one thread."""
    import onnxruntime

    frame, _ = crowd_frame(1280, 720, [90, 100, 110, 120, 90, 100, 110, 120], seed=0)
    small = cv2.resize(frame, (960, 540), interpolation=cv2.INTER_AREA)
    blob = np.zeros((1, 3, 544, 960), np.float32)
    blob[0, :, :540] = (small.astype(np.float32) - np.float32(MEAN_BGR)).transpose(2, 0, 1)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(bundled_model(MODEL_FILE)), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    feeds = {session.get_inputs()[0].name: blob}
    for _ in range(WARM_UP):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.process_time()
        session.run(None, feeds)
        times.append(1e3 * (time.process_time() - start))
    return statistics.median(times)
