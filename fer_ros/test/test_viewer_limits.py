"""The viewer under clients that never finish, never read or read slowly: the process keeps its
descriptors, the accept loop never spins, and a fresh page always gets in.

The descriptor tests run the server in a child process under a low RLIMIT_NOFILE (set with
``resource.setrlimit`` before the server starts), so that a few hundred loopback connections
reach the limit that 1,100 reach under the usual ``ulimit -n 1024``.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from fer_ros.viewer.broadcast import EVENTS, FRAMES, MAX_CLIENTS, Broadcast
from fer_ros.viewer.connections import REQUEST_DEADLINE
from fer_ros.viewer.server import ViewerServer, start_viewer
from ros_harness import wait_until
from viewer_client import TIMEOUT, MjpegReader, get, sse_messages

CHILD = """
import os, resource, sys, time
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
from fer_ros.viewer.broadcast import Broadcast
from fer_ros.viewer.server import start_viewer
server = start_viewer("127.0.0.1", 0, Broadcast())
print(server.server_address[1], flush=True)
held = []
for line in sys.stdin:
    command, *rest = line.split()
    if command == "fill":  # every free descriptor taken, as by a busy process
        try:
            while True:
                held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
        print(len(held), flush=True)
    elif command == "free":
        for fd in held:
            os.close(fd)
        held.clear()
        print("freed", flush=True)
    elif command == "cpu":  # CPU seconds this process spends in the next N seconds
        start = time.process_time()
        time.sleep(float(rest[0]))
        print(time.process_time() - start, flush=True)
    elif command == "open":  # can it still open N files (a camera, a recording)?
        fds = []
        try:
            for _ in range(int(rest[0])):
                fds.append(os.open("/dev/null", os.O_RDONLY))
            print("ok", flush=True)
        except OSError as exc:
            print(exc.strerror, flush=True)
        for fd in fds:
            os.close(fd)
"""


class Child:
    """A viewer in its own process under a descriptor limit, answering commands on stdin."""

    def __init__(self, limit: int):
        self.process = subprocess.Popen([sys.executable, "-c", CHILD, str(limit)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.port = int(self.process.stdout.readline())

    def ask(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def child(request) -> Iterator[Child]:
    process = Child(request.param)
    yield process
    process.close()


def half_open(port: int, count: int, within: float = 5.0) -> list[socket.socket]:
    """``count`` connections that each send part of a request head and then nothing, opened
    without waiting as an attacker's tool does; returns once all are connected or after
    ``within`` seconds (a full accept queue makes the kernel retry a connect later)."""
    pending = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        pending.append(sock)
    opened = list(pending)
    deadline = time.monotonic() + within
    while pending and time.monotonic() < deadline:
        _, writable, _ = select.select([], pending, [], 0.2)
        for sock in writable:
            pending.remove(sock)
            try:
                sock.send(b"GET / HTTP/1.1\r\nHo")
            except OSError:
                pass  # refused, or already dropped by the server
    return opened


def page_status(port: int, timeout: float = 5.0) -> int:
    response = get(port, "/", timeout=timeout)
    response.read()
    return response.status


@pytest.mark.parametrize("child", [128], indirect=True)
def test_slow_connections_never_take_the_descriptors_or_keep_a_page_out(child):
    """300 half-open connections against a limit of 128, as 1,100 against the usual 1024:
    while the kernel hands them to the server over several seconds, the process can always
    still open files (a camera, a recording), and a browser's request is answered."""
    attack = half_open(child.port, 300)
    try:
        for _ in range(12):
            assert child.ask("open 64") == "ok", "the connections took the descriptors"
            time.sleep(0.5)
        assert page_status(child.port) == 200
        attack += half_open(child.port, 200)  # a second wave while the first still hangs
        assert page_status(child.port) == 200
        assert child.ask("open 64") == "ok"
    finally:
        for sock in attack:
            sock.close()


@pytest.mark.parametrize("child", [64], indirect=True)
def test_out_of_descriptors_the_accept_loop_waits_instead_of_spinning(child):
    """Something else took every descriptor: the waiting connections cost no CPU, and are
    answered once descriptors are free again."""
    assert int(child.ask("fill")) > 0
    waiting = []
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", child.port), TIMEOUT)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        waiting.append(sock)
    wall = 2.0
    cpu = float(child.ask(f"cpu {wall}"))
    assert cpu < wall / 4, f"the accept loop spun: {cpu:.2f} CPU seconds in {wall} s"
    assert child.ask("free") == "freed"
    for sock in waiting:
        with sock:
            assert sock.recv(100).startswith(b"HTTP/1.1 200 ")


def jpeg_of(value: int, size: tuple[int, int] = (64, 48)) -> bytes:
    return cv2.imencode(".jpg", np.full((size[1], size[0], 3), value, np.uint8))[1].tobytes()


@pytest.fixture
def viewer() -> Iterator[ViewerServer]:
    server = start_viewer("127.0.0.1", 0, Broadcast())
    yield server
    server.stop()


def publishing(viewer: ViewerServer, frame: bytes, stop: threading.Event) -> threading.Thread:
    """Frames and results at 20 Hz until stopped, as a camera sends them."""
    def run() -> None:
        stamp = 0.0
        while not stop.is_set():
            viewer.broadcast.publish_frame(frame)
            viewer.broadcast.publish_event({"stamp": stamp, "frame_id": "", "faces": []})
            stamp += 0.05
            time.sleep(0.05)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def never_reading(port: int, path: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def ended(sockets: list[socket.socket], within: float = TIMEOUT) -> list[bool]:
    """For each socket, whether the server closed it within ``within`` seconds (reading away
    what it had sent first; a stream still alive keeps sending, so the wait is bounded)."""
    done = [False] * len(sockets)
    deadline = time.monotonic() + within
    while not all(done) and time.monotonic() < deadline:
        waiting = [sock for sock, d in zip(sockets, done) if not d]
        readable, _, _ = select.select(waiting, [], [], 0.1)
        for sock in readable:
            try:
                closed = sock.recv(1 << 20) == b""
            except OSError:
                closed = True
            if closed:
                done[sockets.index(sock)] = True
    return done


@pytest.mark.parametrize(("path", "kind"), [("/stream.mjpg", FRAMES), ("/events", EVENTS)])
def test_clients_that_never_read_cannot_keep_a_new_page_out(viewer, path, kind):
    stop = threading.Event()
    thread = publishing(viewer, jpeg_of(90, (640, 480)), stop)
    idle = [never_reading(viewer.server_address[1], path) for _ in range(MAX_CLIENTS)]
    try:
        assert wait_until(lambda: viewer.broadcast.clients(kind) == MAX_CLIENTS, TIMEOUT)
        response = get(viewer.server_address[1], path)
        assert response.status == 200
        if kind == FRAMES:
            assert MjpegReader(response).next_frame()
        else:
            assert next(sse_messages(response))[0] == "history"
            assert next(sse_messages(response))[0] == "message"
        response.close()
        assert sum(ended(idle, 3.0)) >= 1, "a client that does not read made room"
    finally:
        stop.set()
        thread.join()
        for sock in idle:
            sock.close()


def test_the_client_that_falls_behind_is_the_one_that_makes_room(viewer):
    """Two pages keep up, a third reads nothing and falls behind; a fourth client evicts the
    one behind, though the others joined earlier."""
    viewer.broadcast.max_clients = 3
    noise = np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8)
    stop = threading.Event()
    thread = publishing(viewer, cv2.imencode(".jpg", noise)[1].tobytes(), stop)
    port = viewer.server_address[1]
    readers = [MjpegReader(get(port, "/stream.mjpg")) for _ in range(2)]
    frames = [0, 0]

    def keep_reading(index: int) -> None:
        try:
            while not stop.is_set():
                readers[index].next_frame()
                frames[index] += 1
        except (OSError, EOFError, ValueError):
            pass

    threads = [threading.Thread(target=keep_reading, args=(i,), daemon=True) for i in (0, 1)]
    for reading in threads:
        reading.start()
    behind = never_reading(port, "/stream.mjpg")
    try:
        assert wait_until(lambda: viewer.broadcast.clients(FRAMES) == 3, TIMEOUT)
        time.sleep(3.0)  # the one that does not read has filled its buffers
        newest = MjpegReader(get(port, "/stream.mjpg"))
        assert newest.next_frame()
        assert ended([behind]) == [True], "the client behind made room"
        counted = list(frames)
        assert wait_until(lambda: all(f > c for f, c in zip(frames, counted)), TIMEOUT), \
            "the pages that keep up still get frames"
    finally:
        stop.set()
        thread.join()
        behind.close()
        for reader in readers:
            reader.response.close()


def test_a_request_head_dribbled_a_byte_at_a_time_is_cut_off_at_the_deadline(viewer):
    """A per-read timeout never ends a client that sends a byte now and then: the deadline is
    for the whole head."""
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 100
    with socket.create_connection(("127.0.0.1", viewer.server_address[1]), TIMEOUT) as sock:
        started = time.monotonic()
        closed_after = None
        for byte in head:
            try:
                sock.send(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - started
                break
            readable, _, _ = select.select([sock], [], [], 0.25)
            try:
                ended = readable and sock.recv(100) == b""
            except OSError:
                ended = True  # reset: the server closed it with the head unread
            if ended:
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "the server waited for the whole dribbled head"
    assert closed_after < REQUEST_DEADLINE + 3.0
