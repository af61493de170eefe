"""emotion_node's REP-155 output: ``/humans/faces/tracked`` and each face's topics.

REP-155 names its topics absolutely (``/humans/faces/...``): every consumer (libhri/pyhri,
hri_rviz, an engagement node) looks for them there, whatever namespace the detector runs in; the
node's namespace does not apply, remapping does (``-r /humans/faces/tracked:=...``).

Per face (see nodes/hri/ids.py for the id): ``roi`` (NormalizedRegionOfInterest2D, ``c`` the
detection score), ``cropped`` and ``aligned`` (bgr8 Images, nodes/hri/face_images.py; made only
while subscribed, as they cost a resize each), ``expression`` (Expression). Every message carries
the source image's header. A face's publishers are made when its track starts and destroyed when
it ends (the tracker forgets it), so faces coming and going all day leave the node with the
publishers it started with. ``tracked`` lists the faces of each processed frame, the same faces
as that frame's EmotionArray.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from hri_msgs.msg import Expression, IdsList, NormalizedRegionOfInterest2D
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from fer_ros.nodes.hri.expressions import expression_message
from fer_ros.nodes.hri.face_images import aligned_face, cropped_face, normalized_box
from fer_ros.nodes.hri.ids import FaceIds
from fer_ros.nodes.messages.image_messages import bgr_to_image
from fer_ros.nodes.messages.publishing import publish_guarded
from fer_ros.perception.pipeline import FaceResult

TRACKED_TOPIC = "/humans/faces/tracked"
FACES_NAMESPACE = "/humans/faces"
RESULTS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
"""tracked, roi, expression: reliable, so every frame's result reaches each subscriber (as
``emotions``); a reliable publisher also matches best-effort subscribers."""
IMAGES_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
"""cropped, aligned: the newest image only, as image_annotated."""
CLOSE_ACK_S = 0.5


class _FacePublishers:
    """One face's four publishers."""

    def __init__(self, node: Node, face_id: str):
        namespace = f"{FACES_NAMESPACE}/{face_id}"
        self.roi = node.create_publisher(NormalizedRegionOfInterest2D, f"{namespace}/roi",
                                         RESULTS_QOS)
        self.cropped = node.create_publisher(Image, f"{namespace}/cropped", IMAGES_QOS)
        self.aligned = node.create_publisher(Image, f"{namespace}/aligned", IMAGES_QOS)
        self.expression = node.create_publisher(Expression, f"{namespace}/expression",
                                                RESULTS_QOS)

    def all(self):
        return self.roi, self.cropped, self.aligned, self.expression


class FaceTopics:
    """The REP-155 publishers of one configured session of emotion_node."""

    def __init__(self, node: Node, width: int, height: int, counts: dict[str, int]):
        self._node = node
        self._size = width, height
        self._counts = counts
        self._ids = FaceIds()
        self._faces: dict[int, _FacePublishers] = {}
        self._tracked = node.create_publisher(IdsList, TRACKED_TOPIC, RESULTS_QOS)

    def publish(self, header: Header, bgr: np.ndarray, faces: list[FaceResult],
                live: Iterable[int]) -> None:
        """One frame's faces; ``live`` are the face ids the tracker still follows (this
        frame's and those it may find again): the others' publishers go."""
        self._forget_all_but(set(live) | {face.face_id for face in faces})
        publish_guarded(self._node, self._tracked, IdsList(
            header=header, ids=[self._ids.of(face.face_id) for face in faces]), self._counts)
        height, width = bgr.shape[:2]
        for face in faces:
            topics = self._faces.get(face.face_id)
            if topics is None:
                topics = self._faces[face.face_id] = _FacePublishers(
                    self._node, self._ids.of(face.face_id))
            xmin, ymin, xmax, ymax = normalized_box(face.box, width, height)
            publish_guarded(self._node, topics.roi, NormalizedRegionOfInterest2D(
                header=header, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax,
                c=min(max(float(face.detection_score), 0.0), 1.0)), self._counts)
            if topics.cropped.get_subscription_count() > 0:
                publish_guarded(self._node, topics.cropped, bgr_to_image(
                    cropped_face(bgr, face.box, *self._size), header), self._counts)
            if topics.aligned.get_subscription_count() > 0:
                publish_guarded(self._node, topics.aligned, bgr_to_image(
                    aligned_face(bgr, face.box, face.landmarks, *self._size), header),
                    self._counts)
            publish_guarded(self._node, topics.expression,
                            expression_message(header, face.label, face.confidence),
                            self._counts)

    def _forget_all_but(self, keep: set[int]) -> None:
        for face_id in [f for f in self._faces if f not in keep]:
            for publisher in self._faces.pop(face_id).all():
                self._node.destroy_publisher(publisher)

    def close(self, header: Header) -> None:
        """No face tracked any more (an empty ``tracked``, so consumers drop their faces), and
        every publisher gone. The empty list is waited for (up to CLOSE_ACK_S): a reliable
        writer destroyed at once may take its last message with it."""
        self._forget_all_but(set())
        if publish_guarded(self._node, self._tracked, IdsList(header=header, ids=[]),
                           self._counts):
            self._tracked.wait_for_all_acked(Duration(seconds=CLOSE_ACK_S))
        self._node.destroy_publisher(self._tracked)
