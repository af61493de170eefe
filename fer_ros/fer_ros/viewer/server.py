"""The viewer's HTTP server: the page, the annotated image as MJPEG and the results as SSE.

The standard library's ThreadingHTTPServer, one thread per connection: a stream is a long-lived
response written by its own thread from its client's mailbox (viewer.broadcast), so a stalled
client blocks only itself, and after WRITE_TIMEOUT seconds without progress it is dropped.
Only a fixed set of paths is answered; nothing is looked up on disk by a path a client sent.
"""

from __future__ import annotations

import errno
import ipaddress
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from fer_ros.viewer.broadcast import EVENTS, FRAMES, Broadcast, Subscription

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
WRITE_TIMEOUT = 10.0
"""Seconds a client may take to accept data before its connection is closed."""
KEEPALIVE = 15.0
"""Seconds between SSE comments while no result comes, so a vanished client is noticed."""
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


class ViewerHandler(BaseHTTPRequestHandler):
    server: ViewerServer
    timeout = WRITE_TIMEOUT
    protocol_version = "HTTP/1.1"
    server_version = "fer-viewer"

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
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body_allowed:
            self.wfile.write(body)

    def _stream(self, kind: str, write: Callable[[Subscription], None]) -> None:
        subscription = self.server.broadcast.join(kind)
        if subscription is None:
            limit = self.server.broadcast.max_clients
            self._answer(HTTPStatus.SERVICE_UNAVAILABLE,
                         f"viewer busy: {limit} clients already watch this stream; try again "
                         f"later\n".encode(), extra={"Retry-After": "5"})
            return
        self.close_connection = True
        try:
            write(subscription)
        except (OSError, ValueError):
            pass  # the client went away or stalled past WRITE_TIMEOUT: its stream just ends
        finally:
            self.server.broadcast.leave(subscription)

    def _stream_headers(self, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()

    def _mjpeg(self, subscription: Subscription) -> None:
        self._stream_headers(f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        while not subscription.closed:
            jpeg = subscription.next(KEEPALIVE)
            if jpeg is None:
                continue
            self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                             f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
            self.wfile.flush()

    def _sse(self, subscription: Subscription) -> None:
        self._stream_headers("text/event-stream; charset=utf-8")
        self.wfile.write(b"retry: 2000\n\n")
        self.wfile.flush()
        while not subscription.closed:
            event = subscription.next(KEEPALIVE)
            self.wfile.write(b": keepalive\n\n" if event is None else b"data: " + event + b"\n\n")
            self.wfile.flush()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        """Quiet: a request per frame would drown the node's own log."""


class ViewerServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], broadcast: Broadcast):
        self.broadcast = broadcast
        self.page_files = load_page_files()
        super().__init__(address, ViewerHandler)
        self._thread: threading.Thread | None = None

    def handle_error(self, request, client_address) -> None:
        """A browser that closes or resets its connection (a tab closed, a reload) is no
        error; anything else is printed as the standard library does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="fer_viewer",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End every stream, stop accepting and close the socket."""
        self.broadcast.close()
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=2.0)
        self.server_close()


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
