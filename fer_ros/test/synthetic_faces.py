"""A tiny, learnable stand-in for FER-2013 that the tests can generate in milliseconds.

FER-2013 cannot be redistributed, and a real-data test would take hours anyway. These cartoon
faces differ per class only in brows, eyes and mouth (the cues a real model must learn), while
position, size, contrast, background and noise vary at random, so a classifier cannot pass by
memorising pixels. The writers produce both dataset layouts ``fer train`` accepts.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from fer_ros.perception.expressions.labels import EMOTIONS

_SCALE = 4
"""Faces are drawn at four times their size and shrunk, which anti-aliases the thin strokes."""

FOLDER_NAMES: dict[str, str] = {
    "angry": "Angry",
    "disgust": "disgusted",
    "fear": "FEAR",
    "happy": "happiness",
    "sad": "Sad",
    "surprise": "surprised",
    "neutral": "neutral",
}
"""Class folder spellings for the folder layout: mixed case and synonyms, as users bring them."""

TEST_FOLDER_NAMES: dict[str, str] = {**FOLDER_NAMES, "angry": "anger", "happy": "Happy"}
"""The test split spells two classes differently again, as merged datasets do."""

# Per class: brow tilt (positive lowers the inner ends, as in a frown), brow height offset,
# eye opening, mouth curvature (positive smiles), mouth opening (0 is a line).
_FEATURES: dict[str, tuple[float, float, float, float, float]] = {
    "angry": (0.9, 0.10, 0.5, -0.1, 0.0),
    "disgust": (0.5, 0.0, 0.4, -0.6, 0.0),
    "fear": (-0.7, -0.25, 1.3, -0.1, 0.45),
    "happy": (0.0, 0.0, 0.8, 1.0, 0.0),
    "sad": (-0.9, 0.05, 0.7, -1.0, 0.0),
    "surprise": (0.0, -0.35, 1.4, 0.0, 1.0),
    "neutral": (0.0, 0.0, 0.8, 0.0, 0.0),
}


def draw_face(label: str, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """One uint8 gray face of class ``label`` with random pose, contrast and noise."""
    tilt, brow_dy, eye_open, smile, mouth_open = _FEATURES[label]
    big = size * _SCALE
    gradient = np.linspace(rng.uniform(40, 110), rng.uniform(40, 110), big)
    canvas = np.tile(gradient, (big, 1)).astype(np.float32)
    if rng.random() < 0.5:
        canvas = canvas.T.copy()
    cx = big / 2 + rng.uniform(-0.06, 0.06) * big
    cy = big / 2 + rng.uniform(-0.06, 0.06) * big
    r = big * rng.uniform(0.36, 0.44)
    skin = rng.uniform(150, 220)
    ink = skin - rng.uniform(90, 140)
    cv2.ellipse(canvas, (int(cx), int(cy)), (int(r * 0.85), int(r)), 0, 0, 360, skin, -1)
    thick = max(1, int(rng.uniform(0.045, 0.07) * r))

    def pt(dx: float, dy: float) -> tuple[int, int]:
        return int(cx + dx * r), int(cy + dy * r)

    eye_y, eye_dx = -0.2, 0.33
    for side in (-1, 1):
        eye_h = max(1, int(0.09 * r * eye_open))
        cv2.ellipse(canvas, pt(side * eye_dx, eye_y), (int(0.11 * r), eye_h), 0, 0, 360, ink, -1)
        inner = pt(side * 0.12, -0.43 + brow_dy + 0.1 * tilt)
        outer = pt(side * 0.5, -0.43 + brow_dy - 0.1 * tilt)
        if label == "disgust" and side == 1:
            inner, outer = pt(0.12, -0.52), pt(0.5, -0.5)
        cv2.line(canvas, inner, outer, ink, thick)
    if label == "disgust":
        cv2.line(canvas, pt(-0.08, 0.05), pt(0.08, 0.02), ink, thick)
    mouth_w, mouth_y = 0.34 + 0.06 * abs(smile), 0.45
    if mouth_open > 0:
        axes = (int(mouth_w * r * (0.55 + 0.3 * mouth_open)), int(0.2 * r * mouth_open))
        cv2.ellipse(canvas, pt(0, mouth_y), axes, 0, 0, 360, ink, -1)
    else:
        xs = np.linspace(-mouth_w, mouth_w, 24)
        ys = mouth_y + smile * 0.16 * (1 - (xs / mouth_w) ** 2)
        if label == "disgust":
            ys = ys + 0.08 * xs / mouth_w
        pts = np.array([pt(x, y) for x, y in zip(xs, ys)], dtype=np.int32)
        cv2.polylines(canvas, [pts], False, ink, thick)
    face = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    face += rng.normal(0.0, rng.uniform(2.0, 8.0), face.shape)
    return np.clip(face, 0, 255).astype(np.uint8)


def make_faces(per_class: int, seed: int, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` faces of every class: (N, size, size) uint8 and EMOTIONS indices."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(EMOTIONS)), per_class)
    rng.shuffle(labels)
    images = np.stack([draw_face(EMOTIONS[i], rng, size) for i in labels])
    return images, labels.astype(np.int64)


Split = tuple[np.ndarray, np.ndarray]


def write_csv(path: Path, splits: Mapping[str, Split]) -> Path:
    """Write splits (keyed by FER-2013 Usage names) in the FER-2013 CSV layout."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, (images, labels) in splits.items():
            for image, label in zip(images, labels):
                writer.writerow([int(label), " ".join(map(str, image.ravel())), usage])
    return path


def write_folder(root: Path, splits: Mapping[str, Split],
                 names: Mapping[str, Mapping[str, str]] | None = None) -> Path:
    """Write splits as ``root/<split>/<class folder>/<n>.png``; ``names`` spells the folders."""
    for split, (images, labels) in splits.items():
        spelling = (names or {}).get(split, FOLDER_NAMES)
        for n, (image, label) in enumerate(zip(images, labels)):
            folder = root / split / spelling[EMOTIONS[label]]
            folder.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(folder / f"{n:05d}.png"), image):
                raise OSError(f"cannot write {folder / f'{n:05d}.png'}")
    return root


def standard_splits(per_class: int = 40, held_out: int = 10, seed: int = 0) -> dict[str, Split]:
    """Training, validation and test faces drawn independently (FER-2013 Usage names)."""
    return {
        "Training": make_faces(per_class, seed),
        "PublicTest": make_faces(held_out, seed + 1),
        "PrivateTest": make_faces(held_out, seed + 2),
    }
