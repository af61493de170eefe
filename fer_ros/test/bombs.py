"""Decompression bombs: small files whose headers claim huge images, for tests and benchmarks."""

from __future__ import annotations

import struct
import zlib

U32 = 2**32 - 1
CHUNK = 1 << 24


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & U32))


def png_bomb(width: int, height: int) -> bytes:
    """A valid gray PNG of ``width`` x ``height`` black pixels: a few hundred bytes per
    megapixel, that decode to width * height * 3 bytes of BGR."""
    compressor = zlib.compressobj(9)
    total = height * (1 + width)  # a filter byte (0) before each row, then the row
    parts = [compressor.compress(bytes(min(CHUNK, total - done)))
             for done in range(0, total, CHUNK)]
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size and holds almost no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(bytes(64))) + _png_chunk(b"IEND", b""))


def jpeg_header_only(width: int, height: int) -> bytes:
    """A baseline JPEG frame header claiming a size, with an APP0 segment before it."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"
