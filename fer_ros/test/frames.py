"""Test frames with real faces, and sensor_msgs built from them."""

from __future__ import annotations

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from fer_ros.perception.detection.detections import Box
from fer_ros.sources.sample import SOURCE_FACE


def astronaut_frame(offset_x: int = 80, offset_y: int = 0) -> tuple[np.ndarray, Box]:
    """640x480 BGR frame holding skimage's astronaut (smiling), and her face box."""
    from skimage import data

    scale = 480 / 512
    portrait = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (480, 480),
                          interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 90, np.uint8)
    x0, y0 = offset_x, offset_y
    src_x0, src_y0 = max(0, -x0), max(0, -y0)
    dst_x0, dst_y0 = max(0, x0), max(0, y0)
    w = min(480 - src_x0, 640 - dst_x0)
    h = min(480 - src_y0, 480 - dst_y0)
    frame[dst_y0:dst_y0 + h, dst_x0:dst_x0 + w] = portrait[src_y0:src_y0 + h, src_x0:src_x0 + w]
    x, y, fw, fh = SOURCE_FACE
    box = (round(x * scale) + x0, round(y * scale) + y0, round(fw * scale), round(fh * scale))
    return frame, box


def header(stamp_ns: int, frame_id: str = "test_camera") -> Header:
    return Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id=frame_id)


def image_msg(bgr: np.ndarray, stamp_ns: int, encoding: str = "bgr8", pad: int = 0,
              frame_id: str = "test_camera") -> Image:
    """An Image message in the given encoding, with ``pad`` bytes of padding after each row."""
    conversions = {"bgr8": None, "rgb8": cv2.COLOR_BGR2RGB, "mono8": cv2.COLOR_BGR2GRAY,
                   "bgra8": cv2.COLOR_BGR2BGRA, "rgba8": cv2.COLOR_BGR2RGBA}
    code = conversions[encoding]
    pixels = bgr if code is None else cv2.cvtColor(bgr, code)
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    if pad:
        rows = np.hstack([rows, np.full((height, pad), 7, np.uint8)])
    msg = Image(header=header(stamp_ns, frame_id), height=height, width=width,
                encoding=encoding, is_bigendian=0, step=rows.shape[1])
    msg.data = np.ascontiguousarray(rows).tobytes()
    return msg


def jpeg_msg(bgr: np.ndarray, stamp_ns: int, frame_id: str = "test_camera") -> CompressedImage:
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return CompressedImage(header=header(stamp_ns, frame_id), format="jpeg",
                           data=encoded.tobytes())



def roi_box(emotion) -> Box:
    roi = emotion.roi
    return (roi.x_offset, roi.y_offset, roi.width, roi.height)
