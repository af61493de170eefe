"""Face crops to model input: the one function training and inference both use.

Training and inference must scale pixels identically or a model that scored well in evaluation
misbehaves on the robot. ``normalize`` is plain arithmetic so it runs unchanged on NumPy arrays
(inference) and TensorFlow tensors (the tf.data training pipeline).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Box
from fer_ros.perception.expressions.model_metadata import CropSpec, ModelMetadata


def normalize(pixels, metadata: ModelMetadata):
    """Scale 0..255 pixel values (array or tensor, already float) as the model was trained."""
    scale, offset = metadata.scale_offset
    return pixels * scale + offset


def crop_box(box: Box, crop: CropSpec) -> Box:
    """The region around a detected face box that the model sees (may extend past the image)."""
    x, y, w, h = box
    if crop.square:
        side = max(w, h)
        x -= (side - w) // 2
        y -= (side - h) // 2
        w = h = side
    dx = int(round(w * crop.margin_frac)) + crop.margin_px
    dy = int(round(h * crop.margin_frac)) + crop.margin_px
    return x - dx, y - dy, w + 2 * dx, h + 2 * dy


def crop_face(gray: np.ndarray, box: Box, crop: CropSpec, roll: float = 0.0) -> np.ndarray:
    """Cut the crop region out of an image (gray or colour), replicating the border where it
    leaves the image; with a ``roll`` (degrees, clockwise on screen: alignment.py)
    the region is turned about the box's centre by that much first, so a tilted face comes out
    level.

    Faces at the image edge are common on a robot; replicating the border keeps them usable
    instead of shrinking or shifting the crop, which would change what the model sees.
    """
    x, y, w, h = crop_box(box, crop)
    img_h, img_w = gray.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, img_w), min(y + h, img_h)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"face box {box} lies outside the {img_w}x{img_h} image")
    if roll:
        centre = (x + w / 2, y + h / 2)
        matrix = cv2.getRotationMatrix2D(centre, roll, 1.0)
        matrix[:, 2] += (w / 2 - centre[0], h / 2 - centre[1])
        return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    patch = gray[y0:y1, x0:x1]
    if (x0 - x, y0 - y, x + w - x1, y + h - y1) != (0, 0, 0, 0):
        patch = cv2.copyMakeBorder(
            patch, y0 - y, y + h - y1, x0 - x, x + w - x1, cv2.BORDER_REPLICATE
        )
    return patch


def resize_face(face: np.ndarray, metadata: ModelMetadata) -> np.ndarray:
    """Resize a crop to the model's input size (area filter when shrinking, as is usual)."""
    height, width = metadata.input_size
    if face.shape[:2] == (height, width):
        return face
    shrinking = face.shape[0] > height or face.shape[1] > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(face, (width, height), interpolation=interpolation)


def prepare_faces(gray: np.ndarray, boxes: Sequence[Box], metadata: ModelMetadata,
                  rolls: Sequence[float] | None = None) -> np.ndarray:
    """Crop (levelled by ``rolls``, degrees per face, when given), resize and normalise every
    face of one frame into a single float32 NHWC batch."""
    height, width = metadata.input_size
    batch = np.empty((len(boxes), height, width, metadata.channels), dtype=np.float32)
    for i, box in enumerate(boxes):
        roll = rolls[i] if rolls is not None else 0.0
        face = resize_face(crop_face(gray, box, metadata.crop, roll), metadata)
        batch[i] = face[:, :, None]
    return normalize(batch, metadata).astype(np.float32, copy=False)


def prepare_frame_faces(bgr: np.ndarray, gray: np.ndarray, boxes: Sequence[Box],
                        metadata: ModelMetadata,
                        rolls: Sequence[float] | None = None) -> np.ndarray:
    """The batch a model expects from one frame: gray faces for 1 channel, RGB for 3.

    Only the crops are converted to RGB, never the whole frame, so a colour model costs no
    full-frame conversion. A gray camera's frame arrives here as BGR with equal channels, which
    colour models read as a gray face.
    """
    if metadata.channels == 1:
        return prepare_faces(gray, boxes, metadata, rolls)
    height, width = metadata.input_size
    batch = np.empty((len(boxes), height, width, 3), dtype=np.float32)
    for i, box in enumerate(boxes):
        roll = rolls[i] if rolls is not None else 0.0
        face = resize_face(crop_face(bgr, box, metadata.crop, roll), metadata)
        batch[i] = face[:, :, ::-1]
    return normalize(batch, metadata).astype(np.float32, copy=False)
