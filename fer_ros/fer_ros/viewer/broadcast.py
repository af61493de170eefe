"""Hands the newest frame and every result to each connected client without ever waiting on one.

The ROS callbacks that feed the viewer only drop an item into each client's mailbox and return.
A client's mailbox for frames holds one frame, the newest: a slow or stalled client skips frames
instead of queueing them or holding up the callback, and so the pipeline. Results are small and
each one matters to the timeline, so they are queued, up to a bound past which the oldest go.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any

MAX_CLIENTS = 20
"""Clients per stream (MJPEG and events each): a page holds one of each, so 20 pages."""
EVENT_BACKLOG = 300
"""Results a client may fall behind by (10 s at 30 Hz) before the oldest are dropped."""
FRAMES, EVENTS = "frames", "events"


class Subscription:
    """One client's mailbox on one stream."""

    def __init__(self, kind: str, backlog: int):
        self.kind = kind
        self._items: deque[bytes] = deque(maxlen=backlog)
        self._ready = threading.Condition()
        self.closed = False

    def put(self, item: bytes) -> None:
        with self._ready:
            self._items.append(item)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify()

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
        self._latest: dict[str, bytes | None] = {FRAMES: None, EVENTS: None}
        self.closed = False

    def join(self, kind: str) -> Subscription | None:
        """A mailbox on ``kind`` (FRAMES or EVENTS), or None while it already has its most."""
        subscription = Subscription(kind, 1 if kind == FRAMES else EVENT_BACKLOG)
        with self._lock:
            if self.closed or len(self._clients[kind]) >= self.max_clients:
                return None
            self._clients[kind].add(subscription)
            latest = self._latest[kind]
        if latest is not None:
            subscription.put(latest)
        return subscription

    def leave(self, subscription: Subscription) -> None:
        with self._lock:
            self._clients[subscription.kind].discard(subscription)
        subscription.close()

    def clients(self, kind: str) -> int:
        with self._lock:
            return len(self._clients[kind])

    def publish_frame(self, jpeg: bytes) -> None:
        self._publish(FRAMES, jpeg)

    def publish_event(self, event: dict[str, Any]) -> None:
        """One result as a JSON object; serialised once for every client."""
        self._publish(EVENTS, json.dumps(event, separators=(",", ":")).encode())

    def _publish(self, kind: str, item: bytes) -> None:
        with self._lock:
            self._latest[kind] = item
            clients = list(self._clients[kind])
        for client in clients:
            client.put(item)

    def close(self) -> None:
        """Wake every client so its stream ends; nobody may join afterwards."""
        with self._lock:
            self.closed = True
            clients = [c for group in self._clients.values() for c in group]
        for client in clients:
            client.close()
