"""Spin nodes until Ctrl-C or SIGTERM and take them down in order: the nodes' own threads
first, then the nodes, then the executor, so no worker publishes into a destroyed node.

The signals are taken here, not by rclpy. rclpy's handler wakes the executor and then shuts the
context down; an executor that wakes between the two sees a valid context and waits again with
no timeout, and the node hangs until some timer fires (or forever). It also shuts the context
down under a node still being constructed. Here a signal only sets a flag; the executor spins
with a bounded timeout and looks at the flag between spins, whenever the signal came: during
construction, while spinning, or again while closing (``ros2 launch`` without a terminal signals
each node a second time), where it is ignored.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from fer_ros.nodes.process.dds_profile import PROFILE, use_bundled_dds_profile
from fer_ros.nodes.process.domain_id import domain_id_error
from fer_ros.nodes.process.stop_request import StopRequest
from fer_ros.perception.limits.files import FileRefused, read_bounded

SPIN_PERIOD_S = 0.1
"""Longest the executor waits before it looks at the stop flag again."""
MAX_PARAMS_FILE_BYTES = 1 << 20
"""A node's parameter file is a few kilobytes; a larger one is refused before it is read."""
RCL_ERROR = rclpy_implementation.RCLError
"""What rcl raises for ROS arguments it cannot use, a malformed --params-file among them."""


def rcl_error_line(exc: BaseException) -> str:
    """rcl's message on one line, without its C source locations (", at parse.c:776")."""
    text = " ".join(str(exc).split())
    return re.sub(r",? at [^\s,]+\.c:\d+", "", text).strip() or type(exc).__name__


def close_nodes(executor: Executor, nodes: list[Node]) -> None:
    for node in nodes:
        close = getattr(node, "close", None)
        if close is not None:
            close()
        node.destroy_node()
    executor.shutdown(timeout_sec=0.5)


def spin_until(executor: Executor, stop: StopRequest) -> None:
    """Spin until ``stop`` is set or the context is shut down (a camera at the end of its file)."""
    try:
        while not stop.is_set() and executor.context.ok():
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except ExternalShutdownException:
        pass
    except Exception:
        # rclpy can fail to take a message whose subscription the shutdown is destroying;
        # that is the shutdown, not an error. Anything while ROS is still up is a real bug.
        if executor.context.ok():
            raise


def run_nodes(nodes: list[Node], stop: StopRequest) -> None:
    """Spin on one executor until ``stop`` is set or the context shuts down, then close."""
    executor = SingleThreadedExecutor()
    for node in nodes:
        executor.add_node(node)
    try:
        spin_until(executor, stop)
    finally:
        close_nodes(executor, nodes)
        rclpy.try_shutdown(uninstall_handlers=False)


def params_file_error(args: list[str]) -> str | None:
    """Why a ``--params-file`` among ``args`` is unusable, on one line, or None.

    rcl refuses a malformed file too, but with a Python traceback through rclpy.init and a C
    source location; PyYAML says where in the file the problem is."""
    import yaml

    for flag, path in zip(args, args[1:]):
        if flag != "--params-file":
            continue
        try:
            data = yaml.safe_load(read_bounded(path, MAX_PARAMS_FILE_BYTES, "parameter file"))
        except FileRefused as exc:
            return str(exc)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            return f"{path}: not valid YAML{at}: {problem}"
        if not isinstance(data, dict):
            return f"{path}: a parameter file maps node names to ros__parameters"
    return None


def node_main(name: str, make_node: Callable[[], Node],
              startup_errors: tuple[type[Exception], ...], args: list[str] | None,
              stop: StopRequest | None = None, dds_profile: Path = PROFILE) -> int:
    """A node executable's main: one clear line and status 1 when it cannot start, never a
    traceback; otherwise spin, and return the node's ``exit_code`` (0 unless it sets one).

    ``stop`` is the request the entry point installed before its imports; a signal that came
    during the imports or the node's construction makes the node close right after it."""
    stop = stop or StopRequest()
    reason = domain_id_error() or params_file_error(sys.argv if args is None else args)
    if reason is not None:
        print(f"{name}: cannot start: {reason}", file=sys.stderr)
        return 1
    use_bundled_dds_profile(dds_profile)
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except RCL_ERROR as exc:
        print(f"{name}: cannot start: {rcl_error_line(exc)}", file=sys.stderr)
        return 1
    try:
        node = make_node()
    except RCL_ERROR as exc:
        print(f"{name}: cannot start: {rcl_error_line(exc)}", file=sys.stderr)
        rclpy.try_shutdown(uninstall_handlers=False)
        return 1
    except (*startup_errors, ValueError, ParameterException) as exc:
        print(f"{name}: cannot start: {exc}", file=sys.stderr)
        rclpy.try_shutdown(uninstall_handlers=False)
        return 1
    stop.immediate = False
    run_nodes([node], stop)
    stop.ignore_from_now()
    return getattr(node, "exit_code", 0)

