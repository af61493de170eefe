"""emotion_node with its default detector on HD frames over real DDS: every face of an
1280x720 and a 1920x1080 frame with 8 real faces (colour and mono8) comes back, with the five
landmarks of each inside its region, under the frame's header; annotated 1920x1080 frames come
through the node's own Fast DDS profile."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sensor_msgs.msg import Image

from emotion_session import Session
from face_photos import crowd_frame, needs_photos
from fer_ros.perception.tracking.tracks import box_iou
from frames import image_msg, roi_box
from ros_harness import wait_until
from test_retinaface import HD_SIZES

pytestmark = needs_photos

SEGMENT = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) .* (/dev/shm/fastdds_[0-9a-f]{16})$")
"""A Fast DDS shared-memory segment in /proc/<pid>/maps (ports are named fastdds_port<n>)."""


@pytest.fixture(scope="module")
def hd_frames():
    return {size: crowd_frame(*size, HD_SIZES, seed=0) for size in ((1280, 720), (1920, 1080))}


def test_hd_frames_with_8_faces_every_face_with_its_landmarks(session, hd_frames):
    for (width, _), (frame, truth) in hd_frames.items():
        for encoding in ("bgr8", "mono8"):
            msg = image_msg(frame, session.next_stamp(), encoding, frame_id="hd_camera")
            result = session.send(msg)
            assert result is not None, (width, encoding, session.node.output)
            assert result.header == msg.header
            boxes = [roi_box(e) for e in result.emotions]
            assert len(boxes) == 8, (width, encoding, boxes)
            assert all(max(box_iou(t, b) for b in boxes) > 0.5 for t in truth), (width, encoding)
            for emotion in result.emotions:
                roi = emotion.roi
                assert len(emotion.landmarks) == 5
                for point in emotion.landmarks[:3]:  # eyes and nose lie inside the face box
                    assert roi.x_offset <= point.x <= roi.x_offset + roi.width
                    assert roi.y_offset <= point.y <= roi.y_offset + roi.height
                    assert point.z == 0.0
                assert sum(emotion.scores) == pytest.approx(1.0, abs=1e-3)


def test_detectors_without_landmarks_send_none(ros_domain, ros_env, tmp_path, hd_frames):
    session = Session(ros_domain, ros_env, tmp_path, "detector:=blazeface")
    try:
        frame, _ = hd_frames[(1280, 720)]
        result = session.send(image_msg(frame, session.next_stamp()))
        assert result is not None, session.node.output
        assert result.emotions, "blazeface finds the larger faces of a 1280x720 frame"
        assert all(list(e.landmarks) == [] for e in result.emotions)
    finally:
        session.close()


def shm_segments(pid: int) -> set[tuple[str, int]]:
    """Path and mapped size of each Fast DDS segment a process maps."""
    segments = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        match = SEGMENT.match(line)
        if match:
            segments.add((match[3], int(match[2], 16) - int(match[1], 16)))
    return segments


def test_annotated_full_hd_frames_come_through_the_nodes_own_dds_profile(session, hd_frames):
    """The node picks its own profile (the test's own is not passed on to it): its segment,
    which holds what it publishes, is 16 MiB rather than the camera's 32, and still carries
    every annotated 1920x1080 bgr8 frame (6.2 MB). A process maps its peers' segments too, but
    this test process makes only 32 MiB ones (and Fast DDS's own 512 KB)."""
    sizes = [size for _, size in shm_segments(session.node.process.pid)]
    assert sum(16 << 20 <= size < 32 << 20 for size in sizes) == 1, sizes
    annotated: list[Image] = session.peer.collect(Image, "image_annotated")
    assert wait_until(
        lambda: session.peer.node.count_publishers("/image_annotated") > 0, 10)
    frame, _ = hd_frames[(1920, 1080)]
    stamps = []
    for _ in range(5):
        msg = image_msg(frame, session.next_stamp())
        assert session.send(msg) is not None, session.node.output
        stamps.append(msg.header.stamp)
    assert wait_until(lambda: {a.header.stamp.nanosec for a in annotated}
                      >= {s.nanosec for s in stamps}, 5), session.node.output
    assert all((a.width, a.height, len(a.data)) == (1920, 1080, 1920 * 1080 * 3)
               for a in annotated)
