"""A warning when another node with this node's name runs in the same namespace and domain.

ROS 2 starts both without a word, but they then share one name for everything: `ros2 param set`
reaches either one, each parameter service answers twice, lifecycle managers drive the wrong
node, and their logs mix under one logger. Discovery takes a moment, so the graph is looked at
a few times after start-up; one warning is enough.
"""

from __future__ import annotations

from rclpy.node import Node

CHECK_PERIOD_S = 2.0
CHECKS = 5
"""Checks after start-up (every CHECK_PERIOD_S): discovery on a busy machine takes seconds."""


def warn_about_namesakes(node: Node) -> None:
    """Look for namesakes of ``node`` a few times and log one warning if one is found."""
    remaining = [CHECKS]

    def check() -> None:
        remaining[0] -= 1
        name, namespace = node.get_name(), node.get_namespace()
        same = sum(1 for n, ns in node.get_node_names_and_namespaces()
                   if n == name and ns == namespace)
        if same > 1:
            full = namespace.rstrip("/") + "/" + name
            node.get_logger().warning(
                f"{same} nodes named {full} run in this ROS domain: parameter calls, "
                "services and logs reach either one; give each its own name "
                "(--ros-args -r __node:=<name>) or namespace (-r __ns:=/<ns>)")
        if same > 1 or remaining[0] <= 0:
            timer.cancel()
            node.destroy_timer(timer)

    timer = node.create_timer(CHECK_PERIOD_S, check)
