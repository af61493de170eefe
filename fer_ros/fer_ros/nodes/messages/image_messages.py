"""sensor_msgs images to and from OpenCV: cv_bridge where installed, else our exact conversion.

ROS installs ship cv_bridge and users expect it to be used; the PyPI route has none, so the
project's own conversion (fer_ros.nodes.messages.image_conversion) stands in. Either way the message
fields are checked first, so a malformed message is refused with a reason instead of crashing
the node.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from fer_ros.nodes.messages.image_conversion import (
    ImageConversionError,
    bgr_to_jpeg,
    bgr_to_raw,
    check_raw_image,
    compressed_to_bgr,
    raw_to_bgr,
)
from fer_ros.nodes.messages.serialized_image import SerializedImage

try:
    from cv_bridge import CvBridge, CvBridgeError
except ImportError:
    CvBridge = None
    CvBridgeError = ImageConversionError

_BRIDGE = CvBridge() if CvBridge is not None else None
CONVERTER = "cv_bridge" if _BRIDGE is not None else "fer_ros.nodes.messages.image_conversion"


def image_to_bgr(msg: Image | SerializedImage) -> np.ndarray:
    """BGR pixels of an Image message, or of one read from its serialized bytes; raises
    ImageConversionError naming the problem."""
    if _BRIDGE is None or isinstance(msg, SerializedImage):
        return raw_to_bgr(msg.encoding, msg.height, msg.width, msg.step, msg.data)
    check_raw_image(msg.encoding, msg.height, msg.width, msg.step, len(msg.data))
    try:
        return _BRIDGE.imgmsg_to_cv2(msg, desired_encoding="bgr8")
    except CvBridgeError as exc:
        raise ImageConversionError(f"cv_bridge: {exc}") from exc


def compressed_image_to_bgr(msg: CompressedImage, max_pixels: int) -> np.ndarray:
    """BGR pixels of a CompressedImage whose header claims at most ``max_pixels``."""
    return compressed_to_bgr(msg.format, msg.data, max_pixels)


def bgr_to_image(image: np.ndarray, header: Header) -> Image:
    """A bgr8 Image message with the given header (the source image's, for annotated output)."""
    msg = Image()
    msg.header = header
    msg.height, msg.width, msg.step, msg.data = bgr_to_raw(image)
    msg.encoding = "bgr8"
    return msg


JPEG_FORMAT = "bgr8; jpeg compressed bgr8"
"""The format string image_transport's compressed plugin writes for a bgr8 image as JPEG, so
its subscribers (rqt_image_view, republish) decode ours without a guess."""


def bgr_to_compressed_image(image: np.ndarray, header: Header, quality: int) -> CompressedImage:
    """A JPEG CompressedImage of a BGR image, with the given header."""
    return CompressedImage(header=header, format=JPEG_FORMAT, data=bgr_to_jpeg(image, quality))
