"""Frames lost between the camera and this node, read from the gaps in the camera's stamps.

A camera stamps its frames at a steady period, so a frame lost on the way (a best-effort
transport dropping a fragment, a full socket buffer) leaves a gap of whole periods between two
stamps that did arrive. Nothing else tells a subscriber: DDS does not report best-effort
samples it never completed. Frames the node itself drops while busy (the one-slot mailbox) are
counted there, after this, and are not losses of the transport.

Every interval between two stamps that arrived is a whole number of periods, whatever was lost,
so the period is the longest one that divides them all (within jitter), sought from the shortest
interval down: with half the frames lost, most intervals are two periods or more, and with 19 of
20 lost none may be one period. Gaps in the intervals seen while the period was being learned
are counted once it is known. If every interval happened to be an even number of periods, the
period found would be two and the count half: it is a lower bound. A pause longer than
``MAX_GAP_PERIODS`` periods (a camera stopped and started, a bag looped, a stamp jumping back)
is a restart, not a loss: counting starts again.

A gap has two causes, told apart by how long the frame after it waited in this process before
the node took it (DDS's reception time to the callback). Frames lost on the wire leave the next
one arriving at an idle node, taken within a millisecond. A node too busy to take its frames
(a loaded `fer bringup`, every node in one process: the executor thread waits for the CPU)
lets DDS replace the one frame its subscription holds by the next: the frame finally taken had
been waiting. A gap whose closing frame waited ``BUSY_WAIT_PERIODS`` of a period or longer is
counted in ``overwritten``, not ``lost``: no transport setting helps there, a lighter load does.

Where DDS says which of its publisher's samples a frame is (rclpy's
``publication_sequence_number``, which Fast DDS gives), the count comes from those numbers
instead of the stamps: a camera late for its slot (its thread short of CPU in the same loaded
process) leaves a gap in the stamps without having sent anything that was lost.
"""

from __future__ import annotations

from collections import deque

import numpy as np

WINDOW = 60
"""Intervals kept to learn the period."""
MIN_INTERVALS = 5
"""Intervals needed before gaps are judged: a period guessed from fewer is a guess."""
MULTIPLE_TOLERANCE = 0.2
"""How far, in periods, an interval may be from a whole number of them: stamps taken when a
frame arrives at the driver jitter by a few milliseconds of a 33 ms period."""
FITTING_SHARE = 0.9
"""Share of the intervals that must be whole numbers of a candidate period."""
MAX_DIVISOR = 8
"""The shortest interval is tried as up to this many periods."""
MAX_GAP_PERIODS = 60
"""A longer gap is a restart of the stream: two seconds of a 30 Hz camera."""
GAP_PERIODS = 1.5
"""An interval this many periods long or more holds a lost frame; shorter ones are jitter."""
BUSY_WAIT_PERIODS = 0.1
"""How long (in periods: 3 ms at 30 Hz) the frame after a gap must have waited in this process
for the gap to count as frames replaced while the node was busy. A frame taken by an idle node
waits well under a millisecond; one that replaced others had waited up to a whole period."""
DEFAULT_PERIOD_NS = 33_333_333
"""The period assumed (30 Hz) until the stream's own is known."""
DRIVER_REMEDIES = ("image_transport:=compressed, fer_ros's DDS profile or a reliable camera: "
                   "docs/dds.md")
"""Where the remedies for frames lost in transport are, in short: docs/dds.md has them with
the measured figures."""


class StampGaps:
    """Counts the frames missing between successive stamps of one stream."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._intervals: deque[int] = deque(maxlen=WINDOW)
        self._waits: deque[int] = deque(maxlen=WINDOW)
        """How long the frame closing each interval waited in this process (ns)."""
        self._period: float | None = None
        self.lost = 0
        """Frames inferred lost on the way (transport) since the stream started."""
        self.overwritten = 0
        """Frames inferred replaced by newer ones while this node was too busy to take them."""

    def add(self, stamp_ns: int, waited_ns: int = 0, sent_between: int | None = None) -> int:
        """Take the next frame's stamp and how long it waited in this process before the node
        took it; returns how many frames its gap (and, once the period is first known, the gaps
        before it) show were lost in transport. Gaps closed by a frame that waited are added to
        ``overwritten`` instead. ``sent_between``, where the publisher's sequence numbers tell
        it, is how many frames it sent since the last one that arrived: then that is the gap."""
        last, self._last = self._last, stamp_ns
        if sent_between is not None:
            return self._count_sent(sent_between, waited_ns, stamp_ns, last)
        if last is None:
            return 0
        interval = stamp_ns - last
        if interval <= 0:
            self._restart()
            return 0
        known = self._period is not None
        self._intervals.append(interval)
        self._waits.append(waited_ns)
        if len(self._intervals) >= MIN_INTERVALS:
            self._period = _period_of(np.asarray(self._intervals, np.float64))
        if self._period is None:
            return 0
        if interval > MAX_GAP_PERIODS * self._period:
            self._restart()
            return 0
        periods = np.asarray(self._intervals if not known else [interval]) / self._period
        waits = np.asarray(self._waits if not known else [waited_ns], np.float64)
        gaps = (periods >= GAP_PERIODS) & (periods <= MAX_GAP_PERIODS)
        missing = np.where(gaps, np.round(periods) - 1, 0)
        busy = waits >= BUSY_WAIT_PERIODS * self._period
        lost = int(np.sum(missing[~busy]))
        self.overwritten += int(np.sum(missing[busy]))
        self.lost += lost
        return lost

    def _count_sent(self, missing: int, waited_ns: int, stamp_ns: int, last: int | None) -> int:
        if last is not None and 0 < stamp_ns - last <= MAX_GAP_PERIODS * (self._period or 1e9):
            self._intervals.append(stamp_ns - last)
            self._waits.append(waited_ns)
            if len(self._intervals) >= MIN_INTERVALS:
                self._period = _period_of(np.asarray(self._intervals, np.float64))
        if missing <= 0:
            return 0
        if waited_ns >= BUSY_WAIT_PERIODS * (self._period or DEFAULT_PERIOD_NS):
            self.overwritten += missing
            return 0
        self.lost += missing
        return missing

    def period(self) -> float | None:
        """The stream's period in nanoseconds, or None until enough frames have arrived."""
        return self._period

    def _restart(self) -> None:
        self._intervals.clear()
        self._waits.clear()
        self._period = None


def _period_of(intervals: np.ndarray) -> float:
    """The longest period of which nearly all ``intervals`` are whole multiples.

    Each candidate (the shortest interval over 1, 2, ... periods) is refined to the intervals'
    total over their total periods: the shortest interval carries its stamps' jitter, and a
    period a tenth short would count a gap of five periods as six."""
    for divisor in range(1, MAX_DIVISOR + 1):
        candidate = float(intervals.min()) / divisor
        for _ in range(3):
            multiples = np.maximum(np.round(intervals / candidate), 1)
            candidate = float(intervals.sum() / multiples.sum())
        fits = np.abs(intervals / candidate - multiples) <= MULTIPLE_TOLERANCE
        if fits.mean() >= FITTING_SHARE:
            return candidate
    return float(intervals.min())
