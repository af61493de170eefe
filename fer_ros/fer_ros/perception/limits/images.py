"""Decoded size of an encoded image, read from its header, and a limit checked before decoding.

A few kilobytes of PNG or JPEG can claim 32000x32000 pixels: decoding such a file costs
gigabytes and seconds before anything can look at the result. So every place that decodes
untrusted bytes (the emotion node's compressed input, the camera's image folders, ``fer
predict``, dataset folders) first reads the size from the header, which costs microseconds, and
refuses the image when the size is above a limit. Formats whose size cannot be read from the
header are refused too: OpenCV decodes many formats by their content, and an unbounded one
would reopen the hole.
"""

from __future__ import annotations

import os
import struct

import cv2
import numpy as np

from fer_ros.perception.limits.files import FileRefused, read_bounded

DEFAULT_MAX_PIXELS = 4096 * 4096
"""16.8 megapixels: every camera a robot carries (8K video is 33 MP, so it is refused
unless the limit is raised), and about 50 MB as BGR."""
MAX_IMAGE_FILE_BYTES = 256 << 20
"""Largest image file read: an uncompressed 16-bit RGBA TIFF at DEFAULT_MAX_PIXELS is 134 MB."""
MAX_PIXELS_LIMIT = 1 << 30
"""OpenCV's own ceiling (CV_IO_MAX_IMAGE_PIXELS); a larger limit would mean nothing."""

_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                       0xCF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_PNM_MAGIC = (b"P1", b"P2", b"P3", b"P4", b"P5", b"P6")


class ImageTooLarge(ValueError):
    """The header claims more pixels than the limit; the message names the size and limit."""


class ImageHeaderError(ValueError):
    """The bytes are not an image whose size can be read from its header."""


def image_size(data: bytes | bytearray | memoryview) -> tuple[str, int, int]:
    """Format, width and height from the header of a PNG, JPEG, BMP, WebP, TIFF or PNM image.

    Only the first bytes are read (a JPEG's markers up to its frame header); nothing is decoded.
    """
    head = bytes(data[:32])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(head) < 24 or head[12:16] != b"IHDR":
            raise ImageHeaderError("PNG without an IHDR header")
        width, height = struct.unpack(">II", head[16:24])
        return "PNG", width, height
    if head.startswith(b"\xff\xd8"):
        return "JPEG", *_jpeg_size(memoryview(data))
    if head.startswith(b"BM") and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        return "BMP", abs(width), abs(height)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP", *_webp_size(bytes(data[:30]))
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF", *_tiff_size(memoryview(data))
    if head[:2] in _PNM_MAGIC:
        return "PNM", *_pnm_size(bytes(data[:1024]))
    raise ImageHeaderError("not a PNG, JPEG, BMP, WebP, TIFF or PNM image")


def check_image_size(data: bytes | bytearray | memoryview, max_pixels: int) -> tuple[int, int]:
    """Width and height of an encoded image whose header is within ``max_pixels``.

    Raises ImageTooLarge naming the claimed size, or ImageHeaderError when the size cannot be read.
    """
    kind, width, height = image_size(data)
    if width <= 0 or height <= 0:
        raise ImageHeaderError(f"{kind} header claims an empty {width}x{height} image")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"{kind} image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels "
            f"({describe_pixels(max_pixels)}); refused before decoding")
    return width, height


def describe_pixels(pixels: int) -> str:
    side = int(pixels ** 0.5)
    return f"{side}x{side}" if side * side == pixels else f"{pixels / 1e6:.1f} megapixels"


def _jpeg_size(data: memoryview) -> tuple[int, int]:
    """Walk the marker segments to the first frame header (SOFn), which holds the size."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ImageHeaderError(f"JPEG marker expected at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            break
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker in _JPEG_SOF:
            if pos + 9 > len(data) or length < 7:
                break
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        if length < 2:
            raise ImageHeaderError(f"JPEG segment of length {length} at byte {pos}")
        pos += 2 + length
    raise ImageHeaderError("JPEG without a frame header (SOF) before its image data")


def _webp_size(head: bytes) -> tuple[int, int]:
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30:
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(head) >= 30:
        return (int.from_bytes(head[24:27], "little") + 1,
                int.from_bytes(head[27:30], "little") + 1)
    raise ImageHeaderError("WebP without a VP8, VP8L or VP8X header")


def _tiff_size(data: memoryview) -> tuple[int, int]:
    """ImageWidth (256) and ImageLength (257) of the first image file directory."""
    order = "<" if bytes(data[:2]) == b"II" else ">"
    try:
        (offset,) = struct.unpack(order + "I", data[4:8])
        (count,) = struct.unpack(order + "H", data[offset:offset + 2])
        size: dict[int, int] = {}
        for index in range(count):
            entry = offset + 2 + 12 * index
            tag, kind = struct.unpack(order + "HH", data[entry:entry + 4])
            if tag in (256, 257):
                fmt = order + ("H" if kind == 3 else "I")
                size[tag] = struct.unpack_from(fmt, data, entry + 8)[0]
    except struct.error as exc:
        raise ImageHeaderError(f"truncated TIFF header ({exc})") from exc
    if 256 not in size or 257 not in size:
        raise ImageHeaderError("TIFF without ImageWidth and ImageLength")
    return size[256], size[257]


def _pnm_size(head: bytes) -> tuple[int, int]:
    """The two numbers after the magic, skipping whitespace and # comments."""
    numbers: list[int] = []
    for line in head[2:].split(b"\n"):
        for token in line.split(b"#", 1)[0].split():
            if not token.isdigit():
                raise ImageHeaderError("PNM header with a non-numeric size")
            numbers.append(int(token))
            if len(numbers) == 2:
                return numbers[0], numbers[1]
    raise ImageHeaderError("PNM header without a size")


def decode_image(data: bytes | bytearray | memoryview | np.ndarray, max_pixels: int,
                 flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
    """``cv2.imdecode`` after the header check: None when the decoder fails, ImageTooLarge or
    ImageHeaderError when the image is refused before decoding."""
    buffer = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    check_image_size(memoryview(buffer), max_pixels)
    return cv2.imdecode(buffer, flags)


def read_image(path: str | os.PathLike, max_pixels: int,
               flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
    """``cv2.imread`` with the header check first. The path must be a regular file of at most
    MAX_IMAGE_FILE_BYTES, checked before it is opened (a FIFO among a dataset's images blocked
    the reader for good), else ImageHeaderError says what it is."""
    try:
        data = read_bounded(path, MAX_IMAGE_FILE_BYTES, "image file")
    except FileRefused as exc:
        raise ImageHeaderError(str(exc)) from None
    return decode_image(np.frombuffer(data, dtype=np.uint8), max_pixels, flags)
