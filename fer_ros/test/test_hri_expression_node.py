"""hri_expression_node as a ROS4HRI robot runs it: fed by a REP-155 face detector.

The test peer plays the detector: /humans/faces/tracked with eight ids, and each id's 128 x 128
``cropped`` image (a face of face-api's photos, its box fitted into 128 x 128 as REP-155
detectors crop) under the frame's header, at 30 Hz. Checked: every id is answered on
/humans/faces/<id>/expression with the stamps of its crops, the expression is what the same
model reads from the same crop in this process, ids that leave take their topics with them, the
graph shows what the node's docstring names, and bad input (odd encodings, empty and huge
crops, ids that cannot name a topic, ids without crops) is skipped with warnings while the
node keeps answering. bench/hri.py measures how much of each frame is answered within the
frame's period.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from hri_msgs.msg import Expression, IdsList
from sensor_msgs.msg import Image

from face_photos import all_faces, needs_photos, photo
from fer_ros.nodes.hri.expressions import TO_EXPRESSION
from fer_ros.nodes.hri.face_images import cropped_face
from fer_ros.nodes.hri.ids import is_valid_id
from fer_ros.nodes.hri_expression_node import MAX_FACES, HriExpressionNode
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.crop_classification import classify_crops
from frames import header, image_msg
from ros_harness import NodeProcess, RosPeer, executable, wait_until
from test_node_info import check_runs, settled

pytestmark = needs_photos

START_TIMEOUT = 60.0
FACES = 8
PERIOD_S = 1 / 30


def detector_crops(count: int = FACES) -> list[np.ndarray]:
    """The first ``count`` faces of the photos, each as a REP-155 detector's 128 x 128 crop."""
    return [cropped_face(photo(name), box, 128, 128) for name, box in all_faces()[:count]]


class Detector:
    """The test peer as a REP-155 detector: tracked ids and their crops."""

    def __init__(self, peer: RosPeer):
        self.peer = peer
        self.tracked = peer.publisher(IdsList, "/humans/faces/tracked")
        self.crops: dict[str, object] = {}
        self.answers: dict[str, list[Expression]] = {}

    def track(self, ids: list[str], stamp: int, topic: str = "cropped") -> None:
        for face_id in ids:
            if face_id not in self.crops and is_valid_id(face_id):
                self.crops[face_id] = self.peer.publisher(
                    Image, f"/humans/faces/{face_id}/{topic}", depth=1)
                self.answers[face_id] = self.peer.collect(
                    Expression, f"/humans/faces/{face_id}/expression")
        self.tracked.publish(IdsList(header=header(stamp), ids=ids))

    def send(self, face_id: str, msg: Image) -> None:
        self.crops[face_id].publish(msg)

    def connected(self, ids: list[str]) -> bool:
        return all(self.crops[f].get_subscription_count() > 0 and
                   self.peer.node.count_publishers(f"/humans/faces/{f}/expression") > 0
                   for f in ids)


@pytest.fixture
def node(ros_env, tmp_path):
    """In a namespace: REP-155's topics are absolute and must stay where consumers look."""
    process = NodeProcess([*executable("hri_expression_node"), "--ros-args", "-r",
                           "__ns:=/robot", "-p", "smoothing:=none", "-p",
                           "stats_period:=1.0"], ros_env,
                          tmp_path / "hri_expression.log")
    yield process
    code, _ = process.stop()
    assert code == 0, process.output
    assert "Traceback" not in process.output and "ERROR" not in process.output, process.output


@pytest.fixture
def detector(ros_domain):
    peer = RosPeer(ros_domain)
    yield Detector(peer)
    peer.close()


def test_eight_faces_at_30_hz_each_answered_with_its_crops_stamps(node, detector):
    crops = detector_crops()
    ids = [f"face{i}" for i in range(FACES)]
    stamp = 1_700_000_000_000_000_000
    assert wait_until(lambda: (detector.track(ids, stamp), detector.connected(ids))[1],
                      START_TIMEOUT, interval=0.5), node.output
    sent: list[int] = []
    for _ in range(60):
        stamp += 33_333_333
        detector.track(ids, stamp)
        for face_id, crop in zip(ids, crops):
            detector.send(face_id, image_msg(crop, stamp))
        sent.append(stamp)
        time.sleep(PERIOD_S)
    last = sent[-1]
    assert wait_until(lambda: all(
        any(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec == last for m in answers)
        for answers in detector.answers.values()), 10.0), node.output

    # What the same models read from the same crops here, without smoothing.
    classifier = load_classifier(None)
    expected = classify_crops(classifier, crops)
    for face_id, row in zip(ids, expected):
        answers = detector.answers[face_id]
        stamps = {m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in answers}
        assert stamps <= set(sent)
        label = classifier.metadata.labels[int(np.argmax(row))]
        assert {m.expression for m in answers} == {TO_EXPRESSION[label]}
        assert all(abs(m.confidence - row.max()) < 1e-3 for m in answers)
        assert all((m.valence, m.arousal) == (0.0, 0.0) for m in answers)
        assert answers[-1].header.frame_id == "test_camera"


def test_graph_is_the_docstring_and_ids_that_leave_take_their_topics(node, detector, ros_env,
                                                                     tmp_path):
    aligned = NodeProcess([*executable("hri_expression_node"), "--ros-args", "-r",
                           "__ns:=/aligned", "-p", "face_image:=aligned"], ros_env,
                          tmp_path / "aligned.log")
    crop = detector_crops(1)[0]
    stamp = 1_700_000_000_000_000_000
    try:
        assert wait_until(lambda: (detector.track(["fa"], stamp), detector.connected(["fa"])
                                   and detector.peer.node.count_subscribers(
                                       "/humans/faces/fa/aligned") > 0)[1],
                          START_TIMEOUT, interval=0.5), node.output + aligned.output

        # Each node: tracked and the face's image in, the face's expression out.
        check_runs(HriExpressionNode, "hri_expression_node", [
            (namespace, settled(detector.peer.node, "hri_expression_node", namespace, 3))
            for namespace in ("/robot", "/aligned")])
    finally:
        aligned.stop()
    detector.send("fa", image_msg(crop, stamp))
    assert wait_until(lambda: detector.answers["fa"], 10.0), node.output
    detector.track(["fb"], stamp + 1)
    assert wait_until(lambda: detector.peer.node.count_publishers(
        "/humans/faces/fa/expression") == 0 and detector.peer.node.count_subscribers(
        "/humans/faces/fa/cropped") == 0, 10.0)


def test_bad_input_is_skipped_and_the_node_keeps_answering(node, detector):
    crop = detector_crops(1)[0]
    stamp = 1_700_000_000_000_000_000
    ids = ["good", "odd", "empty", "huge", "silent"]
    assert wait_until(lambda: (detector.track(ids + ["not valid/id"], stamp),
                               detector.connected(ids))[1], START_TIMEOUT, interval=0.5)
    odd = image_msg(crop, stamp)
    odd.encoding = "yuv422_weird"
    empty = Image(header=header(stamp), encoding="bgr8", height=0, width=0, step=0)
    huge = Image(header=header(stamp), encoding="mono8", height=2048, width=2048, step=2048,
                 data=bytes(2048 * 2048))
    detector.send("odd", odd)
    detector.send("empty", empty)
    detector.send("huge", huge)
    assert node.wait_for_output("skipping the crop of face odd", 10.0), node.output
    assert node.wait_for_output("no cropped image for", 10.0), node.output
    detector.track(ids, stamp + 1)
    detector.send("good", image_msg(crop, stamp + 1))
    assert wait_until(lambda: detector.answers["good"], 10.0), node.output
    for face_id in ("odd", "empty", "huge", "silent"):
        assert not detector.answers[face_id]
    output = node.output
    assert "skipping id 'not valid/id'" in output
    # One warning per 5 s (throttled); the statistics line counts every crop skipped.
    assert node.wait_for_output("3 bad crops", 5.0), node.output
    assert node.alive()


def test_a_detector_listing_a_thousand_ids_is_served_for_the_first_64(node, detector):
    """A faulty detector listing 1000 ids: the node subscribes to the first MAX_FACES only,
    warns once (throttled), and keeps answering the faces it serves."""
    crop = detector_crops(1)[0]
    stamp = 1_700_000_000_000_000_000
    ids = [f"f{i}" for i in range(1000)]
    assert wait_until(lambda: (detector.track([ids[0]], stamp), detector.connected([ids[0]]))[1],
                      START_TIMEOUT, interval=0.5)
    graph = detector.peer.node
    last_served = f"/humans/faces/{ids[MAX_FACES - 1]}/cropped"
    assert wait_until(lambda: (detector.tracked.publish(IdsList(header=header(stamp), ids=ids)),
                               graph.count_subscribers(last_served) == 1)[1], 20.0, interval=0.5)
    assert node.wait_for_output(f"1000 ids on /humans/faces/tracked: serving the first "
                                f"{MAX_FACES}", 10.0), node.output
    for beyond in (ids[MAX_FACES], ids[100], ids[-1]):
        assert graph.count_subscribers(f"/humans/faces/{beyond}/cropped") == 0
    detector.send(ids[0], image_msg(crop, stamp + 1))
    assert wait_until(lambda: detector.answers[ids[0]], 10.0), node.output
    warnings = [line for line in node.output.splitlines() if "1000 ids on" in line]
    assert len(warnings) == 1, warnings
    assert node.alive()
