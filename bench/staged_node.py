"""emotion_node with a stopwatch on each stage of a frame, for bench/edge.py.

Run as ``python bench/staged_node.py --ros-args ...`` in place of the ``emotion_node`` console
script, with the fer_ros to measure on PYTHONPATH (this worktree's, or another checkout's for a
baseline). Before the node starts, the functions that make up each stage are wrapped with a
timer; the node itself is unchanged. Every ``WRITE_PERIOD_S`` the running totals go to the JSON
file named by ``FER_STAGES_OUT``: per stage, seconds spent and calls; bench/edge.py takes the
difference between two readings around each measured window.

Times are wall-clock seconds of the thread that runs the stage, exclusive of the other stages
nested in it (the crops inside a classification, say): a model that runs on two onnxruntime
threads costs more CPU than its wall time. "receive" is rclpy's take of a message from DDS
(into a Python message, or into bytes where the node subscribes serialized) on the executor's
thread, beside the worker thread that runs the rest; "frame" is the worker's whole frame, so
"frame" minus the worker's stages is what no stage names (the slot hand-over, logging, health
counters).
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from types import ModuleType

WRITE_PERIOD_S = 0.1
STAGES = ("receive", "conversion", "gray", "change gates", "full search",
          "ROI re-detection", "crops", "classification", "tracking", "publishing", "annotation")
"""Stages in the order of a frame; "frame" (the worker's whole frame) comes on top."""


class Stopwatch:
    """Exclusive wall time per stage and thread: a stage entered inside another pauses it."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, owner, name: str, stage: str, skip_inside: str | None = None) -> None:
        """Time ``owner.name`` (a module function or a class's method) as ``stage``; calls
        made while ``skip_inside`` is being timed in the same thread count to that stage."""
        original = getattr(owner, name, None)
        if original is None:
            return  # another checkout without this function: its stage stays at zero
        watch = self

        def timed(*args, **kwargs):
            stack = watch._stack()
            if skip_inside is not None and skip_inside in (s for s, _ in stack):
                return original(*args, **kwargs)
            start = time.perf_counter()
            stack.append([stage, 0.0])
            try:
                return original(*args, **kwargs)
            finally:
                _, nested = stack.pop()
                elapsed = time.perf_counter() - start
                if stack:
                    stack[-1][1] += elapsed
                with watch._lock:
                    watch.seconds[stage] += elapsed - nested
                    watch.calls[stage] += 1

        setattr(owner, name, timed)

    def _stack(self) -> list:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def snapshot(self) -> dict:
        with self._lock:
            return {"seconds": dict(self.seconds), "calls": dict(self.calls),
                    "time": time.monotonic()}


class GrayOnly:
    """perception/pipeline.py's ``cv2``, with its colour conversions timed as "gray"."""

    def __init__(self, cv2_module, watch: Stopwatch):
        self._cv2 = cv2_module
        watch.wrap(self, "cvtColor", "gray")

    def cvtColor(self, *args, **kwargs):  # noqa: N802 (cv2's name)
        return self._cv2.cvtColor(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._cv2, name)


def perception_module(name: str, before_subpackages: str) -> ModuleType:
    """A perception module by its path in this checkout, or by the flat name it had in a
    baseline checkout from before perception/ was grouped into subpackages."""
    try:
        return importlib.import_module(f"fer_ros.perception.{name}")
    except ImportError:
        return importlib.import_module(f"fer_ros.perception.{before_subpackages}")


def instrument(watch: Stopwatch) -> None:
    import rclpy.executors

    from fer_ros.nodes import emotion_node
    classification = perception_module("expressions.classification", "classification")
    pipeline = perception_module("pipeline", "pipeline")
    retinaface = perception_module("detection.retinaface", "retinaface")
    roi_redetection = perception_module("tracking.roi_redetection", "roi_redetection")
    scheduling = perception_module("tracking.scheduling", "scheduling")
    tracking = perception_module("tracking.tracks", "tracking")

    watch.wrap(rclpy.executors.Executor, "_take_subscription", "receive")
    watch.wrap(emotion_node.EmotionNode, "_process", "frame")
    watch.wrap(emotion_node, "image_to_bgr", "conversion")
    watch.wrap(emotion_node, "read_serialized_image", "conversion")
    watch.wrap(emotion_node, "compressed_image_to_bgr", "conversion")
    pipeline.cv2 = GrayOnly(pipeline.cv2, watch)
    try:
        search_schedule = perception_module("tracking.search_schedule", "search_schedule")
        watch.wrap(search_schedule.WholeFrameSearch, "due", "change gates")
        watch.wrap(search_schedule.WholeFrameSearch, "changed", "change gates")
        watch.wrap(search_schedule.WholeFrameSearch, "searched", "change gates")
        watch.wrap(search_schedule.WholeFrameSearch, "area", "change gates")
        unchanged_faces = perception_module("tracking.unchanged_faces", "unchanged_faces")
        watch.wrap(unchanged_faces.UnchangedFaces, "kept", "change gates")
        watch.wrap(unchanged_faces.UnchangedFaces, "found", "change gates")
    except ImportError:
        pass  # a checkout from before the search schedule
    try:
        camera_motion = perception_module("tracking.camera_motion", "camera_motion")
        # Measuring the camera's motion is part of what the gates cost.
        watch.wrap(camera_motion.CameraMotion, "update", "change gates")
    except ImportError:
        pass  # a checkout from before camera motion
    watch.wrap(retinaface.RetinaFaceDetector, "detect", "full search",
               skip_inside="ROI re-detection")
    watch.wrap(roi_redetection.RoiRedetector, "redetect", "ROI re-detection")
    watch.wrap(classification, "prepare_frame_faces", "crops")
    for name in ("associate", "smooth"):
        watch.wrap(tracking.FaceTracker, name, "tracking")
    for name in ("due", "record", "keep_only"):
        watch.wrap(scheduling.ClassificationSchedule, name, "tracking")
    watch.wrap(emotion_node, "to_emotion_array", "publishing")
    watch.wrap(emotion_node, "publish_guarded", "publishing")
    watch.wrap(emotion_node, "draw_annotations", "annotation")
    watch.wrap(emotion_node, "bgr_to_image", "annotation")
    # The classifier is built inside the pipeline: time whatever classifier it gets.
    original_init = pipeline.EmotionPipeline.__init__

    def init(self, detector, classifier, *args, **kwargs):
        original_init(self, detector, classifier, *args, **kwargs)
        if not getattr(classifier, "_stage_timed", False):
            watch.wrap(classifier, "classify", "classification")
            classifier._stage_timed = True

    pipeline.EmotionPipeline.__init__ = init


def keep_writing(watch: Stopwatch, path: Path) -> None:
    partial = path.with_suffix(".partial")
    while True:
        partial.write_text(json.dumps(watch.snapshot()))
        partial.replace(path)
        time.sleep(WRITE_PERIOD_S)


def main() -> None:
    watch = Stopwatch()
    instrument(watch)
    out = os.environ.get("FER_STAGES_OUT")
    if out:
        threading.Thread(target=keep_writing, args=(watch, Path(out)), daemon=True,
                         name="stage_writer").start()
    try:
        from fer_ros.nodes.process.entry_points import emotion_node
    except ImportError:  # a baseline checkout from before nodes/ was grouped
        from fer_ros.nodes.entry_points import emotion_node

    emotion_node()


if __name__ == "__main__":
    main()
