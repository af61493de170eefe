"""A small HTTP client for the viewer's streams, as a browser reads them, for the tests."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

from fer_ros.viewer.server import BOUNDARY

TIMEOUT = 10.0


def free_port() -> int:
    """A port nobody listens on now (the OS's pick; another process could take it meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, method: str = "GET",
        timeout: float = TIMEOUT) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path)
    return conn.getresponse()


def answers(port: int) -> bool:
    try:
        return get(port, "/", timeout=1.0).status == 200
    except OSError:
        return False


class MjpegReader:
    """Reads multipart/x-mixed-replace parts off a response, as a browser's <img> does."""

    def __init__(self, response: http.client.HTTPResponse):
        self.response = response

    def next_frame(self) -> bytes:
        line = self.response.readline()
        while line in (b"\r\n", b""):
            if line == b"":
                raise EOFError("stream ended")
            line = self.response.readline()
        assert line == f"--{BOUNDARY}\r\n".encode(), line
        headers = {}
        while (line := self.response.readline()) != b"\r\n":
            key, value = line.decode().split(":", 1)
            headers[key.strip().lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        return self.response.read(int(headers["content-length"]))


def strict_json(data: bytes):
    """JSON as a browser's JSON.parse reads it: NaN and Infinity are no JSON."""
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(data, parse_constant=refuse)


def sse_messages(response: http.client.HTTPResponse) -> Iterator[tuple[str, object]]:
    """(event type, JSON data) of each message of a Server-Sent Events stream, until it ends;
    the type is "message" unless the server named one."""
    kind = "message"
    while True:
        line = response.readline()
        if not line:
            return
        if line.startswith(b"event: "):
            kind = line[len(b"event: "):].strip().decode()
        elif line.startswith(b"data: "):
            yield kind, strict_json(line[len(b"data: "):])
        elif line in (b"\n", b"\r\n"):
            kind = "message"


def sse_events(response: http.client.HTTPResponse) -> Iterator[dict]:
    """The results of a Server-Sent Events stream, until it ends (the history left out)."""
    return (data for kind, data in sse_messages(response) if kind == "message")
