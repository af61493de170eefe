"""The node executables' entry points: take SIGINT and SIGTERM first, import the node, and
leave the process at once when it is done.

Importing a node module loads rclpy, OpenCV and LiteRT, which takes a second or more on a busy
robot; a signal in that time would otherwise end in a KeyboardInterrupt traceback (Python's
default) or wait for the start-up to finish. Until the node spins, a signal ends the start-up
at once (StopRequest's ``immediate``).

At the end, once the nodes are closed and ROS is shut down, the process releases what it holds
(DDS entities, models, devices: a garbage collection) and exits without the interpreter's
module teardown. Under load that teardown takes much of the time a node has to exit after a
signal, and it runs C++ static destructors, which abort ("terminate called without an active
exception") if a thread is still inside native code, such as a read blocked in a device.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from fer_ros.nodes.process.stop_request import StopRequest


def emotion_node() -> NoReturn:
    def load() -> Callable[..., int]:
        from fer_ros.nodes import emotion_node

        return emotion_node.main

    _run(load)


def camera_node() -> NoReturn:
    def load() -> Callable[..., int]:
        from fer_ros.nodes import camera_node

        return camera_node.main

    _run(load)


def hri_expression_node() -> NoReturn:
    def load() -> Callable[..., int]:
        from fer_ros.nodes import hri_expression_node

        return hri_expression_node.main

    _run(load)


def _run(load_main: Callable[[], Callable[..., int]]) -> NoReturn:
    """Take the signals, then import the node (``load_main``) and run its main."""
    stop = StopRequest(immediate=True)
    try:
        code = load_main()(stop=stop)
    except SystemExit as exc:  # a signal during start-up (StopRequest.immediate)
        code = exc.code if isinstance(exc.code, int) else 0
    exit_now(code)


def exit_now(code: int) -> NoReturn:
    """Release ROS's context (its DDS participant, once no node uses it), collect what the
    nodes held, flush, and end the process with ``code``."""
    rclpy = sys.modules.get("rclpy")
    if rclpy is not None and hasattr(rclpy, "try_shutdown"):  # absent if stopped while importing
        rclpy.try_shutdown(uninstall_handlers=False)
        rclpy.get_default_context().destroy()
    gc.collect()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
