"""Expression accuracy and face recall on real labelled photos, for every detector x classifier.

Run from the repository root after ``make setup photos``:

    .venv/bin/python bench/accuracy.py            # every detector x every classifier
    .venv/bin/python bench/accuracy.py --detectors blazeface_full --classifiers ensemble

The photos are the public ones that registry packages ship (fer_ros/test/photos/sources.json,
plus scikit-image's astronaut); bench/accuracy_labels.json gives every face's box and its
expression as labelled by eye, with the reason. From each labelled face the benchmark makes
the variants a robot's camera sees:

- photo: the whole photo, scaled into a 1920x1080 frame;
- WxH, N px: heads cut from the photos (face box plus context) pasted on face-free scenes
  of skimage in 640x480, 1280x720 and 1920x1080 frames, faces N px wide, up to 8 per frame;
- gray: the 1280x720 frames in gray (as a mono8 camera gives them, converted to BGR);
- tilted: heads rotated by 20 degrees either way, 640x480;
- close-up: one face filling a 640x480 frame, the head's outline cut off by the frame;
- face-free: skimage scenes with no face at 640x480 and 1920x1080: every detection is false.

For each detector (``DETECTORS`` of perception/detection/detectors.py, and "labelled boxes", which
feeds the classifiers the true boxes to measure them apart from detection) and each classifier: face
recall, false positives, expression accuracy per class on the faces found, and the median ms per
frame of detection plus classification. A detection is a hit when its box overlaps a true box with
IoU >= 0.3. Faces labelled ``null`` (expression not readable) count for recall only. ``+flip``
classifiers average each face with its mirror image (test-time augmentation).
``+rep155`` classifiers read each found face as hri_expression_node does: its box cut out and
fitted into 128 x 128, as a REP-155 detector publishes it (``--classifiers ensemble
ensemble+rep155`` compares the two nodes on the same faces).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from fer_ros.nodes.hri.face_images import cropped_face
from fer_ros.perception.detection.detections import Box, Detection
from fer_ros.perception.detection.detectors import DETECTORS, create_detector
from fer_ros.perception.expressions.alignment import LEVEL_ABOVE_DEGREES
from fer_ros.perception.expressions.classification import (
    ExpressionClassifier,
    load_classifier,
    load_single_model,
)
from fer_ros.perception.expressions.crop_classification import classify_crops
from fer_ros.perception.expressions.ensemble import fer_order
from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.expressions.model_metadata import CropSpec
from fer_ros.perception.model_files import BUNDLED_MODELS, ENSEMBLES
from fer_ros.perception.stills import StillImageAnalyser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from detectors import match, to_bgr  # noqa: E402
from run import Report, format_table, standalone  # noqa: E402

LABELS_FILE = ROOT / "bench" / "accuracy_labels.json"
PHOTOS_DIR = ROOT / "fer_ros" / "test" / "photos"
LABELLED_BOXES = "labelled boxes"
GRID_SIZES = {(640, 480): (40, 80), (1280, 720): (60, 110), (1920, 1080): (90, 160)}
"""Face widths pasted per frame size: far and near faces for each camera resolution."""
HEAD_CONTEXT = 0.7
"""A pasted head is the face box grown by this fraction of its side on every side."""
BACKGROUNDS = ("coffee", "rocket", "brick", "grass", "gravel", "page", "clock")
NO_FACE_SCENES = ("coffee", "rocket", "chelsea", "brick", "grass", "gravel", "page", "text",
                  "clock", "coins", "hubble_deep_field", "horse", "logo", "colorwheel", "moon")
TILT_DEGREES = 20

FLIP_SUFFIX = "+flip"
REP155_SUFFIX = "+rep155"
REP155_CROP = (128, 128)
"""REP-155's default face image size (/humans/faces/width, height)."""


@dataclass(frozen=True)
class Face:
    box: Box
    expression: str | None
    photo: str


@dataclass
class Frame:
    group: str
    image: np.ndarray
    faces: list[Face] = field(default_factory=list)

    def paste(self, patch: np.ndarray, patch_face: Box, x0: int, y0: int, face: Face) -> None:
        """Put a head patch at (x0, y0), and its face, as a box in this frame."""
        fx, fy, fw, fh = patch_face
        self.image[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]] = patch
        self.faces.append(Face((x0 + fx, y0 + fy, fw, fh), face.expression, face.photo))


@dataclass
class LabelledPhoto:
    name: str
    image: np.ndarray
    faces: list[Face]


def load_image(ref: str) -> np.ndarray:
    """A photo named in the labels file: ``skimage:<name>`` or a path under test/photos."""
    if ref.startswith("skimage:"):
        return to_bgr(getattr(skimage.data, ref.split(":", 1)[1])())
    image = cv2.imread(str(PHOTOS_DIR / ref), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"accuracy: {PHOTOS_DIR / ref} is missing: run 'make photos'")
    return image


def load_labels(path: Path = LABELS_FILE) -> list[LabelledPhoto]:
    data = json.loads(path.read_text(encoding="utf-8"))
    photos = []
    for entry in data["photos"]:
        faces = []
        for face in entry["faces"]:
            expression = face["expression"]
            if expression is not None and expression not in EMOTIONS:
                raise SystemExit(f"{path}: {entry['image']}: unknown expression {expression!r}")
            faces.append(Face(tuple(face["box"]), expression, entry["image"]))
        photos.append(LabelledPhoto(entry["image"], load_image(entry["image"]), faces))
    return photos


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale and centre-crop an image so it covers a width x height frame."""
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
                         if scale < 1 else cv2.INTER_LINEAR)
    y0 = (resized.shape[0] - height) // 2
    x0 = (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y0:y0 + height, x0:x0 + width])


def head_patch(photo: LabelledPhoto, face: Face, face_width: int,
               angle: float = 0.0) -> tuple[np.ndarray, Box]:
    """The head around a face, scaled so the face is ``face_width`` px wide, maybe rotated;
    returns the patch and the face's box inside it."""
    x, y, w, h = face.box
    pad = int(round(w * HEAD_CONTEXT))
    bordered = cv2.copyMakeBorder(photo.image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    patch = bordered[y:y + h + 2 * pad, x:x + w + 2 * pad]
    scale = face_width / w
    patch = cv2.resize(patch, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if angle:
        centre = (patch.shape[1] / 2, patch.shape[0] / 2)
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        patch = cv2.warpAffine(patch, matrix, (patch.shape[1], patch.shape[0]),
                               borderMode=cv2.BORDER_REPLICATE)
    fx, fy = int(round(pad * scale)), int(round(pad * scale))
    return patch, (fx, fy, face_width, int(round(h * scale)))


def grid_frames(photos: Sequence[LabelledPhoto], size: tuple[int, int], face_width: int,
                group: str, start: int = 0) -> list[Frame]:
    """Every labelled face once, pasted in a grid on face-free scenes, up to 8 per frame."""
    width, height = size
    cell = int(face_width * (1 + 2 * HEAD_CONTEXT)) + 8
    cols, rows = max(1, width // cell), max(1, height // cell)
    per_frame = min(8, cols * rows)
    faces = [(photo, face) for photo in photos for face in photo.faces]
    frames = []
    for first in range(0, len(faces), per_frame):
        background = BACKGROUNDS[(start + first // per_frame) % len(BACKGROUNDS)]
        frame = Frame(group, cover(to_bgr(getattr(skimage.data, background)()), width, height))
        for slot, (photo, face) in enumerate(faces[first:first + per_frame]):
            patch, patch_face = head_patch(photo, face, face_width)
            col, row = slot % cols, slot // cols
            x0 = col * (width // cols) + (width // cols - patch.shape[1]) // 2
            y0 = row * (height // rows) + (height // rows - patch.shape[0]) // 2
            frame.paste(patch, patch_face, x0, y0, face)
        frames.append(frame)
    return frames


def photo_frames(photos: Sequence[LabelledPhoto]) -> list[Frame]:
    """Each photo whole, scaled to fit a 1920x1080 frame (gray bars around it)."""
    frames = []
    for photo in photos:
        scale = min(1920 / photo.image.shape[1], 1080 / photo.image.shape[0], 1.0)
        image = cv2.resize(photo.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.full((1080, 1920, 3), 96, np.uint8)
        canvas[:image.shape[0], :image.shape[1]] = image
        faces = [Face(tuple(int(round(v * scale)) for v in face.box), face.expression,
                      face.photo) for face in photo.faces]
        frames.append(Frame("photo (1920x1080)", canvas, faces))
    return frames


def tilted_frames(photos: Sequence[LabelledPhoto]) -> list[Frame]:
    """Two heads per 640x480 frame, one tilted each way, 100 px faces."""
    frames = []
    faces = [(photo, face) for photo in photos for face in photo.faces]
    for first in range(0, len(faces), 2):
        frame = Frame(f"tilted {TILT_DEGREES} deg (640x480)",
                      cover(to_bgr(skimage.data.brick()), 640, 480))
        for slot, (photo, face) in enumerate(faces[first:first + 2]):
            angle = TILT_DEGREES if slot == 0 else -TILT_DEGREES
            patch, patch_face = head_patch(photo, face, 100, angle)
            frame.paste(patch, patch_face, 20 + slot * 320, (480 - patch.shape[0]) // 2, face)
        frames.append(frame)
    return frames


def closeup_frames(photos: Sequence[LabelledPhoto]) -> list[Frame]:
    """A face 300 px wide, centred in 640x480: forehead, chin and ears leave the frame."""
    frames = []
    for photo in photos:
        for face in photo.faces:
            x, y, w, h = face.box
            scale = 300 / w
            cx, cy = (x + w / 2) * scale, (y + h / 2) * scale
            matrix = np.float32([[scale, 0, 320 - cx], [0, scale, 240 - cy]])
            image = cv2.warpAffine(photo.image, matrix, (640, 480), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
            box = (int(round(320 - w * scale / 2)), int(round(240 - h * scale / 2)),
                   int(round(w * scale)), int(round(h * scale)))
            frames.append(Frame("close-up (640x480)", image,
                                [Face(box, face.expression, face.photo)]))
    return frames


def face_free_frames() -> list[Frame]:
    return [Frame(f"face-free ({w}x{h})", cover(to_bgr(getattr(skimage.data, name)()), w, h))
            for name in NO_FACE_SCENES for (w, h) in ((640, 480), (1920, 1080))]


def build_frames(photos: Sequence[LabelledPhoto]) -> list[Frame]:
    frames = photo_frames(photos)
    for n, ((width, height), sizes) in enumerate(GRID_SIZES.items()):
        for face_width in sizes:
            frames += grid_frames(photos, (width, height), face_width,
                                  f"{width}x{height}, {face_width} px faces", start=n)
    gray_group = f"gray 1280x720, {GRID_SIZES[(1280, 720)][0]} px faces"
    for frame in grid_frames(photos, (1280, 720), GRID_SIZES[(1280, 720)][0], gray_group):
        frame.image = cv2.cvtColor(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY),
                                   cv2.COLOR_GRAY2BGR)
        frames.append(frame)
    return frames + tilted_frames(photos) + closeup_frames(photos) + face_free_frames()



class FlipAveraged:
    """Test-time augmentation: the mean of a classifier on the frame and on its mirror image."""

    def __init__(self, classifier: ExpressionClassifier):
        self.classifier = classifier
        self.metadata = classifier.metadata
        self.path = Path(classifier.path.name + FLIP_SUFFIX)

    def classify(self, bgr: np.ndarray, gray: np.ndarray, boxes: Sequence[Box],
                 rolls: Sequence[float] | None = None) -> np.ndarray:
        width = bgr.shape[1]
        mirrored = [(width - x - w, y, w, h) for x, y, w, h in boxes]
        mirrored_rolls = None if rolls is None else [-roll for roll in rolls]
        return (self.classifier.classify(bgr, gray, boxes, rolls)
                + self.classifier.classify(bgr[:, ::-1], gray[:, ::-1], mirrored,
                                           mirrored_rolls)) / 2


class Rep155Crops:
    """hri_expression_node's view of the faces: each face box cut out and fitted into a 128 x
    128 image, as a REP-155 detector publishes it (nodes/hri/face_images.py), then classified
    as that node classifies crops (perception/expressions/crop_classification.py)."""

    def __init__(self, classifier: ExpressionClassifier):
        self.classifier = classifier
        self.metadata = classifier.metadata
        self.path = Path(classifier.path.name + REP155_SUFFIX)

    def classify(self, bgr: np.ndarray, gray: np.ndarray, boxes: Sequence[Box],
                 rolls: Sequence[float] | None = None) -> np.ndarray:
        crops = [cropped_face(bgr, box, *REP155_CROP) for box in boxes]
        return classify_crops(self.classifier, crops)


def build_classifier(name: str) -> ExpressionClassifier:
    """A classifier by name: bundled, ensemble, ``<name>+flip``, ``<name>+rep155`` (as
    hri_expression_node reads a REP-155 detector's 128 x 128 crops of the same faces), or
    ``<name>@<margin>``: a bundled model with another crop margin (a fraction of the face
    box), for choosing it."""
    if name.endswith(FLIP_SUFFIX):
        return FlipAveraged(build_classifier(name[:-len(FLIP_SUFFIX)]))
    if name.endswith(REP155_SUFFIX):
        return Rep155Crops(build_classifier(name[:-len(REP155_SUFFIX)]))
    if "@" in name:
        base, margin = name.split("@", 1)
        model = load_single_model(base)
        model.metadata = dataclasses.replace(
            model.metadata, crop=CropSpec(square=True, margin_frac=float(margin)))
        return model
    return load_classifier(name)


def fer_labels(classifier: ExpressionClassifier) -> list[str]:
    order = fer_order(classifier.metadata.labels, str(classifier.path))
    return [EMOTIONS[int(np.where(order == k)[0][0])] for k in range(len(order))]


@dataclass
class PairResult:
    faces: int = 0
    found: int = 0
    false_positives: int = 0
    correct: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    scored: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    frame_ms: list[float] = field(default_factory=list)
    found_by_group: dict[str, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0]))
    fp_by_group: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def accuracy(self) -> float | None:
        total = sum(self.scored.values())
        return sum(self.correct.values()) / total if total else None


def timed(call: Callable[..., object], *args: object) -> tuple[object, float]:
    start = time.perf_counter()
    result = call(*args)
    return result, (time.perf_counter() - start) * 1000


def evaluate(frames: Sequence[Frame], detector_name: str,
             classifiers: dict[str, ExpressionClassifier],
             level_above: float | None = None) -> dict[str, PairResult]:
    """Every frame as `fer predict` sees an image (perception/stills.py): each classifier's
    StillImageAnalyser finds the faces and classifies them. The detector runs once per frame
    and its faces are shared by the classifiers' analysers; with ``level_above``, faces rolled
    by more than that many degrees are levelled first (the node's ``level_tilted_faces``)."""
    detector = None if detector_name == LABELLED_BOXES else create_detector(detector_name)
    analysers = {name: StillImageAnalyser(detector, classifier, level_above=level_above)
                 for name, classifier in classifiers.items()}
    finder = next(iter(analysers.values()))
    results = {name: PairResult() for name in classifiers}
    labels = {name: fer_labels(c) for name, c in classifiers.items()}
    for frame in frames:
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        if detector is None:
            detections = [Detection(face.box, 1.0) for face in frame.faces]
            detect_ms = 0.0
        else:
            detections, detect_ms = timed(finder.find_faces, frame.image, gray)
        hits, false_positives = match([face.box for face in frame.faces],
                                      [d.box for d in detections])
        for name, analyser in analysers.items():
            result = results[name]
            faces, classify_ms = timed(analyser.describe, frame.image, gray, detections)
            result.frame_ms.append(detect_ms + classify_ms)
            result.faces += len(frame.faces)
            result.found += len(hits)
            result.false_positives += false_positives
            group = result.found_by_group[frame.group]
            group[0] += len(hits)
            group[1] += len(frame.faces)
            result.fp_by_group[frame.group] += false_positives
            for face_index, det_index in hits.items():
                truth = frame.faces[face_index].expression
                if truth is None:
                    continue
                predicted = labels[name][int(np.argmax(faces[det_index].scores))]
                result.scored[truth] += 1
                result.correct[truth] += int(predicted == truth)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detectors", nargs="+", default=[LABELLED_BOXES, *DETECTORS],
                        help=f"detectors to measure (default: {LABELLED_BOXES!r} and all)")
    parser.add_argument("--classifiers", nargs="+",
                        default=[*BUNDLED_MODELS, *ENSEMBLES,
                                 *(f"{n}{FLIP_SUFFIX}" for n in (*BUNDLED_MODELS, *ENSEMBLES))],
                        help="classifiers: bundled names, ensembles, NAME+flip, NAME@MARGIN")
    parser.add_argument("--labels", type=Path, default=LABELS_FILE, help="labelled photos")
    parser.add_argument("--level-above", type=float, default=None, metavar="DEGREES",
                        help="level the crops of faces whose eye line is rolled by more than "
                             f"this (detectors with landmarks; {LEVEL_ABOVE_DEGREES:g}: the "
                             "node's level_tilted_faces; 0: every face; default: none, as the "
                             "node by default)")


def run(args: argparse.Namespace) -> Report:
    photos = load_labels(args.labels)
    frames = build_frames(photos)
    classifiers = {name: build_classifier(name) for name in args.classifiers}
    classes = [c for c in EMOTIONS
               if any(f.expression == c for p in photos for f in p.faces)]
    columns = ["detector", "classifier", "recall", "false pos.", "accuracy",
               *classes, "ms/frame"]
    report = Report("accuracy", "expression accuracy and recall on real labelled photos",
                    columns)
    groups: dict[str, dict[str, list[int]]] = {}
    pairs = {}
    for detector_name in args.detectors:
        results = evaluate(frames, detector_name, classifiers, args.level_above)
        for name, result in results.items():
            per_class = [f"{result.correct[c]}/{result.scored[c]}" for c in classes]
            accuracy = result.accuracy
            report.rows.append([
                detector_name, name, f"{result.found}/{result.faces}",
                result.false_positives,
                None if accuracy is None else round(100 * accuracy, 1),
                *per_class, round(statistics.median(result.frame_ms), 1),
            ])
            pairs[f"{detector_name} x {name}"] = {
                "recall": result.found / result.faces if result.faces else None,
                "found": result.found, "faces": result.faces,
                "false_positives": result.false_positives, "accuracy": accuracy,
                "per_class": {c: [result.correct[c], result.scored[c]] for c in classes},
                "ms_per_frame_median": statistics.median(result.frame_ms),
            }
        first = next(iter(results.values()))
        groups[detector_name] = {g: [first.found_by_group[g][0], first.found_by_group[g][1],
                                     first.fp_by_group[g]] for g in first.found_by_group}
    faces = sum(len(p.faces) for p in photos)
    scored = defaultdict(int)
    for photo in photos:
        for face in photo.faces:
            if face.expression is not None:
                scored[face.expression] += 1
    counts = ", ".join(f"{c} {scored[c]}" for c in classes)
    if args.level_above is not None:
        report.notes.append(f"faces rolled by more than {args.level_above:g} degrees levelled "
                            "before classification (detectors with landmarks)")
    report.notes.append(
        f"{len(photos)} photos, {faces} labelled faces ({counts}, "
        f"{faces - sum(scored.values())} unscored); {len(frames)} frames, each face in "
        f"{len(GRID_SIZES) * 2 + 4} variants; accuracy in %, per class correct/scored")
    report.data = {"pairs": pairs, "recall_by_variant": groups,
                   "frames": len(frames), "labelled_faces": faces}
    report.notes.append("recall by variant (found/faces, false positives), first classifier's "
                        "pass:")
    group_names = list(next(iter(groups.values())).keys()) if groups else []
    rows = [[g, *(f"{groups[d][g][0]}/{groups[d][g][1]} ({groups[d][g][2]})" for d in groups)]
            for g in group_names]
    report.notes.append("\n" + format_table(["variant", *groups], rows))
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__]))
