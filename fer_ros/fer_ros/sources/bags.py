"""Recorded runs as a frame source: a ROS 2 MCAP file or a rosbag2 folder (mcap or sqlite3).

rosbag2 is not on PyPI. MCAP files (alone or in a rosbag2 folder) are read by
fer_ros.sources.mcap_files, which bounds what each chunk may unpack to, refuses what is not a
regular file and reads a file once, from its summary, without parsing any channel's QoS;
messages are decoded with ``rosbags``'s typestore (pure Python, Apache-2.0) from the message
definitions stored in the file itself: no rclpy, and no need for the recorded message packages
to be installed. sqlite3 bags are read with ``rosbags``. The node supplies the image decoding,
since turning a sensor_msgs image into pixels is its concern
(fer_ros.nodes.messages.image_conversion).

A file cut short (a recorder that was killed, a full disk) has no summary at its end; it is
read record by record up to its last complete chunk, and the source says so in ``warning``.
rosbag2's compressed bags (``compression_mode`` file or message) are refused: their
decompression has no stated size to bound it by; ``ros2 bag convert`` writes an uncompressed
copy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fer_ros.perception.limits.files import FileRefused, read_bounded, regular_file_size
from fer_ros.sources.frame_sources import FrameSource, FrameUnreadable, SourceError, SourceSpec
from fer_ros.sources.mcap_files import McapFile, McapRefused

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
STORAGES = ("mcap", "sqlite3")
MAX_RATE = 1000.0
"""Rate used for frames recorded with the same stamp: effectively at once."""
LISTED_TOPICS = 20
"""Topics named in an error about a bag's topics; the rest are counted."""
MAX_METADATA_BYTES = 64 << 20
"""rosbag2's metadata.yaml is a few kilobytes per topic (each with its QoS profiles): 64 MiB
holds tens of thousands of topics and bounds what parsing it costs."""

ImageDecoder = Callable[[str, Any], np.ndarray]
"""(message type, decoded message) to BGR pixels; raises ValueError for a bad image."""


def is_bag(path: Path) -> bool:
    """A ``.mcap`` file, or a folder that rosbag2 wrote (its metadata.yaml, or only the
    storage files that a killed ``ros2 bag record`` leaves)."""
    if path.suffix.lower() == ".mcap":
        return True
    if not path.is_dir():
        return False
    return (path / "metadata.yaml").exists() or any(
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


def safe_yaml(text: bytes) -> Any:
    """YAML's safe subset, parsed by libyaml where PyYAML has it: a rosbag2 metadata.yaml of
    10,000 topics is megabytes, which the pure-Python parser takes many seconds over."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _natural_key(path: Path) -> list[Any]:
    """x_2.mcap before x_10.mcap, as rosbag2 numbers its split files."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


@dataclass(frozen=True)
class UndecodableMessage:
    """A recorded message whose bytes do not decode as its type: one bad message, skipped."""

    reason: str


class BagReader:
    """The topics and messages of one bag, complete or cut short, opened once."""

    def __init__(self, path: Path):
        self.path = path
        self.warning: str | None = None
        self.topics: dict[str, str] = {}
        self._mcaps: list[McapFile] = []
        self._storage, files = self._check_storage()
        if self._storage == "mcap":
            self._open_mcaps(files)
        else:
            self._inspect_sqlite3()

    def _check_storage(self) -> tuple[str, list[Path]]:
        """The storage and its files, each checked to be a regular file before it is opened."""
        if not self.path.exists() and not self.path.is_symlink():
            raise SourceError(f"no such bag: {self.path}")
        if not self.path.is_dir():
            return "mcap", [self.path]
        metadata = self.path / "metadata.yaml"
        if not metadata.exists() and not metadata.is_symlink():
            files = sorted(self.path.glob("*.mcap"), key=_natural_key)
            return ("mcap", files) if files else (
                "sqlite3", sorted(self.path.glob("*.db3"), key=_natural_key))
        try:
            text = read_bounded(metadata, MAX_METADATA_BYTES, "rosbag2 metadata")
            info = safe_yaml(text)["rosbag2_bagfile_information"]
            storage = info["storage_identifier"]
        except FileRefused as exc:
            raise SourceError(f"cannot read the bag {self.path}: {exc}") from None
        except (yaml.YAMLError, KeyError, TypeError) as exc:
            raise SourceError(f"{metadata} is not rosbag2 metadata: {exc}") from None
        if storage not in STORAGES:
            raise SourceError(f"the bag {self.path} uses the storage {storage!r}; only "
                              f"{' and '.join(STORAGES)} can be replayed")
        mode = str(info.get("compression_mode") or "none").lower()
        if mode not in ("", "none"):
            raise SourceError(f"the bag {self.path} is compressed (compression_mode {mode}, "
                              f"{info.get('compression_format')!r}), which is not replayed: "
                              "its decompression has no stated size to bound it by; write "
                              "an uncompressed copy with ros2 bag convert")
        names = info.get("relative_file_paths") or []
        files = [self.path / str(name) for name in names] if isinstance(names, list) else []
        if not files:
            suffix = ".mcap" if storage == "mcap" else ".db3"
            files = sorted(self.path.glob(f"*{suffix}"), key=_natural_key)
        return storage, files

    def _refused(self, file: Path, reason: str) -> SourceError:
        return SourceError(f"cannot read the bag {file}: {reason}")

    def _open_mcaps(self, files: list[Path]) -> None:
        if not files:
            raise SourceError(f"cannot read the bag {self.path}: it holds no .mcap file")
        try:
            for file in files:
                self._mcaps.append(McapFile(file))
        except McapRefused as exc:
            self.close()
            raise self._refused(file, str(exc)) from None
        cuts = [(m, m.cut_short) for m in self._mcaps if m.cut_short]
        for mcap in self._mcaps:
            for channel in mcap.channels.values():
                schema = mcap.schemas.get(channel.schema_id)
                self.topics.setdefault(channel.topic, schema.name if schema else "")
        if cuts:
            messages = sum(m.scanned_messages for m in self._mcaps)
            mcap, reason = cuts[0]
            if not messages:
                self.close()
                raise self._refused(mcap.path, f"{reason} (and no complete message before "
                                               "that: not an MCAP recording, or empty)")
            self.warning = (f"the bag {self.path} is cut short ({reason}): playing the "
                            f"{messages} messages before the cut")

    def _inspect_sqlite3(self) -> None:
        from rosbags.highlevel import AnyReader

        try:
            for file in self.path.glob("*.db3"):
                regular_file_size(file, cap=2**63 - 1, what="storage file")
            with AnyReader([self.path]) as reader:
                self.topics = {c.topic: c.msgtype for c in reader.connections}
        except FileRefused as exc:
            raise SourceError(f"cannot read the bag {self.path}: {exc}") from None
        except Exception as exc:  # rosbags raises many types for a damaged file
            raise SourceError(f"cannot read the bag {self.path}: {exc}") from None

    def close(self) -> None:
        for mcap in self._mcaps:
            mcap.close()

    def messages(self, topics: set[str]) -> Iterator[RecordedMessage]:
        """The messages of ``topics`` in recorded order, decoded."""
        if self._storage == "mcap":
            for mcap in self._mcaps:
                yield from self._mcap_messages(mcap, topics)
            return
        from rosbags.highlevel import AnyReader

        with AnyReader([self.path]) as reader:
            wanted = [c for c in reader.connections if c.topic in topics]
            for connection, log_time, data in reader.messages(connections=wanted):
                yield RecordedMessage(connection.topic, connection.msgtype, log_time,
                                      reader.deserialize(data, connection.msgtype))

    def _mcap_messages(self, mcap: McapFile, topics: set[str]) -> Iterator[RecordedMessage]:
        """Only the wanted topics' schemas are parsed: a bag's other topics cost nothing."""
        from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore

        wanted = {c.id: c for c in mcap.channels.values() if c.topic in topics}
        typestore = get_typestore(Stores.EMPTY)
        names: dict[int, str] = {}
        for channel in wanted.values():
            schema = mcap.schemas.get(channel.schema_id)
            if schema is None:
                continue
            names[channel.id] = schema.name
            parse = {"ros2msg": get_types_from_msg, "ros2idl": get_types_from_idl}.get(
                schema.encoding)
            if parse is None:
                raise self._refused(mcap.path, f"{channel.topic} has a schema in "
                                               f"{schema.encoding!r}; only ros2msg and "
                                               "ros2idl can be decoded")
            try:
                typestore.register(parse(schema.data.decode("utf-8"), schema.name))
            except Exception as exc:  # rosbags raises its own types for a bad definition
                raise self._refused(mcap.path, f"the schema of {channel.topic} cannot be "
                                               f"parsed: {exc}") from None
        try:
            for message in mcap.messages(set(names)):
                channel = wanted[message.channel_id]
                msgtype = names[channel.id]
                try:
                    decoded = typestore.deserialize_cdr(message.data, msgtype)
                except Exception as exc:  # rosbags raises many types for bytes cut or forged
                    decoded = UndecodableMessage(f"its bytes are not a {msgtype} ({exc})")
                yield RecordedMessage(channel.topic, msgtype, message.log_time, decoded)
        except McapRefused as exc:
            raise self._refused(mcap.path, str(exc)) from None


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
        listing = topic_listing(reader.topics)
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
                if not isinstance(item.message, UndecodableMessage):
                    self._camera_info = item.message
                continue
            return self._frame(item)

    def _frame(self, item: RecordedMessage) -> np.ndarray:
        if isinstance(item.message, UndecodableMessage):
            self._frames += 1
            raise FrameUnreadable(f"skipped frame {self._frames} of {self.topic} in "
                                  f"{self.spec.target}: {item.message.reason}")
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


def topic_listing(topics: dict[str, str]) -> str:
    """The first LISTED_TOPICS topics with their types, and how many more: a bag of 10,000
    topics must not make a 700 kB error line."""
    names = sorted(topics)
    listing = ", ".join(f"{t} ({topics[t]})" for t in names[:LISTED_TOPICS]) or "none"
    more = len(names) - LISTED_TOPICS
    return listing + (f" and {more} more" if more > 0 else "")


def camera_info_topic(image_topic: str, topics: dict[str, str]) -> str | None:
    """camera_info beside the image topic, as image_transport places it (``/x/image_raw`` and
    ``/x/image_raw/compressed`` have ``/x/camera_info``); else the bag's only CameraInfo."""
    base = image_topic.removesuffix("/compressed")
    beside = base.rsplit("/", 1)[0] + "/camera_info"
    if topics.get(beside) == CAMERA_INFO:
        return beside
    infos = [t for t, msgtype in topics.items() if msgtype == CAMERA_INFO]
    return infos[0] if len(infos) == 1 else None
