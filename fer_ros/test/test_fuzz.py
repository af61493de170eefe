"""Random input at the emotion node: the converters and the pipeline fuzzed in-process by the
hundred, then a running node over DDS. Whatever arrives, nothing but ImageConversionError comes
out of a conversion, the node stays up, counts bad frames as bad input (not as failures) and
still answers the next good frame.

Examples are derandomised (the same every run) and bounded in number, so the run time is too.
"""

from __future__ import annotations

import string
import struct
import time
import zlib

import cv2
import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (requirements-test.txt, "
                    "or python3-hypothesis on a ROS install)")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from emotion_session import Session  # noqa: E402
from fer_ros.nodes.messages.image_conversion import (  # noqa: E402
    SUPPORTED_ENCODINGS,
    ImageConversionError,
    compressed_to_bgr,
    raw_to_bgr,
)
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig  # noqa: E402
from fer_ros.sources.sample import sample_faces_frame  # noqa: E402
from frames import astronaut_frame, header, image_msg, jpeg_msg  # noqa: E402
from test_faults import node_totals  # noqa: E402

U32 = 2**32 - 1
MAX_BYTES = 1_000_000
"""Largest payload generated: a 640x480 bgr8 frame and then some, inside the SHM segment."""
BYTES_PER_PIXEL = {"mono8": 1, "yuv422_yuy2": 2, "bgra8": 4, "rgba8": 4}
ENCODINGS = (*SUPPORTED_ENCODINGS, "32FC1", "mono16", "bgr16", "bayer_rggb8", "BGR8", "")
TEXT = st.lists(st.sampled_from(string.printable + "é€😀"), max_size=12).map("".join)
"""Free text for string fields, drawn without st.text, which writes a cache of Unicode tables
into the working tree (.hypothesis/)."""
PAUSE_S = 0.02
"""Between published examples, so the node takes each one instead of only the newest."""

FUZZ = settings(deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

_frame, _ = astronaut_frame()
_ENCODED = {
    "jpeg": cv2.imencode(".jpg", _frame)[1].tobytes(),
    "png": cv2.imencode(".png", cv2.resize(_frame, (160, 120)))[1].tobytes(),
}


def random_bytes(seed: int, size: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


@st.composite
def raw_images(draw) -> Image:
    """Image messages whose fields agree, nearly agree or contradict each other."""
    encoding = draw(st.sampled_from(ENCODINGS)
                    | TEXT)
    width = draw(st.integers(0, 48) | st.sampled_from((639, 640, 641)) | st.integers(0, U32))
    height = draw(st.integers(0, 48) | st.sampled_from((479, 480)) | st.integers(0, U32))
    row = width * BYTES_PER_PIXEL.get(encoding, 3)
    step = draw(st.sampled_from((row, row + 1, row + 13, row - 1, 0)) | st.integers(0, U32))
    step = min(max(step, 0), U32)
    size = draw(st.sampled_from((step * height, step * height - 1, step * height + 7, 0))
                | st.integers(0, 4096))
    msg = Image(height=height, width=width, encoding=encoding, step=step,
                is_bigendian=draw(st.integers(0, 255)))
    msg.data = random_bytes(draw(st.integers(0, U32)), min(max(size, 0), MAX_BYTES))
    return msg


@st.composite
def compressed_images(draw) -> CompressedImage:
    """Random bytes, and real JPEG/PNG files cut short or with bytes overwritten."""
    fmt = draw(st.sampled_from(("jpeg", "png", "", "bgr8; jpeg compressed bgr8"))
               | TEXT)
    kind = draw(st.sampled_from(("random", "truncated", "mutated")))
    if kind == "random":
        data = draw(st.binary(max_size=4096))
    else:
        data = bytearray(_ENCODED[draw(st.sampled_from(sorted(_ENCODED)))])
        if kind == "truncated":
            data = data[:draw(st.integers(0, len(data) - 1))]
        else:
            rng = np.random.default_rng(draw(st.integers(0, U32)))
            positions = rng.integers(0, len(data), draw(st.integers(1, 40)))
            data_array = np.frombuffer(data, np.uint8).copy()
            data_array[positions] = rng.integers(0, 256, positions.size)
            data = data_array.tobytes()
    return CompressedImage(format=fmt, data=bytes(data))


def check_bgr(image: np.ndarray, height: int | None = None, width: int | None = None) -> None:
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    if height is not None:
        assert image.shape[:2] == (height, width)


@settings(FUZZ, max_examples=400)
@given(raw_images())
def test_raw_conversion_returns_pixels_or_a_reason(msg):
    try:
        image = raw_to_bgr(msg.encoding, msg.height, msg.width, msg.step, msg.data)
    except ImageConversionError as exc:
        assert str(exc)
        return
    check_bgr(image, msg.height, msg.width)


@settings(FUZZ, max_examples=400)
@given(compressed_images())
def test_compressed_conversion_returns_pixels_or_a_reason(msg):
    try:
        image = compressed_to_bgr(msg.format, msg.data)
    except ImageConversionError as exc:
        assert str(exc)
        return
    check_bgr(image)


def test_yuy2_with_an_odd_width_is_bad_input():
    with pytest.raises(ImageConversionError):
        raw_to_bgr("yuv422_yuy2", 2, 3, 6, bytes(12))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size and holds almost no pixels: 250 bytes on the wire."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & U32))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b""))


def test_compressed_image_declaring_a_huge_size_is_refused_cheaply():
    """Below OpenCV's pixel limit the decoder gives up on the missing data; nothing is kept."""
    with pytest.raises(ImageConversionError):
        compressed_to_bgr("png", png_header_only(30000, 30000))


def test_compressed_image_beyond_opencvs_pixel_limit_is_bad_input():
    with pytest.raises(ImageConversionError):
        compressed_to_bgr("png", png_header_only(60000, 60000))


def jpeg_header_only(width: int, height: int) -> bytes:
    """A JPEG whose frame header (SOF0) claims a size, after an APP0 segment."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


@st.composite
def huge_headers(draw) -> tuple[bytes, int, int]:
    """PNG and JPEG headers claiming more pixels than the default limit (4096x4096), up to
    what the formats can express, with or without some pixel data behind them."""
    kind = draw(st.sampled_from(("png", "jpeg")))
    largest = U32 if kind == "png" else 65535
    width = draw(st.integers(4097, largest))
    height = draw(st.integers(max(1, (4096 * 4096) // width + 1), largest))
    data = png_header_only(width, height) if kind == "png" else jpeg_header_only(width, height)
    tail = draw(st.sampled_from((b"", bytes(100), _ENCODED["jpeg"][:500])))
    return data + tail, width, height


@settings(FUZZ, max_examples=300)
@given(huge_headers())
def test_headers_claiming_huge_sizes_are_refused_before_decoding(case):
    data, width, height = case
    with pytest.raises(ImageConversionError) as refused:
        compressed_to_bgr("png", data)
    assert f"{width}x{height}" in str(refused.value)


@pytest.fixture(scope="module")
def pipeline() -> EmotionPipeline:
    return EmotionPipeline.from_config(PipelineConfig())


_CROWDS = {n: sample_faces_frame(n)[0] for n in (1, 4, 8)}


@settings(FUZZ, max_examples=60)
@given(width=st.integers(1, 900), height=st.integers(1, 700), faces=st.sampled_from((1, 4, 8)))
def test_pipeline_answers_frames_of_any_size_and_shape(pipeline, width, height, faces):
    """Squeezed, stretched and tiny frames put faces at and over the border."""
    frame = cv2.resize(_CROWDS[faces], (width, height), interpolation=cv2.INTER_AREA)
    for face in pipeline.process(frame):
        assert face.label in pipeline.labels
        assert np.isfinite(face.scores).all()
        assert face.scores.sum() == pytest.approx(1.0, abs=1e-3)


def throw_at(session: Session, strategy, examples: int) -> int:
    """Publish ``examples`` drawn messages under fresh stamps; returns how many went out."""
    sent = []

    @settings(FUZZ, max_examples=examples)
    @given(strategy)
    def throw(msg) -> None:
        msg.header = header(session.next_stamp())
        session.pub.publish(msg)
        sent.append(msg.header.stamp)
        time.sleep(PAUSE_S)

    throw()
    return len(sent)


def assert_survived(session: Session, sent: int, good) -> None:
    answer = session.send(good)
    assert answer is not None and len(answer.emotions) == 1, session.node.output
    assert session.node.alive()
    output = session.node.output
    assert "Traceback" not in output
    time.sleep(0.6)  # one more statistics line, covering the good frame
    totals = node_totals(session.node.output)
    assert totals["taken"] >= sent // 2, totals
    assert totals["bad"] > 0 and totals["failed"] == 0, (totals, output)


def fuzz_running_node(session: Session, strategy, examples: int, good_message) -> None:
    """Throw random messages at the node, then check it survived and answers a good frame."""
    sent = throw_at(session, strategy, examples)
    frame, _ = astronaut_frame()
    assert_survived(session, sent, good_message(frame, session.next_stamp()))


def test_node_survives_random_raw_images(ros_domain, ros_env, tmp_path):
    with Session(ros_domain, ros_env, tmp_path, "stats_period:=0.5") as session:
        fuzz_running_node(session, raw_images(), 120, image_msg)


def test_node_survives_random_compressed_images(ros_domain, ros_env, tmp_path):
    with Session(ros_domain, ros_env, tmp_path, "stats_period:=0.5",
                 "image_transport:=compressed", compressed=True) as session:
        fuzz_running_node(session, compressed_images(), 80, jpeg_msg)
