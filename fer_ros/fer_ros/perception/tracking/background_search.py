"""Full-frame detections on a thread of their own, beside the frames that follow.

A search of the whole frame of an HD camera can cost RetinaFace more than a frame's period at
30 Hz on a 2-core computer: done in the frame's own turn, every ``detection_interval``-th frame
is late, and those frames set the p99 latency. Run here instead, it overlaps the next frames,
which meanwhile follow the tracked faces in their regions (roi_redetection.py) on
the other core; its faces come back a frame or two later and are then sought in the frame at
hand. onnxruntime, OpenCV and numpy release the GIL while they compute, so the two threads do
run at once.

In-process, with moving faces in HD frames at 30 Hz, it lowers the p99 latency and raises the
median (the two threads share the cores). Over DDS beside the camera's publisher, which leaves
no core spare, it gained nothing, and its second detector costs memory, so the node leaves it
off by default (docs/performance.md).

One detection at a time, on a frame copied at the start (the caller may reuse its buffers), by
a detector of its own: a detector instance keeps per-call buffers and is not shared between
threads. A thread lives for one detection, so nothing is left to stop when a pipeline is
dropped; ``join`` waits for the one in progress.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from fer_ros.perception.detection.detections import Detection, FaceDetector


@dataclass(frozen=True)
class FullDetection:
    """The faces of one searched frame, and that frame's shape: its boxes are in its pixels."""

    shape: tuple[int, ...]
    detections: list[Detection]


class BackgroundDetection:
    """Starts a full-frame detection on a thread, hands its result over once it has finished."""

    def __init__(self, detector: FaceDetector):
        self.detector = detector
        self._thread: threading.Thread | None = None
        self._outcome: FullDetection | BaseException | None = None

    @property
    def busy(self) -> bool:
        """A detection was started and its result not yet taken."""
        return self._thread is not None

    def start(self, bgr: np.ndarray, gray: np.ndarray) -> None:
        if self._thread is not None:
            raise RuntimeError("a background detection is already running")
        self._outcome = None
        self._thread = threading.Thread(target=self._run, args=(bgr.copy(), gray.copy()),
                                        name="fer_full_detection", daemon=True)
        self._thread.start()

    def _run(self, bgr: np.ndarray, gray: np.ndarray) -> None:
        try:
            self._outcome = FullDetection(bgr.shape, self.detector.detect(bgr, gray))
        except Exception as exc:  # handed to the caller's thread by take()
            self._outcome = exc

    def take(self) -> FullDetection | None:
        """The finished detection's faces, once; None while it runs or when none was started.
        An error the detector raised is raised here, in the caller's thread."""
        if self._thread is None or self._thread.is_alive():
            return None
        self._thread.join()
        self._thread = None
        outcome, self._outcome = self._outcome, None
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def join(self, timeout: float | None = None) -> None:
        """Wait for the detection in progress (its result stays to be taken)."""
        if self._thread is not None:
            self._thread.join(timeout)
