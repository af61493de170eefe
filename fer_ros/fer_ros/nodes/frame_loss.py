"""Frames lost between the camera and this node, read from the gaps in the camera's stamps.

A camera stamps its frames at a steady period, so a frame lost on the way (a best-effort
transport dropping a fragment, a full socket buffer) leaves a gap of whole periods between two
stamps that did arrive. Nothing else tells a subscriber: DDS does not report best-effort
samples it never completed. Frames the node itself drops while busy (the one-slot mailbox) are
counted there, after this, and are not losses of the transport.

The period is a low percentile of the recent intervals, not their median: with half the frames
lost, most intervals are two periods or more, and only the shortest ones are one period. When
almost every frame is lost even the shortest interval spans several periods, so the count is a
lower bound. A pause longer than ``MAX_GAP_PERIODS`` periods (a camera stopped and started, a
bag looped, a stamp jumping back) is a restart, not a loss: counting starts again.
"""

from __future__ import annotations

from collections import deque

import numpy as np

WINDOW = 60
"""Intervals kept to estimate the period: two seconds of a 30 Hz camera."""
MIN_INTERVALS = 10
"""Intervals needed before gaps are judged: a period guessed from fewer is a guess."""
PERIOD_PERCENTILE = 10
MAX_GAP_PERIODS = 30
"""A longer gap is a restart of the stream: one second of a 30 Hz camera."""
GAP_PERIODS = 1.5
"""An interval this many periods long or more holds a lost frame; shorter ones are jitter."""
DRIVER_REMEDIES = (
    "subscribe with image_transport:=compressed (JPEG frames fit DDS's defaults), run the camera "
    "driver with fer_ros's DDS profile (FASTDDS_DEFAULT_PROFILES_FILE=<fer_ros>/nodes/dds/"
    "fastdds_large_images.xml: a shared-memory segment that holds whole frames), or make the "
    "camera publish reliable and set input_reliability:=reliable; across hosts, raise the "
    "kernel's UDP buffers (sysctl net.core.rmem_max, net.core.wmem_max)")
"""What to do about frames lost in transport; docs/dds.md has the measured figures."""


class StampGaps:
    """Counts the frames missing between successive stamps of one stream."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._intervals: deque[int] = deque(maxlen=WINDOW)
        self.lost = 0
        """Frames inferred lost since the stream started."""

    def add(self, stamp_ns: int) -> int:
        """Take the next frame's stamp; returns how many frames its gap shows were lost."""
        last, self._last = self._last, stamp_ns
        if last is None:
            return 0
        interval = stamp_ns - last
        if interval <= 0:
            self._restart(stamp_ns)
            return 0
        period = self.period()
        self._intervals.append(interval)
        if period is None:
            return 0
        periods = interval / period
        if periods > MAX_GAP_PERIODS:
            self._restart(stamp_ns)
            return 0
        if periods < GAP_PERIODS:
            return 0
        lost = round(periods) - 1
        self.lost += lost
        return lost

    def period(self) -> float | None:
        """The stream's period in nanoseconds, or None until enough frames have arrived."""
        if len(self._intervals) < MIN_INTERVALS:
            return None
        return float(np.percentile(self._intervals, PERIOD_PERCENTILE))

    def _restart(self, stamp_ns: int) -> None:
        self._last = stamp_ns
        self._intervals.clear()
