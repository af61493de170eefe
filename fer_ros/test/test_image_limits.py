"""Decompression bombs are refused from their headers, before anything is decoded: in the
converter the emotion node uses and in the camera's image folders (test_faults sends one to a
running emotion_node)."""

from __future__ import annotations

import resource

import cv2
import numpy as np
import pytest

from bombs import jpeg_header_only, png_bomb, png_header_only
from fer_ros.nodes.messages.image_conversion import ImageConversionError, compressed_to_bgr
from fer_ros.perception.limits.images import (
    DEFAULT_MAX_PIXELS,
    ImageHeaderError,
    ImageTooLarge,
    check_image_size,
    image_size,
)
from fer_ros.sources.frame_sources import FolderSource, FrameUnreadable, SourceSpec
from frames import astronaut_frame

BOMB_SIDE = 8000
"""64 megapixels: 62 KB of PNG, 192 MB once decoded to BGR; four times the default limit."""


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return png_bomb(BOMB_SIDE, BOMB_SIDE)


@pytest.mark.parametrize("suffix, fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".bmp", "BMP"),
                                         (".webp", "WebP"), (".tif", "TIFF"), (".ppm", "PNM"),
                                         (".pgm", "PNM")])
def test_header_size_is_the_decoded_size(suffix, fmt):
    frame = cv2.resize(astronaut_frame()[0], (321, 123))
    if suffix == ".pgm":
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    ok, data = cv2.imencode(suffix, frame)
    assert ok
    assert image_size(data.tobytes()) == (fmt, 321, 123)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    assert decoded.shape[:2] == (123, 321)


def test_progressive_jpeg_and_one_with_large_app_segments():
    frame = astronaut_frame()[0]
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok and image_size(data.tobytes()) == ("JPEG", 640, 480)
    exif = b"\xff\xe1" + (60000).to_bytes(2, "big") + bytes(59998)
    padded = data.tobytes()[:2] + exif + data.tobytes()[2:]
    assert image_size(padded) == ("JPEG", 640, 480)
    assert cv2.imdecode(np.frombuffer(padded, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)


@pytest.mark.parametrize("data", [png_header_only(32000, 32000), jpeg_header_only(60000, 60000),
                                  png_header_only(2**31 - 1, 2)])
def test_claimed_size_above_the_limit_is_refused_naming_it(data):
    with pytest.raises(ImageTooLarge) as refused:
        check_image_size(data, DEFAULT_MAX_PIXELS)
    _, width, height = image_size(data)
    assert f"{width}x{height}" in str(refused.value) and "4096x4096" in str(refused.value)


@pytest.mark.parametrize("data", [b"", b"GIF89a" + bytes(20), b"\x89PNG\r\n\x1a\n" + bytes(4),
                                  b"\xff\xd8\xff\xe0\x00\x01", png_header_only(0, 10)])
def test_unreadable_or_unknown_headers_are_refused(data):
    with pytest.raises(ImageHeaderError):
        check_image_size(data, DEFAULT_MAX_PIXELS)


def test_a_real_bomb_is_refused_without_decoding(bomb):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageConversionError) as refused:
        compressed_to_bgr("png", bomb)
    assert f"{BOMB_SIDE}x{BOMB_SIDE}" in str(refused.value)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50, f"peak RSS grew by {grown_mb:.0f} MB"
    assert compressed_to_bgr("png", bomb, max_pixels=BOMB_SIDE * BOMB_SIDE).shape == (
        BOMB_SIDE, BOMB_SIDE, 3)


def test_camera_folder_skips_a_bomb_and_plays_the_rest(tmp_path, bomb):
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), astronaut_frame()[0])
    (folder / "b.png").write_bytes(bomb)
    source = FolderSource(SourceSpec("folder", str(folder)))
    source.check()
    source.open()
    assert source.read().shape == (480, 640, 3)
    with pytest.raises(FrameUnreadable) as skipped:
        source.read()
    assert f"{BOMB_SIDE}x{BOMB_SIDE}" in str(skipped.value) and "b.png" in str(skipped.value)
