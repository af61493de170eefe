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


MCAP_MAGIC = b"\x89MCAP0\r\n"
IMAGE_SCHEMA = b"std_msgs/Header header\nstring format\nuint8[] data\n" + b"=" * 80 + (
    b"\nMSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n" + b"=" * 80
    + b"\nMSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n")


def _mcap_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<I", len(data)) + data


def _mcap_record(opcode: int, body: bytes) -> bytes:
    return struct.pack("<BQ", opcode, len(body)) + body


def _zeros(size: int):
    for done in range(0, size, CHUNK):
        yield bytes(min(CHUNK, size - done))


def mcap_chunk_bomb(compression: str, unpacked: int, stated: int | None = None,
                    summary: bool = True) -> bytes:
    """A valid MCAP file with a CompressedImage channel on /cam/image_raw/compressed and one
    chunk holding a message of ``unpacked`` zero bytes, compressed with ``zstd`` or ``lz4``
    (zstd: about 32 KB per GiB; lz4: 4 MB). The chunk record states ``stated`` bytes as its
    uncompressed size (default: the truth); with ``summary`` the file ends with schemas,
    channels, statistics and a chunk index as a complete recording does."""
    schema = _mcap_record(0x03, struct.pack("<H", 1)
                          + _mcap_string("sensor_msgs/msg/CompressedImage")
                          + _mcap_string("ros2msg") + struct.pack("<I", len(IMAGE_SCHEMA))
                          + IMAGE_SCHEMA)
    channel = _mcap_record(0x04, struct.pack("<HH", 1, 1)
                           + _mcap_string("/cam/image_raw/compressed") + _mcap_string("cdr")
                           + struct.pack("<I", 0))
    message_head = struct.pack("<BQ", 0x05, 22 + unpacked) + struct.pack("<HIQQ", 1, 0, 1, 1)
    inner_size = len(schema) + len(channel) + len(message_head) + unpacked
    if compression == "zstd":
        try:
            from compression import zstd
        except ImportError:
            from backports import zstd
        compressor = zstd.ZstdCompressor(level=3)
        parts = [compressor.compress(schema + channel + message_head)]
        parts += [compressor.compress(block) for block in _zeros(unpacked)]
        parts.append(compressor.flush())
    else:
        import lz4.frame

        compressor = lz4.frame.LZ4FrameCompressor()
        parts = [compressor.begin(), compressor.compress(schema + channel + message_head)]
        parts += [compressor.compress(block) for block in _zeros(unpacked)]
        parts.append(compressor.flush())
    payload = b"".join(parts)
    size = inner_size if stated is None else stated
    chunk = _mcap_record(0x06, struct.pack("<QQQI", 1, 1, size, 0) + _mcap_string(compression)
                         + struct.pack("<Q", len(payload)) + payload)
    header = _mcap_record(0x01, _mcap_string("ros2") + _mcap_string("bombs"))
    index = _mcap_record(0x07, struct.pack("<HI", 1, 16)
                         + struct.pack("<QQ", 1, len(schema) + len(channel)))
    data = MCAP_MAGIC + header + chunk + index + _mcap_record(0x0F, struct.pack("<I", 0))
    if not summary:
        return data + _mcap_record(0x02, struct.pack("<QQI", 0, 0, 0)) + MCAP_MAGIC
    statistics = _mcap_record(0x0B, struct.pack("<QHIIIIQQ", 1, 1, 1, 0, 0, 1, 1, 1)
                              + struct.pack("<I", 10) + struct.pack("<HQ", 1, 1))
    chunk_index = _mcap_record(0x08, struct.pack("<QQQQ", 1, 1, len(MCAP_MAGIC + header),
                                                 len(chunk))
                               + struct.pack("<IHQ", 10, 1, len(MCAP_MAGIC + header + chunk))
                               + struct.pack("<Q", len(index))
                               + _mcap_string(compression) + struct.pack("<QQ", len(payload),
                                                                         size))
    summary_start = len(data)
    return (data + schema + channel + statistics + chunk_index
            + _mcap_record(0x02, struct.pack("<QQI", summary_start, 0, 0)) + MCAP_MAGIC)
