"""Node health on ``/diagnostics``, the way diagnostic_updater reports it.

diagnostic_updater (ros/diagnostics) is not on PyPI, so this is the small part of it that the
nodes need: named tasks, each returning a level, a summary and key/value pairs, published
together once a second as one ``diagnostic_msgs/DiagnosticArray`` on the absolute topic
``/diagnostics``, where diagnostic_aggregator, rqt_robot_monitor and `ros2 topic echo` look.
Status names follow diagnostic_updater's ``"<node name>: <task>"``; when several conditions
hold, the highest level wins and the summaries are joined with ``"; "`` (its ``mergeSummary``).

The publisher is a plain one, not a lifecycle publisher: a managed node reports its health, and
that it is inactive, in every lifecycle state.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from fer_ros.nodes.messages.publishing import publish_guarded

TOPIC = "/diagnostics"
PERIOD = 1.0
"""Seconds between reports: diagnostic_updater's default rate of 1 Hz."""
OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR", DiagnosticStatus.STALE: "STALE"}


@dataclass
class Report:
    """One task's status: the worst condition found, every summary, and the figures."""

    values: dict[str, str] = field(default_factory=dict)
    level: bytes = OK
    messages: list[str] = field(default_factory=list)

    def flag(self, level: bytes, message: str) -> None:
        """Add a condition; the report's level is the highest of all conditions."""
        if ord(level) > ord(self.level):
            self.level = level
        self.messages.append(message)

    def summary(self, fallback: str) -> str:
        return "; ".join(self.messages) if self.messages else fallback


@dataclass(frozen=True)
class Interval:
    """What cumulative counters did between two reports."""

    seconds: float
    deltas: Mapping[str, int]
    idle: Mapping[str, float]
    """Seconds since each counter last grew (or since counting started, if it never did)."""

    def rate(self, key: str) -> float:
        return self.deltas[key] / self.seconds if self.seconds > 0 else 0.0


class CounterWatch:
    """Turns a node's running totals into per-interval counts, rates and idle times.

    A counter's idle time is only known to the resolution of the report period: enough for
    thresholds of seconds, and it costs the frame path nothing.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._totals: dict[str, int] = {}
        self._time = clock()
        self._grew: dict[str, float] = {}
        self._origin = self._time

    def restart(self, totals: Mapping[str, int]) -> None:
        """Count idle time from now: a node that just became active has not been idle."""
        self._time = self._origin = self._clock()
        self._totals = dict(totals)
        self._grew = {}

    def update(self, totals: Mapping[str, int]) -> Interval:
        now = self._clock()
        deltas = {key: value - self._totals.get(key, 0) for key, value in totals.items()}
        for key, delta in deltas.items():
            if delta > 0:
                self._grew[key] = now
        interval = Interval(now - self._time, deltas,
                            {key: now - self._grew.get(key, self._origin) for key in totals})
        self._time, self._totals = now, dict(totals)
        return interval


class LatencyWindow:
    """Latencies of the frames since the last report, filled by a worker thread."""

    def __init__(self, capacity: int = 4096):
        self._lock = threading.Lock()
        self._samples: deque[float] = deque(maxlen=capacity)

    def add(self, seconds: float) -> None:
        with self._lock:
            self._samples.append(seconds)

    def take_percentiles(self, *quantiles: float) -> list[float] | None:
        """The given percentiles (0..100) in seconds, or None without a frame; empties it."""
        with self._lock:
            samples, self._samples = list(self._samples), deque(maxlen=self._samples.maxlen)
        if not samples:
            return None
        return [float(v) for v in np.percentile(samples, quantiles)]


def milliseconds(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{1000 * seconds:.1f}"


class DiagnosticsPublisher:
    """Publishes every task's status once a period on ``/diagnostics`` (diagnostic_updater's
    ``Updater``). A task that raises is reported as ERROR instead of stopping the others."""

    def __init__(self, node: Node, hardware_id: str, period: float = PERIOD):
        self._node = node
        self.hardware_id = hardware_id
        self._tasks: list[tuple[str, Callable[[], tuple[Report, str]]]] = []
        self._publisher = node.create_publisher(
            DiagnosticArray, TOPIC, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self._counts = {"publish_errors": 0}
        node.create_timer(period, self.publish)

    def add(self, task: str, check: Callable[[], tuple[Report, str]]) -> None:
        """``check`` returns the report and the summary to show when nothing is flagged."""
        self._tasks.append((task, check))

    def publish(self) -> None:
        array = DiagnosticArray()
        array.header.stamp = self._node.get_clock().now().to_msg()
        for task, check in self._tasks:
            try:
                report, fallback = check()
                level, message = report.level, report.summary(fallback)
                values = report.values
            except Exception as exc:  # a broken check must not hide the other tasks
                level, message, values = ERROR, f"diagnostic check failed: {exc!r}", {}
            array.status.append(DiagnosticStatus(
                level=level, name=f"{self._node.get_name()}: {task}", message=message,
                hardware_id=self.hardware_id,
                values=[KeyValue(key=key, value=value) for key, value in values.items()]))
        publish_guarded(self._node, self._publisher, array, self._counts)
