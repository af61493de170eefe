"""Spin nodes until Ctrl-C or SIGTERM and take them down in order: the nodes' own threads
first, then the nodes, then the executor, so no worker publishes into a destroyed node."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from fer_ros.nodes.dds_profile import use_bundled_dds_profile


def close_nodes(executor: Executor, nodes: list[Node]) -> None:
    for node in nodes:
        close = getattr(node, "close", None)
        if close is not None:
            close()
        node.destroy_node()
    executor.shutdown(timeout_sec=0.5)


def ignore_further_stop_signals() -> None:
    """Let the orderly close finish once it has begun.

    A terminal's Ctrl-C reaches the whole process group, and `ros2 launch` then forwards a
    second SIGINT to every node (so does `timeout -s INT`): Python would raise that one as a
    KeyboardInterrupt in the middle of closing. The close is bounded (about 2 s), and launch
    still sends SIGKILL should it ever hang.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


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
        ignore_further_stop_signals()
        close_nodes(executor, nodes)
        rclpy.try_shutdown()


def node_main(name: str, make_node: Callable[[], Node],
              startup_errors: tuple[type[Exception], ...], args: list[str] | None) -> int:
    """A node executable's main: one clear line and status 1 when it cannot start, never a
    traceback; otherwise spin, and return the node's ``exit_code`` (0 unless it sets one)."""
    use_bundled_dds_profile()
    rclpy.init(args=args)
    try:
        node = make_node()
    except (*startup_errors, ValueError, ParameterException) as exc:
        print(f"{name}: cannot start: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 1
    run_nodes([node])
    return getattr(node, "exit_code", 0)
