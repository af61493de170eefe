"""The node executables' entry points: take SIGINT and SIGTERM first, then import the node.

Importing a node module loads rclpy, OpenCV and LiteRT, which takes a second or more on a busy
robot; a signal in that time would otherwise end in a KeyboardInterrupt traceback (Python's
default) or wait for the start-up to finish. Until the node spins, a signal ends the start-up
at once (StopRequest's ``immediate``).
"""

from __future__ import annotations

import sys

from fer_ros.nodes.stop_request import StopRequest


def emotion_node() -> int:
    stop = StopRequest(immediate=True)
    from fer_ros.nodes import emotion_node as node

    return node.main(stop=stop)


def camera_node() -> int:
    stop = StopRequest(immediate=True)
    from fer_ros.nodes import camera_node as node

    return node.main(stop=stop)


if __name__ == "__main__":
    sys.exit(emotion_node())
