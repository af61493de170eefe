"""The emotion node: camera images in, fer_msgs/EmotionArray and an annotated image out.

The annotated image goes out raw on ``image_annotated`` and as JPEG on
``image_annotated/compressed``, image_transport's name for it, so rqt_image_view's compressed
transport, web video servers and `fer view` find it; each is drawn and encoded only while that
topic has subscribers.

A managed (lifecycle) node. configure loads the models and creates the publishers, activate
subscribes to ``image_raw`` (or ``image_raw/compressed``) with SensorDataQoS (or reliable, with
``input_reliability``) and lets results out, deactivate unsubscribes and holds them back,
cleanup releases the models. With
``autostart`` (the default) the node configures and activates itself at start, so `ros2 run`,
`fer bringup` and the launch files need no lifecycle manager; ``autostart:=false`` leaves the
transitions to one (nav2_lifecycle_manager, `ros2 lifecycle set`, a launch file's events).

The subscription callback only drops the message into a one-slot mailbox; a worker thread takes
the newest frame, runs the pipeline and publishes. So the executor never blocks on inference,
stale frames are dropped instead of queued, and memory stays bounded however fast the camera is.
The callback also reads the gaps in the camera's stamps (nodes/diagnostics/frame_loss.py): frames
lost on the way are reported on /diagnostics and in a throttled warning that says what to change.

With ``hri_topics`` the node also speaks ROS4HRI (REP-155): /humans/faces/tracked and each
face's roi, cropped, aligned and expression (nodes/hri/face_topics.py, docs/hri.md), from
activation to deactivation.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from fer_msgs.msg import Emotion, EmotionArray
from geometry_msgs.msg import Point32
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest
from std_msgs.msg import Header

from fer_ros.nodes.diagnostics.emotion_health import TASK, EmotionHealth
from fer_ros.nodes.diagnostics.frame_loss import DRIVER_REMEDIES, StampGaps
from fer_ros.nodes.diagnostics.stats_log import StatsLog
from fer_ros.nodes.diagnostics.updater import DiagnosticsPublisher
from fer_ros.nodes.hri.face_images import clipped_box
from fer_ros.nodes.hri.face_topics import FaceTopics
from fer_ros.nodes.latest_frame import Delivery, LatestFrame
from fer_ros.nodes.messages.decoder_output import (
    decoder_output_to,
    keep_python_stderr_apart,
)
from fer_ros.nodes.messages.emotion_records import stamp_ns
from fer_ros.nodes.messages.image_conversion import ImageConversionError
from fer_ros.nodes.messages.image_messages import (
    bgr_to_compressed_image,
    bgr_to_image,
    compressed_image_to_bgr,
    image_to_bgr,
)
from fer_ros.nodes.messages.publishing import publish_guarded
from fer_ros.nodes.messages.serialized_image import read_serialized_image, serialized_stamp_ns
from fer_ros.nodes.model_swap import PipelineSwap
from fer_ros.nodes.parameters.emotion import PARAMETERS
from fer_ros.nodes.parameters.reference import with_parameters
from fer_ros.nodes.parameters.table import (
    ParameterTable,
    accept,
    refuse,
    warn_unknown_overrides,
)
from fer_ros.nodes.process.dds_profile import EMOTION_NODE_PROFILE
from fer_ros.nodes.process.duplicate_names import warn_about_namesakes
from fer_ros.nodes.process.node_runner import node_main
from fer_ros.nodes.process.stop_request import StopRequest, stop_behind
from fer_ros.perception.annotation import FaceAnnotation, draw_annotations
from fer_ros.perception.model_files import ModelFileMissing, ModelLoadError
from fer_ros.perception.pipeline import FaceResult, PipelineConfig

PIPELINE_KEYS = frozenset(PipelineConfig.__dataclass_fields__)
NEWEST_FRAME_QOS = QoSProfile(
    history=qos_profile_sensor_data.history, depth=1,
    reliability=qos_profile_sensor_data.reliability,
    durability=qos_profile_sensor_data.durability)
"""SensorDataQoS (best effort: a late frame is worth nothing) with a history of one frame
instead of five. The node only ever wants the newest frame: with five, an executor that falls
behind is handed the oldest waiting frame first, and converts each stale one into a Python
message (a 6 MB copy at 1920x1080) only for the mailbox to drop it."""
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


@with_parameters(PARAMETERS)
class EmotionNode(LifecycleNode):
    """emotion_node: faces and their expressions in every frame it has time for.

    As `ros2 node info` lists it once active; relative names resolve in the node's namespace,
    rclpy's own parameter services and /rosout, /parameter_events left out.

    Subscribers:
        image_raw: sensor_msgs/msg/Image, best effort (input_reliability), keep last 1, taken
            serialized; while active, with image_transport raw
        image_raw/compressed: sensor_msgs/msg/CompressedImage, best effort
            (input_reliability), keep last 1; while active, with image_transport compressed
    Publishers:
        emotions: fer_msgs/msg/EmotionArray, reliable, keep last 10; once configured
        image_annotated: sensor_msgs/msg/Image, reliable, keep last 1; once configured, drawn
            only while it has subscribers
        image_annotated/compressed: sensor_msgs/msg/CompressedImage, reliable, keep last 1;
            once configured, encoded only while it has subscribers
        /diagnostics: diagnostic_msgs/msg/DiagnosticArray, reliable, keep last 10
        /humans/faces/tracked: hri_msgs/msg/IdsList, reliable, keep last 10; while active, with
            hri_topics (REP-155's names are absolute)
        /humans/faces/<id>/roi: hri_msgs/msg/NormalizedRegionOfInterest2D, reliable, keep last
            10; per tracked face (<id>: nodes/hri/ids.py), while active, with hri_topics
        /humans/faces/<id>/cropped: sensor_msgs/msg/Image, reliable, keep last 1; as roi, made
            only while it has subscribers
        /humans/faces/<id>/aligned: sensor_msgs/msg/Image, reliable, keep last 1; as cropped
        /humans/faces/<id>/expression: hri_msgs/msg/Expression, reliable, keep last 10; as roi
        ~/transition_event: lifecycle_msgs/msg/TransitionEvent (rclpy's lifecycle)
    Service Servers:
        ~/change_state: lifecycle_msgs/srv/ChangeState
        ~/get_state: lifecycle_msgs/srv/GetState
        ~/get_available_states: lifecycle_msgs/srv/GetAvailableStates
        ~/get_available_transitions: lifecycle_msgs/srv/GetAvailableTransitions
        ~/get_transition_graph: lifecycle_msgs/srv/GetAvailableTransitions
    """

    def __init__(self, **kwargs: Any):
        keep_python_stderr_apart()
        super().__init__("emotion_node", **kwargs)
        self._params = ParameterTable(self, PARAMETERS)
        warn_unknown_overrides(self)
        self._pipelines: PipelineSwap | None = None
        """The pipeline while configured; it swaps a new model in between two frames."""
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.lifecycle_state = "unconfigured"
        self.counts = {"input": 0, "received": 0, "processed": 0, "bad_input": 0, "errors": 0,
                       "publish_errors": 0, "lost": 0, "overwritten": 0, "annotated": 0,
                       "annotated_compressed": 0}
        self._gaps = StampGaps()
        self._last_sequence: tuple[Any, int | None] = (None, None)
        self._emotions_pub = self._annotated_pub = self._compressed_pub = None
        self._subscription = None
        self._hri: FaceTopics | None = None
        """The REP-155 publishers while active with ``hri_topics``."""
        self._active = False
        self._frame_lock = threading.Lock()
        """Held while a frame is processed, so deactivation waits for it to be published."""
        self._slot: LatestFrame[Image | CompressedImage] = LatestFrame()
        self._input_topic = self.resolve_topic_name("image_raw")
        if self._params.values["image_transport"] == "compressed":
            self._input_topic += "/compressed"
        self._health = EmotionHealth(self._input_topic)
        self._configure_error: Exception | None = None

        StatsLog(self, self._params.values["stats_period"], lambda: self.counts["processed"],
                 self._stats_totals)
        self._diagnostics = DiagnosticsPublisher(self, hardware_id="none")
        self._diagnostics.add(TASK, self._check_health)
        self._worker = threading.Thread(target=self._work, name="fer_worker", daemon=True)
        self._worker.start()
        warn_about_namesakes(self)
        if self._params.values["autostart"]:
            self._start()
        else:
            self.get_logger().info("unconfigured: waiting for a lifecycle manager "
                                   "(autostart is false)")

    def _start(self) -> None:
        """configure and activate, as a lifecycle manager would; a model that cannot load
        raises its error, so the executable refuses to start with the reason."""
        if self.trigger_configure() != SUCCESS:
            self.close()
            self.destroy_node()
            raise self._configure_error or RuntimeError("configure failed")
        self.trigger_activate()

    @staticmethod
    def _pipeline_config(values: dict[str, Any]) -> PipelineConfig:
        return PipelineConfig(**{k: v for k, v in values.items() if k in PIPELINE_KEYS})

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._pipelines = PipelineSwap(self._pipeline_config(self._params.values),
                                           self.get_logger().info, self._model_failed)
        except Exception as exc:  # rclpy would swallow it without a word: say why, stay put
            stop = stop_behind(exc)
            if stop is not None:  # a signal abandoned the start-up, not a model error
                raise stop from None
            self._configure_error = exc
            self.get_logger().error(f"configure failed: {exc}")
            return FAILURE
        self._emotions_pub = self.create_lifecycle_publisher(EmotionArray, "emotions", 10)
        annotated_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self._annotated_pub = self.create_lifecycle_publisher(
            Image, "image_annotated", annotated_qos)
        self._compressed_pub = self.create_lifecycle_publisher(
            CompressedImage, "image_annotated/compressed", annotated_qos)
        self.lifecycle_state = "inactive"
        pipeline = self._pipelines.pipeline
        self.get_logger().info(f"configured: detector {pipeline.detector.name}, model "
                               f"{pipeline.classifier.path.name}")
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        qos = NEWEST_FRAME_QOS
        if self._params.values["input_reliability"] == "reliable":
            qos = QoSProfile(history=qos.history, depth=qos.depth, durability=qos.durability,
                             reliability=ReliabilityPolicy.RELIABLE)
        self._gaps = StampGaps()
        self._last_sequence: tuple[Any, int | None] = (None, None)
        if self._params.values["image_transport"] == "compressed":
            self._subscription = self.create_subscription(
                CompressedImage, self._input_topic, self._on_image, qos)
        else:
            # Serialized: only the frames processed have their fields read, none is converted
            # into a Python message (nodes/messages/serialized_image.py).
            self._subscription = self.create_subscription(
                Image, "image_raw", self._on_image, qos, raw=True)
        self._health.restart(self._totals())
        if self._params.values["hri_topics"]:
            self._hri = FaceTopics(self, self._params.values["humans.faces.width"],
                                   self._params.values["humans.faces.height"], self.counts)
        self._active = True
        self.lifecycle_state = "active"
        pipeline = self._pipelines.pipeline
        self.get_logger().info(
            f"ready: detector {pipeline.detector.name}, model {pipeline.classifier.path.name}, "
            f"subscribed to {self._input_topic} ({self._params.values['image_transport']})")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self.lifecycle_state = "inactive"
        self.get_logger().info("inactive: unsubscribed, models kept")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.lifecycle_state = "unconfigured"
        self.get_logger().info("unconfigured: models released")
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self._release()
        self.lifecycle_state = "finalized"
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """After a transition raised: back to unconfigured, with nothing held."""
        self.get_logger().error(f"a transition from {state.label} failed; releasing the models")
        self._stop_processing()
        self._release()
        self.lifecycle_state = "unconfigured"
        return SUCCESS

    def _stop_processing(self) -> None:
        """Unsubscribe, drop a waiting frame and wait for the one in progress to finish."""
        if self._subscription is not None:
            self.destroy_subscription(self._subscription)
            self._subscription = None
        with self._frame_lock:
            self._active = False
            self._slot.take(timeout=0.0)
            if self._hri is not None:
                self._hri.close(Header(stamp=self.get_clock().now().to_msg()))
                self._hri = None

    def _release(self) -> None:
        for publisher in (self._emotions_pub, self._annotated_pub, self._compressed_pub):
            if publisher is not None:
                self.destroy_lifecycle_publisher(publisher)
        self._emotions_pub = self._annotated_pub = self._compressed_pub = None
        if self._pipelines is not None:
            self._pipelines.pipeline.close()
        self._pipelines = None

    def _on_set_parameters(self, parameters: list[Parameter]):
        proposed, reason = self._params.check(parameters)
        if reason is not None:
            return refuse(reason)
        pipelines = self._pipelines
        if pipelines is not None:
            reason = pipelines.reconfigure(self._pipeline_config(proposed))
            if reason is not None:
                return refuse(reason)
        self._params.values = proposed
        return accept()

    def _model_failed(self, value: str, reason: str, running: str) -> None:
        """A model that passed the checks but failed to load: say so, keep the running one and
        put the parameter back to it, so that `ros2 param get` tells the truth."""
        self.get_logger().error(f"model {value!r} not loaded: {reason}; keeping {running!r}")
        self.set_parameters([Parameter("model", value=running)])

    def _on_image(self, msg: bytes | CompressedImage, info: Any) -> None:
        """``info`` is rclpy's MessageInfo (rclpy passes it to a callback of two required
        parameters): its ``received_timestamp`` (when DDS received the frame, on the system
        clock) tells how long the frame waited for this callback."""
        self.counts["input"] += 1
        if isinstance(msg, CompressedImage):
            stamp = stamp_ns(msg.header.stamp)
        else:
            try:
                stamp = serialized_stamp_ns(msg)
            except ImageConversionError:
                stamp = None  # counted as bad input when the frame is processed
        if stamp is not None:
            info = info or {}
            received = info.get("received_timestamp") or 0
            waited = max(time.time_ns() - received, 0) if received else 0
            self.counts["lost"] += self._gaps.add(stamp, waited, self._sent_between(info))
            self.counts["overwritten"] = self._gaps.overwritten
        self._slot.put(msg)

    def _sent_between(self, info: dict) -> int | None:
        """Frames the publisher sent between this one and the last that arrived, from its
        sequence numbers; None where they are not given or the publisher changed."""
        sequence = info.get("publication_sequence_number")
        publisher = (info.get("publisher_gid") or {}).get("data")
        last, self._last_sequence = self._last_sequence, (publisher, sequence)
        if sequence is None or publisher is None or last[0] != publisher or last[1] is None \
                or sequence <= last[1]:
            return None
        return sequence - last[1] - 1

    def _work(self) -> None:
        while not self._slot.closed and self.context.ok():
            delivery = self._slot.take(timeout=0.1)
            if delivery is None:
                continue
            with self._frame_lock:
                if not self._active:
                    continue
                self.counts["received"] += 1
                try:
                    self._process(delivery)
                except Exception as exc:  # a bug must not silence the node: log, keep serving
                    if not self.context.ok():
                        return  # Ctrl-C shut ROS down under this frame: nothing is wrong
                    self.counts["errors"] += 1
                    self.get_logger().error(f"frame processing failed: {exc!r}",
                                            throttle_duration_sec=5.0)

    def _process(self, delivery: Delivery[bytes | CompressedImage]) -> None:
        msg = delivery.item
        try:
            if isinstance(msg, CompressedImage):
                with decoder_output_to(self._decoder_said):
                    bgr = compressed_image_to_bgr(msg, self._params.values["max_image_pixels"])
            else:
                msg = read_serialized_image(msg)
                bgr = image_to_bgr(msg)
        except ImageConversionError as exc:
            self.counts["bad_input"] += 1
            self.get_logger().warning(
                f"skipping bad frame: {exc} ({self.counts['bad_input']} skipped so far)",
                throttle_duration_sec=5.0)
            return
        pipeline, faces = self._pipelines.process(bgr)
        result = to_emotion_array(msg.header, pipeline.labels, faces, bgr.shape[1], bgr.shape[0])
        publish_guarded(self, self._emotions_pub, result, self.counts)
        if self._hri is not None:
            self._hri.publish(msg.header, bgr, faces, pipeline.tracker.live_boxes())
        self.counts["processed"] += 1
        self._health.frame_done(time.monotonic() - delivery.received, len(faces))
        if self._params.values["publish_annotated"]:
            self._publish_annotated(bgr, faces, msg.header)

    def _publish_annotated(self, bgr, faces: list[FaceResult], header) -> None:
        """Draw once for whichever of the raw and compressed topics has subscribers."""
        raw = self._annotated_pub.get_subscription_count() > 0
        compressed = self._compressed_pub.get_subscription_count() > 0
        if not (raw or compressed):
            return
        annotations = [FaceAnnotation(f.box, f.face_id, f.label, f.confidence) for f in faces]
        image = draw_annotations(bgr.copy(), annotations,
                                 draw_emoji=self._params.values["draw_emoji"])
        if raw:
            publish_guarded(self, self._annotated_pub, bgr_to_image(image, header), self.counts)
            self.counts["annotated"] += 1
        if compressed:
            publish_guarded(self, self._compressed_pub, bgr_to_compressed_image(
                image, header, self._params.values["jpeg_quality"]), self.counts)
            self.counts["annotated_compressed"] += 1

    def _totals(self) -> dict[str, int]:
        return {**self.counts, "dropped": self._slot.dropped}

    def _decoder_said(self, line: str) -> None:
        self.get_logger().warning(f"decoder: {line}", throttle_duration_sec=5.0)

    def _check_health(self):
        pipelines = self._pipelines
        pipeline = pipelines.pipeline if pipelines is not None else None
        model = pipeline.classifier.path.name if pipeline else "none (not configured)"
        detector = pipeline.detector.name if pipeline else self._params.values["detector"]
        checked = self._health.check(self.lifecycle_state, self._totals(), model, detector)
        if self._health.transport_loss is not None:
            lost, sent = self._health.transport_loss
            self.get_logger().warning(
                f"{lost} of the last {sent} camera frames on {self._input_topic} were lost in "
                "DDS transport (sent, never received: DDS settings, or a sender short of CPU); "
                f"remedies: {DRIVER_REMEDIES}",
                throttle_duration_sec=30.0)
        if self._health.busy_loss is not None:
            replaced, sent = self._health.busy_loss
            self.get_logger().warning(
                f"{replaced} of the last {sent} camera frames on {self._input_topic} were "
                "replaced by newer ones before this node took them: its process is short of "
                "CPU, not a transport loss (docs/dds.md)", throttle_duration_sec=30.0)
        return checked

    def _stats_totals(self) -> list[tuple[int, str]]:
        return [(self.counts["received"], "taken"), (self._slot.dropped, "stale dropped"),
                (self.counts["bad_input"], "bad"), (self.counts["errors"], "failed"),
                (self.counts["publish_errors"], "publish errors")]

    def close(self) -> None:
        """Stop the worker before the node goes away, so no publish races destruction."""
        self._slot.close()
        self._worker.join(timeout=1.5)


def to_emotion_array(header, labels: tuple[str, ...], faces: list[FaceResult],
                     width: int, height: int) -> EmotionArray:
    """The message for one frame, under the source image's header (its stamp and frame_id).

    Boxes are clipped to the image: RegionOfInterest is unsigned and must lie inside it.
    """
    msg = EmotionArray(header=header, labels=list(labels))
    for face in faces:
        left, top, w, h = clipped_box(face.box, width, height)
        msg.emotions.append(Emotion(
            face_id=face.face_id,
            roi=RegionOfInterest(x_offset=left, y_offset=top, width=w, height=h,
                                 do_rectify=False),
            detection_score=float(face.detection_score),
            label=face.label,
            confidence=float(face.confidence),
            scores=face.scores.astype(float).tolist(),
            landmarks=[Point32(x=x, y=y, z=0.0) for x, y in face.landmarks],
        ))
    return msg


def main(args: list[str] | None = None, stop: StopRequest | None = None) -> int:
    return node_main("emotion_node", EmotionNode, (ModelLoadError, ModelFileMissing), args,
                     stop, dds_profile=EMOTION_NODE_PROFILE)


if __name__ == "__main__":
    sys.exit(main())
