"""A one-slot mailbox: the consumer always gets the newest frame, never a backlog.

A camera keeps producing while the classifier works. Queueing those frames makes memory and
latency grow without bound (the original program's memory grew exactly so); keeping only the
newest one bounds both and counts what was dropped.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Delivery(Generic[T]):
    item: T
    received: float
    """time.monotonic() when the item was put, to measure how long it waited."""


class LatestFrame(Generic[T]):
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._pending: Delivery[T] | None = None
        self._closed = False
        self.dropped = 0

    def put(self, item: T) -> None:
        """Offer a new item, replacing (and counting) one the consumer has not taken yet."""
        with self._condition:
            if self._pending is not None:
                self.dropped += 1
            self._pending = Delivery(item, time.monotonic())
            self._condition.notify()

    def take(self, timeout: float) -> Delivery[T] | None:
        """The newest item, or None after ``timeout`` seconds or once closed."""
        with self._condition:
            if self._pending is None and not self._closed:
                self._condition.wait(timeout)
            delivery, self._pending = self._pending, None
            return None if self._closed else delivery

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
