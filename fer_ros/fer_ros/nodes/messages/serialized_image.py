"""A sensor_msgs/Image read straight from its serialized (CDR) bytes, pixels left in place.

rclpy turns a received Image into a Python message by copying its pixels into an
``array.array`` element by element; at 1920x1080 that cost several times a plain copy of the
6 MB, on every frame the camera sends, those the node then drops as stale included. Taking
the message serialized (``raw=True``) costs one copy, and the fields are read here from the CDR
layout the ROS 2 middlewares put on the wire (a 4-byte encapsulation header, then the fields in
order, each aligned to its size from the end of that header); the pixels stay a view into the
bytes, so only frames that are processed are ever looked at.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from std_msgs.msg import Header

from fer_ros.nodes.messages.image_conversion import ImageConversionError

_ENCAPSULATION = 4
_BYTE_ORDER = {0: ">", 1: "<"}
"""Encapsulation kind (plain CDR) -> struct byte order: 0 big-endian, 1 little-endian."""


@dataclass(frozen=True)
class SerializedImage:
    """The fields of an Image message, ``data`` a view into the serialized bytes."""

    header: Header
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: memoryview


class _Reader:
    def __init__(self, buffer: bytes):
        if len(buffer) < _ENCAPSULATION or buffer[0] != 0 or buffer[1] not in _BYTE_ORDER:
            raise ImageConversionError(
                f"not a plain CDR message (encapsulation {bytes(buffer[:2]).hex() or 'none'})")
        self.view = memoryview(buffer)
        self.order = _BYTE_ORDER[buffer[1]]
        self.offset = _ENCAPSULATION

    def _take(self, size: int, align: int) -> int:
        start = self.offset + (-(self.offset - _ENCAPSULATION) % align)
        if start + size > len(self.view):
            raise ImageConversionError(
                f"serialized image ends after {len(self.view)} bytes, inside its fields")
        self.offset = start + size
        return start

    def uint32(self) -> int:
        return struct.unpack_from(self.order + "I", self.view, self._take(4, 4))[0]

    def int32(self) -> int:
        return struct.unpack_from(self.order + "i", self.view, self._take(4, 4))[0]

    def uint8(self) -> int:
        return self.view[self._take(1, 1)]

    def string(self) -> str:
        length = self.uint32()
        start = self._take(length, 1)
        text = bytes(self.view[start:start + length]).rstrip(b"\0")
        try:
            return text.decode()
        except UnicodeDecodeError as exc:
            raise ImageConversionError(f"serialized image holds a string that is not "
                                       f"UTF-8: {text[:32]!r}") from exc

    def octets(self) -> memoryview:
        length = self.uint32()
        start = self._take(length, 1)
        return self.view[start:start + length]


def read_serialized_image(buffer: bytes) -> SerializedImage:
    """The fields of a serialized sensor_msgs/Image; ImageConversionError if it is cut short
    or not plain CDR. The fields' values are checked where the pixels are converted."""
    reader = _Reader(buffer)
    header = Header()
    header.stamp.sec = reader.int32()
    header.stamp.nanosec = reader.uint32()
    header.frame_id = reader.string()
    height, width = reader.uint32(), reader.uint32()
    encoding = reader.string()
    is_bigendian = reader.uint8()
    step = reader.uint32()
    return SerializedImage(header, height, width, encoding, is_bigendian, step, reader.octets())


def serialized_stamp_ns(buffer: bytes) -> int:
    """The header stamp of a serialized message whose first field is a std_msgs/Header (an
    Image), in nanoseconds, read without the rest; ImageConversionError if it is cut short."""
    reader = _Reader(buffer)
    sec = reader.int32()
    return sec * 1_000_000_000 + reader.uint32()
