"""Full-frame detections on a thread of their own, beside the frames that follow.

A search of the whole frame costs RetinaFace 33 ms at 1280x720 and 44 ms at 1920x1080 (shrunk
to 960 px) on this 2-core machine, more than a 30 Hz frame's 33 ms: done in the frame's own
turn, every ``detection_interval``-th frame is late, and those frames set the p99 latency. Run
here instead, it overlaps the next frames, which meanwhile follow the tracked faces in their
regions (perception/roi_redetection.py) on the other core; its faces come back a frame or two
later and are then sought in the frame at hand. onnxruntime, OpenCV and numpy release the GIL
while they compute, so the two threads do run at once.

Measured on this 2-core machine (bench/README.md): in-process at 1280x720 with 8 moving faces
and frames at 30 Hz, p99 41 ms against 53 ms in the frame's turn (p50 27 against 22 ms: the two
threads share the cores). Over DDS beside the camera's publisher, which leaves no core spare,
it gained nothing (medians of 3: 27.0 against 26.1 results/s at 1280x720, 22.2 against 24.2 at
1920x1080) and its second detector cost 43 MB, so the node leaves it off by default.

One detection at a time, on a frame copied at the start (the caller may reuse its buffers), by
a detector of its own: a detector instance keeps per-call buffers and is not shared between
threads. A thread lives for one detection, so nothing is left to stop when a pipeline is
dropped; ``join`` waits for the one in progress.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from fer_ros.perception.detection_types import Detection, FaceDetector


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
