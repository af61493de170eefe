"""`fer bringup --record` and bags as a camera source, run as a user runs them.

Recordings are read back with readers that share no code with the recorder: ``rosbags`` (its
own CDR decoder and .msg parser) and ``mcap_ros2`` (Foxglove's). Replays go through the real
camera node, DDS and models.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from rosbags.highlevel import AnyReader
from rosbags.typesys import get_types_from_msg
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from fer_ros.nodes.messages.image_conversion import compressed_to_bgr, raw_to_bgr
from fer_ros.nodes.recording.mcap_recording import McapRecording, message_definition
from fer_ros.nodes.recording.output_folder import RECORDS_NAME
from fer_ros.perception.tracking.tracks import box_iou
from fer_ros.sources.bags import BagSource
from fer_ros.sources.frame_sources import SourceError
from fer_ros.sources.opening import make_source, parse_source
from fer_ros.sources.sample import SampleSequence
from full_disk import fill, small_disk
from ros_harness import NodeProcess, executable

RUN_TIMEOUT = 60
EMOTIONS = "/fer/emotions"
COMPRESSED = "/fer/image_raw/compressed"


def bringup(*args: str) -> list[str]:
    return [*executable("fer"), "bringup", *args]


def wait_for_results(process: NodeProcess, timeout: float = RUN_TIMEOUT) -> bool:
    """Until bringup's progress line counts classified frames (it is printed from the start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.alive():
        if re.search(r"fer bringup: [1-9]\d* frames classified,", process.output):
            return True
        time.sleep(0.1)
    return False


def stamp_of(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def read_bag(path: Path) -> dict[str, list]:
    """Every message of a bag by topic, decoded by rosbags, with its log time."""
    topics: dict[str, list] = {}
    with AnyReader([path]) as reader:
        for connection, log_time, data in reader.messages():
            topics.setdefault(connection.topic, []).append(
                (log_time, reader.deserialize(data, connection.msgtype)))
    return topics


def majority_labels(records: list[dict]) -> dict[int, str]:
    labels: dict[int, Counter] = {}
    for record in records:
        for face in record["faces"]:
            labels.setdefault(face["face_id"], Counter())[face["label"]] += 1
    return {face_id: counts.most_common(1)[0][0] for face_id, counts in labels.items()}


def replayed_labels(live: list[dict], replayed: list[dict]) -> tuple[dict[int, str], float]:
    """Per face of the live run, the majority label of the replayed faces on the same box in
    the same frames, and the share of live faces (in frames both classified) so matched.

    Matched by place, not by id: which frames a busy node drops differs between runs, and
    with it when a tracker gives a face a new id.
    """
    replayed_by_stamp = {r["stamp"]: r["faces"] for r in replayed}
    labels: dict[int, Counter] = {}
    faces = matched = 0
    for record in live:
        others = replayed_by_stamp.get(record["stamp"])
        if others is None:
            continue
        for face in record["faces"]:
            faces += 1
            best = max(others, key=lambda o: box_iou(face["box"], o["box"]), default=None)
            if best is not None and box_iou(face["box"], best["box"]) >= 0.5:
                matched += 1
                labels.setdefault(face["face_id"], Counter())[best["label"]] += 1
    majority = {face_id: counts.most_common(1)[0][0] for face_id, counts in labels.items()}
    return majority, matched / max(faces, 1)


def decode(msgtype: str, msg) -> np.ndarray:
    """The camera node's decoding, for sources used without a node."""
    if msgtype.endswith("CompressedImage"):
        return compressed_to_bgr(msg.format, msg.data)
    return raw_to_bgr(msg.encoding, msg.height, msg.width, msg.step, msg.data)


def bag_source(path: Path, topic: str = "") -> BagSource:
    source = make_source(parse_source(str(path)), False, bag_topic=topic, decode=decode)
    assert isinstance(source, BagSource)
    return source


def sample_messages(count: int, topic_prefix: str = "/cam") -> list[tuple[str, object]]:
    """JPEG frames of the sample with camera_info, stamped 1/30 s apart."""
    sequence = SampleSequence(320, 240)
    messages = []
    for index in range(count):
        header = Header(frame_id="rec_cam")
        header.stamp.sec, header.stamp.nanosec = 100, index * 33_333_333
        ok, jpeg = cv2.imencode(".jpg", sequence.frame(index))
        assert ok
        messages.append((f"{topic_prefix}/image_raw/compressed", CompressedImage(
            header=header, format="bgr8; jpeg compressed bgr8", data=jpeg.tobytes())))
        messages.append((f"{topic_prefix}/camera_info", CameraInfo(
            header=header, width=320, height=240, distortion_model="plumb_bob",
            k=[200.0, 0, 160, 0, 200, 120, 0, 0, 1])))
    return messages


def write_mcap(path: Path, messages: list[tuple[str, object]]) -> None:
    recording = McapRecording(path)
    for topic, msg in messages:
        recording.write(topic, msg)
    recording.close()
    assert recording.error is None and recording.messages == len(messages)


def test_record_then_replay_gives_the_same_faces_and_labels(ros_env, tmp_path):
    bag = tmp_path / "run.mcap"
    run = subprocess.run(bringup("--seconds", "5", "--record", str(bag), "--output",
                                 str(tmp_path / "live")),
                         env=ros_env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"recording: {bag} (" in run.stdout and "Traceback" not in run.stderr
    live = [json.loads(line) for line in (tmp_path / "live" / RECORDS_NAME).read_text()
            .splitlines()]

    topics = read_bag(bag)
    assert set(topics) == {COMPRESSED, "/fer/camera_info", EMOTIONS}
    emotions, images = topics[EMOTIONS], topics[COMPRESSED]
    assert len(emotions) >= 0.8 * len(live) > 0
    assert len(images) >= len(emotions)
    image_stamps = {stamp_of(msg) for _, msg in images}
    assert {r["stamp"] for r in live} <= image_stamps
    for log_time, msg in emotions + images:  # logged at the source stamps
        assert log_time == msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
    frame = cv2.imdecode(np.asarray(images[0][1].data), cv2.IMREAD_COLOR)
    assert frame.shape == (480, 640, 3)
    recorded_faces = [e for _, msg in emotions for e in msg.emotions]
    assert recorded_faces and all(len(e.scores) == 7 for e in recorded_faces)

    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with bag.open("rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
        decoded = Counter(channel.topic for _, channel, _, _ in reader.iter_decoded_messages())
    assert decoded[EMOTIONS] == len(emotions) and decoded[COMPRESSED] == len(images)
    assert {s.encoding for s in summary.schemas.values()} == {"ros2msg"}
    assert {c.message_encoding for c in summary.channels.values()} == {"cdr"}
    assert all("offered_qos_profiles" in c.metadata for c in summary.channels.values())

    replay = subprocess.run(bringup("--source", str(bag), "--output", str(tmp_path / "replay")),
                            env=ros_env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "source ended:" in replay.stdout and "at its recorded pace" in replay.stderr
    replayed = [json.loads(line) for line in (tmp_path / "replay" / RECORDS_NAME).read_text()
                .splitlines()]
    assert len(replayed) >= 0.25 * len(images)  # the node drops frames while busy
    assert {r["stamp"] for r in replayed} <= image_stamps  # the recorded stamps, republished
    majority, matched = replayed_labels(live, replayed)
    assert matched >= 0.9, (live, replayed)
    live_majority = majority_labels(live)
    steady = {face_id for face_id, n in Counter(
        f["face_id"] for r in live for f in r["faces"]).items() if n >= 0.2 * len(live)}
    assert steady and steady <= set(majority), (steady, majority)
    assert majority == {face_id: live_majority[face_id] for face_id in majority}


def test_a_killed_recorder_leaves_the_complete_chunks_readable(ros_env, tmp_path):
    bag = tmp_path / "killed.mcap"
    process = NodeProcess(bringup("--record", str(bag), "--record-raw"), ros_env,
                          tmp_path / "bringup.log")
    try:
        assert wait_for_results(process), process.output
        time.sleep(1.0)
    finally:
        process.stop(signal.SIGKILL)
    with pytest.raises(Exception, match="magic"):  # no summary: the strict reader refuses it
        read_bag(bag)
    source = bag_source(bag)
    source.check()
    assert "is cut short" in source.warning and "playing the" in source.warning
    source.open()
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    assert len(frames) >= 5 and frames[0].shape == (480, 640, 3)
    assert source.recorded.camera_info is not None

    replay = subprocess.run(bringup("--source", str(bag)), env=ros_env, capture_output=True,
                            text=True, timeout=RUN_TIMEOUT)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert f"the bag {bag} is cut short" in replay.stderr
    assert "source ended:" in replay.stdout, replay.stdout


def test_sigterm_finishes_the_file(ros_env, tmp_path):
    bag = tmp_path / "term.mcap"
    process = NodeProcess(bringup("--record", str(bag)), ros_env, tmp_path / "bringup.log")
    try:
        assert wait_for_results(process), process.output
    finally:
        code, _ = process.stop(signal.SIGTERM)
    assert code == 0, process.output
    topics = read_bag(bag)
    assert topics[COMPRESSED] and topics[EMOTIONS]


def test_an_existing_file_is_refused_and_kept(ros_env, tmp_path):
    bag = tmp_path / "old.mcap"
    bag.write_bytes(b"precious")
    run = subprocess.run(bringup("--frames", "1", "--record", str(bag)), env=ros_env,
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 1
    assert run.stderr.strip() == (f"fer bringup: cannot record: {bag} already exists; choose "
                                  "another file or pass --overwrite")
    assert bag.read_bytes() == b"precious"


def test_a_full_disk_stops_the_recording_not_the_pipeline(ros_env, tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        fill(disk)
        bag = disk / "run.mcap"
        run = subprocess.run(bringup("--frames", "10", "--record", str(bag)), env=ros_env,
                             capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    errors = [line for line in run.stderr.splitlines() if "recording stopped" in line]
    assert len(errors) == 1, run.stderr
    assert f"cannot write {bag}: No space left on device" in errors[0]
    assert "the pipeline goes on" in errors[0]
    assert "done: 10 frames classified" in run.stdout


def test_only_a_regular_file_is_recorded_into(ros_env, tmp_path):
    """A FIFO blocked open() for a reader that never came, deaf to Ctrl-C; a device is no
    recording either. Both are refused at once, and what is there is left alone."""
    fifo = tmp_path / "fifo.mcap"
    os.mkfifo(fifo)
    cases = [(fifo, "--overwrite", f"{fifo} is a named pipe (FIFO), not a regular file"),
             (fifo, None, f"{fifo} already exists; choose another file or pass --overwrite"),
             (Path("/dev/null"), "--overwrite",
              "/dev/null is a character device, not a regular file")]
    for path, overwrite, reason in cases:
        run = subprocess.run(bringup("--frames", "1", "--record", str(path),
                                     *([overwrite] if overwrite else [])),
                             env=ros_env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert run.returncode == 1, run.stderr
        assert run.stderr.startswith(f"fer bringup: cannot record: {reason}"), run.stderr
        assert "Traceback" not in run.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def hostile_image(sec: int, nanosec: int) -> Image:
    header = Header(frame_id="hostile")
    header.stamp.sec, header.stamp.nanosec = sec, nanosec
    return Image(header=header, height=1, width=2, encoding="mono8", step=2, data=b"ab")


def test_any_stamp_leaves_a_recording_that_mcaps_reader_reads_whole(tmp_path):
    """Property: whatever stamps arrive (any int32 sec, any uint32 nanosec, and any log time
    a serialized message could bring), the file is finished with its summary, every message
    is in it, and each keeps the header it was sent with."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st
    from mcap.reader import make_reader
    from rclpy.serialization import deserialize_message

    stamps = st.tuples(st.integers(-2**31, 2**31 - 1), st.integers(0, 2**32 - 1))

    @hypothesis.settings(max_examples=60, deadline=None,
                         suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
    @hypothesis.given(sent=st.lists(stamps, min_size=1, max_size=6),
                      raw_times=st.lists(st.integers(-2**80, 2**80), max_size=3))
    def check(sent, raw_times):
        bag = tmp_path / "any.mcap"
        errors: list[str] = []
        recording = McapRecording(bag, overwrite=True, on_error=errors.append)
        for sec, nanosec in sent:
            recording.write("/cam/image_raw", hostile_image(sec, nanosec))
        data = serialize_message(hostile_image(1, 2))
        for time_ns in raw_times:
            recording.write_serialized("/cam/image_raw", "sensor_msgs/msg/Image", data, time_ns)
        recording.close()
        assert recording.error is None and recording.messages == len(sent) + len(raw_times)
        assert all("recording stopped" not in e and "\n" not in e for e in errors)
        with bag.open("rb") as stream:
            reader = make_reader(stream)
            assert reader.get_summary().statistics.message_count == recording.messages
            read = [(m.log_time, deserialize_message(m.data, Image))
                    for _, _, m in reader.iter_messages(log_time_order=False)]
        headers = [(msg.header.stamp.sec, msg.header.stamp.nanosec) for _, msg in read]
        assert headers == sent + [(1, 2)] * len(raw_times)
        assert all(0 <= log_time < 2**64 for log_time, _ in read)
        for (log_time, _), (sec, nanosec) in zip(read, sent):
            assert log_time == max(sec * 10**9 + nanosec, 0)

    check()


def test_replaying_negative_stamps_while_recording_keeps_both_going(ros_env, tmp_path):
    """A bag whose frames are stamped before 1970 (sec < 0): replayed and recorded again, the
    run ends normally and the new file holds every frame with its stamp as recorded."""
    source = tmp_path / "old.mcap"
    messages = sample_messages(6)
    for _, msg in messages:
        msg.header.stamp.sec = -5
    write_mcap(source, messages)
    bag = tmp_path / "again.mcap"
    run = subprocess.run(bringup("--source", str(source), "--record", str(bag)), env=ros_env,
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and "recording stopped" not in run.stderr
    assert "recorded at log time 0 with its header as sent" in run.stderr
    frames = read_bag(bag)[COMPRESSED]
    assert len(frames) == 6
    assert [(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in frames] == [
        (-5, index * 33_333_333) for index in range(6)]


def test_a_bag_that_is_not_one_is_refused_by_name(ros_env, tmp_path):
    bad = tmp_path / "garbage.mcap"
    bad.write_bytes(b"\x89MCAP0\r\n" + bytes(range(256)) * 4)
    run = subprocess.run(bringup("--source", str(bad)), env=ros_env, capture_output=True,
                         text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 1
    assert f"cannot start: cannot read the bag {bad}" in run.stderr
    assert "Traceback" not in run.stderr


def test_schemas_are_the_installed_definitions_in_rosbag2s_layout():
    text = message_definition("fer_msgs/msg/EmotionArray")
    separators = [line for line in text.splitlines() if line.startswith("MSG: ")]
    assert sorted(separators) == ["MSG: builtin_interfaces/Time", "MSG: fer_msgs/Emotion",
                                  "MSG: geometry_msgs/Point32",
                                  "MSG: sensor_msgs/RegionOfInterest", "MSG: std_msgs/Header"]
    assert text.count("=" * 80 + "\nMSG: ") == 5
    types = get_types_from_msg(text, "fer_msgs/msg/EmotionArray")
    assert {"fer_msgs/msg/EmotionArray", "fer_msgs/msg/Emotion",
            "geometry_msgs/msg/Point32"} <= set(types)


def test_channels_offer_rosbag2s_qos_profiles(tmp_path):
    bag = tmp_path / "qos.mcap"
    write_mcap(bag, sample_messages(1))
    with AnyReader([bag]) as reader:
        profiles = [c.ext.offered_qos_profiles for c in reader.connections]
    assert len(profiles) == 2
    for (qos,) in profiles:
        assert (qos.reliability.name, qos.durability.name, qos.history.name) == (
            "RELIABLE", "VOLATILE", "KEEP_LAST")


def test_a_bag_plays_its_images_with_their_stamps_and_camera_info(tmp_path):
    bag = tmp_path / "clip.mcap"
    write_mcap(bag, sample_messages(6))
    source = bag_source(bag)
    source.check()
    assert source.warning is None and source.info_topic == "/cam/camera_info"
    assert source.open().endswith("camera_info from /cam/camera_info")
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
        assert source.recorded.frame_id == "rec_cam"
    assert len(frames) == 6 and frames[0].shape == (240, 320, 3)
    assert (source.recorded.sec, source.recorded.nanosec) == (100, 5 * 33_333_333)
    assert source.recorded.camera_info.k[0] == 200.0
    assert source.native_fps == pytest.approx(30.0, rel=1e-3)  # the recorded pace


def test_a_looped_bag_starts_again(tmp_path):
    bag = tmp_path / "clip.mcap"
    write_mcap(bag, sample_messages(3))
    source = make_source(parse_source(str(bag)), True, decode=decode)
    source.check()
    source.open()
    stamps = []
    for _ in range(7):
        assert source.read() is not None
        stamps.append(source.recorded.nanosec)
    assert stamps == [0, 33_333_333, 66_666_666] * 2 + [0]


def test_a_file_cut_short_plays_its_complete_chunks_and_warns(tmp_path):
    bag = tmp_path / "cut.mcap"
    frames = SampleSequence(320, 240)
    messages = []
    for index in range(30):  # 230 kB each: about 4 to a 1 MiB chunk
        header = Header(frame_id="cam")
        header.stamp.sec = index
        pixels = frames.frame(index)
        messages.append(("/cam/image_raw", Image(header=header, height=240, width=320,
                                                 encoding="bgr8", step=960,
                                                 data=pixels.tobytes())))
    write_mcap(bag, messages)
    data = bag.read_bytes()
    bag.write_bytes(data[:len(data) * 6 // 10])
    source = bag_source(bag)
    source.check()
    assert source.warning.startswith(f"the bag {bag} is cut short")
    source.open()
    played = []
    while (frame := source.read()) is not None:
        played.append(source.recorded.sec)
        assert np.array_equal(frame, frames.frame(source.recorded.sec))
    assert 8 <= len(played) < 18 and played == list(range(len(played)))


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_rosbag2_folders_play_too(tmp_path, storage):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    folder = tmp_path / "bag"
    typestore = get_typestore(Stores.ROS2_KILTED)
    with Writer(folder, version=9, storage_plugin=getattr(StoragePlugin, storage.upper())) \
            as writer:
        connections = {}
        for topic, msg in sample_messages(4):
            if topic not in connections:
                msgtype = f"sensor_msgs/msg/{type(msg).__name__}"
                connections[topic] = writer.add_connection(topic, msgtype, typestore=typestore)
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            writer.write(connections[topic], stamp, serialize_message(msg))
    assert parse_source(str(folder)).kind == "bag"
    source = bag_source(folder)
    source.check()
    source.open()
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    assert len(frames) == 4 and frames[-1].shape == (240, 320, 3)


def test_bad_bags_get_errors_that_name_them(tmp_path):
    only_info = tmp_path / "info.mcap"
    write_mcap(only_info, [m for m in sample_messages(2) if isinstance(m[1], CameraInfo)])
    with pytest.raises(SourceError, match=f"the bag {only_info} holds no images .*its topics: "
                                          "/cam/camera_info"):
        bag_source(only_info).check()

    two = tmp_path / "two.mcap"
    raw = Image(header=Header(frame_id="x"), height=2, width=2, encoding="mono8", step=2,
                data=bytes(4))
    write_mcap(two, sample_messages(1) + [("/other/image_raw", raw)])
    with pytest.raises(SourceError, match="several image topics: /cam/image_raw/compressed, "
                                          "/other/image_raw; choose one with bag_topic"):
        bag_source(two).check()
    with pytest.raises(SourceError, match="has no image topic /nope"):
        bag_source(two, "/nope").check()
    chosen = bag_source(two, "/other/image_raw")
    chosen.check()
    chosen.open()
    assert chosen.read().shape == (2, 2, 3)

    missing = tmp_path / "missing.mcap"
    with pytest.raises(SourceError, match=f"no such bag: {missing}"):
        bag_source(missing).check()

    empty = tmp_path / "empty.mcap"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match=f"cannot read the bag {empty}"):
        bag_source(empty).check()

    folder = tmp_path / "other_storage"
    folder.mkdir()
    (folder / "metadata.yaml").write_text(
        "rosbag2_bagfile_information:\n  version: 9\n  storage_identifier: foo\n")
    with pytest.raises(SourceError, match=f"the bag {folder} uses the storage 'foo'; only "
                                          "mcap and sqlite3 can be replayed"):
        bag_source(folder).check()
