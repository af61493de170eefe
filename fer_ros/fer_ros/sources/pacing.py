"""Pacing a frame source to a set rate on a monotonic clock, without drift or bursts."""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    """Frame slots on a fixed grid of a monotonic clock, so the rate never drifts.

    Slot n is due at ``start + n / fps``: time spent decoding or publishing one frame is taken
    out of the wait for the next instead of adding up. After a stall longer than one period the
    grid restarts rather than bursting frames to catch up.
    """

    def __init__(self, fps: float, clock: Callable[[], float] = time.monotonic):
        self.period = 1.0 / fps if fps > 0 else 0.0
        self._clock = clock
        self._next: float | None = None

    def set_rate(self, fps: float) -> None:
        """Change the rate; the next slot moves to one new period after the last one, so a
        change from a very slow rate to a fast one takes effect at once, not after the old
        period (which at 0.01 fps would be 100 s)."""
        period = 1.0 / fps if fps > 0 else 0.0
        if period == self.period:
            return
        if self._next is not None:
            self._next += period - self.period
        self.period = period

    def delay(self) -> float:
        """Seconds until the next slot (0 when it is due or nothing is paced)."""
        if self._next is None:
            return 0.0
        return max(0.0, self._next - self._clock())

    def due(self) -> bool:
        """For live sources: whether a frame that arrived now fills a slot.

        A quarter period of slack keeps a device running at about the capped rate from losing
        every other frame to clock jitter, without letting a faster device exceed the cap.
        """
        return self._next is None or self._clock() >= self._next - self.period / 4

    def advance(self) -> None:
        """Mark the current slot used."""
        now = self._clock()
        if self._next is None or now - self._next > self.period:
            self._next = now + self.period
        else:
            self._next += self.period
