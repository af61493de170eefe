"""The viewer's HTTP server on a real socket: every endpoint, and every bad case answered.

No ROS here, as in the viewer itself: the test feeds the Broadcast with real JPEGs and result
dicts, as nodes/viewer_node.py does, and talks to the server as browsers and scripts would.
"""

from __future__ import annotations

import http.client
import math
import re
import socket
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_ros.viewer.broadcast import EVENTS, FRAMES, MAX_CLIENTS, Broadcast
from fer_ros.viewer.server import (
    BOUNDARY,
    ViewerServer,
    ViewerStartError,
    exposure_warning,
    start_viewer,
)
from ros_harness import wait_until
from viewer_client import TIMEOUT, MjpegReader, sse_events, sse_messages, strict_json


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
    stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
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
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            sock.recv(100)  # the headers have begun: the client now vanishes mid-stream
            sock.close()
        assert wait_until(lambda kind=kind: viewer.broadcast.clients(kind) == 0, TIMEOUT), kind
    assert get(viewer, "/").status == 200


def test_a_full_stream_still_lets_a_new_client_in(viewer, camera):
    """MAX_CLIENTS pages watch; one more gets the stream at once, and the stream stays at
    its most: the client connected longest makes room."""
    watching = [get(viewer, "/stream.mjpg") for _ in range(MAX_CLIENTS)]
    assert all(r.status == 200 for r in watching)
    assert wait_until(lambda: viewer.broadcast.clients(FRAMES) == MAX_CLIENTS, TIMEOUT)
    newest = get(viewer, "/stream.mjpg")
    assert newest.status == 200
    assert grey_level(MjpegReader(newest).next_frame()) == 90
    assert viewer.broadcast.clients(FRAMES) == MAX_CLIENTS
    with pytest.raises(EOFError):
        reader = MjpegReader(watching[0])
        while True:
            reader.next_frame()
    assert get(viewer, "/events").status == 200, "the other stream has its own clients"
    assert get(viewer, "/").status == 200, "the page is still served"
    for response in [*watching, newest]:
        response.close()


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/static/../../../etc/passwd",
                                  "/%2e%2e/%2e%2e/etc/passwd", "/index.html", "/nothing"])
def test_paths_outside_the_page_are_404(viewer, path):
    answer = raw_request(viewer, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
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


ALLOWED = re.compile(r"(localhost\.?|127\.0\.0\.1\.?|\[::1\])(:[0-9]{1,5})?")
"""The Host values a viewer on 127.0.0.1 answers, written independently of the server's code:
its loopback names, any case, an optional root dot and port."""
HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=40)


def status_for_host(server: ViewerServer, host: str | None, path: str = "/",
                    origin: str | None = None) -> int:
    lines = [f"GET {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    if origin is not None:
        lines.append(f"Origin: {origin}")
    answer = raw_request(server, ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n")
                         .encode("latin-1"))
    return int(answer.split(b" ", 2)[1])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=st.one_of(
    HEADER_TEXT,
    st.builds(lambda name, case, dot, port: "".join(
        c.upper() if flip else c for c, flip in zip(name, case * 20)) + dot + port,
        st.sampled_from(["localhost", "127.0.0.1", "[::1]", "127.0.0.1.nip.io",
                         "localhost.evil.example", "evil.example", "10.0.0.1", "[::2]",
                         "127.0.0.2", "0.0.0.0", "localhost@evil.example", "::1"]),
        st.lists(st.booleans(), min_size=1, max_size=3), st.sampled_from(["", "."]),
        st.sampled_from(["", ":8080", ":1", ":", ":x", ":99999999"]))))
def test_only_the_names_the_viewer_is_served_under_get_an_answer(viewer, host):
    """DNS rebinding: a foreign site's name pointed at 127.0.0.1 sends its own name as Host."""
    expected = 200 if ALLOWED.fullmatch(host.lower()) else 421
    assert status_for_host(viewer, host) == expected, host


@pytest.mark.parametrize("path", ["/", "/events", "/stream.mjpg", "/viewer.js", "/nothing"])
@pytest.mark.parametrize("host", [None, "evil.example", "127.0.0.1.evil.example:8080", ""])
def test_every_path_refuses_a_foreign_or_missing_host(viewer, path, host):
    assert status_for_host(viewer, host, path) in (400, 421)
    assert viewer.broadcast.clients(FRAMES) == viewer.broadcast.clients(EVENTS) == 0


@pytest.mark.parametrize(("origin", "expected"), [
    (None, 200), ("http://127.0.0.1:8080", 200), ("http://localhost", 200),
    ("http://evil.example", 403), ("https://evil.example:8080", 403), ("null", 403),
    ("file://", 403), ("http://127.0.0.1.evil.example", 403)])
def test_the_streams_refuse_other_sites_origins(viewer, camera, origin, expected):
    for path in ("/events", "/stream.mjpg"):
        lines = ["GET " + path + " HTTP/1.1", "Host: 127.0.0.1"]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        with socket.create_connection(("127.0.0.1", viewer.server_address[1]),
                                      TIMEOUT) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            status = int(sock.recv(100).split(b" ", 2)[1])
        assert status == expected, (path, origin)


def test_on_every_interface_the_machines_names_and_addresses_pass_and_the_url_is_usable():
    server = start_viewer("0.0.0.0", 0, Broadcast())
    try:
        port = server.server_address[1]
        assert server.url == f"http://127.0.0.1:{port}/"
        for host, expected in ((f"127.0.0.1:{port}", 200), ("192.168.1.20", 200),
                               (socket.gethostname(), 200), ("localhost", 200),
                               ("evil.example", 421), ("192.168.1.20.nip.io", 421)):
            assert status_for_host(server, host) == expected, host
    finally:
        server.stop()


def test_a_new_events_client_gets_the_last_minute_first(viewer):
    """The page's timeline starts full: the results of the last 60 s by their stamps, as one
    history message, then the live ones."""
    for second in range(100):
        viewer.broadcast.publish_event({"stamp": 1000.0 + second, "frame_id": "", "faces": []})
    messages = sse_messages(get(viewer, "/events"))
    kind, history = next(messages)
    assert kind == "history"
    assert [e["stamp"] for e in history] == [1000.0 + s for s in range(39, 100)]
    assert wait_until(lambda: viewer.broadcast.clients(EVENTS) == 1, TIMEOUT)
    viewer.broadcast.publish_event({"stamp": 1100.0, "frame_id": "", "faces": []})
    assert next(messages) == ("message", {"stamp": 1100.0, "frame_id": "", "faces": []})
    # A replay started again: its time goes back, and the history starts over.
    viewer.broadcast.publish_event({"stamp": 5.0, "frame_id": "", "faces": []})
    kind, history = next(sse_messages(get(viewer, "/events")))
    assert (kind, [e["stamp"] for e in history]) == ("history", [5.0])


FLOATS = st.floats(allow_nan=True, allow_infinity=True)


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


@settings(max_examples=200, deadline=None)
@given(confidence=FLOATS, scores=st.lists(FLOATS, min_size=7, max_size=7))
def test_results_are_json_whatever_numbers_a_model_gives(confidence, scores):
    """A model that outputs NaN or infinity: every result is still JSON (which has no NaN),
    the numbers that are not finite as null, the others as they were."""
    broadcast = Broadcast()
    subscription = broadcast.join(EVENTS)
    face = {"face_id": 1, "label": "happy", "confidence": confidence, "box": [1, 2, 3, 4],
            "scores": dict(zip("abcdefg", scores))}
    broadcast.publish_event({"stamp": 2.0, "frame_id": "", "faces": [face]})
    received = strict_json(subscription.next(0).removeprefix(b"data: "))["faces"][0]
    assert received["confidence"] == finite_or_none(confidence)
    assert received["scores"] == {k: finite_or_none(v) for k, v in zip("abcdefg", scores)}


def test_a_nan_result_reaches_the_page_as_json(viewer):
    response = get(viewer, "/events")
    assert wait_until(lambda: viewer.broadcast.clients(EVENTS) == 1, TIMEOUT)
    viewer.broadcast.publish_event({"stamp": 2.0, "frame_id": "", "faces": [
        {"face_id": 1, "label": "happy", "confidence": float("nan"), "box": [1, 2, 3, 4],
         "scores": {"happy": float("nan"), "sad": float("inf")}}]})
    face = next(sse_events(response))["faces"][0]
    assert face["confidence"] is None and face["scores"] == {"happy": None, "sad": None}
    response.close()
