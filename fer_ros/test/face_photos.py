"""Real faces for detector tests: face-api's demo photos (MIT, ``make photos``), composed into
the frames a robot's camera gives: HD frames with 8 faces, close-ups cut by the frame edge, gray
frames and far faces.

The face boxes follow the Haar convention (brows to chin, cheek to cheek, square); they were
found with RetinaFace at 960 px and checked by eye on the photos drawn with them: each covers
one face from the brows to the chin, and no face of the six photos is left without one.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_ros.perception.detection.detections import Box

PHOTOS_DIR = Path(__file__).resolve().parent / "photos" / "face-api"
FACES: dict[str, tuple[Box, ...]] = {
    "sample1.jpg": ((413, 372, 195, 195), (828, 443, 204, 204), (1473, 215, 199, 199)),
    "sample2.jpg": ((340, 158, 219, 219), (895, 249, 182, 182), (1442, 167, 199, 199)),
    "sample3.jpg": ((585, 352, 214, 214), (1067, 224, 245, 245), (1478, 315, 227, 227)),
    "sample4.jpg": ((242, 215, 190, 190), (645, 74, 196, 196), (979, 194, 191, 191),
                    (1261, 166, 184, 184)),
    "sample5.jpg": ((358, 902, 225, 225), (592, 448, 183, 183), (773, 119, 180, 180),
                    (1100, 219, 188, 188), (1410, 424, 208, 208)),
    "sample6.jpg": ((246, 499, 224, 224), (647, 354, 236, 236), (1162, 322, 219, 219),
                    (1469, 281, 237, 237)),
}
"""Every face of each photo, in pixels of the full-size photo."""
needs_photos = pytest.mark.skipif(
    not all((PHOTOS_DIR / name).is_file() for name in FACES),
    reason=f"face-api's photos are not in {PHOTOS_DIR}: run 'make photos' (pinned, "
           "sha256-checked; a workspace holding only the packages has none)")
"""For every test module that uses these photos: skipped, with the command, where they were
not fetched, instead of failing at set-up."""
HEAD_MARGIN = 0.6
"""Context kept around a face box when it is cut out, in face sides: the whole head and some
shoulders, as a camera sees a person, without reaching far into the neighbours' faces."""


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(PHOTOS_DIR / name))
    if image is None:
        raise FileNotFoundError(f"{PHOTOS_DIR / name} is missing: run 'make photos'")
    return image


def all_faces() -> list[tuple[str, Box]]:
    return [(name, box) for name, boxes in FACES.items() for box in boxes]


def head_patch(name: str, box: Box, face_px: int) -> tuple[np.ndarray, Box]:
    """The face with HEAD_MARGIN of context, scaled so the face is ``face_px`` wide; returns the
    patch and the face box inside it. Context past the photo's edge is filled by replication."""
    x, y, w, h = box
    m = round(HEAD_MARGIN * w)
    image = cv2.copyMakeBorder(photo(name), m, m, m, m, cv2.BORDER_REPLICATE)
    crop = image[y:y + h + 2 * m, x:x + w + 2 * m]
    scale = face_px / w
    patch = cv2.resize(crop, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return patch, (round(m * scale), round(m * scale), face_px, face_px)


def crowd_frame(width: int, height: int, sizes: list[int], seed: int = 0,
                background: int = 70) -> tuple[np.ndarray, list[Box]]:
    """A frame with one face per entry of ``sizes`` (their widths in px), each with its head,
    in a grid of cells over the frame, jittered; returns the frame and the true face boxes."""
    rng = np.random.default_rng(seed)
    frame = np.full((height, width, 3), background, np.uint8)
    faces = all_faces()
    cols = int(np.ceil(np.sqrt(len(sizes) * width / height)))
    rows = int(np.ceil(len(sizes) / cols))
    cell_w, cell_h = width // cols, height // rows
    boxes = []
    for k, size in enumerate(sizes):
        name, box = faces[(k * 5 + seed) % len(faces)]
        patch, (fx, fy, fw, fh) = head_patch(name, box, size)
        ph, pw = min(patch.shape[0], cell_h), min(patch.shape[1], cell_w)
        col, row = k % cols, k // cols
        x0 = col * cell_w + int(rng.integers(0, cell_w - pw + 1))
        y0 = row * cell_h + int(rng.integers(0, cell_h - ph + 1))
        frame[y0:y0 + ph, x0:x0 + pw] = patch[:ph, :pw]
        boxes.append((x0 + fx, y0 + fy, fw, fh))
    return frame, boxes


def close_up(name: str, box: Box, width: int = 640, height: int = 480,
             fill: float = 0.8) -> tuple[np.ndarray, Box]:
    """A frame filled by one face: its box is ``fill`` of the frame's height, so the head's
    outline (hair, ears, chin) is cut off by the frame's edges, as when a person leans in."""
    x, y, w, h = box
    scale = fill * height / h
    cx, cy = x + w / 2, y + h / 2
    matrix = np.float32([[scale, 0, width / 2 - cx * scale], [0, scale, height / 2 - cy * scale]])
    frame = cv2.warpAffine(photo(name), matrix, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    side = round(w * scale)
    return frame, (round(width / 2 - side / 2), round(height / 2 - side / 2), side, side)


def to_gray_bgr(frame: np.ndarray) -> np.ndarray:
    """What a mono8 camera gives, in the three equal channels the node converts it to."""
    return cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
