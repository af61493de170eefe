"""A built-in video source for demos and tests: no webcam, no download, same frames every run.

Frames are composed from public-domain pictures that scikit-image ships: the face of
``skimage.data.astronaut()`` (Eileen Collins, NASA) pasted onto a blurred
``skimage.data.rocket()`` launch pad. The faces drift on smooth closed paths so tracking,
smoothing and annotation have something to follow, and the sequence loops without a jump.
Because the faces are pasted, the true face boxes are known exactly, which the tests use.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Box

SOURCE_FACE: Box = (177, 66, 95, 95)
"""Eileen Collins' face in ``astronaut()``, as OpenCV's frontal-face Haar cascade boxes it.

Face boxes here follow the detectors' convention (brows to chin), so a pasted face's ground
truth is this box, scaled and moved with the patch.
"""

_MARGINS = (0.3, 0.45, 0.3, 0.35)
"""Context kept around the source face (left, top, right, bottom, as fractions of its side):
hair, ears and chin, without which detectors do not see a face, and little else, so the
faces can be packed tightly."""

MAX_FACES = 50
"""Most faces ``sample_faces_frame`` places; more would be too small for any detector."""

_FEATHER = 0.08
"""Width of the soft edge of a pasted patch, as a fraction of its size."""


@lru_cache(maxsize=1)
def _astronaut() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@lru_cache(maxsize=4)
def _background(width: int, height: int) -> np.ndarray:
    """The blurred launch pad, scaled to cover the frame and cropped to it (no distortion)."""
    from skimage import data

    scene = cv2.cvtColor(data.rocket(), cv2.COLOR_RGB2BGR)
    scale = max(width / scene.shape[1], height / scene.shape[0])
    size = (max(width, round(scene.shape[1] * scale)), max(height, round(scene.shape[0] * scale)))
    scene = cv2.resize(scene, size, interpolation=cv2.INTER_AREA)
    x0, y0 = (size[0] - width) // 2, (size[1] - height) // 2
    scene = np.ascontiguousarray(scene[y0:y0 + height, x0:x0 + width])
    blurred = cv2.GaussianBlur(scene, (0, 0), max(2.0, min(width, height) / 60))
    blurred.flags.writeable = False
    return blurred


def patch_size(face: int) -> tuple[int, int]:
    """Width and height of the pasted patch around a face box of side ``face``."""
    left, top, right, bottom = _MARGINS
    return round(face * (1 + left + right)), round(face * (1 + top + bottom))


@lru_cache(maxsize=256)
def _patch(face: int, mirrored: bool) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A face cut out with context and a feathered oval edge, scaled so the face is ``face`` px.

    Returns the colour premultiplied by alpha and ``1 - alpha`` (float32, ready to blend), and
    the face box's offset in the patch. Mirrored patches serve as a second person.
    """
    sx, sy, side, _ = SOURCE_FACE
    left, top, right, bottom = _MARGINS
    x0, y0 = round(sx - left * side), round(sy - top * side)
    x1, y1 = round(sx + side * (1 + right)), round(sy + side * (1 + bottom))
    source = _astronaut()[y0:y1, x0:x1]
    width, height = patch_size(face)
    interpolation = cv2.INTER_AREA if face < side else cv2.INTER_LINEAR
    color = cv2.resize(source, (width, height), interpolation=interpolation).astype(np.float32)
    dx = round((sx - x0) * face / side)
    if mirrored:
        color = color[:, ::-1]
        dx = width - dx - face
        color = color * np.array([0.9, 0.95, 1.05], np.float32)
    dy = round((sy - y0) * face / side)
    feather = max(1.0, _FEATHER * min(width, height))
    mask = np.zeros((height, width), np.float32)
    cv2.ellipse(mask, (width // 2, height // 2),
                (round(width / 2 - feather), round(height / 2 - feather)), 0, 0, 360, 1.0,
                cv2.FILLED, cv2.LINE_AA)
    alpha = cv2.GaussianBlur(mask, (0, 0), feather / 2)[:, :, None]
    return (np.clip(color, 0, 255) * alpha), (1.0 - alpha), dx, dy


def _paste(frame: np.ndarray, face: int, mirrored: bool, x: int, y: int) -> Box:
    """Blend a face patch into ``frame`` so the face box's top-left lands on (x, y).

    Parts outside the frame are cut off; the returned face box may then reach past the border.
    """
    premultiplied, inverse, dx, dy = _patch(face, mirrored)
    px, py = x - dx, y - dy
    h, w = inverse.shape[:2]
    x0, y0 = max(px, 0), max(py, 0)
    x1, y1 = min(px + w, frame.shape[1]), min(py + h, frame.shape[0])
    if x1 > x0 and y1 > y0:
        roi = frame[y0:y1, x0:x1]
        sub = (slice(y0 - py, y1 - py), slice(x0 - px, x1 - px))
        roi[:] = (roi * inverse[sub] + premultiplied[sub]).astype(np.uint8)
    return x, y, face, face


class SampleSequence:
    """A looping, deterministic clip of up to two faces moving over a still scene.

    The second face is mirrored and tinted so the two are told apart at a glance. Each face
    follows a Lissajous path and breathes in size a little, at most a few pixels per frame at
    the default period, like a person shifting in front of a robot.
    """

    _PATHS = (
        # face side / frame height, centre x, y / frame size, amplitudes, x/y cycles, phase
        (0.26, (0.27, 0.52), (0.09, 0.10), (1, 2), 0.0),
        (0.19, (0.73, 0.47), (0.08, 0.16), (2, 1), 1.3),
    )

    def __init__(self, width: int = 640, height: int = 480, num_faces: int = 2,
                 period_frames: int = 120):
        if width < 160 or height < 120:
            raise ValueError(f"frames must be at least 160x120, got {width}x{height}")
        if not 0 <= num_faces <= len(self._PATHS):
            raise ValueError(f"num_faces must be 0..{len(self._PATHS)}, got {num_faces}")
        if period_frames < 1:
            raise ValueError(f"period_frames must be >= 1, got {period_frames}")
        self.width, self.height = width, height
        self.num_faces = num_faces
        self.period_frames = period_frames

    def __len__(self) -> int:
        return self.period_frames

    def face_boxes(self, index: int) -> list[Box]:
        """Ground-truth face boxes of frame ``index``, in the order the faces are pasted."""
        phase = 2 * math.pi * (index % self.period_frames) / self.period_frames
        boxes = []
        for rel_side, (cx, cy), (ax, ay), (fx, fy), offset in self._PATHS[:self.num_faces]:
            side = round(rel_side * self.height * (1 + 0.1 * math.sin(phase + offset)))
            x = (cx + ax * math.sin(fx * phase + offset)) * self.width
            y = (cy + ay * math.sin(fy * phase + offset)) * self.height
            boxes.append((round(x - side / 2), round(y - side / 2), side, side))
        return boxes

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (wrapping around the period) as a new BGR uint8 image."""
        frame = _background(self.width, self.height).copy()
        for i, (x, y, side, _) in enumerate(self.face_boxes(index)):
            _paste(frame, side, i % 2 == 1, x, y)
        return frame


def sample_faces_frame(num_faces: int, width: int = 640,
                       height: int = 480) -> tuple[np.ndarray, list[Box]]:
    """One frame with ``num_faces`` non-overlapping faces of various sizes, and their boxes.

    For benchmarks and tests that need a known number of faces. Faces sit one per cell of a grid
    shaped like the frame, so up to 8 get 60 to 140 px; packing many more (at most MAX_FACES)
    makes them smaller. The layout depends only on the arguments.
    """
    if not 0 <= num_faces <= MAX_FACES:
        raise ValueError(f"num_faces must be 0..{MAX_FACES}, got {num_faces}")
    frame = _background(width, height).copy()
    if num_faces == 0:
        return frame, []
    cols = math.ceil(math.sqrt(num_faces * width / height))
    rows = math.ceil(num_faces / cols)
    cell_w, cell_h = width // cols, height // rows
    left, top, right, bottom = _MARGINS
    largest = min(140, int(cell_w / (1 + left + right)), int(cell_h / (1 + top + bottom)))
    if largest < 24:
        raise ValueError(f"{num_faces} faces do not fit a {width}x{height} frame")
    smallest = min(60, largest)
    rng = np.random.default_rng(num_faces)
    cells = sorted(rng.permutation(cols * rows)[:num_faces])
    boxes = []
    for i, cell in enumerate(cells):
        side = int(rng.integers(smallest, largest + 1))
        pw, ph = patch_size(side)
        _, _, dx, dy = _patch(side, i % 2 == 1)
        row, col = divmod(int(cell), cols)
        px = col * cell_w + int(rng.integers(0, cell_w - pw + 1))
        py = row * cell_h + int(rng.integers(0, cell_h - ph + 1))
        boxes.append(_paste(frame, side, i % 2 == 1, px + dx, py + dy))
    return frame, boxes
