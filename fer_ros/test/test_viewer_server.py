"""The viewer's HTTP server on a real socket: every endpoint, and every bad case answered.

No ROS here, as in the viewer itself: the test feeds the Broadcast with real JPEGs and result
dicts, as nodes/viewer_node.py does, and talks to the server as browsers and scripts would.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from fer_ros.viewer.broadcast import EVENTS, FRAMES, MAX_CLIENTS, Broadcast
from fer_ros.viewer.server import (
    BOUNDARY,
    ViewerServer,
    ViewerStartError,
    exposure_warning,
    start_viewer,
)
from ros_harness import wait_until
from viewer_client import TIMEOUT, MjpegReader, sse_events


def jpeg_of(value: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG of one grey level, so each frame can be told apart after decoding."""
    image = np.full((size[1], size[0], 3), value, np.uint8)
    return cv2.imencode(".jpg", image)[1].tobytes()


def grey_level(jpeg: bytes) -> int:
    return int(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).mean().round())


@pytest.fixture
def viewer() -> Iterator[ViewerServer]:
    server = start_viewer("127.0.0.1", 0, Broadcast())
    yield server
    server.stop()


def connect(server: ViewerServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=TIMEOUT)


def get(server: ViewerServer, path: str, method: str = "GET") -> http.client.HTTPResponse:
    conn = connect(server)
    conn.request(method, path)
    return conn.getresponse()


def raw_request(server: ViewerServer, request: bytes) -> bytes:
    """Bytes sent as they are: http.client and browsers would tidy a path like /../ away."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), TIMEOUT) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_page_and_its_files_are_served_from_the_package(viewer):
    response = get(viewer, "/")
    page = response.read().decode()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert 'src="stream.mjpg"' in page and 'src="viewer.js"' in page
    for path, kind in (("/viewer.js", "text/javascript"), ("/viewer.css", "text/css")):
        response = get(viewer, path)
        body = response.read().decode()
        assert response.status == 200 and response.getheader("Content-Type").startswith(kind)
        page += body
    assert "new EventSource(\"events\")" in page
    # Nothing from a CDN or anywhere else: every URL the page names is the server's own.
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page, re.IGNORECASE)


def test_mjpeg_stream_sends_the_newest_frame_first_then_every_new_one(viewer):
    viewer.broadcast.publish_frame(jpeg_of(10))
    response = get(viewer, "/stream.mjpg")
    assert response.status == 200
    assert response.getheader("Content-Type") == \
        f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    reader = MjpegReader(response)
    assert grey_level(reader.next_frame()) == 10
    assert wait_until(lambda: viewer.broadcast.clients(FRAMES) == 1, TIMEOUT)
    for value in (60, 120, 200):
        viewer.broadcast.publish_frame(jpeg_of(value))
        assert grey_level(reader.next_frame()) == value
    response.close()


def test_events_are_one_json_object_per_result(viewer):
    response = get(viewer, "/events")
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
    assert wait_until(lambda: viewer.broadcast.clients(EVENTS) == 1, TIMEOUT)
    sent = [{"stamp": 1.5 + i, "frame_id": "camera", "faces": [
        {"face_id": 3, "label": "happy", "confidence": 0.9, "box": [1, 2, 30, 40],
         "scores": {"happy": 0.9, "sad": 0.1}}]} for i in range(3)]
    for event in sent:
        viewer.broadcast.publish_event(event)
    received = sse_events(response)
    assert [next(received) for _ in sent] == sent
    response.close()


def test_a_stalled_client_never_holds_up_the_others_or_the_publisher(viewer):
    """One client connects and never reads: its one-frame mailbox overflows quietly, the
    publisher goes on and another client sees every new frame."""
    stalled = socket.create_connection(("127.0.0.1", viewer.server_address[1]), TIMEOUT)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    assert wait_until(lambda: viewer.broadcast.clients(FRAMES) == 1, TIMEOUT)
    big = [jpeg_of(v, (1280, 960)) for v in range(256)]  # noise-free but large frames
    noise = np.random.default_rng(0).integers(0, 255, (960, 1280, 3), np.uint8)
    big.append(cv2.imencode(".jpg", noise)[1].tobytes())  # about 1.5 MB: fills any buffer
    done = threading.Event()

    def publish() -> None:
        for _ in range(3):
            for frame in big:
                viewer.broadcast.publish_frame(frame)
        done.set()

    threading.Thread(target=publish, daemon=True).start()
    assert done.wait(TIMEOUT), "publishing waited on the stalled client"
    reader = MjpegReader(get(viewer, "/stream.mjpg"))
    assert reader.next_frame() == big[-1]
    viewer.broadcast.publish_frame(jpeg_of(77))
    assert grey_level(reader.next_frame()) == 77
    stalled.close()


@pytest.fixture
def camera(viewer) -> Iterator[None]:
    """Frames and results at 100 Hz for the test's whole length, as a busy pipeline sends them:
    a server learns that a client has gone when it next writes to it."""
    stop = threading.Event()
    frame = jpeg_of(90, (640, 480))

    def keep_publishing() -> None:
        while not stop.is_set():
            viewer.broadcast.publish_frame(frame)
            viewer.broadcast.publish_event({"stamp": 0.0, "frame_id": "", "faces": []})
            time.sleep(0.01)

    thread = threading.Thread(target=keep_publishing, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def test_clients_that_disconnect_mid_stream_are_let_go(viewer, camera):
    for path, kind in (("/stream.mjpg", FRAMES), ("/events", EVENTS)):
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", viewer.server_address[1]), TIMEOUT)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            sock.recv(100)  # the headers have begun: the client now vanishes mid-stream
            sock.close()
        assert wait_until(lambda kind=kind: viewer.broadcast.clients(kind) == 0, TIMEOUT), kind
    assert get(viewer, "/").status == 200


def test_more_than_the_most_clients_get_a_clear_503(viewer, camera):
    watching = [get(viewer, "/stream.mjpg") for _ in range(MAX_CLIENTS)]
    assert all(r.status == 200 for r in watching)
    assert wait_until(lambda: viewer.broadcast.clients(FRAMES) == MAX_CLIENTS, TIMEOUT)
    refused = get(viewer, "/stream.mjpg")
    assert refused.status == 503
    assert refused.getheader("Retry-After") == "5"
    assert f"{MAX_CLIENTS} clients already watch" in refused.read().decode()
    assert get(viewer, "/events").status == 200, "the other stream has its own limit"
    assert get(viewer, "/").status == 200, "the page is still served"
    watching.pop().close()
    assert wait_until(lambda: viewer.broadcast.clients(FRAMES) < MAX_CLIENTS, TIMEOUT)
    assert get(viewer, "/stream.mjpg").status == 200
    for response in watching:
        response.close()


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/static/../../../etc/passwd",
                                  "/%2e%2e/%2e%2e/etc/passwd", "/index.html", "/nothing"])
def test_paths_outside_the_page_are_404(viewer, path):
    answer = raw_request(viewer, f"GET {path} HTTP/1.1\r\nHost: x\r\n"
                                 "Connection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:200]
    assert b"root:" not in answer


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD",
                                    "BREW"])
def test_other_methods_are_405(viewer, method):
    response = get(viewer, "/", method)
    assert response.status == 405
    assert response.getheader("Allow") == "GET"


def test_a_port_in_use_is_one_line_naming_it():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ViewerStartError) as caught:
            start_viewer("127.0.0.1", port, Broadcast())
    message = str(caught.value)
    assert message == f"cannot serve on 127.0.0.1:{port}: the port is in use (another viewer " \
                      "or program); choose another port"


def test_stopping_ends_every_stream(viewer):
    viewer.broadcast.publish_frame(jpeg_of(5))
    reader = MjpegReader(get(viewer, "/stream.mjpg"))
    events = get(viewer, "/events")
    reader.next_frame()
    viewer.stop()
    with pytest.raises(EOFError):
        while True:
            reader.next_frame()
    assert list(sse_events(events)) == []


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("localhost", False),
                                              ("::1", False), ("0.0.0.0", True),
                                              ("192.168.1.20", True), ("robot.local", True)])
def test_exposing_the_viewer_warns_that_there_is_no_authentication(host, warned):
    warning = exposure_warning(host)
    assert (warning is not None) == warned
    if warned:
        assert "no authentication" in warning and host in warning


def test_a_connection_reset_by_the_browser_prints_nothing(viewer, capfd):
    """A tab closed while its request is read resets the connection: no traceback in the log
    of the node that serves the page (the standard library prints one by default)."""
    for _ in range(3):
        sock = socket.create_connection(viewer.server_address[:2], timeout=TIMEOUT)
        sock.sendall(b"GET / HT")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    assert get(viewer, "/").status == 200, "the server goes on serving"
    time.sleep(0.5)
    assert "Traceback" not in capfd.readouterr().err
