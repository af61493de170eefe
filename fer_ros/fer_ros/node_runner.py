"""Spin nodes until Ctrl-C or SIGTERM and take them down in order: the nodes' own threads
first, then the nodes, then the executor, so no worker publishes into a destroyed node."""

from __future__ import annotations

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def close_nodes(executor: Executor, nodes: list[Node]) -> None:
    for node in nodes:
        close = getattr(node, "close", None)
        if close is not None:
            close()
        node.destroy_node()
    executor.shutdown(timeout_sec=0.5)


def run_nodes(nodes: list[Node]) -> None:
    """Spin on one executor until rclpy's signal handlers shut the context down."""
    executor = SingleThreadedExecutor()
    for node in nodes:
        executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # rclpy can fail to take a message whose subscription the shutdown is destroying;
        # that is the shutdown, not an error. Anything while ROS is still up is a real bug.
        if executor.context.ok():
            raise
    finally:
        close_nodes(executor, nodes)
        rclpy.try_shutdown()
