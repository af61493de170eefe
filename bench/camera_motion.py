"""How well the camera's motion is measured: tracked corners against phase correlation.

The change gates undo the camera's motion before they compare frames, so the motion must hold
to a pixel or two at a slow pan and at a fast one, under camera noise and motion blur, with
people moving in view. Both candidates run on the same frames: bench/motion.py's worlds
(skimage's pictures with face-api's faces, ``make photos``) seen through a 1280x720 or
1920x1080 window that pans ``--steps`` px a frame, with camera noise on every frame, a Gaussian
blur (sigma 1.5) on every third, and, in the "walker" rows, a person crossing the view at
12 px a frame:

- ``corners``: perception/tracking/camera_motion.py, the pipeline's (Lucas-Kanade on a 320 px grey
  thumbnail, positions chained from frame to frame);
- ``phase correlation``: OpenCV's phaseCorrelate of the 160 px grey thumbnails the change gate
  already makes, with a Hanning window, chained the same way.

Figures: the largest error of the chained position over ``--frames`` frames (px of the frame),
the frames where the measurement gave up (a new chain), and CPU ms per frame (the thumbnail
included).
"""

from __future__ import annotations

import argparse
import sys
import time

import cv2
import numpy as np

from fer_ros.perception.tracking.camera_motion import CameraMotion, block_means
from harness import median
from motion import NOISE_COPIES, world
from run import Report, standalone

OPTIONS = {"--frames": (40, "frames per sequence")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", nargs="+", type=int, default=[1, 6, 30, 40],
                        help="pan, px a frame")


class PhaseCorrelation:
    """The view's position from phase correlation of consecutive 160 px thumbnails."""

    def __init__(self):
        self._last: np.ndarray | None = None
        self._window: np.ndarray | None = None
        self.x = self.y = 0.0

    def update(self, gray: np.ndarray) -> tuple[float, float]:
        scale = 160 / max(gray.shape)
        thumb = block_means(gray, (round(gray.shape[1] * scale),
                                   round(gray.shape[0] * scale))).astype(np.float32)
        if self._last is not None:
            if self._window is None:
                self._window = cv2.createHanningWindow(thumb.shape[::-1], cv2.CV_32F)
            (dx, dy), _ = cv2.phaseCorrelate(self._last, thumb, self._window)
            self.x += dx / scale
            self.y += dy / scale
        self._last = thumb
        return self.x, self.y


def frames(width: int, height: int, step: int, count: int, walker: bool):
    """Grey frames of a pan and the true position of each (the content's shift)."""
    from face_photos import head_patch  # on the path once harness is imported

    scene = world(width, height, True).image
    rng = np.random.default_rng(step)
    noise = [rng.normal(0.0, 4.0, (height, width, 3)) for _ in range(NOISE_COPIES)]
    patch, _ = head_patch("sample2.jpg", (895, 249, 182, 182), height // 6)
    start = 40 if step >= 0 else scene.shape[1] - width - 40
    for t in range(count):
        x = start + step * t
        frame = scene[:height, x:x + width].astype(np.float64) + noise[t % NOISE_COPIES]
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        if walker:
            px = 12 * t + width // 4
            frame[height // 3:height // 3 + patch.shape[0], px:px + patch.shape[1]] = \
                patch[:, :max(0, min(patch.shape[1], width - px))]
        if t % 3 == 2:
            frame = cv2.GaussianBlur(frame, (0, 0), 1.5)
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (-step * t, 0.0)


def measure(method: str, sequence) -> dict:
    """Worst error of the chained position, chains broken and CPU ms a frame."""
    errors, cpu, broken = [], [], 0
    estimator = CameraMotion() if method == "corners" else PhaseCorrelation()
    first = None
    for gray, truth in sequence:
        start = time.process_time()
        if method == "corners":
            position = estimator.update(gray)
            first = first or position
            shift = position.shift_since(first)
            broken = position.chain - first.chain
        else:
            shift = estimator.update(gray)
        cpu.append(1e3 * (time.process_time() - start))
        if shift is not None:
            errors.append(max(abs(shift[0] - truth[0]), abs(shift[1] - truth[1])))
    return {"worst_error_px": max(errors) if errors else None, "new_chains": broken,
            "cpu_ms": median(cpu)}


def run(args: argparse.Namespace) -> Report:
    rows, data = [], []
    for (width, height), step, walker in [
            (size, step, walker) for size in ((1280, 720), (1920, 1080))
            for step in args.steps for walker in (False, True)]:
        for method in ("corners", "phase correlation"):
            figures = measure(method, frames(width, height, step, args.frames, walker))
            rows.append([f"{width}x{height}", step, "walker" if walker else "-", method,
                         figures["worst_error_px"], figures["new_chains"], figures["cpu_ms"]])
            data.append({"size": [width, height], "step": step, "walker": walker,
                         "method": method, **figures})
    report = Report("camera_motion", f"camera motion: {args.frames} frames a pan, noise 4, "
                    "blur every 3rd frame",
                    ["frame", "px a frame", "person in view", "method", "worst error px",
                     "chains broken", "CPU ms a frame"], rows)
    report.data["sequences"] = data
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__]))
