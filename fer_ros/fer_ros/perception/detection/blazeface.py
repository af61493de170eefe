"""BlazeFace, Google MediaPipe's face detectors for phone cameras, under LiteRT."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.perception.detection.detections import MIN_FACE_SIZE, Detection
from fer_ros.perception.model_files import bundled_model


@dataclass(frozen=True)
class _BlazeFaceModel:
    """One BlazeFace variant: its file, its SSD anchor layout and its box correction.

    BlazeFace boxes are not Haar boxes: they sit lower on the face (more chin, less forehead)
    and are larger, by amounts that differ between the variants. Each box is mapped to the
    Haar box of the same face by moving its centre by ``haar_shift`` (in BlazeFace box widths
    and heights) and scaling the mean of its sides by ``haar_scale`` into a square, as Haar
    boxes are. ``bench/detectors.py --calibrate`` measures both as medians over the faces that
    Haar and BlazeFace both find in skimage's astronaut, from small to large, upright, tilted
    and mirrored; the faces spread little around them. The horizontal shift comes out at about
    zero, as it should on a mirror-symmetric test set, so it is 0. LFW's faces agree on the
    vertical shift but are not used for the scale: they are cut at brows, chin and cheeks, and
    without the outline of the head BlazeFace draws boxes markedly smaller relative to Haar's
    than on a whole photo, which is what a robot's camera sees.
    """

    filename: str
    anchor_grid: tuple[tuple[int, int], ...]
    """(stride, anchors per grid cell) for each feature map, in the model's output order."""
    haar_shift: tuple[float, float]
    haar_scale: float


BLAZEFACE_MODELS: dict[str, _BlazeFaceModel] = {
    # 128x128, faces within about 2 m of a selfie camera: strides 8, 16, 16, 16 with two
    # anchors per layer and cell, so 2 per cell at stride 8 and 6 per cell at stride 16.
    "short": _BlazeFaceModel("blazeface_short_range.tflite", ((8, 2), (16, 6)),
                             haar_shift=(0.0, -0.10), haar_scale=0.92),
    # 192x192, faces within about 5 m: one stride-4 map with one anchor per cell.
    "full": _BlazeFaceModel("blazeface_full_range.tflite", ((4, 1),),
                            haar_shift=(0.0, -0.05), haar_scale=0.88),
}
DEFAULT_BLAZEFACE_VARIANT = "full"


def _anchor_centres(input_size: int, anchor_grid: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Anchor centres (x, y) in model-input pixels, in the order of the model's output rows."""
    centres = []
    for stride, per_cell in anchor_grid:
        cells = input_size // stride
        ys, xs = np.mgrid[0:cells, 0:cells].astype(np.float32)
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat((grid + 0.5) * stride, per_cell, axis=0))
    return np.concatenate(centres)


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """MediaPipe's weighted non-maximum suppression over corner boxes (x0, y0, x1, y1).

    Each cluster of boxes overlapping its best one is replaced by their score-weighted mean,
    which jitters less from frame to frame than keeping the best box alone. Returns rows of
    (x0, y0, x1, y1, best score).
    """
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    remaining = np.ones(len(boxes), dtype=bool)
    merged = []
    for best in range(len(boxes)):
        if not remaining[best]:
            continue
        inter_w = np.minimum(boxes[:, 2], boxes[best, 2]) - np.maximum(boxes[:, 0], boxes[best, 0])
        inter_h = np.minimum(boxes[:, 3], boxes[best, 3]) - np.maximum(boxes[:, 1], boxes[best, 1])
        inter = np.clip(inter_w, 0, None) * np.clip(inter_h, 0, None)
        iou = inter / (areas + areas[best] - inter)
        cluster = remaining & (iou > iou_threshold)
        cluster[best] = True
        weights = scores[cluster]
        box = weights @ boxes[cluster] / weights.sum()
        merged.append((*box, scores[best]))
        remaining &= ~cluster
    return np.array(merged, dtype=np.float32).reshape(-1, 5)


class BlazeFaceDetector:
    """Google MediaPipe's BlazeFace (``.tflite``) under LiteRT.

    Finds turned and tilted faces that Haar misses, with far fewer false detections, at a
    fraction of Haar's cost (bench/detectors.py). As the whole frame is shrunk to the model's
    input, faces narrower than about 1/16 (full) or 1/8 (short) of the frame's longer side are
    missed; Haar finds smaller ones.

    The frame is letterboxed into the square model input, so faces keep their shape, and boxes
    are mapped back to frame pixels and then to the Haar convention. A face cut by the frame
    edge yields a box that extends past it, as the crop must stay centred on the face; clip it
    before publishing it as an image region. ``model_path`` replaces the bundled file of the
    variant by one with the same input and anchors. An instance reuses its interpreter and
    buffers, so use one per thread.

    MediaPipe feeds these models mirrored (selfie) images. Frames are used as they come:
    mirroring them only swaps the eyes' landmarks, which are not used, and it did not help on
    bench/detectors.py's frames: mirrored, short range found as many faces and full range
    fewer, and the boxes of a face found both ways barely differ.
    """

    DEFAULT_SCORE_THRESHOLD = 0.5

    def __init__(self, variant: str = DEFAULT_BLAZEFACE_VARIANT,
                 min_face_size: int = MIN_FACE_SIZE,
                 score_threshold: float = DEFAULT_SCORE_THRESHOLD, num_threads: int = 2,
                 iou_threshold: float = 0.3, model_path: Path | None = None):
        from ai_edge_litert.interpreter import Interpreter

        if variant not in BLAZEFACE_MODELS:
            raise ValueError(
                f"unknown BlazeFace variant {variant!r}: expected one of "
                f"{', '.join(BLAZEFACE_MODELS)}"
            )
        if not 0.0 < score_threshold < 1.0:
            raise ValueError(f"score_threshold must lie in (0, 1), got {score_threshold}")
        model = BLAZEFACE_MODELS[variant]
        self.name = f"blazeface_{variant}"
        path = model_path if model_path is not None else bundled_model(model.filename)
        self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        (input_detail,) = self._interpreter.get_input_details()
        self._input_index = input_detail["index"]
        self._size = int(input_detail["shape"][1])
        # Told apart by shape (16 box values vs 1 score), as the variants list them in
        # different orders.
        outputs = {d["shape"][-1]: d["index"] for d in self._interpreter.get_output_details()}
        self._regressors_index, self._scores_index = outputs[16], outputs[1]
        self._anchors = _anchor_centres(self._size, model.anchor_grid)
        self._haar_shift, self._haar_scale = model.haar_shift, model.haar_scale
        # Threshold the raw logits so the sigmoid runs only on the few candidates.
        self.score_threshold = score_threshold
        self._min_logit = float(np.log(score_threshold / (1.0 - score_threshold)))
        self._iou_threshold = iou_threshold
        self._min_face_size = min_face_size
        self._pixels = np.zeros((self._size, self._size, 3), dtype=np.uint8)
        self._input = np.zeros((1, self._size, self._size, 3), dtype=np.float32)
        self._frame_shape: tuple[int, int] = (0, 0)

    def detect(self, bgr: np.ndarray, gray: np.ndarray,
               min_score: float | None = None) -> list[Detection]:
        detections = []
        for cx, cy, w, h, score in self.detect_native(bgr, min_score):
            side = self._haar_scale * (w + h) / 2
            if side < self._min_face_size:
                continue
            x0 = cx + self._haar_shift[0] * w - side / 2
            y0 = cy + self._haar_shift[1] * h - side / 2
            box = (round(x0), round(y0), round(side), round(side))
            detections.append(Detection(box, float(score)))
        return detections

    def detect_native(self, bgr: np.ndarray, min_score: float | None = None) -> np.ndarray:
        """BlazeFace's own boxes, before the Haar correction: rows of (cx, cy, w, h, score).

        Centre and size are in frame pixels. No size filter is applied. Calibrating the
        correction needs these; the expression models need :meth:`detect`.
        """
        if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
            # cv2.resize would silently write elsewhere than the preallocated input buffer.
            raise ValueError(f"expected an 8-bit BGR frame, got {bgr.dtype} {bgr.shape}")
        height, width = bgr.shape[:2]
        scale = self._size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        left, top = (self._size - new_w) // 2, (self._size - new_h) // 2
        if (height, width) != self._frame_shape:
            self._pixels.fill(0)  # the letterbox bars moved: clear the old picture
            self._frame_shape = (height, width)
        cv2.resize(bgr, (new_w, new_h), dst=self._pixels[top:top + new_h, left:left + new_w],
                   interpolation=cv2.INTER_AREA)
        np.multiply(self._pixels[:, :, ::-1], 2.0 / 255.0, out=self._input[0], casting="unsafe")
        self._input -= 1.0
        self._interpreter.set_tensor(self._input_index, self._input)
        self._interpreter.invoke()

        logits = self._interpreter.get_tensor(self._scores_index)[0, :, 0]
        min_logit = (self._min_logit if min_score is None
                     else float(np.log(min_score / (1.0 - min_score))))
        candidates = np.flatnonzero(logits > min_logit)
        raw = self._interpreter.get_tensor(self._regressors_index)[0, candidates, :4]
        scores = 1.0 / (1.0 + np.exp(-logits[candidates]))
        centres = raw[:, :2] + self._anchors[candidates]
        half = raw[:, 2:4] / 2.0
        valid = (half > 0).all(axis=1)
        corners = np.concatenate([centres - half, centres + half], axis=1)[valid]
        merged = _weighted_nms(corners, scores[valid], self._iou_threshold)

        # Model-input pixels to frame pixels, undoing the letterbox.
        to_frame = np.array([width / new_w, height / new_h], dtype=np.float32)
        offset = np.array([left, top], dtype=np.float32)
        centres = ((merged[:, :2] + merged[:, 2:4]) / 2 - offset) * to_frame
        sizes = (merged[:, 2:4] - merged[:, :2]) * to_frame
        return np.concatenate([centres, sizes, merged[:, 4:]], axis=1)
