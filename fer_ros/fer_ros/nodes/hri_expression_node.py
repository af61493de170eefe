"""hri_expression_node: fer_ros's expression models for any ROS4HRI (REP-155) face detector.

It reads /humans/faces/tracked and, for every listed id, that face's ``cropped`` image (or
``aligned``, with ``face_image``), classifies the faces with the models, smoothing and batching
emotion_node uses, and publishes /humans/faces/<id>/expression under the crop's header. So a
ROS4HRI robot swaps hri_emotion_recognizer for fer_ros's models without touching its detector
(docs/hri.md).

Crops go into a mailbox, the newest per face; a worker thread takes a frame's crops together (once
every tracked face has sent one, or BATCH_WAIT_S after the first) and classifies them in one batched
call per model (perception/expressions/crop_classification.py), so the executor never waits on
inference and a slow CPU skips stale crops instead of queueing them. As in emotion_node, a face is
classified at least every ``classification_interval`` of its crops and new faces at once
(perception/tracking/scheduling.py); in between its last scores answer, so every crop gets its
expression. Each face's label is smoothed over its classifications (``smoothing``, as emotion_node's
tracks) until its id leaves /humans/faces/tracked; then its subscription, publisher and state go.

Bad input is skipped with a throttled warning naming it, and the node keeps serving: crops that
cannot be read (empty, an odd encoding, a size that does not match its data), crops larger than
MAX_CROP_PIXELS, ids that cannot name a topic, ids beyond the first MAX_FACES, tracked ids that
send no crop, crops of ids no longer tracked.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import numpy as np
from hri_msgs.msg import Expression, IdsList
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from fer_ros.nodes.diagnostics.stats_log import StatsLog
from fer_ros.nodes.hri.expression_parameters import PARAMETERS
from fer_ros.nodes.hri.expressions import expression_message
from fer_ros.nodes.hri.face_images import fit
from fer_ros.nodes.hri.face_topics import FACES_NAMESPACE, RESULTS_QOS, TRACKED_TOPIC
from fer_ros.nodes.hri.ids import is_valid_id
from fer_ros.nodes.messages.image_conversion import ImageConversionError
from fer_ros.nodes.messages.image_messages import image_to_bgr
from fer_ros.nodes.messages.publishing import publish_guarded
from fer_ros.nodes.parameters.reference import with_parameters
from fer_ros.nodes.parameters.table import ParameterTable, warn_unknown_overrides
from fer_ros.nodes.process.node_runner import node_main
from fer_ros.nodes.process.stop_request import StopRequest
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.crop_classification import classify_crops
from fer_ros.perception.model_files import ModelFileMissing, ModelLoadError
from fer_ros.perception.tracking.scheduling import ClassificationSchedule
from fer_ros.perception.tracking.tracks import SmoothedScores

MAX_CROP_PIXELS = 1024 * 1024
"""Largest crop accepted (width x height, from the message's fields before any conversion):
REP-155 crops are 128 x 128; a larger one is a fault, and converting it would cost the time
of every other face."""
CROP_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
"""The newest crop only; best effort matches reliable and best-effort detectors alike."""
NO_CROP_WARNING_S = 3.0
"""A tracked id without a crop for this long is reported (throttled)."""
WARN_EVERY_S = 5.0
MAX_FACES = 64
"""Most ids served at once (the first listed): each costs a subscription and a publisher, and a
faulty detector listing thousands must not exhaust the node."""
BATCH_WAIT_S = 0.010
"""Longest the worker waits, after a frame's first crop, for the other tracked faces' crops
(a detector publishes them one after another): one model call per frame, not one per face."""


class _Face:
    """What the node holds for one tracked id."""

    def __init__(self, node: Node, face_id: str, image: str, on_crop, scores: SmoothedScores):
        namespace = f"{FACES_NAMESPACE}/{face_id}"
        self.subscription = node.create_subscription(
            Image, f"{namespace}/{image}", lambda msg: on_crop(face_id, msg), CROP_QOS)
        self.publisher = node.create_publisher(Expression, f"{namespace}/expression",
                                               RESULTS_QOS)
        self.scores = scores
        self.smoothed: np.ndarray | None = None
        self.since = time.monotonic()
        """When it was listed, or last sent a crop."""


@with_parameters(PARAMETERS)
class HriExpressionNode(Node):
    """hri_expression_node: an expression for every face a REP-155 detector tracks.

    As `ros2 node info` lists it with one face tracked (``<id>`` stands for each id on
    /humans/faces/tracked); REP-155's names are absolute. rclpy's own parameter services and
    /rosout, /parameter_events left out.

    Subscribers:
        /humans/faces/tracked: hri_msgs/msg/IdsList, reliable, keep last 10
        /humans/faces/<id>/cropped: sensor_msgs/msg/Image, best effort, keep last 1; per
            tracked id, with face_image cropped
        /humans/faces/<id>/aligned: sensor_msgs/msg/Image, best effort, keep last 1; per
            tracked id, with face_image aligned
    Publishers:
        /humans/faces/<id>/expression: hri_msgs/msg/Expression, reliable, keep last 10; per
            tracked id
    Service Servers:
        none
    """

    def __init__(self, **kwargs: Any):
        super().__init__("hri_expression_node", **kwargs)
        self._params = ParameterTable(self, PARAMETERS)
        warn_unknown_overrides(self)
        values = self._params.values
        self._size = values["humans.faces.width"], values["humans.faces.height"]
        self._classifier = load_classifier(values["model"] or None,
                                           num_threads=values["classifier_threads"])
        self._labels = self._classifier.metadata.labels
        self.counts = {"crops": 0, "answered": 0, "classified": 0, "bad_crops": 0,
                       "untracked_crops": 0, "bad_ids": 0, "publish_errors": 0}
        self._faces: dict[str, _Face] = {}
        self._lock = threading.Condition()
        """Guards ``_faces`` and ``_waiting`` between the executor and the worker."""
        self._waiting: dict[str, Image] = {}
        """The newest crop of each face that the worker has not taken yet."""
        self._closed = False
        self._schedule = ClassificationSchedule(values["classification_interval"])
        """Used by the worker only; its faces are kept to the tracked ones there."""
        self._frame = 0
        self._tracked = self.create_subscription(IdsList, TRACKED_TOPIC, self._on_tracked,
                                                 RESULTS_QOS)
        self.create_timer(1.0, self._check_missing_crops)
        StatsLog(self, values["stats_period"], lambda: self.counts["answered"],
                 lambda: [(self.counts[k], k.replace("_", " ")) for k in self.counts])
        self._worker = threading.Thread(target=self._work, name="hri_expression_worker",
                                        daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"ready: model {self._classifier.path.name}, reading /humans/faces/<id>/"
            f"{values['face_image']} of the ids on {TRACKED_TOPIC}")

    def _on_tracked(self, msg: IdsList) -> None:
        listed = []
        for face_id in msg.ids:
            if is_valid_id(face_id):
                listed.append(face_id)
            else:
                self.counts["bad_ids"] += 1
                self.get_logger().warning(
                    f"skipping id {face_id!r} on {TRACKED_TOPIC}: a REP-155 id is a letter "
                    "then letters, digits and single underscores (it names a topic)",
                    throttle_duration_sec=WARN_EVERY_S)
        if len(listed) > MAX_FACES:
            self.get_logger().warning(
                f"{len(listed)} ids on {TRACKED_TOPIC}: serving the first {MAX_FACES}",
                throttle_duration_sec=WARN_EVERY_S)
            listed = listed[:MAX_FACES]
        with self._lock:
            for face_id in [f for f in self._faces if f not in listed]:
                self._forget(face_id)
            for face_id in listed:
                if face_id not in self._faces:
                    values = self._params.values
                    self._faces[face_id] = _Face(
                        self, face_id, values["face_image"], self._on_crop,
                        SmoothedScores(values["smoothing"], values["smoothing_alpha"],
                                       values["smoothing_window"]))

    def _forget(self, face_id: str) -> None:
        face = self._faces.pop(face_id)
        self._waiting.pop(face_id, None)
        self.destroy_subscription(face.subscription)
        self.destroy_publisher(face.publisher)

    def _on_crop(self, face_id: str, msg: Image) -> None:
        self.counts["crops"] += 1
        with self._lock:
            face = self._faces.get(face_id)
            if face is None:
                self.counts["untracked_crops"] += 1
                self.get_logger().warning(
                    f"skipping a crop of face {face_id}: not on {TRACKED_TOPIC} any more",
                    throttle_duration_sec=WARN_EVERY_S)
                return
            face.since = time.monotonic()
            self._waiting[face_id] = msg
            self._lock.notify()

    def _check_missing_crops(self) -> None:
        now = time.monotonic()
        with self._lock:
            silent = [f for f, face in self._faces.items() if now - face.since > NO_CROP_WARNING_S]
            image = self._params.values["face_image"]
        if silent:
            self.get_logger().warning(
                f"no {image} image for {len(silent)} tracked face(s) in {NO_CROP_WARNING_S:g} s "
                f"(e.g. {FACES_NAMESPACE}/{silent[0]}/{image}): does the detector publish "
                "them? (face_image chooses cropped or aligned)",
                throttle_duration_sec=WARN_EVERY_S)

    def _work(self) -> None:
        while self.context.ok():
            with self._lock:
                while not self._waiting and not self._closed:
                    self._lock.wait(timeout=0.1)
                deadline = time.monotonic() + BATCH_WAIT_S
                while (not self._closed and len(self._waiting) < len(self._faces)
                       and time.monotonic() < deadline):
                    self._lock.wait(timeout=max(0.0, deadline - time.monotonic()))
                if self._closed:
                    return
                taken, self._waiting = self._waiting, {}
                tracked = list(self._faces)
            try:
                self._schedule.keep_only(tracked)
                self._classify(taken)
            except Exception as exc:  # a bug must not silence the node: log, keep serving
                if not self.context.ok():
                    return
                self.get_logger().error(f"classification failed: {exc!r}",
                                        throttle_duration_sec=WARN_EVERY_S)

    def _readable(self, face_id: str, msg: Image) -> np.ndarray | None:
        """The crop as BGR at the configured size, or None (and a warning) if unusable."""
        try:
            if msg.width * msg.height > MAX_CROP_PIXELS:
                raise ImageConversionError(
                    f"{msg.width}x{msg.height} is more than the {MAX_CROP_PIXELS} pixels a "
                    "face crop may have")
            bgr = image_to_bgr(msg)
            if bgr.size == 0:
                raise ImageConversionError("empty image")
        except ImageConversionError as exc:
            self.counts["bad_crops"] += 1
            self.get_logger().warning(
                f"skipping the crop of face {face_id}: {exc} ({self.counts['bad_crops']} "
                "skipped so far)", throttle_duration_sec=WARN_EVERY_S)
            return None
        width, height = self._size
        return bgr if bgr.shape[:2] == (height, width) else fit(bgr, width, height)

    def _classify(self, taken: dict[str, Image]) -> None:
        """One frame's crops: the faces due classified in one call, every face answered."""
        ids, headers, crops = [], [], []
        for face_id, msg in taken.items():
            bgr = self._readable(face_id, msg)
            if bgr is not None:
                ids.append(face_id)
                headers.append(msg.header)
                crops.append(bgr)
        if not crops:
            return
        self._frame += 1
        due = self._schedule.due(self._frame, ids)
        chosen = [i for i, now in enumerate(due) if now]
        if chosen:
            self._schedule.record(self._frame, [ids[i] for i in chosen], classify_crops(
                self._classifier, [crops[i] for i in chosen]))
            self.counts["classified"] += len(chosen)
        with self._lock:
            for face_id, header, fresh in zip(ids, headers, due):
                face = self._faces.get(face_id)
                if face is None:
                    continue  # its track ended while it was classified
                if fresh or face.smoothed is None:
                    face.smoothed = face.scores.add(self._schedule.scores(face_id))
                best = int(np.argmax(face.smoothed))
                publish_guarded(self, face.publisher, expression_message(
                    header, self._labels[best], float(face.smoothed[best])), self.counts)
            self.counts["answered"] += len(ids)

    def close(self) -> None:
        """Stop the worker before the node goes away, so no publish races destruction."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._worker.join(timeout=2.0)


def main(args: list[str] | None = None, stop: StopRequest | None = None) -> int:
    return node_main("hri_expression_node", HriExpressionNode,
                     (ModelLoadError, ModelFileMissing), args, stop)


if __name__ == "__main__":
    sys.exit(main())
