"""Recorded runs as a frame source: a ROS 2 MCAP file or a rosbag2 folder (mcap or sqlite3).

rosbag2 is not on PyPI, so bags are read with ``rosbags`` (pure Python, Apache-2.0), which
decodes CDR from the message definitions stored in the bag itself: no rclpy, and no need for
the recorded message packages to be installed. The node supplies the image decoding, since
turning a sensor_msgs image into pixels is its concern (fer_ros.nodes.messages.image_conversion).

A file cut short (a recorder that was killed, a full disk) has no summary at its end, which
``rosbags`` refuses; such a file is read record by record with ``mcap``'s stream reader up to
its last complete chunk, and the source says so in ``warning``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fer_ros.sources.frame_sources import FrameSource, FrameUnreadable, SourceError, SourceSpec

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
STORAGES = ("mcap", "sqlite3")
MAX_RATE = 1000.0
"""Rate used for frames recorded with the same stamp: effectively at once."""

ImageDecoder = Callable[[str, Any], np.ndarray]
"""(message type, decoded message) to BGR pixels; raises ValueError for a bad image."""


def is_bag(path: Path) -> bool:
    """A ``.mcap`` file, or a folder that rosbag2 wrote (its metadata.yaml, or only the
    storage files that a killed ``ros2 bag record`` leaves)."""
    if path.suffix.lower() == ".mcap":
        return True
    if not path.is_dir():
        return False
    return (path / "metadata.yaml").is_file() or any(
        p.suffix in (".mcap", ".db3") for p in path.iterdir())


@dataclass(frozen=True)
class RecordedFrame:
    """What a bag says about the frame last read, beside its pixels."""

    sec: int
    nanosec: int
    frame_id: str
    camera_info: Any | None
    """The bag's most recent sensor_msgs/CameraInfo (as decoded by rosbags), if it has one."""


@dataclass(frozen=True)
class RecordedMessage:
    topic: str
    msgtype: str
    log_time: int
    message: Any


class BagReader:
    """The topics and messages of one bag, complete or cut short."""

    def __init__(self, path: Path):
        self.path = path
        self.warning: str | None = None
        self.topics: dict[str, str] = {}
        self._storage = self._check_storage()
        self._streamed: list[Path] | None = None
        self._typestore: Any = None
        try:
            self._inspect_complete()
        except Exception as exc:  # rosbags raises many types for a damaged file
            if self._storage != "mcap":
                raise SourceError(f"cannot read the bag {path}: {exc}") from None
            self._inspect_truncated(exc)

    def _check_storage(self) -> str:
        if not self.path.exists():
            raise SourceError(f"no such bag: {self.path}")
        if self.path.is_file():
            return "mcap"
        metadata = self.path / "metadata.yaml"
        if not metadata.is_file():
            return "mcap" if any(self.path.glob("*.mcap")) else "sqlite3"
        try:
            info = yaml.safe_load(metadata.read_text(encoding="utf-8"))
            storage = info["rosbag2_bagfile_information"]["storage_identifier"]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise SourceError(f"{metadata} is not rosbag2 metadata: {exc}") from None
        if storage not in STORAGES:
            raise SourceError(f"the bag {self.path} uses the storage {storage!r}; only "
                              f"{' and '.join(STORAGES)} can be replayed")
        return storage

    def _inspect_complete(self) -> None:
        from rosbags.highlevel import AnyReader

        with AnyReader([self.path]) as reader:
            self.topics = {c.topic: c.msgtype for c in reader.connections}

    def _inspect_truncated(self, error: Exception) -> None:
        """Read what a file without its summary holds, up to its last complete chunk."""
        from rosbags.typesys import Stores, get_types_from_msg, get_typestore

        files = [self.path] if self.path.is_file() else sorted(self.path.glob("*.mcap"))
        types: dict[str, Any] = {}
        schemas: dict[int, str] = {}
        messages = 0
        for file in files:
            for record in _stream_records(file):
                kind = type(record).__name__
                if kind == "Schema":
                    schemas[record.id] = record.name
                    if record.encoding == "ros2msg":
                        types.update(get_types_from_msg(record.data.decode(), record.name))
                elif kind == "Channel":
                    self.topics[record.topic] = schemas.get(record.schema_id, "")
                elif kind == "Message":
                    messages += 1
        if not messages:
            raise SourceError(f"cannot read the bag {self.path}: {error} (and no complete "
                              "message before that: not an MCAP recording, or empty)")
        self._streamed = files
        self._typestore = get_typestore(Stores.EMPTY)
        self._typestore.register(types)
        self.warning = (f"the bag {self.path} is cut short ({error}): playing the "
                        f"{messages} messages before the cut")

    def messages(self, topics: set[str]) -> Iterator[RecordedMessage]:
        """The messages of ``topics`` in recorded order, decoded."""
        if self._streamed is not None:
            yield from self._streamed_messages(topics)
            return
        from rosbags.highlevel import AnyReader

        with AnyReader([self.path]) as reader:
            wanted = [c for c in reader.connections if c.topic in topics]
            for connection, log_time, data in reader.messages(connections=wanted):
                yield RecordedMessage(connection.topic, connection.msgtype, log_time,
                                      reader.deserialize(data, connection.msgtype))

    def _streamed_messages(self, topics: set[str]) -> Iterator[RecordedMessage]:
        schemas: dict[int, str] = {}
        channels: dict[int, tuple[str, str]] = {}
        for file in self._streamed or ():
            for record in _stream_records(file):
                kind = type(record).__name__
                if kind == "Schema":
                    schemas[record.id] = record.name
                elif kind == "Channel":
                    channels[record.id] = (record.topic, schemas.get(record.schema_id, ""))
                elif kind == "Message":
                    topic, msgtype = channels.get(record.channel_id, ("", ""))
                    if topic in topics:
                        yield RecordedMessage(topic, msgtype, record.log_time,
                                              self._typestore.deserialize_cdr(record.data,
                                                                              msgtype))


def _stream_records(file: Path) -> Iterator[Any]:
    """MCAP records of a file in order, ending quietly where the file is cut or damaged."""
    from mcap.exceptions import McapError
    from mcap.stream_reader import StreamReader

    with file.open("rb") as stream:
        try:
            yield from StreamReader(stream, skip_magic=False).records
        except (McapError, EOFError, ValueError, OSError):
            return


class BagSource(FrameSource):
    """The images of one topic of a bag, at their recorded pace, with their recorded stamps
    and camera_info (``recorded``)."""

    def __init__(self, spec: SourceSpec, topic: str, loop: bool, decode: ImageDecoder):
        self.spec = spec
        self.loop = loop
        self.wanted_topic = topic
        self.topic = ""
        self.info_topic: str | None = None
        self.warning: str | None = None
        self._decode = decode
        self._reader: BagReader | None = None
        self._messages: Iterator[RecordedMessage] | None = None
        self._camera_info: Any = None
        self._last_time: int | None = None
        self._frames = 0

    def check(self) -> None:
        path = Path(str(self.spec.target))
        reader = BagReader(path)
        self.warning = reader.warning
        images = sorted(t for t, msgtype in reader.topics.items() if msgtype in IMAGE_TYPES)
        listing = ", ".join(f"{t} ({m})" for t, m in sorted(reader.topics.items())) or "none"
        if self.wanted_topic:
            if self.wanted_topic not in images:
                raise SourceError(f"the bag {path} has no image topic {self.wanted_topic} "
                                  f"(bag_topic); its topics: {listing}")
            self.topic = self.wanted_topic
        elif not images:
            raise SourceError(f"the bag {path} holds no images ({IMAGE} or "
                              f"{COMPRESSED_IMAGE}); its topics: {listing}")
        elif len(images) > 1:
            raise SourceError(f"the bag {path} holds several image topics: "
                              f"{', '.join(images)}; choose one with bag_topic")
        else:
            self.topic = images[0]
        self.info_topic = camera_info_topic(self.topic, reader.topics)
        self._reader = reader

    def open(self) -> str:
        if self._reader is None:
            self.check()
        assert self._reader is not None
        topics = {self.topic} | ({self.info_topic} if self.info_topic else set())
        self._messages = self._reader.messages(topics)
        self._last_time = None
        info = f", camera_info from {self.info_topic}" if self.info_topic else ""
        return f"{self.spec}: {self.topic} ({self._reader.topics[self.topic]}){info}"

    def read(self) -> np.ndarray | None:
        while True:
            if self._messages is None:
                self.open()
            assert self._messages is not None
            item = next(self._messages, None)
            if item is None:
                if not self.loop or not self._frames:
                    return None
                self._messages = None
                continue
            if item.topic != self.topic:
                self._camera_info = item.message
                continue
            return self._frame(item)

    def _frame(self, item: RecordedMessage) -> np.ndarray:
        gap = None if self._last_time is None else (item.log_time - self._last_time) / 1e9
        self._last_time = item.log_time
        if gap is not None:
            self.native_fps = 1.0 / gap if gap > 1.0 / MAX_RATE else MAX_RATE
        self._frames += 1
        header = item.message.header
        self.recorded = RecordedFrame(int(header.stamp.sec), int(header.stamp.nanosec),
                                      str(header.frame_id), self._camera_info)
        try:
            return self._decode(item.msgtype, item.message)
        except ValueError as exc:
            raise FrameUnreadable(f"skipped frame {self._frames} of {self.topic} in "
                                  f"{self.spec.target}: {exc}") from None

    def release(self) -> None:
        self._messages = None


def camera_info_topic(image_topic: str, topics: dict[str, str]) -> str | None:
    """camera_info beside the image topic, as image_transport places it (``/x/image_raw`` and
    ``/x/image_raw/compressed`` have ``/x/camera_info``); else the bag's only CameraInfo."""
    base = image_topic.removesuffix("/compressed")
    beside = base.rsplit("/", 1)[0] + "/camera_info"
    if topics.get(beside) == CAMERA_INFO:
        return beside
    infos = [t for t, msgtype in topics.items() if msgtype == CAMERA_INFO]
    return infos[0] if len(infos) == 1 else None
