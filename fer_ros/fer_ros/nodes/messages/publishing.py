"""Publishing that never takes a node down.

Under saturation ``publish()`` sometimes raises ``RCLError: cannot publish data``; an uncaught
one kills the node, so both nodes publish through here: a failure is counted and logged
(throttled) and the next frame goes out as usual. A failure because Ctrl-C shut the context
down between frames is expected and not logged.
"""

from __future__ import annotations

from rclpy.node import Node
from rclpy.publisher import Publisher


def publish_guarded(node: Node, publisher: Publisher, msg, counts: dict[str, int]) -> bool:
    """Publish ``msg``; on failure add one to ``counts['publish_errors']`` and return False."""
    try:
        publisher.publish(msg)
        return True
    except Exception as exc:  # rclpy raises its private RCLError; any failure is handled alike
        if not node.context.ok():
            return False
        counts["publish_errors"] += 1
        node.get_logger().warning(
            f"publish on {publisher.topic_name} failed: {exc} "
            f"({counts['publish_errors']} so far)", throttle_duration_sec=5.0)
        return False
