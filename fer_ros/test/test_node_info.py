"""Each node class's docstring lists what `ros2 node info` shows of the running node.

The docstrings are the reference a reader opens first; these tests start every node for real
(the node executables as processes, the nodes of `fer bringup` and `fer view` in this process)
and compare the topics and services the ROS graph reports with the ones the docstring names.
Nodes whose topics depend on a setting run once per setting: each run may show only topics the
docstring names, and together they show all of them. The Parameters section is generated from
the node's table, and checked here against it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import rclpy
from rclpy._rclpy_pybind11 import NodeNameNonExistentError
from rclpy.context import Context
from rclpy.node import Node

from fer_ros.nodes.bringup import Recorder
from fer_ros.nodes.camera_node import CameraNode
from fer_ros.nodes.emotion_node import EmotionNode
from fer_ros.nodes.hri.expression_parameters import PARAMETERS as HRI_EXPRESSION_PARAMETERS
from fer_ros.nodes.hri_expression_node import HriExpressionNode
from fer_ros.nodes.parameters.camera import SOURCE, parameter_specs
from fer_ros.nodes.parameters.emotion import PARAMETERS
from fer_ros.nodes.recording.mcap_recording import McapRecording, RecordingNode
from fer_ros.nodes.viewer_node import ViewerNode
from ros_harness import NodeProcess, executable, wait_until

SECTIONS = ("Subscribers", "Publishers", "Service Servers", "Parameters")
RCLPY_OWN_TOPICS = {"/rosout", "/parameter_events"}
RCLPY_OWN_SERVICES = ("describe_parameters", "get_parameter_types", "get_parameters",
                      "list_parameters", "set_parameters", "set_parameters_atomically",
                      "get_type_description")
START_TIMEOUT = 60.0


def documented(cls: type) -> dict[str, set[str]]:
    """The names under each section of ``cls``'s docstring (entries are ``name: ...`` lines
    indented one step below their section; deeper lines continue an entry)."""
    found: dict[str, set[str]] = {}
    section = None
    for line in (cls.__doc__ or "").splitlines():
        header = re.fullmatch(r" {4}([A-Z][A-Za-z ]+):", line)
        if header:
            section = header.group(1)
            found[section] = set()
            continue
        entry = re.match(r" {8}(\S+?):? ", line + " ")
        if section is not None and entry and entry.group(1) != "none":
            found[section].add(entry.group(1).rstrip(":"))
    assert set(found) == set(SECTIONS), f"{cls.__name__}'s docstring sections: {set(found)}"
    return found


PER_FACE = re.compile(r"^/humans/faces/[^/]+/")
"""REP-155's per-face topics, ``/humans/faces/<id>/...`` in the docstrings."""


def as_documented(name: str, namespace: str, node_name: str) -> str:
    """A graph name as a docstring writes it: ``~/x`` in the node's own namespace, ``x`` in
    its namespace, REP-155's face topics with ``<id>`` for the face id, else absolute."""
    if PER_FACE.match(name):
        return PER_FACE.sub("/humans/faces/<id>/", name)
    base = namespace.rstrip("/")
    if name.startswith(f"{base}/{node_name}/"):
        return "~/" + name.removeprefix(f"{base}/{node_name}/")
    if name.startswith(f"{base}/"):
        return name.removeprefix(f"{base}/")
    return name


def graph_of(peer: Node, node_name: str, namespace: str) -> dict[str, set[str]]:
    """What `ros2 node info` lists for a node, less rclpy's own topics and services; nothing
    while the node is not discovered yet."""
    try:
        subscribers = peer.get_subscriber_names_and_types_by_node(node_name, namespace)
        publishers = peer.get_publisher_names_and_types_by_node(node_name, namespace)
        services = peer.get_service_names_and_types_by_node(node_name, namespace)
    except NodeNameNonExistentError:
        subscribers = publishers = services = []
    return {
        "Subscribers": {name for name, _ in subscribers},
        "Publishers": {name for name, _ in publishers} - RCLPY_OWN_TOPICS,
        "Service Servers": {name for name, _ in services
                            if name.rsplit("/", 1)[-1] not in RCLPY_OWN_SERVICES},
    }


def check_runs(cls: type, node_name: str, runs: list[tuple[str, Callable[[], dict]]],
               faces_shown: bool = True) -> None:
    """Each run's graph shows only documented names; all runs together show every one (the
    per-face ``<id>`` topics only with ``faces_shown``: runs without a face have none;
    test_hri_emotion_node.py checks emotion_node's with a face)."""
    docs = documented(cls)
    if not faces_shown:
        docs = {section: {n for n in names if "<id>" not in n} for section, names in docs.items()}
    seen: dict[str, set[str]] = {section: set() for section in SECTIONS[:3]}
    for namespace, graph in runs:
        for section, names in graph().items():
            shown = {as_documented(name, namespace, node_name) for name in names}
            assert shown <= docs[section], (cls.__name__, namespace, section,
                                            shown - docs[section])
            seen[section] |= shown
    for section, names in seen.items():
        assert names == docs[section], (cls.__name__, section, docs[section] - names)


@pytest.fixture
def context(ros_domain: int) -> Iterator[Context]:
    """The test's own ROS context, on its private domain."""
    context = Context()
    rclpy.init(context=context, domain_id=ros_domain)
    yield context
    rclpy.try_shutdown(context=context)


@pytest.fixture
def peer(context: Context) -> Iterator[Node]:
    """A node that reads the graph; the nodes started in this process share its participant,
    so the graph shows them at once."""
    node = Node("node_info_peer", context=context)
    yield node
    node.destroy_node()


def settled(peer: Node, node_name: str, namespace: str, wanted: int) -> Callable[[], dict]:
    """A graph query that first waits until the node shows ``wanted`` names in all."""
    def query() -> dict:
        wait_until(lambda: sum(map(len, graph_of(peer, node_name, namespace).values()))
                   >= wanted, START_TIMEOUT, interval=0.2)
        return graph_of(peer, node_name, namespace)

    return query


def test_camera_and_emotion_node_show_what_their_docstrings_name(peer, ros_env, tmp_path):
    processes = [
        NodeProcess([*executable("camera_node"), "--ros-args", "-r", "__ns:=/cam", "-p",
                     "publish_compressed:=true"], ros_env, tmp_path / "camera.log"),
        NodeProcess([*executable("emotion_node"), "--ros-args", "-r", "__ns:=/raw", "-p",
                     "detector:=haar", "-p", "model:=mini_xception", "-p", "hri_topics:=true"],
                    ros_env, tmp_path / "raw.log"),
        NodeProcess([*executable("emotion_node"), "--ros-args", "-r", "__ns:=/compressed",
                     "-p", "detector:=haar", "-p", "model:=mini_xception", "-p",
                     "image_transport:=compressed"], ros_env, tmp_path / "compressed.log"),
    ]
    try:
        # camera: 4 publishers; emotion: 1 subscription, 5 publishers (6 with hri_topics),
        # 5 lifecycle services
        check_runs(CameraNode, "camera_node", [("/cam", settled(peer, "camera_node", "/cam", 4))])
        check_runs(EmotionNode, "emotion_node", [
            (namespace, settled(peer, "emotion_node", namespace, wanted))
            for namespace, wanted in (("/raw", 12), ("/compressed", 11))], faces_shown=False)
    finally:
        for process in processes:
            process.stop()


class WatchedBroadcast:
    """A Broadcast with a browser always watching, so the viewer subscribes to its image."""

    def clients(self, stream: str) -> int:
        return 1


def test_bringup_and_viewer_nodes_show_what_their_docstrings_name(peer, context, tmp_path):
    nodes: list[Node] = []
    try:
        runs = []
        for raw, namespace in ((False, "/viewer_jpeg"), (True, "/viewer_raw")):
            nodes.append(ViewerNode(WatchedBroadcast(), raw=raw, namespace=namespace,
                                    context=context))
            runs.append((namespace, settled(peer, "fer_viewer", namespace, 2)))
        check_runs(ViewerNode, "fer_viewer", runs)

        nodes.append(Recorder("/recorder", None, annotated=True, limit=None, context=context))
        check_runs(Recorder, "bringup_recorder",
                   [("/recorder", settled(peer, "bringup_recorder", "/recorder", 2))])

        runs = []
        for raw, namespace in ((False, "/recording_jpeg"), (True, "/recording_raw")):
            recording = McapRecording(Path(tmp_path / f"{raw}.mcap"))
            nodes.append(RecordingNode(recording, namespace, raw=raw, context=context))
            runs.append((namespace, settled(peer, "bringup_recording", namespace, 3)))
        check_runs(RecordingNode, "bringup_recording", runs)
    finally:
        for node in nodes:
            node.destroy_node()


@pytest.mark.parametrize(("cls", "table"), [
    (CameraNode, (SOURCE, *parameter_specs(loop_default=False))),
    (EmotionNode, PARAMETERS),
    (HriExpressionNode, HRI_EXPRESSION_PARAMETERS),
    (ViewerNode, ()),
    (Recorder, ()),
    (RecordingNode, ()),
])
def test_the_docstrings_parameters_are_the_nodes_table(cls: type, table: tuple):
    assert documented(cls)["Parameters"] == {spec.name for spec in table}


def test_a_node_started_here_declares_the_documented_parameters(context: Context):
    node = CameraNode(context=context, on_finished=lambda: None)
    declared = set(node._parameters) - {"use_sim_time", "start_type_description_service"}
    node.close()
    node.destroy_node()
    assert declared == documented(CameraNode)["Parameters"]
