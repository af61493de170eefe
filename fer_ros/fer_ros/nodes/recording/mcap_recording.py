"""Recording the camera's frames and the emotion node's results into a ROS 2 MCAP file.

rosbag2 is not on PyPI, so `fer bringup --record` writes the file itself, the way rosbag2's MCAP
storage does: profile ``ros2``, ``cdr`` message encoding, ``ros2msg`` schemas made of the
installed ``.msg`` files with their dependencies appended after rosbag2's separator, and the
message bytes from rclpy's own serializer. ``ros2 bag info``/``play``, Foxglove, Lichtblick and
the ``rosbags`` and ``mcap_ros2`` readers then read it like any rosbag2 recording.

The file is written in chunks of about 1 MiB, each handed to the operating system as soon as it
is complete (the Python buffer is flushed after every message), so a killed process leaves a
file whose complete chunks stay readable; an orderly end
(the run's limit, SIGINT, SIGTERM or an error) writes the summary and footer that make it whole.
Messages are logged at their header stamps, the source image's time, so a replay keeps the
recorded pace and results line up with their frames. MCAP log times are unsigned 64-bit
nanoseconds while a ROS stamp may be negative (any publisher on the domain can send
``sec = -5``): such a message is recorded with its log time clamped to 0 and its header
untouched, so the file stays whole and the message keeps what it said.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from fer_msgs.msg import EmotionArray
from mcap.writer import CompressionType, Writer
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from fer_ros.nodes.messages.emotion_records import stamp_ns
from fer_ros.nodes.messages.image_conversion import ImageConversionError
from fer_ros.nodes.messages.serialized_image import serialized_stamp_ns
from fer_ros.nodes.parameters.reference import with_parameters

CHUNK_SIZE = 1024 * 1024
"""Bytes of messages per chunk: what a killed recorder loses at most, and few enough chunks
for readers to index quickly."""
SEPARATOR = "=" * 80
"""The line rosbag2 puts between a message definition and each type it depends on."""
INFINITE = "{sec: 9223372036, nsec: 854775807}"
OFFERED_QOS = ("- history: keep_last\n  depth: 10\n  reliability: reliable\n"
               "  durability: volatile\n"
               f"  deadline: {INFINITE}\n  lifespan: {INFINITE}\n  liveliness: automatic\n"
               f"  liveliness_lease_duration: {INFINITE}\n"
               "  avoid_ros_namespace_conventions: false")
"""The ``offered_qos_profiles`` that the ros2 MCAP profile requires of every channel, in
rosbag2's own YAML: reliable and volatile like the camera's and the emotion node's
publishers, so ``ros2 bag play`` offers what every subscriber of these topics accepts."""
BEFORE_ANY_STAMP = -(2**63)
"""Below every ROS stamp in nanoseconds (the earliest, sec = -2^31, is about -2.1e18): stamps
before 1970 are negative, so -1 cannot stand for "none yet"."""
MAX_LOG_TIME = 2**64 - 1
"""The largest log time an MCAP record can hold (unsigned 64-bit nanoseconds)."""
PRIMITIVES = frozenset({"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16",
                        "uint16", "int32", "uint32", "int64", "uint64", "string", "wstring"})


class RecordingError(Exception):
    """The recording cannot start or go on; the message says why in one line."""


def share_roots() -> list[Path]:
    """Where message packages keep their ``msg/*.msg`` files: the ament prefixes, then this
    Python's prefix (a venv install without AMENT_PREFIX_PATH)."""
    roots = [Path(p) / "share" for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
             if p]
    return roots + [Path(sys.prefix) / "share"]


def msg_file(type_name: str) -> Path:
    """The installed definition of ``pkg/msg/Type``."""
    package, _, name = type_name.split("/")
    for root in share_roots():
        path = root / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    raise RecordingError(f"no installed definition of {type_name} ({package}/msg/{name}.msg "
                         "under any share/ of AMENT_PREFIX_PATH or this Python)")


def field_types(text: str, package: str) -> list[str]:
    """The message types (``pkg/msg/Type``) that the fields of a .msg text use."""
    found = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        type_token, _, rest = line.partition(" ")
        if "=" in rest:  # a constant
            continue
        base = re.sub(r"\[.*\]$", "", type_token).split("<=", 1)[0]
        if base in PRIMITIVES:
            continue
        if base == "Header":
            base = "std_msgs/Header"
        parts = base.split("/")
        if len(parts) == 1:
            parts = [package, parts[0]]
        found.append(f"{parts[0]}/msg/{parts[-1]}")
    return found


def message_definition(type_name: str) -> str:
    """The full ``ros2msg`` schema text of a type, as rosbag2 writes it: the type's .msg
    text, then every type it uses (once, in the order first met) after a separator line and
    ``MSG: pkg/Type``."""
    text = msg_file(type_name).read_text(encoding="utf-8")
    parts = [text]
    seen = {type_name}
    pending = field_types(text, type_name.split("/")[0])
    while pending:
        dependency = pending.pop(0)
        if dependency in seen:
            continue
        seen.add(dependency)
        dep_text = msg_file(dependency).read_text(encoding="utf-8")
        package, _, name = dependency.split("/")
        parts.append(f"{SEPARATOR}\nMSG: {package}/{name}\n{dep_text}")
        pending.extend(field_types(dep_text, package))
    return "\n".join(parts)


def type_name_of(message_type: type) -> str:
    """``pkg/msg/Type`` of an rclpy message class."""
    return f"{message_type.__module__.split('.')[0]}/msg/{message_type.__name__}"


def log_time(stamp_ns: int) -> int:
    """A stamp as an MCAP log time: clamped into the unsigned 64-bit range the format holds."""
    return min(max(stamp_ns, 0), MAX_LOG_TIME)


def open_output(path: Path, overwrite: bool) -> BinaryIO:
    """The file opened for writing; an existing one is replaced only with ``overwrite``, and
    only if it is a regular file: opening a FIFO for writing blocks until a reader comes (and
    ignores SIGINT meanwhile), and a device is no recording. ``O_NONBLOCK`` keeps a FIFO
    swapped in after the check from blocking the open too."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise RecordingError(f"cannot create {path}: {exc.strerror}") from None
    if info is not None and not overwrite:
        raise RecordingError(f"{path} already exists; choose another file or pass "
                             "--overwrite")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise RecordingError(f"{path} is {_not_regular(info.st_mode)}, not a regular file: "
                             "a recording is written only to a regular file")
    flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC
    flags |= os.O_TRUNC if overwrite else os.O_EXCL
    try:
        fd = os.open(path, flags, 0o666)
    except FileExistsError:
        raise RecordingError(f"{path} already exists; choose another file or pass "
                             "--overwrite") from None
    except OSError as exc:
        reason = ("it is a named pipe (FIFO) with no reader" if exc.errno == errno.ENXIO
                  else exc.strerror)
        raise RecordingError(f"cannot create {path}: {reason}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # swapped in between the check and the open
        os.close(fd)
        raise RecordingError(f"{path} is {_not_regular(info.st_mode)}, not a regular file: "
                             "a recording is written only to a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "wb")


def _not_regular(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


class McapRecording:
    """One MCAP file being written. ``write`` never raises: the first write error (a full
    disk, a removed drive) ends the recording with a one-line report through ``on_error``
    while the caller's pipeline goes on. A message the writer cannot encode is skipped
    (counted in ``skipped``, reported once) and the recording goes on: one hostile message on
    the domain must not end it."""

    def __init__(self, path: Path, overwrite: bool = False,
                 on_error: Callable[[str], None] | None = None):
        self.path = path
        self.messages = 0
        self.skipped = 0
        """Messages left out because the writer could not encode them."""
        self.clamped = 0
        """Messages whose stamp lay outside MCAP's log times, written at a clamped one."""
        self.error: str | None = None
        self._on_error = on_error or (lambda text: print(text, file=sys.stderr))
        self._file = open_output(path, overwrite)
        self._writer = Writer(self._file, chunk_size=CHUNK_SIZE,
                              compression=CompressionType.NONE)
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self._closed = False
        try:
            self._writer.start(profile="ros2", library="fer_ros")
        except OSError as exc:
            self._fail(exc)

    @property
    def active(self) -> bool:
        return not self._closed and self.error is None

    def write(self, topic: str, msg: Any) -> None:
        """Append one message under ``topic``, logged at its header stamp."""
        self.write_serialized(topic, type_name_of(type(msg)), serialize_message(msg),
                              stamp_ns(msg.header.stamp))

    def write_serialized(self, topic: str, type_name: str, data: bytes, time_ns: int) -> None:
        """Append one message already in CDR (as a subscription with ``raw=True`` hands it
        over: written as it came, never deserialized and serialized again)."""
        if not self.active:
            return
        logged = log_time(time_ns)
        if logged != time_ns:
            self.clamped += 1
            if self.clamped == 1:
                self._on_error(f"recording: a message on {topic} is stamped {time_ns} ns, "
                               "outside MCAP's log times (0 to 2^64-1 ns): recorded at log "
                               f"time {logged} with its header as sent (such messages are "
                               "counted, this is said once)")
        try:
            channel = self._channels.get(topic)
            if channel is None:
                channel = self._register(topic, type_name)
            self._writer.add_message(channel, log_time=logged, publish_time=logged,
                                     data=data)
            self._file.flush()
            self.messages += 1
        except OSError as exc:
            self._fail(exc)
        except RecordingError as exc:
            self._fail_with(str(exc))
        except (struct.error, ValueError, OverflowError, TypeError) as exc:
            self.skipped += 1
            if self.skipped == 1:
                self._on_error(f"recording: skipped a message on {topic} that the MCAP "
                               f"writer cannot encode ({exc}); the recording goes on (such "
                               "messages are counted, this is said once)")

    def _register(self, topic: str, type_name: str) -> int:
        schema = self._schemas.get(type_name)
        if schema is None:
            schema = self._writer.register_schema(
                type_name, "ros2msg", message_definition(type_name).encode())
            self._schemas[type_name] = schema
        channel = self._writer.register_channel(topic, "cdr", schema,
                                                {"offered_qos_profiles": OFFERED_QOS})
        self._channels[topic] = channel
        return channel

    def _fail(self, exc: OSError) -> None:
        self._fail_with(f"cannot write {self.path}: {exc.strerror or exc}")

    def _fail_with(self, reason: str) -> None:
        self.error = reason
        self._on_error(f"recording stopped: {reason}; the pipeline goes on without it; the "
                       "file keeps what its complete chunks hold")
        self._closed = True
        try:
            self._file.close()
        except OSError:
            pass

    def close(self) -> None:
        """Write the summary and footer; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        try:
            self._writer.finish()
        except OSError as exc:
            self.error = f"cannot finish {self.path}: {exc.strerror or exc}"
            self._on_error(f"recording: {self.error}")
        except (struct.error, ValueError, OverflowError, TypeError) as exc:
            self.error = f"cannot write the summary of {self.path}: {exc}"
            self._on_error(f"recording: {self.error}; its complete chunks stay readable")
        finally:
            try:
                self._file.close()
            except OSError:
                pass


@with_parameters(())
class RecordingNode(Node):
    """bringup_recording: subscribes to the camera's frames and camera_info and to the emotion
    node's results, like ``ros2 bag record`` would, and writes each message as it arrives.

    Reliable subscriptions with room for a second of frames: a recording should hold every
    frame the camera published, not only the newest one the emotion node had time for.

    As `ros2 node info` lists it; relative names resolve in the node's namespace, rclpy's own
    parameter services and /rosout, /parameter_events left out.

    Subscribers:
        image_raw/compressed: sensor_msgs/msg/CompressedImage, reliable, keep last 30, taken
            serialized; without ``raw``
        image_raw: sensor_msgs/msg/Image, reliable, keep last 30, taken serialized; with
            ``raw``
        camera_info: sensor_msgs/msg/CameraInfo, reliable, keep last 30, taken serialized
        emotions: fer_msgs/msg/EmotionArray, reliable, keep last 30, taken serialized
    Publishers:
        none
    Service Servers:
        none
    """

    DEPTH = 30

    def __init__(self, recording: McapRecording, namespace: str, raw: bool, **kwargs: Any):
        super().__init__("bringup_recording", namespace=namespace, **kwargs)
        self.recording = recording
        self._last_image = self._last_result = BEFORE_ANY_STAMP
        """Stamps (ns) of the newest frame and the newest result written."""
        self.images = 0
        """Frames written."""
        qos = QoSProfile(depth=self.DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self._subscribe(Image if raw else CompressedImage,
                        "image_raw" if raw else "image_raw/compressed", qos,
                        self._image_written)
        self._subscribe(CameraInfo, "camera_info", qos)
        self._subscribe(EmotionArray, "emotions", qos, self._result_written)

    def _subscribe(self, message_type: type, topic: str, qos: QoSProfile,
                   on_written: Callable[[int], None] | None = None) -> None:
        """Subscribe to ``topic`` serialized and write each message as it came: no message is
        deserialized and serialized again. ``on_written`` gets each written one's stamp."""
        name = self.resolve_topic_name(topic)
        type_name = type_name_of(message_type)

        def write(data: bytes) -> None:
            try:
                time_ns = serialized_stamp_ns(data)
            except ImageConversionError:
                return  # cut short: not a message of this type, nothing to record
            self.recording.write_serialized(name, type_name, data, time_ns)
            if on_written is not None:
                on_written(time_ns)

        self.create_subscription(message_type, topic, write, qos, raw=True)

    def _image_written(self, time_ns: int) -> None:
        self._last_image = max(self._last_image, time_ns)
        self.images += 1

    def _result_written(self, time_ns: int) -> None:
        self._last_result = max(self._last_result, time_ns)

    def caught_up(self, published: int = 0) -> bool:
        """Whether the frame of the newest recorded result is recorded too, and (given the
        camera's count of ``published`` frames, in the same process) every frame published.
        At the end of a run the frames still queued for this node would otherwise be lost
        while the results of those frames, which came later, are in the file."""
        return not self.recording.active or (
            self._last_image >= self._last_result and self.images >= published)
