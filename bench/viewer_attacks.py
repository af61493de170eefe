"""Attacks on the browser viewer from outside, on loopback: does a fresh page still get in?

    .venv/bin/python bench/viewer_attacks.py     # about 2 minutes

`fer bringup --view` and `fer view` each run under ``ulimit -n 1024`` (prlimit), and face:

- ``slow connections``: CONNECTIONS connections that each send the start of a request head and
  then one byte every DRIBBLE seconds, reconnected as soon as the server drops one (slowloris).
  While they hang on, a fresh page is opened every 2 s as a browser opens it (``/``, the first
  message of ``/events``, the first frame of ``/stream.mjpg``); timed to its last part, 10 s at
  most. The process's open descriptors, threads and CPU are read from /proc, and whether it is
  still alive at the end.
- ``idle events`` / ``slow mjpeg``: 20 ``/events`` clients that never read, or 20 MJPEG clients
  that read 16 KB/s; then a fresh page, timed the same way (bringup only).
- ``foreign Host``: the statuses of requests naming other hosts (DNS rebinding) and of ones
  naming the viewer's own.

The issue measured, before the fix: bringup died (camera capture: Too many open files), `fer
view` spun at 100 % of a core and answered nobody, 20 idle or slow clients kept every new one at
503, and every Host was served. The target: a fresh page within 3 s under every attack.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import selectors
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

from harness import NodeProcess, ProcessStats, executable, log_dir, private_ros_env, wait_until
from run import Report, Target, standalone

OPTIONS = {
    "--connections": (1100, "slow connections at once"),
    "--seconds": (20.0, "length of the slow-connection attack"),
}
DESCRIPTORS = 1024
DRIBBLE = 2.0
CONNECTING = 32
"""Connects under way at once."""
PAGE_TIMEOUT = 10.0
START_TIMEOUT = 60.0
TARGET_S = 3.0
FOREIGN_HOSTS = ("evil.example", "127.0.0.1.nip.io", "localhost.evil.example", "10.0.0.1")
OWN_HOSTS = ("127.0.0.1", "localhost", "LOCALHOST.")
FAILURES: list[str] = []
"""How each fresh page that did not come failed, for the report's notes."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Slowloris:
    """The attack: ``count`` connections dribbling a request head (slowloris), or with
    ``flood`` reopened as soon as dropped. It runs in a process of its own, so that its loop
    does not slow the page timings here."""

    def __init__(self, port: int, count: int, flood: bool = False):
        self.port, self.count, self.flood = port, count, flood
        self._reconnects = multiprocessing.Value("i", 0)
        self._stop = multiprocessing.Event()
        self._process = multiprocessing.Process(target=self._run, daemon=True)
        self._process.start()

    @property
    def reconnects(self) -> int:
        return self._reconnects.value

    def _open(self, selector: selectors.BaseSelector) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))
        selector.register(sock, selectors.EVENT_WRITE)

    def _run(self) -> None:
        """Keeps ``count`` connections open. At most CONNECTING connects are under way at a
        time, as a tool that opens its connections steadily does: a burst of 1,100 would only
        overflow the server's accept queue and have its kernel drop the rest. A connection the
        server drops is reopened at the next byte (with ``flood``: at once)."""
        selector = selectors.DefaultSelector()  # epoll: 1,100 descriptors are past select()'s
        next_byte = time.monotonic() + DRIBBLE
        top_up = True
        while not self._stop.is_set():
            connections = selector.get_map().values()
            connecting = sum(key.events == selectors.EVENT_WRITE for key in connections)
            if top_up:
                missing = self.count - len(connections)
                for _ in range(min(missing, CONNECTING - connecting)):
                    self._open(selector)
                top_up = missing > CONNECTING - connecting
            for key, events in selector.select(0.05):
                sock = key.fileobj
                if events & selectors.EVENT_WRITE:
                    try:
                        sock.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                        selector.modify(sock, selectors.EVENT_READ)
                        continue
                    except OSError:
                        pass
                # Readable: only the server's close (or a refused connect) comes here.
                selector.unregister(sock)
                sock.close()
                self._reconnects.value += 1
                if self.flood:
                    self._open(selector)
            if time.monotonic() >= next_byte:
                next_byte += DRIBBLE
                top_up = True
                for key in list(selector.get_map().values()):
                    if key.events == selectors.EVENT_READ:
                        try:
                            key.fileobj.send(b"X")
                        except OSError:
                            pass
        for key in list(selector.get_map().values()):
            key.fileobj.close()
        selector.close()

    def stop(self) -> None:
        self._stop.set()
        self._process.join()


def fresh_page(port: int, content: bool = True) -> float | None:
    """Seconds until a browser would have the page, its first result and its first frame (or,
    without ``content``, with no pipeline behind the viewer, the streams' headers); None when
    some part did not come within PAGE_TIMEOUT."""
    start = time.monotonic()
    deadline = start + PAGE_TIMEOUT
    connections = []
    path = "/"
    try:
        for path in ("/", "/events", "/stream.mjpg"):
            conn = http.client.HTTPConnection("127.0.0.1", port,
                                              timeout=max(deadline - time.monotonic(), 0.1))
            connections.append(conn)
            conn.request("GET", path)
            response = conn.getresponse()
            if response.status != 200:
                FAILURES.append(f"{path}: status {response.status}")
                return None
            if path == "/":
                response.read()
            elif not content:
                pass
            elif path == "/events":
                while not response.readline().startswith(b"data: "):
                    pass
            else:
                while not response.readline().startswith(b"Content-Length"):
                    pass
        return time.monotonic() - start
    except (OSError, http.client.HTTPException) as exc:
        FAILURES.append(f"{path}: {type(exc).__name__} {exc} after "
                        f"{time.monotonic() - start:.1f} s")
        return None
    finally:
        for conn in connections:
            conn.close()


def status_for_host(port: int, host: str) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PAGE_TIMEOUT)
        conn.putrequest("GET", "/", skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        status = conn.getresponse().status
        conn.close()
        return status
    except (OSError, http.client.HTTPException):
        return None


def process_figures(pid: int) -> tuple[int, int]:
    """Open descriptors and threads of ``pid``."""
    descriptors = len(os.listdir(f"/proc/{pid}/fd"))
    threads = int(next(line.split()[1] for line in
                       Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("Threads:")))
    return descriptors, threads


def slow_connections(port: int, process: NodeProcess, args: argparse.Namespace,
                     content: bool = True, flood: bool = False) -> dict:
    stats = ProcessStats(process.process.pid)
    cpu_before, wall_before = stats.cpu_seconds(), time.monotonic()
    attack = Slowloris(port, args.connections, flood)
    pages, peak_fds, peak_threads = [], 0, 0
    end = time.monotonic() + args.seconds
    try:
        time.sleep(2.0)
        while time.monotonic() < end and process.alive():
            try:
                fds, threads = process_figures(process.process.pid)
            except (OSError, StopIteration):
                break  # it has just ended
            peak_fds, peak_threads = max(peak_fds, fds), max(peak_threads, threads)
            opened = time.monotonic()
            pages.append(fresh_page(port, content))
            time.sleep(max(0.0, 2.0 - (time.monotonic() - opened)))
        cpu = 100 * (stats.cpu_seconds() - cpu_before) / (time.monotonic() - wall_before) \
            if process.alive() else None
    finally:
        attack.stop()
    answered = [p for p in pages if p is not None]
    return {"pages": len(pages), "answered": len(answered),
            "median_s": statistics.median(answered) if answered else None,
            "worst_s": max(answered) if len(answered) == len(pages) and answered else None,
            "peak_descriptors": peak_fds, "peak_threads": peak_threads, "cpu_percent": cpu,
            "reconnects": attack.reconnects, "alive": process.alive()}


def bad_clients(port: int, path: str, read_rate: float | None) -> dict:
    """20 clients on ``path`` that never read (``read_rate`` None) or read ``read_rate`` bytes
    a second; then a fresh page."""
    clients = []
    stop = threading.Event()

    def trickle(sock: socket.socket) -> None:
        while not stop.is_set():
            try:
                sock.recv(int(read_rate / 10))
            except OSError:
                return
            time.sleep(0.1)

    for _ in range(20):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        clients.append(sock)
        if read_rate:
            threading.Thread(target=trickle, args=(sock,), daemon=True).start()
    try:
        time.sleep(5.0)  # their buffers fill
        pages = [fresh_page(port) for _ in range(3)]
    finally:
        stop.set()
        for sock in clients:
            sock.close()
    answered = [p for p in pages if p is not None]
    return {"pages": len(pages), "answered": len(answered),
            "worst_s": max(answered) if len(answered) == len(pages) else None}


def start(command: list[str], env: dict[str, str], logs: Path, name: str,
          port: int, content: bool = True) -> NodeProcess:
    process = NodeProcess(["prlimit", f"--nofile={DESCRIPTORS}:{DESCRIPTORS}", "--", *command],
                          env, logs / f"{name}.log")
    before = len(FAILURES)
    if not wait_until(lambda: fresh_page(port, content) is not None or not process.alive(),
                      START_TIMEOUT) or not process.alive():
        raise RuntimeError(f"{name} did not start: {process.output[-2000:]}")
    del FAILURES[before:]  # the tries while it started are no failures
    return process


def attack(report: Report, data: dict, name: str, process: NodeProcess, port: int,
           args: argparse.Namespace, content: bool, flood: bool) -> None:
    what = (f"{args.connections} slow connections" +
            (", reopened at once (a flood)" if flood else ""))
    slow = slow_connections(port, process, args, content, flood)
    data[f"{name}: {what}"] = slow
    report.rows.append(
        [name, what, f"{slow['answered']}/{slow['pages']}", slow["median_s"], slow["worst_s"],
         f"alive {slow['alive']}, peak {slow['peak_descriptors']} descriptors, "
         f"{slow['peak_threads']} threads, CPU {slow['cpu_percent'] or 0:.0f} %, "
         f"{slow['reconnects']} reconnects"])
    if not flood:
        report.targets.append(Target(f"{name}: worst fresh page under {what}",
                                     slow["worst_s"], TARGET_S, "s"))


def run(args: argparse.Namespace) -> Report:
    logs = log_dir("viewer-attacks")
    env = private_ros_env(logs)
    fer = executable("fer")
    report = Report("viewer_attacks", f"The viewer attacked on loopback, ulimit -n "
                    f"{DESCRIPTORS}", ["process", "attack", "fresh pages answered",
                                       "page s (median)", "page s (worst)", "other"])
    data: dict = {}
    port = free_port()
    bringup = start([*fer, "bringup", "--seconds", "600", "--view", str(port)], env, logs,
                    "bringup", port)
    try:
        for flood in (False, True):
            if bringup.alive():
                attack(report, data, "fer bringup --view", bringup, port, args, True, flood)
        for name, path, rate in (("20 idle /events", "/events", None),
                                 ("20 MJPEG at 16 KB/s", "/stream.mjpg", 16384.0)):
            if not bringup.alive():
                break
            case = bad_clients(port, path, rate)
            data[f"bringup {name}"] = case
            report.rows.append(["fer bringup --view", name,
                                f"{case['answered']}/{case['pages']}", None, case["worst_s"],
                                ""])
            report.targets.append(Target(f"bringup: worst fresh page beside {name}",
                                         case["worst_s"], TARGET_S, "s"))
        statuses = {host: status_for_host(port, host) for host in (*FOREIGN_HOSTS, *OWN_HOSTS)}
        data["host statuses"] = statuses
        report.rows.append(["fer bringup --view", "foreign Host", None, None, None,
                            ", ".join(f"{h}: {s}" for h, s in statuses.items())])
        served = sum(statuses[h] == 200 for h in FOREIGN_HOSTS)
        report.targets.append(Target("foreign Host names served", served, 0, "requests"))
        data["bringup alive at the end"] = bringup.alive()
        capture_failed = "Too many open files" in bringup.output
        data["bringup ran out of descriptors"] = capture_failed
        report.notes.append(f"bringup alive at the end: {bringup.alive()}; 'Too many open "
                            f"files' in its log: {capture_failed}")
    finally:
        bringup.stop(timeout=15)
    port = free_port()
    view = start([*fer, "view", "--port", str(port)], env, logs, "view", port, content=False)
    try:
        for flood in (False, True):
            attack(report, data, "fer view", view, port, args, False, flood)
    finally:
        view.stop(timeout=15)
    report.data = data
    data["fresh page failures"] = FAILURES
    report.notes += [f"a fresh page failed: {failure}" for failure in FAILURES]
    report.notes.append(f"load average {os.getloadavg()[0]:.1f}; logs: {logs}")
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__], missed_target_fails=True))
