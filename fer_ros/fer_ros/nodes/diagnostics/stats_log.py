"""The statistics line a node logs every ``stats_period`` seconds: its frame rate since the last
line and its running totals, for whoever reads the log rather than /diagnostics."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rclpy.node import Node


class StatsLog:
    """Logs ``frames/s; totals: ...`` on a timer of ``node``, never when ``period`` is 0."""

    def __init__(self, node: Node, period: float, frames: Callable[[], int],
                 totals: Callable[[], Sequence[tuple[int, str]]]):
        """``frames`` reads the counter whose rate is logged; ``totals`` the rest of the line,
        as (count, what it counts) pairs."""
        self._node = node
        self._frames = frames
        self._totals = totals
        self._last = (time.monotonic(), 0)
        if period > 0:
            node.create_timer(period, self.log)

    def log(self) -> None:
        now, frames = time.monotonic(), self._frames()
        then, before = self._last
        self._last = (now, frames)
        fps = (frames - before) / max(now - then, 1e-6)
        totals = ", ".join(f"{count} {what}" for count, what in self._totals())
        self._node.get_logger().info(f"{fps:.1f} frames/s; totals: {totals}")
