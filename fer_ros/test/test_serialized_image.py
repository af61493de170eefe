"""Image messages read from their serialized bytes give the fields and pixels rclpy's own
deserialization gives, and a cut or foreign buffer is refused with a reason."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image

from fer_ros.nodes.messages.image_conversion import ImageConversionError
from fer_ros.nodes.messages.image_messages import image_to_bgr
from fer_ros.nodes.messages.serialized_image import read_serialized_image, serialized_stamp_ns
from frames import astronaut_frame, image_msg


@pytest.mark.parametrize("encoding,pad,frame_id", [
    ("bgr8", 0, "test_camera"), ("rgb8", 3, "c"), ("mono8", 1, ""), ("bgra8", 0, "ab"),
    ("rgba8", 2, "camera_optical_frame"),
])
def test_fields_and_pixels_match_rclpys_deserialization(encoding, pad, frame_id):
    frame, _ = astronaut_frame()
    msg = image_msg(frame, 1_700_000_000_123_456_789, encoding=encoding, pad=pad,
                    frame_id=frame_id)
    serialized = serialize_message(msg)
    ours, theirs = read_serialized_image(serialized), deserialize_message(serialized, Image)
    assert ours.header == theirs.header
    assert (ours.height, ours.width, ours.encoding, ours.is_bigendian, ours.step) == \
           (theirs.height, theirs.width, theirs.encoding, theirs.is_bigendian, theirs.step)
    np.testing.assert_array_equal(image_to_bgr(ours), image_to_bgr(theirs))


def test_a_cut_or_foreign_buffer_is_refused_with_a_reason():
    frame, _ = astronaut_frame()
    serialized = serialize_message(image_msg(frame, 5))
    for cut in (0, 3, 10, 40, 60, len(serialized) - 1000):
        with pytest.raises(ImageConversionError, match="CDR|ends after"):
            read_serialized_image(serialized[:cut])
    with pytest.raises(ImageConversionError, match="plain CDR"):
        read_serialized_image(b"\x00\x07" + serialized[2:])


def test_the_stamp_is_read_alone_as_rclpy_serialized_it():
    """What the frame-loss count reads of every frame, processed or dropped."""
    frame, _ = astronaut_frame()
    for stamp_ns in (0, 1, 1_700_000_000_123_456_789):
        msg = image_msg(frame, stamp_ns)
        assert serialized_stamp_ns(serialize_message(msg)) == (
            msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)
    with pytest.raises(ImageConversionError):
        serialized_stamp_ns(serialize_message(image_msg(frame, 5))[:6])
