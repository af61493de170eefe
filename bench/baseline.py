"""The original program's loop, re-implemented, on the frames the other benchmarks use.

The original detected faces with OpenCV's Haar cascade (scaleFactor 1.3, minNeighbors 5) and
then called ``model.predict`` once per face on a 48x48 gray crop of the seed CNN
(``fer_ros.learning.architectures``, ``seed``). The weights here are random: speed does not
depend on them. Left out, as they only slow the original down further: drawing, the 1600x960
``imshow`` and the progress line Keras prints for every ``predict`` (``verbose=0`` here).
No ROS transport is involved either, so this is an upper bound of the original's rate.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from fer_ros.sources.sample import sample_faces_frame
from harness import FACE_COUNTS
from run import Report

SEED_INPUT = (48, 48, 1)


OPTIONS = {"--baseline-seconds": (4.0, "seconds the original loop runs per face count")}


class OriginalLoop:
    """Per frame: gray, Haar at scale step 1.3, then one ``predict`` per face found."""

    def __init__(self) -> None:
        from fer_ros.learning.architectures import build

        self.model = build("seed", SEED_INPUT)
        self.cascade = cv2.CascadeClassifier(
            cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def process(self, frame: np.ndarray) -> int:
        """Handle one frame as the original did; returns the number of faces classified."""
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        faces = self.cascade.detectMultiScale(gray, scaleFactor=1.3, minNeighbors=5)
        for x, y, w, h in faces:
            roi = gray[y:y + h, x:x + w]
            cropped = np.expand_dims(np.expand_dims(cv2.resize(roi, SEED_INPUT[:2]), -1), 0)
            prediction = self.model.predict(cropped, verbose=0)
            int(np.argmax(prediction))
        return len(faces)


def measure(seconds: float, face_counts: tuple[int, ...] = FACE_COUNTS) -> dict[int, dict]:
    """Frames/s of the original loop for each face count, after a warm-up of a few frames."""
    loop = OriginalLoop()
    results = {}
    for n in face_counts:
        frame, _ = sample_faces_frame(n)
        for _ in range(3):
            faces = loop.process(frame)
        frames = 0
        start = time.perf_counter()
        while frames < 5 or time.perf_counter() - start < seconds:
            loop.process(frame)
            frames += 1
        elapsed = time.perf_counter() - start
        results[n] = {"frames_per_s": frames / elapsed, "ms_per_frame": 1000 * elapsed / frames,
                      "faces_classified": faces, "frames": frames}
    return results


def run(args: argparse.Namespace) -> Report:
    results = measure(args.baseline_seconds)
    report = Report("baseline", "baseline: the original program's loop, in-process",
                    ["faces in frame", "faces found (Haar 1.3)", "frames/s", "ms/frame"])
    for n, r in results.items():
        report.rows.append([n, r["faces_classified"], r["frames_per_s"], r["ms_per_frame"]])
    report.data["baseline"] = {str(n): r for n, r in results.items()}
    report.notes = ["Seed CNN with random weights; one model.predict per face; no drawing, "
                    "no display, no ROS."]
    return report
