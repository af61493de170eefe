"""Every open viewer connection, so that no client can take the process's descriptors or threads.

Each accepted connection holds a file descriptor and a thread. Their number is capped well below
the process's descriptor limit (the camera, the models, DDS and a recording need theirs). A
connection is either *reading* its request (from the connect, or from the end of its previous
response on a kept-alive connection) or *serving* one. Reading has a deadline for the whole
request head, not per byte, so a client that dribbles a byte now and then is dropped all the
same; and when the cap is reached the connection that has been reading longest makes room for
the new one, so that slow or half-open connections can never keep a browser out.
"""

from __future__ import annotations

import resource
import socket
import threading
import time

MAX_CONNECTIONS = 128
"""Connections at most, whatever the descriptor limit: 20 pages' two streams and their page
loads fit many times over."""
MIN_CONNECTIONS = 8
DESCRIPTOR_SHARE = 8
"""The cap is at most the descriptor limit over this: 128 of the usual 1024."""
REQUEST_DEADLINE = 5.0
"""Seconds a connection may take to send a whole request head; a browser needs milliseconds."""
OVERDRAFT = 2
"""Hung-up connections whose threads have not yet closed them still hold descriptors: up to
this many times the cap may be open at once, past that a new connection is closed at once."""


def connection_cap() -> int:
    """The most connections the viewer keeps open under this process's descriptor limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, soft // DESCRIPTOR_SHARE))


class Connection:
    """One accepted socket, what it is doing and since when."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reading = True
        self.since = time.monotonic()
        self.hung_up = False

    def hang_up(self) -> None:
        """Ends the connection from any thread: a read or write blocked on it returns at once,
        and its own thread then closes the socket."""
        self.hung_up = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone


class Connections:
    """The registry: admission under the cap, the request deadline, eviction."""

    def __init__(self, cap: int | None = None, deadline: float = REQUEST_DEADLINE):
        self.cap = connection_cap() if cap is None else cap
        self.deadline = deadline
        self._lock = threading.Lock()
        self._open: dict[socket.socket, Connection] = {}

    def admit(self, sock: socket.socket) -> Connection | None:
        """The new connection's record, room made by hanging up the longest-reading one when
        the cap is reached; None when every connection is serving (the caller closes it)."""
        with self._lock:
            live = [c for c in self._open.values() if not c.hung_up]
            if len(live) >= self.cap:
                reading = [c for c in live if c.reading]
                if not reading or len(self._open) >= OVERDRAFT * self.cap:
                    return None
                min(reading, key=lambda c: c.since).hang_up()
            connection = Connection(sock)
            self._open[sock] = connection
            return connection

    def find(self, sock: socket.socket) -> Connection:
        with self._lock:
            return self._open[sock]

    def release(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.pop(sock, None)

    def reading(self, connection: Connection) -> None:
        with self._lock:
            connection.reading, connection.since = True, time.monotonic()

    def serving(self, connection: Connection) -> None:
        with self._lock:
            connection.reading, connection.since = False, time.monotonic()

    def sweep(self) -> None:
        """Hangs up every connection that has been reading its request past the deadline."""
        now = time.monotonic()
        with self._lock:
            late = [c for c in self._open.values()
                    if c.reading and not c.hung_up and now - c.since > self.deadline]
        for connection in late:
            connection.hang_up()

    def free_one(self) -> bool:
        """Hangs up the longest-reading connection, for a descriptor when none is left."""
        with self._lock:
            reading = [c for c in self._open.values() if c.reading and not c.hung_up]
            if not reading:
                return False
            victim = min(reading, key=lambda c: c.since)
        victim.hang_up()
        return True

    def count(self) -> int:
        with self._lock:
            return len(self._open)
