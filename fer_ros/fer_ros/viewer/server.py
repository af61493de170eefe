"""The viewer's HTTP server: the page, the annotated image as MJPEG and the results as SSE.

Connections come in through viewer.connections' door, which holds each without a thread until
its request head is in, under a cap and a deadline; then the standard library's handler answers
it on a thread of its own, one request per connection. A stream is a long-lived response
written by its own thread from its client's mailbox (viewer.broadcast), so a stalled client
blocks only itself, and after WRITE_TIMEOUT seconds without progress it is dropped; a stream's
kernel send buffer is kept small, so that the server sees within seconds, not megabytes, that
a client does not read, and can evict it first. Only a fixed set of paths is answered; nothing
is looked up on disk by a path a client sent. Only the Host names the viewer is served under
are answered (viewer.host_check).
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import socket
import struct
import sys
import termios
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from fer_ros.viewer.broadcast import EVENTS, FRAMES, Broadcast, Subscription
from fer_ros.viewer.connections import Door
from fer_ros.viewer.host_check import WILDCARDS, AllowedHosts

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
WRITE_TIMEOUT = 10.0
"""Seconds a client may take to accept data before its connection is closed."""
KEEPALIVE = 15.0
"""Seconds between SSE comments while no result comes, so a vanished client is noticed."""
POLL = 1.0
"""Seconds a stream's writer waits for an item before it looks at its client again."""
SEND_BUFFER = {FRAMES: 256 * 1024, EVENTS: 32 * 1024}
"""Kernel send buffer of a stream's socket: a few frames, or seconds of results."""
DRAINED_BYTES = 16 * 1024
"""A client with less than this unsent or unacknowledged keeps up with its stream."""
BOUNDARY = "fer-frame"
PAGE_FILES: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/viewer.js": ("viewer.js", "text/javascript; charset=utf-8"),
    "/viewer.css": ("viewer.css", "text/css; charset=utf-8"),
}
"""Every file the page needs, served from the package: no CDN, no internet."""


class ViewerStartError(RuntimeError):
    """The server could not start; the message is one line for the user."""


def load_page_files() -> dict[str, tuple[bytes, str]]:
    """The page's files from the installed package (setup.py's package_data)."""
    static = resources.files("fer_ros.viewer") / "static"
    return {path: (static.joinpath(name).read_bytes(), content_type)
            for path, (name, content_type) in PAGE_FILES.items()}


def exposure_warning(host: str) -> str | None:
    """A warning when ``host`` lets other machines connect: the viewer has no authentication."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host == "localhost":
            return None
    return (f"warning: the viewer listens on {host}, reachable from other machines, and has "
            "no authentication: anyone who can reach this port sees the camera image")


def unsent_bytes(sock: socket.socket) -> int:
    """Bytes of ``sock`` the client has not yet acknowledged (Linux's SIOCOUTQ); 0 where the
    system cannot tell."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except OSError:
        return 0


class ViewerHandler(BaseHTTPRequestHandler):
    server: ViewerServer
    timeout = WRITE_TIMEOUT
    protocol_version = "HTTP/1.1"
    server_version = "fer-viewer"

    def parse_request(self) -> bool:
        """The request head as the standard library reads it, then the Host and Origin
        checks: a foreign Host is answered 421, a foreign Origin 403."""
        if not super().parse_request():
            return False
        self.close_connection = True  # one request per connection: none idles on a thread
        hosts = self.server.allowed_hosts
        if not hosts.allows(self.headers.get("Host")):
            self._answer(HTTPStatus.MISDIRECTED_REQUEST,
                         b"this viewer is not served under that Host name\n")
            return False
        if not hosts.allows_origin(self.headers.get("Origin")):
            self._answer(HTTPStatus.FORBIDDEN, b"requests from other sites are refused\n")
            return False
        return True

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/stream.mjpg":
            self._stream(FRAMES, self._mjpeg)
        elif path == "/events":
            self._stream(EVENTS, self._sse)
        elif path in self.server.page_files:
            body, content_type = self.server.page_files[path]
            self._answer(HTTPStatus.OK, body, content_type)
        else:
            self._answer(HTTPStatus.NOT_FOUND, b"not found\n")

    def __getattr__(self, name: str):
        """Every other method (POST, PUT, DELETE, HEAD, ...) is refused with 405."""
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._answer(HTTPStatus.METHOD_NOT_ALLOWED, b"only GET is served\n",
                     extra={"Allow": "GET"}, body_allowed=self.command != "HEAD")

    def _answer(self, status: HTTPStatus, body: bytes,
                content_type: str = "text/plain; charset=utf-8",
                extra: dict[str, str] | None = None, body_allowed: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body_allowed:
            self.wfile.write(body)

    def _stream(self, kind: str, write: Callable[[Subscription], None]) -> None:
        subscription = self.server.broadcast.join(kind, self._hang_up)
        if subscription is None:
            self._answer(HTTPStatus.SERVICE_UNAVAILABLE, b"the viewer is stopping\n")
            return
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER[kind])
            write(subscription)
        except (OSError, ValueError):
            pass  # the client went away, stalled past WRITE_TIMEOUT or was evicted
        finally:
            self.server.broadcast.leave(subscription)

    def _hang_up(self) -> None:
        """Ends the stream from another thread: a write blocked on the client returns."""
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone

    def _next(self, subscription: Subscription) -> bytes | None:
        """The client's next item, or None after POLL seconds; notes whether it keeps up."""
        item = subscription.next(POLL)
        if subscription.empty() and unsent_bytes(self.connection) < DRAINED_BYTES:
            subscription.drained()
        return item

    def _stream_headers(self, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()

    def _mjpeg(self, subscription: Subscription) -> None:
        self._stream_headers(f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        while not subscription.closed:
            jpeg = self._next(subscription)
            if jpeg is None:
                continue
            self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                             f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
            self.wfile.flush()

    def _sse(self, subscription: Subscription) -> None:
        self._stream_headers("text/event-stream; charset=utf-8")
        self.wfile.write(b"retry: 2000\n\n")
        self.wfile.flush()
        last_write = time.monotonic()
        while not subscription.closed:
            event = self._next(subscription)
            if event is None and time.monotonic() - last_write < KEEPALIVE:
                continue
            self.wfile.write(b": keepalive\n\n" if event is None else event + b"\n\n")
            self.wfile.flush()
            last_write = time.monotonic()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        """Quiet: a request per frame would drown the node's own log."""


class ViewerServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    """Connections the kernel holds until accepted: a browser's is not dropped while a burst of
    others waits."""

    def __init__(self, address: tuple[str, int], broadcast: Broadcast, cap: int | None = None):
        self.broadcast = broadcast
        self.page_files = load_page_files()
        if _is_ipv6(address[0]):
            self.address_family = socket.AF_INET6
        super().__init__(address, ViewerHandler)
        self.allowed_hosts = AllowedHosts(address[0], self.server_address[0])
        self.door = Door(self.socket, self.process_request, cap)
        self._thread: threading.Thread | None = None

    def shutdown_request(self, request) -> None:
        super().shutdown_request(request)
        self.door.released()

    def handle_error(self, request, client_address) -> None:
        """A browser that closes or resets its connection (a tab closed, a reload) is no
        error; anything else is printed as the standard library does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        """The address to open in a browser: on every interface, the loopback one."""
        host, port = self.server_address[:2]
        if host in WILDCARDS:
            host = "::1" if self.address_family == socket.AF_INET6 else "127.0.0.1"
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    @property
    def on_every_interface(self) -> bool:
        return self.server_address[0] in WILDCARDS

    def start(self) -> None:
        self._thread = threading.Thread(target=self.door.run, name="fer_viewer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End every stream, stop accepting and close the socket."""
        self.broadcast.close()
        self.door.stop()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.server_close()


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def start_viewer(host: str, port: int, broadcast: Broadcast) -> ViewerServer:
    """A running server on ``host``:``port``; ViewerStartError (one line) when it cannot bind."""
    try:
        server = ViewerServer((host, port), broadcast)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is in use (another viewer or program); choose another port"
        elif exc.errno == errno.EACCES:
            reason = "permission denied (ports below 1024 need privileges)"
        else:
            reason = exc.strerror or str(exc)
        raise ViewerStartError(f"cannot serve on {host}:{port}: {reason}") from None
    server.start()
    return server
