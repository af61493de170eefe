"""The viewer's door: accepts connections and holds each, without a thread, until its request
head is in, so that no number of slow or half-open clients takes the process's descriptors or
threads or keeps a browser out.

One thread accepts every connection and watches all those still sending their request head
with edge-triggered epoll, peeking at what has arrived (the bytes stay in the kernel for the
handler to read). Only a complete head gets a thread, the standard library's handler. The
connections open at once are capped well below the descriptor limit (the camera, the models, DDS
and a recording need theirs); a head has a deadline for the whole of it, not per byte, so a
client that dribbles a byte now and then is dropped all the same; and at the cap the connection
that has been waiting longest makes room for the new one. A browser sends its head in one
packet, so it is handed on at once whatever the others do. Out of descriptors, the door frees
one and pauses instead of retrying at once (the listening socket stays readable: retrying
would spin a core).
"""

from __future__ import annotations

import errno
import resource
import select
import socket
import sys
import threading
import time
from collections.abc import Callable

MAX_CONNECTIONS = 128
"""Connections at most, whatever the descriptor limit: 20 pages' two streams and their page
loads fit many times over."""
MIN_CONNECTIONS = 8
DESCRIPTOR_SHARE = 8
"""The cap is at most the descriptor limit over this: 128 of the usual 1024."""
REQUEST_DEADLINE = 5.0
"""Seconds a connection may take to send its whole request head; a browser needs milliseconds."""
HEAD_LIMIT = 65536
"""Bytes of a head at most; past them the handler reads it and refuses it with a reason."""
GRACE = 1.0
"""Seconds a new connection that has sent nothing yet is spared while slow ones can go."""
POLL = 0.25
"""Seconds between looks at the deadline (and at a request to stop)."""
ACCEPT_PAUSE = 0.1
"""Seconds the door waits after running out of descriptors."""
OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
HANGUP = select.EPOLLHUP | select.EPOLLERR | select.EPOLLRDHUP


def connection_cap() -> int:
    """The most connections the viewer keeps open under this process's descriptor limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, soft // DESCRIPTOR_SHARE))


def head_complete(data: bytes) -> bool:
    return b"\r\n\r\n" in data or b"\n\n" in data or len(data) >= HEAD_LIMIT


class Door:
    """Accepts on ``listener`` and calls ``dispatch(sock, address)`` once a head is complete;
    the dispatched connection counts against the cap until ``released`` is called for it."""

    def __init__(self, listener: socket.socket,
                 dispatch: Callable[[socket.socket, tuple], None],
                 cap: int | None = None, deadline: float = REQUEST_DEADLINE):
        self.cap = connection_cap() if cap is None else cap
        self.deadline = deadline
        self._listener = listener
        self._dispatch = dispatch
        self._waiting: dict[int, tuple[socket.socket, tuple, float]] = {}
        """Connections still sending their head, by descriptor, oldest first."""
        self._started: set[int] = set()
        """Those of them that have sent part of their head."""
        self._serving = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._warned_at = -float("inf")

    def released(self) -> None:
        """A dispatched connection was closed by its handler."""
        with self._lock:
            self._serving -= 1

    def open_connections(self) -> int:
        with self._lock:
            return len(self._waiting) + self._serving

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        self._listener.setblocking(False)
        epoll = select.epoll()
        epoll.register(self._listener.fileno(), select.EPOLLIN)
        try:
            while not self._stopping.is_set():
                ready = epoll.poll(POLL)
                # The heads that came in first, then new connections: no connection whose
                # head is in is evicted by one accepted after it.
                for fd, events in ready:
                    if fd in self._waiting:
                        self._look(epoll, fd, events)
                if any(fd == self._listener.fileno() for fd, _ in ready):
                    self._accept(epoll)
                self._sweep(epoll)
        finally:
            for fd in list(self._waiting):
                self._drop(epoll, fd)
            epoll.close()

    def _accept(self, epoll: select.epoll) -> None:
        """The connections waiting in the kernel's queue, at most a quarter of the cap at a
        time: a connection accepted now is looked at again before a flood of later ones could
        evict it. A head that is in already (a browser sends it at once) is handed on at once."""
        for _ in range(max(1, self.cap // 4)):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in OUT_OF_DESCRIPTORS:
                    self._out_of_descriptors(epoll, exc)
                return  # anything else (a connection reset before it was accepted): next time
            if not self._make_room(epoll):
                sock.close()  # every connection is serving: this one is refused
                continue
            self._waiting[sock.fileno()] = (sock, address, time.monotonic())
            epoll.register(sock.fileno(), select.EPOLLIN | select.EPOLLET | HANGUP)
            self._look(epoll, sock.fileno(), 0)

    def _make_room(self, epoll: select.epoll) -> bool:
        """Room for one more: the connection waiting longest is dropped, unless its head has
        just come in (then it is handed on, and the next one is looked at)."""
        while True:
            with self._lock:
                serving = self._serving
            if len(self._waiting) + serving < self.cap:
                return True
            if not self._waiting:
                return False
            victim = self._victim()
            if not self._look(epoll, victim, 0) and victim in self._waiting:
                self._drop(epoll, victim)

    def _victim(self) -> int:
        """The connection to drop for room: the longest-waiting one that has sent part of a
        head (a slow client), or has sent nothing for GRACE seconds; the longest-waiting of
        all if none has. A browser that has not sent its head yet is spared for a moment."""
        now = time.monotonic()
        for fd, (_, _, since) in self._waiting.items():
            if fd in self._started or now - since > GRACE:
                return fd
        return next(iter(self._waiting))

    def _look(self, epoll: select.epoll, fd: int, events: int) -> bool:
        """Hands the connection on if its head is in, drops it if it is closed; whether it
        was handed on."""
        sock, address, _ = self._waiting[fd]
        try:
            data = sock.recv(HEAD_LIMIT, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            data = None
        except OSError:
            data = b""
        if data:
            self._started.add(fd)
        if data and head_complete(data):
            epoll.unregister(fd)
            del self._waiting[fd]
            self._started.discard(fd)
            with self._lock:
                self._serving += 1
            try:
                self._dispatch(sock, address)
            except RuntimeError:  # no thread to be had: this one is refused, the door goes on
                sock.close()
                self.released()
            return True
        if data == b"" or events & HANGUP:
            self._drop(epoll, fd)  # closed or reset before its head was in
        return False

    def _drop(self, epoll: select.epoll, fd: int) -> None:
        sock, _, _ = self._waiting.pop(fd)
        self._started.discard(fd)
        try:
            epoll.unregister(fd)
        except OSError:
            pass
        sock.close()

    def _sweep(self, epoll: select.epoll) -> None:
        """Drops every connection whose head is later than the deadline."""
        late = time.monotonic() - self.deadline
        for fd, (_, _, since) in list(self._waiting.items()):
            if since > late:
                break  # oldest first: the rest are younger
            self._drop(epoll, fd)

    def _out_of_descriptors(self, epoll: select.epoll, exc: OSError) -> None:
        if self._waiting:
            self._drop(epoll, next(iter(self._waiting)))
        now = time.monotonic()
        if now - self._warned_at > 10.0:
            self._warned_at = now
            print(f"fer viewer: cannot accept connections: {exc.strerror}; "
                  f"{self.open_connections()} open, waiting", file=sys.stderr, flush=True)
        time.sleep(ACCEPT_PAUSE)
