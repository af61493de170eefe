"""sensor_msgs/Image fields to and from OpenCV arrays, exactly and without ROS imports.

cv_bridge is not installable everywhere (no PyPI build for ROS 2), so this module is the
fallback the node uses when it cannot import it. It takes the message's fields rather than the
message so the core stays free of ROS imports and the checks can be tested on their own. Every
malformed image raises ImageConversionError naming what is wrong; nothing is guessed.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer_ros.perception.limits.images import (
    DEFAULT_MAX_PIXELS,
    ImageHeaderError,
    ImageTooLarge,
    decode_image,
)

_CHANNELS: dict[str, int] = {"bgr8": 3, "rgb8": 3, "mono8": 1, "bgra8": 4, "rgba8": 4,
                             "yuv422_yuy2": 2}
_TO_BGR: dict[str, int | None] = {
    "bgr8": None,
    "rgb8": cv2.COLOR_RGB2BGR,
    "mono8": cv2.COLOR_GRAY2BGR,
    "bgra8": cv2.COLOR_BGRA2BGR,
    "rgba8": cv2.COLOR_RGBA2BGR,
    "yuv422_yuy2": cv2.COLOR_YUV2BGR_YUY2,
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_CHANNELS)


class ImageConversionError(ValueError):
    """An image message cannot be turned into pixels; the message says why."""


def check_raw_image(encoding: str, height: int, width: int, step: int, size: int) -> int:
    """Channels of a sensor_msgs/Image whose fields are consistent; else ImageConversionError.

    Checked before any conversion (cv_bridge's included) so a malformed message is refused
    with a reason instead of crashing or reading past its buffer.
    """
    channels = _CHANNELS.get(encoding)
    if channels is None:
        raise ImageConversionError(
            f"unsupported encoding {encoding!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})"
        )
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"empty image ({width}x{height})")
    if encoding == "yuv422_yuy2" and width % 2:
        raise ImageConversionError(f"yuv422_yuy2 needs an even width, got {width}")
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageConversionError(
            f"step {step} is smaller than width*channels = {row_bytes} for {encoding}"
        )
    if size < step * height:
        raise ImageConversionError(
            f"data holds {size} bytes, fewer than step*height = {step * height}"
        )
    return channels


def raw_to_bgr(encoding: str, height: int, width: int, step: int, data) -> np.ndarray:
    """A BGR uint8 array for the fields of a sensor_msgs/Image.

    Row padding (``step`` larger than ``width * channels``) is respected; bgr8 frames without
    padding are returned as a read-only view of ``data``, without copying.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    channels = check_raw_image(encoding, height, width, step, buffer.size)
    rows = buffer[: step * height].reshape(height, step)[:, : width * channels]
    pixels = rows.reshape(height, width, channels) if channels > 1 else rows
    conversion = _TO_BGR[encoding]
    if conversion is None:
        return pixels
    return cv2.cvtColor(np.ascontiguousarray(pixels), conversion)


def compressed_to_bgr(fmt: str, data, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (JPEG or PNG) to BGR.

    The size in the header is checked against ``max_pixels`` first, so a decompression bomb
    costs microseconds instead of gigabytes.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    what = fmt or "no format"
    if buffer.size == 0:
        raise ImageConversionError(f"compressed image ({what}) has no data")
    try:
        image = decode_image(buffer, max_pixels)
    except ImageTooLarge as exc:
        raise ImageConversionError(f"compressed image ({what}): {exc}") from exc
    except ImageHeaderError as exc:
        raise ImageConversionError(
            f"corrupt or undecodable compressed image ({what}, {buffer.size} bytes): "
            f"{exc}") from exc
    except cv2.error as exc:
        raise ImageConversionError(
            f"compressed image ({what}) refused by the decoder: "
            f"{str(exc).strip().splitlines()[-1]}") from exc
    if image is None:
        raise ImageConversionError(
            f"corrupt or undecodable compressed image ({what}, {buffer.size} bytes)"
        )
    return image


def bgr_to_raw(image: np.ndarray) -> tuple[int, int, int, bytes]:
    """Height, width, step and bytes of a BGR image, for a bgr8 sensor_msgs/Image."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageConversionError(
            f"expected an HxWx3 uint8 image, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    return height, width, width * 3, np.ascontiguousarray(image).tobytes()


def bgr_to_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a BGR image at ``quality`` (1-100)."""
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageConversionError(f"OpenCV could not encode a {image.shape} image as JPEG")
    return jpeg.tobytes()
