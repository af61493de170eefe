"""MCAP files read for replay with every size checked before memory is spent on it.

A chunk record states how many bytes its compressed payload unpacks to, and general readers
trust it: a 100 KB file whose one zstd chunk unpacks to 3 GiB took 6.3 GB of memory before it
failed, and an lz4 chunk (whose decompressor does not even look at the stated size) of 2 GiB
ended in a traceback. Here the stated size is checked against ``MAX_CHUNK_BYTES`` before the
payload is read, and the payload is unpacked with the stated size as the decompressor's output
limit, so a chunk that lies about its size is caught at that size, not at the end of memory.

The file is opened once, only if it is a regular file (a FIFO named ``x.mcap`` blocked the
reader forever), and read from its summary when it has one: its channels without parsing any
channel's metadata (10,000 topics each with rosbag2's QoS YAML took minutes), its chunk index
to refuse a bomb before the first frame. A file cut short has no summary; its records are
streamed up to the last complete one and ``cut_short`` says why it ended.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from fer_ros.perception.limits.files import FileRefused, open_checked, regular_file_size

MAX_CHUNK_BYTES = 512 << 20
"""Most bytes one chunk may unpack to (and a record may hold). Writers cut chunks at about
1 MiB; a single message bigger than that gets a chunk of its own, and an 8K raw frame (7680x4320,
bgr8) is 100 MB: 512 MiB admits such frames with room to spare and bounds what one chunk costs."""
MAGIC = b"\x89MCAP0\r\n"
FOOTER_BYTES = 1 + 8 + 20
"""A footer record: opcode, length, then summary start, summary offset start, summary CRC."""
OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK = 0x02, 0x03, 0x04, 0x05, 0x06
OP_CHUNK_INDEX, OP_DATA_END = 0x08, 0x0F
COMPRESSIONS = ("", "zstd", "lz4")


class McapRefused(ValueError):
    """The file can never be read within bounds (a bomb, not MCAP, not a regular file); the
    message says why in one line, without the file's name (the caller has it)."""


@dataclass(frozen=True)
class Channel:
    id: int
    topic: str
    schema_id: int


@dataclass(frozen=True)
class Schema:
    id: int
    name: str
    encoding: str
    data: bytes


@dataclass(frozen=True)
class Message:
    channel_id: int
    log_time: int
    data: bytes


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is (or links to) a regular file; never blocks on a
    FIFO, even one swapped in after the check (perception/limits/files.py's ``open_checked``)."""
    try:
        regular_file_size(path, cap=2**63 - 1, what="it")
        fd = open_checked(path)
    except FileRefused as exc:
        raise McapRefused(str(exc).removeprefix(f"{path}: ")) from None
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class _Truncated(Exception):
    """The file ends inside a record."""


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise _Truncated(f"ends {size - len(data)} bytes short inside a record")
    return data


def _string(view: BytesIO) -> str:
    (size,) = struct.unpack("<I", _read(view, 4))
    return _read(view, size).decode("utf-8", errors="replace")


class McapFile:
    """One MCAP file, opened once: its schemas and channels, then its messages."""

    def __init__(self, path: Path, max_chunk_bytes: int | None = None):
        self.path = path
        self.max_chunk_bytes = MAX_CHUNK_BYTES if max_chunk_bytes is None else max_chunk_bytes
        self.schemas: dict[int, Schema] = {}
        self.channels: dict[int, Channel] = {}
        self.cut_short: str | None = None
        """Why a file without a summary ended where it did; None for a whole file."""
        self.scanned_messages = 0
        """Messages counted in a file without a summary (read in full to find its channels)."""
        self._stream = open_regular(path)
        self._size = os.fstat(self._stream.fileno()).st_size
        try:
            if self._stream.read(len(MAGIC)) != MAGIC:
                raise McapRefused("not an MCAP file (no MCAP magic at its start)")
            if not self._summary_read():
                self._scan_for_channels()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._stream.close()

    def _refuse(self, offset: int, reason: str) -> McapRefused:
        return McapRefused(f"the record at byte {offset} {reason}")

    def _summary_read(self) -> bool:
        """Schemas and channels from the summary, every chunk's stated size checked; False if
        there is no (readable) summary."""
        try:
            return self._read_summary()
        except (_Truncated, struct.error, UnicodeDecodeError):
            self.schemas.clear()
            self.channels.clear()
            return False

    def _read_summary(self) -> bool:
        if self._size < 2 * len(MAGIC) + FOOTER_BYTES:
            return False
        self._stream.seek(self._size - len(MAGIC) - FOOTER_BYTES)
        footer = self._stream.read(FOOTER_BYTES + len(MAGIC))
        if footer[-len(MAGIC):] != MAGIC or footer[0] != OP_FOOTER:
            return False
        summary_start = struct.unpack_from("<Q", footer, 9)[0]
        if not len(MAGIC) <= summary_start < self._size - len(MAGIC) - FOOTER_BYTES:
            return False
        self._stream.seek(summary_start)
        for _, opcode, body in self._records(self._size - len(MAGIC) - FOOTER_BYTES):
            if opcode == OP_SCHEMA:
                self._add_schema(body)
            elif opcode == OP_CHANNEL:
                self._add_channel(body)
            elif opcode == OP_CHUNK_INDEX:
                view = BytesIO(body)
                _read(view, 16)  # message start and end times
                (chunk_offset,) = struct.unpack("<Q", _read(view, 8))
                _read(view, 8)  # chunk record length
                (index_size,) = struct.unpack("<I", _read(view, 4))
                _read(view, index_size)
                _read(view, 8)  # message index length
                compression = _string(view)
                _read(view, 8)  # compressed size
                (uncompressed,) = struct.unpack("<Q", _read(view, 8))
                self._check_chunk(chunk_offset, compression, uncompressed)
        return True

    def _scan_for_channels(self) -> None:
        """A file without a summary (cut short): its schemas and channels from a first pass."""
        for record in self._data_records():
            if isinstance(record, Schema):
                self.schemas[record.id] = record
            elif isinstance(record, Channel):
                self.channels[record.id] = record
            else:
                self.scanned_messages += 1

    def messages(self, channel_ids: set[int]) -> Iterator[Message]:
        """The messages of these channels in file order (the order they were recorded in)."""
        for record in self._data_records():
            if isinstance(record, Message) and record.channel_id in channel_ids:
                yield record

    def _records(self, end: int) -> Iterator[tuple[int, int, bytes]]:
        """(offset, opcode, body) of the records from the stream's position up to ``end`` or
        the footer; a chunk's body is not read here (see _data_records)."""
        while True:
            offset = self._stream.tell()
            if offset >= end:
                return
            head = _read(self._stream, 9)
            opcode, length = head[0], struct.unpack_from("<Q", head, 1)[0]
            if opcode == OP_FOOTER:
                return
            if length > self.max_chunk_bytes:
                raise self._refuse(offset, f"claims {length} bytes, above the "
                                           f"{self.max_chunk_bytes} a record may take (a "
                                           "damaged file, or not MCAP)")
            if offset + 9 + length > self._size:
                raise _Truncated(f"the record at byte {offset} runs past the end of the file")
            yield offset, opcode, _read(self._stream, length)

    def _data_records(self) -> Iterator[Schema | Channel | Message]:
        """Schemas, channels and messages of the data section, chunks unpacked within bounds;
        a file cut short ends quietly at its last complete record and says so in cut_short."""
        self._stream.seek(len(MAGIC))
        try:
            for offset, opcode, body in self._records(self._size):
                if opcode == OP_DATA_END:
                    return
                if opcode == OP_CHUNK:
                    yield from self._inner_records(self._unpack_chunk(offset, body))
                else:
                    record = self._parse(opcode, body)
                    if record is not None:
                        yield record
        except (_Truncated, struct.error, UnicodeDecodeError) as exc:
            self.cut_short = str(exc) if isinstance(exc, _Truncated) else f"damaged: {exc}"
            return
        self.cut_short = "it ends after its last complete record, without its summary"

    def _inner_records(self, data: bytes) -> Iterator[Schema | Channel | Message]:
        view, position = memoryview(data), 0
        while position + 9 <= len(data):
            opcode, length = data[position], struct.unpack_from("<Q", data, position + 1)[0]
            start = position + 9
            if start + length > len(data):
                raise _Truncated("a record inside a chunk runs past the chunk's end")
            record = self._parse(opcode, bytes(view[start:start + length]))
            if record is not None:
                yield record
            position = start + length

    def _check_chunk(self, offset: int, compression: str, uncompressed: int) -> None:
        if compression not in COMPRESSIONS:
            raise self._refuse(offset, f"is a chunk compressed with {compression!r}; only "
                                       "zstd, lz4 or none can be read")
        if uncompressed > self.max_chunk_bytes:
            raise self._refuse(offset, f"is a chunk that unpacks to {uncompressed} bytes, "
                                       f"above the {self.max_chunk_bytes} a chunk may take "
                                       "(a decompression bomb, or a damaged file)")

    def _unpack_chunk(self, offset: int, body: bytes) -> bytes:
        view = BytesIO(body)
        _read(view, 16)  # message start and end times
        uncompressed, crc = struct.unpack("<QI", _read(view, 12))
        compression = _string(view)
        self._check_chunk(offset, compression, uncompressed)
        (size,) = struct.unpack("<Q", _read(view, 8))
        payload = _read(view, size)
        data = _decompress(payload, compression, uncompressed)
        if data is None or len(data) != uncompressed:
            raise self._refuse(offset, f"is a chunk whose payload does not unpack to the "
                                       f"{uncompressed} bytes it states (a decompression bomb, "
                                       "or a damaged file)")
        if crc and zlib.crc32(data) != crc:
            raise _Truncated(f"the chunk at byte {offset} fails its checksum")
        return data

    def _parse(self, opcode: int, body: bytes) -> Schema | Channel | Message | None:
        if opcode == OP_SCHEMA:
            return self._add_schema(body)
        if opcode == OP_CHANNEL:
            return self._add_channel(body)
        if opcode == OP_MESSAGE:
            channel_id, _, log_time = struct.unpack_from("<HIQ", body)
            return Message(channel_id, log_time, body[22:])
        return None

    def _add_schema(self, body: bytes) -> Schema:
        view = BytesIO(body)
        (schema_id,) = struct.unpack("<H", _read(view, 2))
        name, encoding = _string(view), _string(view)
        (size,) = struct.unpack("<I", _read(view, 4))
        schema = Schema(schema_id, name, encoding, _read(view, size))
        self.schemas.setdefault(schema_id, schema)
        return schema

    def _add_channel(self, body: bytes) -> Channel:
        """Only the channel's id, topic and schema: its metadata (rosbag2's QoS profiles) is
        never parsed."""
        view = BytesIO(body)
        channel_id, schema_id = struct.unpack("<HH", _read(view, 4))
        channel = Channel(channel_id, _string(view), schema_id)
        self.channels.setdefault(channel_id, channel)
        return channel


def _decompress(payload: bytes, compression: str, size: int) -> bytes | None:
    """``payload`` unpacked to at most ``size`` bytes, or None if it holds more (or is not
    valid): the decompressor is told the limit, so a lying chunk costs ``size`` bytes, no more."""
    if compression == "":
        return payload
    try:
        if compression == "zstd":
            decompressor: Any = _zstd().ZstdDecompressor()
            return decompressor.decompress(payload, max_length=size + 1)
        import lz4.frame

        decompressor = lz4.frame.LZ4FrameDecompressor()
        return decompressor.decompress(payload, max_length=size + 1)
    except Exception:  # each library raises its own types for a corrupt payload
        return None


def _zstd() -> Any:
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        from backports import zstd  # type: ignore[import-not-found,no-redef]
    return zstd
