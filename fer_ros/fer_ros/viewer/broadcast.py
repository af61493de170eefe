"""Hands the newest frame and every result to each connected client without ever waiting on one.

The ROS callbacks that feed the viewer only drop an item into each client's mailbox and return.
A client's mailbox for frames holds one frame, the newest: a slow or stalled client skips frames
instead of queueing them or holding up the callback, and so the pipeline. Results are small and
each one matters to the timeline, so they are queued, up to a bound past which the oldest go.

A stream has room for MAX_CLIENTS. When it is full a new client still gets in: the stalest
client makes room, the one whose writer has longest been unable to drain its data (a client
that reads slowly or not at all), or, while every client keeps up, the one connected longest.
Whatever the others do, a page that is opened gets its streams at once.

The results of the last HISTORY_SECONDS go to each new events client first, as one ``history``
event, so that a page's timeline starts full.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

MAX_CLIENTS = 20
"""Clients per stream (MJPEG and events each): a page holds one of each, so 20 pages."""
EVENT_BACKLOG = 300
"""Results a client may fall behind by (10 s at 30 Hz) before the oldest are dropped."""
HISTORY_SECONDS = 60.0
"""The page's timeline window."""
HISTORY_MAX = 3600
"""Results kept for the history at most (60 s at 60 Hz)."""
STALE_AFTER = 1.0
"""Seconds without draining after which a client counts as behind, the first to be evicted."""
FRAMES, EVENTS = "frames", "events"


class Subscription:
    """One client's mailbox on one stream."""

    def __init__(self, kind: str, backlog: int, hang_up: Callable[[], None] | None = None):
        self.kind = kind
        self._items: deque[bytes] = deque(maxlen=backlog)
        self._ready = threading.Condition()
        self._hang_up = hang_up
        self.closed = False
        self.joined = self.drained_at = time.monotonic()

    def drained(self) -> None:
        """The client's writer has sent everything it had (it keeps up)."""
        self.drained_at = time.monotonic()

    def evict(self) -> None:
        """Ends the stream even while its writer is blocked on a client that does not read."""
        self.close()
        if self._hang_up is not None:
            self._hang_up()

    def put(self, item: bytes) -> None:
        with self._ready:
            self._items.append(item)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify()

    def empty(self) -> bool:
        with self._ready:
            return not self._items

    def next(self, timeout: float) -> bytes | None:
        """The oldest waiting item, or None after ``timeout`` seconds or once closed."""
        with self._ready:
            if not self._items and not self.closed:
                self._ready.wait(timeout)
            if self.closed or not self._items:
                return None
            return self._items.popleft()


class Broadcast:
    """The viewer's clients and the newest frame and result, which a new client gets first."""

    def __init__(self, max_clients: int = MAX_CLIENTS):
        self.max_clients = max_clients
        self._lock = threading.Lock()
        self._clients: dict[str, set[Subscription]] = {FRAMES: set(), EVENTS: set()}
        self._latest_frame: bytes | None = None
        self._history: deque[tuple[float, bytes]] = deque(maxlen=HISTORY_MAX)
        self.closed = False

    def join(self, kind: str, hang_up: Callable[[], None] | None = None) -> Subscription | None:
        """A mailbox on ``kind`` (FRAMES or EVENTS), the stalest client evicted when the stream
        is full; None once the viewer closes. ``hang_up`` ends the client's connection."""
        subscription = Subscription(kind, 1 if kind == FRAMES else EVENT_BACKLOG, hang_up)
        victim = None
        with self._lock:
            if self.closed:
                return None
            clients = self._clients[kind]
            if len(clients) >= self.max_clients:
                victim = stalest(clients)
                clients.discard(victim)
            clients.add(subscription)
            first = self._latest_frame if kind == FRAMES else self._history_event()
        if victim is not None:
            victim.evict()
        if first is not None:
            subscription.put(first)
        return subscription

    def _history_event(self) -> bytes | None:
        if not self._history:
            return None
        return b"event: history\ndata: [" + b",".join(item for _, item in self._history) + b"]"

    def leave(self, subscription: Subscription) -> None:
        with self._lock:
            self._clients[subscription.kind].discard(subscription)
        subscription.close()

    def clients(self, kind: str) -> int:
        with self._lock:
            return len(self._clients[kind])

    def publish_frame(self, jpeg: bytes) -> None:
        with self._lock:
            self._latest_frame = jpeg
            clients = list(self._clients[FRAMES])
        for client in clients:
            client.put(jpeg)

    def publish_event(self, event: dict[str, Any]) -> None:
        """One result as a JSON object, serialised once for every client. A number that is not
        finite (a broken model's NaN) becomes null: JSON has no NaN, and a browser's parser
        would refuse the whole result."""
        item = json.dumps(finite(event), separators=(",", ":"), allow_nan=False).encode()
        stamp = event.get("stamp")
        stamp = float(stamp) if isinstance(stamp, (int, float)) and math.isfinite(stamp) else 0.0
        with self._lock:
            if self._history and stamp < self._history[-1][0]:
                self._history.clear()  # time went back (a replay started again)
            self._history.append((stamp, item))
            while self._history[0][0] < stamp - HISTORY_SECONDS:
                self._history.popleft()
            clients = list(self._clients[EVENTS])
        for client in clients:
            client.put(b"data: " + item)

    def close(self) -> None:
        """Wake every client so its stream ends; nobody may join afterwards."""
        with self._lock:
            self.closed = True
            clients = [c for group in self._clients.values() for c in group]
        for client in clients:
            client.close()


def stalest(clients: set[Subscription]) -> Subscription:
    """The client to evict: the one longest behind, else the one connected longest."""
    now = time.monotonic()
    behind = [c for c in clients if now - c.drained_at > STALE_AFTER]
    if behind:
        return min(behind, key=lambda c: c.drained_at)
    return min(clients, key=lambda c: c.joined)


def finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None, in lists and dicts."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value
