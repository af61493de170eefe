"""Hostile bags refused within bounds: decompression bombs, FIFOs, oversized metadata, and
bags of thousands of topics (issue 27's items 5 to 7). No ROS: the bag source alone."""

from __future__ import annotations

import os
import struct
import threading
import tracemalloc
from pathlib import Path

import pytest
from mcap.writer import Writer
from sensor_msgs.msg import CompressedImage

from bombs import mcap_chunk_bomb
from fer_ros.nodes.recording.mcap_recording import OFFERED_QOS, message_definition
from fer_ros.sources.frame_sources import SourceError
from test_record_replay import bag_source, sample_messages, write_mcap

REFUSE_WITHIN = 10.0
"""Seconds a refusal may take before the test calls it a hang (it takes milliseconds)."""


def refusal(path: Path) -> str:
    """The one-line SourceError that checking the bag at ``path`` raises, from a thread that
    must finish: a FIFO opened for reading would block it forever."""
    outcome: dict[str, object] = {}

    def check() -> None:
        try:
            bag_source(path).check()
            outcome["result"] = "accepted"
        except SourceError as exc:
            outcome["result"] = str(exc)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            outcome["result"] = exc

    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    worker.join(REFUSE_WITHIN)
    assert not worker.is_alive(), f"checking {path} hangs"
    result = outcome["result"]
    assert isinstance(result, str) and result != "accepted", result
    assert "\n" not in result
    return result


@pytest.mark.parametrize("summary", [True, False], ids=["summary", "cut-short"])
@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_a_chunk_stating_gigabytes_is_refused_before_it_is_unpacked(tmp_path, compression,
                                                                     summary):
    bomb = tmp_path / "bomb.mcap"
    bomb.write_bytes(mcap_chunk_bomb(compression, 1000, stated=3 << 30, summary=summary))
    tracemalloc.start()
    try:
        reason = refusal(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason.startswith(f"cannot read the bag {bomb}: ")
    assert f"is a chunk that unpacks to {(3 << 30)} bytes, above the" in reason
    assert peak < 16 << 20


@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_a_chunk_that_unpacks_past_its_stated_size_is_refused_at_that_size(
        tmp_path, compression, monkeypatch):
    """The stated size is small but the payload holds 64 MiB: unpacking stops at the stated
    size, wherever the check finds it (the chunk index checked at start, or the chunk read
    when the frame is)."""
    bomb = tmp_path / "liar.mcap"
    bomb.write_bytes(mcap_chunk_bomb(compression, 64 << 20, stated=4096))
    tracemalloc.start()
    try:
        source = bag_source(bomb)
        source.check()
        source.open()
        with pytest.raises(SourceError) as refused:
            source.read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(refused.value) == (
        f"cannot read the bag {bomb}: the record at byte 34 is a chunk whose payload does not "
        "unpack to the 4096 bytes it states (a decompression bomb, or a damaged file)")
    assert peak < 8 << 20


def test_any_stated_chunk_size_is_refused_or_read_within_the_cap(tmp_path):
    """Property: whatever size a chunk states, reading the bag either refuses it in one line
    naming the file or reads it, and never holds much more than the cap."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    from fer_ros.sources import mcap_files

    cap = 1 << 20

    @hypothesis.settings(max_examples=40, deadline=None,
                         suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
    @hypothesis.given(compression=st.sampled_from(["zstd", "lz4"]),
                      unpacked=st.integers(0, 4 << 20),
                      stated=st.one_of(st.none(), st.integers(0, 2**64 - 1),
                                       st.integers(0, 4 << 20)),
                      summary=st.booleans())
    def check(compression, unpacked, stated, summary):
        bomb = tmp_path / "any.mcap"
        bomb.write_bytes(mcap_chunk_bomb(compression, unpacked, stated, summary))
        tracemalloc.start()
        try:
            try:
                opened = mcap_files.McapFile(bomb, max_chunk_bytes=cap)
                try:
                    sizes = [len(m.data) for m in opened.messages({1})]
                finally:
                    opened.close()
                outcome = "read"
            except mcap_files.McapRefused as exc:
                outcome, reason = "refused", str(exc)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 3 * cap + (1 << 20)
        truth = unpacked + overhead
        honest = stated is None or stated == truth
        if outcome == "read":
            assert honest and truth <= cap and sizes == [unpacked]
        else:
            assert "\n" not in reason and reason.startswith("the record at byte ")
            assert not honest or truth > cap

    overhead = chunk_overhead()
    check()


def chunk_overhead() -> int:
    """Bytes a bomb's chunk unpacks to besides its message's data (schema, channel, message
    header): the uncompressed size its chunk states when the message is empty."""
    from bombs import MCAP_MAGIC

    data = mcap_chunk_bomb("zstd", 0, summary=False)
    header_length = struct.unpack_from("<Q", data, len(MCAP_MAGIC) + 1)[0]
    chunk = len(MCAP_MAGIC) + 9 + header_length
    return struct.unpack_from("<Q", data, chunk + 9 + 16)[0]


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def test_fifos_are_refused_not_read(tmp_path):
    fifo = make_fifo(tmp_path / "x.mcap")
    assert refusal(fifo) == (f"cannot read the bag {fifo}: it is a named pipe (FIFO), not a "
                             "regular file")

    with_metadata = tmp_path / "fifo_metadata"
    with_metadata.mkdir()
    metadata = make_fifo(with_metadata / "metadata.yaml")
    write_mcap(with_metadata / "x_0.mcap", sample_messages(1))
    assert refusal(with_metadata) == (f"cannot read the bag {with_metadata}: {metadata}: "
                                      "rosbag2 metadata is a named pipe (FIFO), not a regular "
                                      "file")

    for named in (True, False):
        storage = tmp_path / f"fifo_storage_{named}"
        storage.mkdir()
        fifo = make_fifo(storage / "x_0.mcap")
        if named:
            (storage / "metadata.yaml").write_text(
                "rosbag2_bagfile_information:\n  version: 9\n  storage_identifier: mcap\n"
                "  relative_file_paths: [x_0.mcap]\n")
        assert refusal(storage) == (f"cannot read the bag {fifo}: it is a named pipe (FIFO), "
                                    "not a regular file")

    sqlite = tmp_path / "fifo_sqlite"
    sqlite.mkdir()
    fifo = make_fifo(sqlite / "x_0.db3")
    (sqlite / "metadata.yaml").write_text(
        "rosbag2_bagfile_information:\n  version: 9\n  storage_identifier: sqlite3\n"
        "  relative_file_paths: [x_0.db3]\n")
    assert refusal(sqlite) == (f"cannot read the bag {sqlite}: {fifo}: storage file is a "
                               "named pipe (FIFO), not a regular file")


def test_metadata_larger_than_its_cap_is_refused_unread(tmp_path):
    from fer_ros.sources.bags import MAX_METADATA_BYTES

    folder = tmp_path / "huge"
    folder.mkdir()
    write_mcap(folder / "x_0.mcap", sample_messages(1))
    with open(folder / "metadata.yaml", "wb") as sparse:
        sparse.truncate(MAX_METADATA_BYTES + 1)
    assert refusal(folder) == (
        f"cannot read the bag {folder}: {folder / 'metadata.yaml'}: rosbag2 metadata of "
        f"{MAX_METADATA_BYTES + 1} bytes is larger than the {MAX_METADATA_BYTES} bytes accepted")


def test_compressed_rosbag2_bags_are_refused_with_the_reason(tmp_path):
    folder = tmp_path / "zipped"
    folder.mkdir()
    (folder / "x_0.mcap.zstd").write_bytes(b"")
    (folder / "metadata.yaml").write_text(
        "rosbag2_bagfile_information:\n  version: 9\n  storage_identifier: mcap\n"
        "  compression_mode: FILE\n  compression_format: zstd\n"
        "  relative_file_paths: [x_0.mcap.zstd]\n")
    assert refusal(folder) == (
        f"the bag {folder} is compressed (compression_mode file, 'zstd'), which is not "
        "replayed: its decompression has no stated size to bound it by; write an "
        "uncompressed copy with ros2 bag convert")


def many_topics_bag(path: Path, topics: int, images: bool = True) -> None:
    """A bag of ``topics`` CompressedImage-less topics, each with rosbag2's QoS metadata, and
    (with ``images``) one image topic of three frames."""
    with path.open("wb") as stream:
        writer = Writer(stream)
        writer.start(profile="ros2", library="test")
        info_type = "sensor_msgs/msg/CameraInfo"
        schema = writer.register_schema(info_type, "ros2msg",
                                        message_definition(info_type).encode())
        for index in range(topics):
            writer.register_channel(f"/robot/sensor_{index}/camera_info", "cdr", schema,
                                    {"offered_qos_profiles": OFFERED_QOS})
        if images:
            from rclpy.serialization import serialize_message

            image_type = "sensor_msgs/msg/CompressedImage"
            image_schema = writer.register_schema(image_type, "ros2msg",
                                                  message_definition(image_type).encode())
            channel = writer.register_channel("/cam/image_raw/compressed", "cdr", image_schema,
                                              {"offered_qos_profiles": OFFERED_QOS})
            for _, msg in sample_messages(3):
                if isinstance(msg, CompressedImage):
                    stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
                    writer.add_message(channel, stamp, serialize_message(msg), stamp)
        writer.finish()


def test_a_bag_of_ten_thousand_topics_plays_its_image_topic(tmp_path):
    bag = tmp_path / "crowded.mcap"
    many_topics_bag(bag, 10_000)
    source = bag_source(bag)
    source.check()
    assert source.topic == "/cam/image_raw/compressed" and source.info_topic is None
    source.open()
    assert source.read().shape == (240, 320, 3)


def test_a_bag_of_ten_thousand_topics_without_images_says_so_in_one_short_line(tmp_path):
    bag = tmp_path / "no_images.mcap"
    many_topics_bag(bag, 10_000, images=False)
    reason = refusal(bag)
    assert reason.startswith(f"the bag {bag} holds no images")
    assert reason.endswith("and 9980 more") and len(reason) < 2000


def test_a_message_that_does_not_decode_is_one_skipped_frame(tmp_path):
    """Bytes forged or cut inside a whole file: that frame is skipped with a reason naming the
    file, and the frames after it play (a traceback through the capture thread stopped the
    camera before)."""
    from rclpy.serialization import serialize_message

    from fer_ros.sources.frame_sources import FrameUnreadable

    bag = tmp_path / "forged.mcap"
    image_type = "sensor_msgs/msg/CompressedImage"
    frames = [msg for _, msg in sample_messages(3) if isinstance(msg, CompressedImage)]
    with bag.open("wb") as stream:
        writer = Writer(stream)
        writer.start(profile="ros2", library="test")
        schema = writer.register_schema(image_type, "ros2msg",
                                        message_definition(image_type).encode())
        channel = writer.register_channel("/cam/image_raw/compressed", "cdr", schema)
        for index, msg in enumerate(frames):
            data = serialize_message(msg)
            if index == 1:
                data = data[:4] + b"\xff" * 40  # a header whose frame_id claims 4 GB
            writer.add_message(channel, index + 1, data, index + 1)
        writer.finish()
    source = bag_source(bag)
    source.check()
    source.open()
    assert source.read().shape == (240, 320, 3)
    with pytest.raises(FrameUnreadable, match=f"skipped frame 2 of /cam/image_raw/compressed "
                                              f"in {bag}: its bytes are not a {image_type}"):
        source.read()
    assert source.read().shape == (240, 320, 3)
    assert source.read() is None
