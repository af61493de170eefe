"""Results drawn onto the camera image for a person watching it (rqt_image_view).

Each face gets a box in its expression's colour, a label line and an emoji beside it. The emoji
are drawn with OpenCV primitives instead of loaded from image files, so there is no asset that
can go missing at run time. Drawing one is not free, and this runs for every frame, so each
(label, size) is rendered once and cached; per frame only an alpha blend remains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from fer_ros.perception.detection.detections import Box
from fer_ros.perception.expressions.labels import EMOTIONS

Color = tuple[int, int, int]
"""A BGR colour."""

COLORS: dict[str, Color] = {
    "angry": (40, 40, 230),
    "disgust": (40, 160, 40),
    "fear": (180, 60, 160),
    "happy": (0, 200, 255),
    "sad": (220, 130, 30),
    "surprise": (0, 140, 255),
    "neutral": (190, 190, 190),
}
"""Box and label colour (BGR) per expression."""

EMOJI_MIN, EMOJI_MAX = 24, 128
"""Emoji side in pixels, whatever the face size: legible when far, not covering the scene."""

EMOJI_SCALE = 0.6
"""Emoji side as a fraction of the face box height."""

EMOJI_STEP = 4
"""Emoji sides are multiples of this: detector boxes jitter by a pixel or two from frame to
frame, and a fixed emoji looks calmer and keeps the number of cached renderings small."""

_SUPERSAMPLE = 4
"""Emoji are drawn this many times larger and shrunk, which smooths every edge and the mask."""

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.5
_TEXT_PAD = 3

_YELLOW = (40, 200, 255)
_OUTLINE = (0, 110, 190)
_DARK = (30, 30, 60)
_MOUTH = (40, 30, 120)
_WHITE = (255, 255, 255)
_TEAR = (240, 170, 60)
_STROKE = 0.045
"""Line width of the features, as a fraction of the emoji side."""


@dataclass(frozen=True)
class FaceAnnotation:
    """What is drawn for one face."""

    box: Box
    face_id: int
    label: str
    confidence: float


class _Pen:
    """Draws on a supersampled square canvas in unit coordinates (0..1 across the emoji)."""

    def __init__(self, canvas: np.ndarray):
        self.canvas = canvas
        self.n = canvas.shape[0]

    def pt(self, x: float, y: float) -> tuple[int, int]:
        return round(float(x) * self.n), round(float(y) * self.n)

    def size(self, v: float) -> int:
        return max(1, round(v * self.n))

    def disc(self, x: float, y: float, r: float, color: Color,
             thickness: int = cv2.FILLED) -> None:
        cv2.circle(self.canvas, self.pt(x, y), self.size(r), color, thickness, cv2.LINE_AA)

    def ellipse(self, x: float, y: float, rx: float, ry: float, color: Color,
                thickness: float = 0.0, start: float = 0, end: float = 360) -> None:
        """A filled ellipse (or sector, angles in degrees clockwise from +x) or its outline."""
        width = self.size(thickness) if thickness else cv2.FILLED
        cv2.ellipse(self.canvas, self.pt(x, y), (self.size(rx), self.size(ry)), 0, start, end,
                    color, width, cv2.LINE_AA)

    def line(self, points: Sequence[tuple[float, float]], color: Color,
             thickness: float) -> None:
        """A polyline with round ends (OpenCV's own ends are square)."""
        pts = np.array([self.pt(x, y) for x, y in points], np.int32)
        cv2.polylines(self.canvas, [pts], False, color, self.size(thickness), cv2.LINE_AA)
        for end in (pts[0], pts[-1]):
            cv2.circle(self.canvas, tuple(int(v) for v in end), self.size(thickness) // 2, color,
                       cv2.FILLED, cv2.LINE_AA)



def _dot_eyes(pen: _Pen, y: float = 0.42, r: float = 0.055) -> None:
    pen.ellipse(0.35, y, r, r * 1.35, _DARK)
    pen.ellipse(0.65, y, r, r * 1.35, _DARK)


def _wide_eyes(pen: _Pen, y: float, r: float, pupil: float) -> None:
    for x in (0.35, 0.65):
        pen.disc(x, y, r, _WHITE)
        pen.disc(x, y, r, _DARK, pen.size(0.025))
        pen.disc(x, y, pupil, _DARK)


def _angry(pen: _Pen) -> None:
    _dot_eyes(pen, 0.47, 0.05)
    pen.line([(0.2, 0.3), (0.44, 0.4)], _DARK, 0.06)
    pen.line([(0.8, 0.3), (0.56, 0.4)], _DARK, 0.06)
    pen.ellipse(0.5, 0.8, 0.17, 0.09, _DARK, _STROKE, 200, 340)


def _disgust(pen: _Pen) -> None:
    pen.line([(0.25, 0.36), (0.42, 0.43), (0.25, 0.5)], _DARK, _STROKE)
    pen.line([(0.75, 0.36), (0.58, 0.43), (0.75, 0.5)], _DARK, _STROKE)
    xs = np.linspace(0.28, 0.72, 24)
    ys = 0.73 + 0.045 * np.sin((xs - 0.28) / 0.44 * 3 * np.pi)
    pen.line(list(zip(xs, ys)), _DARK, _STROKE)


def _fear(pen: _Pen) -> None:
    pen.line([(0.2, 0.27), (0.43, 0.19)], _DARK, _STROKE)
    pen.line([(0.8, 0.27), (0.57, 0.19)], _DARK, _STROKE)
    _wide_eyes(pen, 0.4, 0.1, 0.04)
    pen.ellipse(0.5, 0.74, 0.08, 0.15, _MOUTH)
    pen.ellipse(0.5, 0.74, 0.08, 0.15, _DARK, 0.025)
    pen.ellipse(0.82, 0.34, 0.04, 0.065, _TEAR)


def _happy(pen: _Pen) -> None:
    pen.ellipse(0.35, 0.43, 0.09, 0.08, _DARK, 0.05, 180, 360)
    pen.ellipse(0.65, 0.43, 0.09, 0.08, _DARK, 0.05, 180, 360)
    pen.ellipse(0.5, 0.6, 0.26, 0.22, _MOUTH, 0.0, 0, 180)
    pen.ellipse(0.5, 0.6, 0.26, 0.05, _WHITE, 0.0, 0, 180)
    pen.line([(0.24, 0.6), (0.76, 0.6)], _DARK, 0.03)
    pen.ellipse(0.5, 0.6, 0.26, 0.22, _DARK, 0.03, 0, 180)


def _sad(pen: _Pen) -> None:
    _dot_eyes(pen, 0.45, 0.05)
    pen.line([(0.2, 0.36), (0.42, 0.3)], _DARK, _STROKE)
    pen.line([(0.8, 0.36), (0.58, 0.3)], _DARK, _STROKE)
    pen.ellipse(0.5, 0.82, 0.18, 0.12, _DARK, _STROKE, 200, 340)
    pen.ellipse(0.3, 0.62, 0.05, 0.08, _TEAR)
    pen.disc(0.3, 0.54, 0.03, _TEAR)


def _surprise(pen: _Pen) -> None:
    pen.ellipse(0.35, 0.25, 0.1, 0.06, _DARK, _STROKE, 190, 350)
    pen.ellipse(0.65, 0.25, 0.1, 0.06, _DARK, _STROKE, 190, 350)
    _wide_eyes(pen, 0.42, 0.09, 0.05)
    pen.disc(0.5, 0.74, 0.11, _MOUTH)
    pen.disc(0.5, 0.74, 0.11, _DARK, pen.size(0.03))


def _neutral(pen: _Pen) -> None:
    _dot_eyes(pen)
    pen.line([(0.33, 0.72), (0.67, 0.72)], _DARK, _STROKE)


_FEATURES: dict[str, Callable[[_Pen], None]] = {
    "angry": _angry, "disgust": _disgust, "fear": _fear, "happy": _happy, "sad": _sad,
    "surprise": _surprise, "neutral": _neutral,
}

_TINTS: dict[str, tuple[Color, float]] = {
    "angry": ((30, 50, 230), 0.6),
    "disgust": ((60, 190, 120), 0.65),
    "fear": ((200, 120, 90), 0.55),
}
"""Colour washed over the face from the top, fading out at the given fraction of its height."""

_RADIUS = 0.47
"""Face disc radius as a fraction of the emoji side; the outline fills the rest."""


def _face(canvas: np.ndarray, label: str) -> None:
    """The yellow disc with its outline; some expressions get a colour wash from the top."""
    n = canvas.shape[0]
    canvas[:] = _YELLOW
    if label in _TINTS:
        color, reach = _TINTS[label]
        fade = np.clip(1 - np.linspace(0, 1, n) / reach, 0, 1)[:, None, None]
        canvas[:] = canvas * (1 - fade) + np.array(color, float) * fade
    cv2.circle(canvas, (n // 2, n // 2), round(_RADIUS * n), _OUTLINE, max(1, n // 40),
               cv2.LINE_AA)


@lru_cache(maxsize=256)
def _render(label: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Draws one emoji; the cache holds every label at every size ``emoji_size`` gives."""
    n = size * _SUPERSAMPLE
    canvas = np.zeros((n, n, 3), np.uint8)
    _face(canvas, label)
    _FEATURES[label](_Pen(canvas))
    mask = np.zeros((n, n), np.uint8)
    cv2.circle(mask, (n // 2, n // 2), round(_RADIUS * n) + max(1, n // 80), 255, cv2.FILLED,
               cv2.LINE_AA)
    bgr = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    bgr.flags.writeable = False
    alpha.flags.writeable = False
    return bgr, alpha


def render_emoji(label: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The emoji for an expression: BGR (size, size, 3) uint8 and alpha (size, size) float 0..1.

    Both arrays are cached and shared between calls, hence read-only.
    """
    if label not in _FEATURES:
        raise ValueError(f"no emoji for label {label!r}: expected one of {', '.join(EMOTIONS)}")
    if size < 8:
        raise ValueError(f"emoji size must be >= 8 px, got {size}")
    return _render(label, int(size))


def emoji_size(box: Box) -> int:
    """Emoji side for a face box: proportional to the face, clamped to stay legible."""
    side = round(box[3] * EMOJI_SCALE / EMOJI_STEP) * EMOJI_STEP
    return int(np.clip(side, EMOJI_MIN, EMOJI_MAX))


def blend(bgr: np.ndarray, patch: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend ``patch`` onto ``bgr`` at (x, y), in place; parts outside the image are cut."""
    h, w = patch.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, bgr.shape[1]), min(y + h, bgr.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    src = patch[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    roi = bgr[y0:y1, x0:x1]
    roi[:] = (src * a + roi * (1.0 - a) + 0.5).astype(np.uint8)


def _emoji_origin(box: Box, size: int, image_shape: tuple[int, ...]) -> tuple[int, int]:
    """Beside the face, top-aligned with it but kept inside the image vertically.

    Right of the face if it fits, else left, else the side with more room (then clipped).
    """
    x, y, w, _ = box
    height, width = image_shape[:2]
    gap = max(4, size // 8)
    right, left = x + w + gap, x - gap - size
    top = max(0, min(y, height - size))
    if right + size <= width or (left < 0 and width - right >= x):
        return right, top
    return left, top


def _label(bgr: np.ndarray, face: FaceAnnotation, color: Color) -> None:
    """The label line on a filled background, above the box, or inside it at the top edge."""
    text = f"id {face.face_id} {face.label} {face.confidence:.2f}"
    (tw, th), baseline = cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)
    height = th + baseline + 2 * _TEXT_PAD
    x, y = face.box[0], face.box[1]
    top = y - height if y - height >= 0 else max(y, 0)
    left = min(max(x, 0), max(bgr.shape[1] - tw - 2 * _TEXT_PAD, 0))
    cv2.rectangle(bgr, (left, top), (left + tw + 2 * _TEXT_PAD, top + height), color, cv2.FILLED)
    ink = (0, 0, 0) if sum(c * k for c, k in zip(color, (0.11, 0.59, 0.3))) > 128 else _WHITE
    cv2.putText(bgr, text, (left + _TEXT_PAD, top + _TEXT_PAD + th), _FONT, _FONT_SCALE, ink, 1,
                cv2.LINE_AA)


def draw_annotations(bgr: np.ndarray, faces: Sequence[FaceAnnotation],
                     draw_emoji: bool = True) -> np.ndarray:
    """Draw every face's box, label line and (optionally) emoji IN PLACE; returns ``bgr``.

    Drawing in place avoids copying a full frame per message; pass a copy to keep the original.
    Labels go on last so no neighbour's box or emoji hides their text. Boxes may reach past the
    image border. Every label is checked before anything is drawn, so an unknown one leaves the
    image untouched.
    """
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 BGR image, got {bgr.shape} {bgr.dtype}")
    for face in faces:
        if face.label not in COLORS:
            raise ValueError(
                f"cannot annotate label {face.label!r}: expected one of {', '.join(EMOTIONS)}"
            )
    for face in faces:
        x, y, w, h = face.box
        cv2.rectangle(bgr, (x, y), (x + w - 1, y + h - 1), COLORS[face.label], 2, cv2.LINE_AA)
        if draw_emoji:
            size = emoji_size(face.box)
            patch, alpha = render_emoji(face.label, size)
            blend(bgr, patch, alpha, *_emoji_origin(face.box, size, bgr.shape))
    for face in faces:
        _label(bgr, face, COLORS[face.label])
    return bgr
