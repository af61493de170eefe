"""emotion_node with ``hri_topics``: the REP-155 face topics beside the EmotionArray.

A real emotion_node process (RetinaFace, the default ensemble) is fed frames of the astronaut by
a test peer over DDS; the peer reads /fer/emotions and the /humans/faces topics as any ROS4HRI
consumer would. Checked: tracked ids are the EmotionArray's faces of the same frame, through
nodes/hri/ids.py's mapping; each face's roi, cropped (128 x 128 by default), aligned and
expression carry the source image's stamp; the Expression's label is the EmotionArray's through
nodes/hri/expressions.py; faces coming and going leave the node with its steady set of
publishers (counted from the ROS graph) and no error line. bench/hri.py cycles 300 faces and
also watches RSS.
"""

from __future__ import annotations

import numpy as np
from hri_msgs.msg import Expression, IdsList, NormalizedRegionOfInterest2D
from lifecycle_msgs.msg import Transition
from sensor_msgs.msg import Image

from emotion_session import Session
from fer_ros.nodes.emotion_node import EmotionNode
from fer_ros.nodes.hri.expressions import TO_EXPRESSION
from frames import astronaut_frame, image_msg
from ros_harness import wait_until
from test_lifecycle import Lifecycle
from test_node_info import as_documented, documented

FACE_TOPICS = ("roi", "cropped", "aligned", "expression")


def node_publishers(peer, name: str = "emotion_node") -> set[str]:
    """The topics the node publishes, read from the ROS graph."""
    return {topic for topic, _ in peer.node.get_publisher_names_and_types_by_node(name, "/")}


def by_stamp(messages: list, stamp) -> list:
    return [m for m in messages if m.header.stamp == stamp]


def test_hri_topics_follow_the_emotion_array(ros_domain, ros_env, tmp_path):
    with Session(ros_domain, ros_env, tmp_path, "hri_topics:=true") as session:
        peer = session.peer
        tracked: list[IdsList] = peer.collect(IdsList, "/humans/faces/tracked")
        frame, _ = astronaut_frame()
        first = session.send(image_msg(frame, session.next_stamp()))
        assert first is not None and len(first.emotions) == 1, session.node.output
        assert wait_until(lambda: by_stamp(tracked, first.header.stamp), 5.0)
        (ids,) = by_stamp(tracked, first.header.stamp)
        assert len(ids.ids) == 1 and ids.ids[0].endswith(f"_{first.emotions[0].face_id}")
        face = ids.ids[0]
        got = {name: peer.collect(kind, f"/humans/faces/{face}/{name}") for name, kind in (
            ("roi", NormalizedRegionOfInterest2D), ("cropped", Image), ("aligned", Image),
            ("expression", Expression))}
        # The image publishers answer only while subscribed: wait for the match.
        assert wait_until(lambda: len(node_publishers(peer)) > 0 and all(
            peer.node.count_publishers(f"/humans/faces/{face}/{n}") == 1 for n in FACE_TOPICS),
            10.0)
        assert wait_until(lambda: peer.node.count_subscribers(
            f"/humans/faces/{face}/cropped") >= 1, 10.0)
        results = []
        for _ in range(8):
            result = session.send(image_msg(frame, session.next_stamp()))
            assert result is not None
            results.append(result)
        last = results[-1].header.stamp
        assert wait_until(lambda: all(by_stamp(got[n], last) for n in FACE_TOPICS), 10.0), \
            {n: len(v) for n, v in got.items()}
        for result in results:
            stamp = result.header.stamp
            (ids,) = by_stamp(tracked, stamp)
            assert ids.ids == [face] and ids.header.frame_id == result.header.frame_id
            (expression,) = by_stamp(got["expression"], stamp)
            emotion = result.emotions[0]
            assert expression.expression == TO_EXPRESSION[emotion.label]
            assert abs(expression.confidence - emotion.confidence) < 1e-6
            assert (expression.valence, expression.arousal) == (0.0, 0.0)
            (roi,) = by_stamp(got["roi"], stamp)
            width, height = frame.shape[1], frame.shape[0]
            assert np.allclose([roi.xmin * width, roi.ymin * height,
                                (roi.xmax - roi.xmin) * width, (roi.ymax - roi.ymin) * height],
                               [emotion.roi.x_offset, emotion.roi.y_offset, emotion.roi.width,
                                emotion.roi.height], atol=1.0)
            assert 0.0 < roi.c <= 1.0
        # With a face, the REP-155 publishers are the docstring's (test_node_info.py checks
        # the rest of the node's graph, where no face is shown).
        documented_faces = {n for n in documented(EmotionNode)["Publishers"] if "<id>" in n}
        shown = {as_documented(n, "/", "emotion_node") for n in node_publishers(peer)}
        assert {n for n in shown if "<id>" in n} == documented_faces
        for name in ("cropped", "aligned"):
            image = by_stamp(got[name], last)[0]
            assert (image.width, image.height, image.encoding) == (128, 128, "bgr8")
            pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(128, 128, 3)
            assert pixels.std() > 10  # a face, not a black square
        assert session.node.alive()
    assert "ERROR" not in session.node.output, session.node.output


def test_faces_coming_and_going_leave_the_steady_publishers(ros_domain, ros_env, tmp_path):
    """A face for one frame, then frames without it until its track ends; 20 times. Each time
    a new id, its publishers made and destroyed; afterwards the node publishes what it did
    before the first face."""
    with Session(ros_domain, ros_env, tmp_path, "hri_topics:=true",
                 "track_max_misses:=1", "empty_detection_interval:=1",
                 "detection_interval:=1") as session:
        peer = session.peer
        tracked: list[IdsList] = peer.collect(IdsList, "/humans/faces/tracked")
        steady = node_publishers(peer)
        assert "/humans/faces/tracked" in steady and not any(
            t.startswith("/humans/faces/f") for t in steady)
        frame, _ = astronaut_frame()
        blank = np.full_like(frame, 90)
        seen: list[str] = []
        for _ in range(20):
            result = session.send(image_msg(frame, session.next_stamp()))
            assert result is not None and len(result.emotions) == 1
            stamp = result.header.stamp
            assert wait_until(lambda s=stamp: by_stamp(tracked, s), 5.0)
            seen.extend(by_stamp(tracked, stamp)[0].ids)
            for _ in range(3):
                assert session.send(image_msg(blank, session.next_stamp())) is not None
        assert len(seen) == 20 and len(set(seen)) == 20, seen
        assert wait_until(lambda: node_publishers(peer) == steady, 10.0), \
            node_publishers(peer) - steady
    assert "ERROR" not in session.node.output, session.node.output


def test_deactivation_empties_tracked_and_takes_the_face_topics_with_it(ros_domain, ros_env,
                                                                         tmp_path):
    """Deactivate: an empty tracked list goes out (consumers drop their faces), every REP-155
    publisher goes; activate again: a new session, whose ids are not the old ones."""
    lifecycle = Lifecycle(ros_domain, ros_env, tmp_path, "hri_topics:=true")
    try:
        peer = lifecycle.peer
        tracked: list[IdsList] = peer.collect(IdsList, "/humans/faces/tracked")
        first = lifecycle.answers()
        assert first is not None and len(first.emotions) == 1
        assert wait_until(lambda: by_stamp(tracked, first.header.stamp), 5.0)
        old_id = by_stamp(tracked, first.header.stamp)[0].ids[0]
        assert lifecycle.change(Transition.TRANSITION_DEACTIVATE)
        assert wait_until(lambda: tracked[-1].ids == [], 5.0)
        assert wait_until(lambda: not any(t.startswith("/humans/")
                                          for t in node_publishers(peer)), 10.0), \
            node_publishers(peer)
        assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
        again = lifecycle.answers()
        assert again is not None and len(again.emotions) == 1
        assert wait_until(lambda: by_stamp(tracked, again.header.stamp), 5.0)
        new_id = by_stamp(tracked, again.header.stamp)[0].ids[0]
        assert new_id != old_id and new_id.split("_")[0] != old_id.split("_")[0]
    finally:
        code, output = lifecycle.close()
    assert code == 0 and "Traceback" not in output and "ERROR" not in output, output
