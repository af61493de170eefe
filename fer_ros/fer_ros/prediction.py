"""`fer predict`: the node's detector and model on image files, for checking a model without a
robot.

Each image is a still, analysed on its own (perception/stills.py): its result does not depend on
the other files or their order. Video files and streams, whose frames belong together, go
through the node's tracking pipeline with `fer bringup --source clip.mp4` instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import cv2

from fer_ros.nodes.process.stop_request import StopRequest
from fer_ros.output_files import OutputFileError, check_output_path, write_atomically
from fer_ros.perception.annotation import FaceAnnotation, draw_annotations
from fer_ros.perception.detection.detectors import DETECTORS
from fer_ros.perception.limits.images import (
    DEFAULT_MAX_PIXELS,
    ImageHeaderError,
    ImageTooLarge,
    read_image,
)
from fer_ros.perception.model_files import DEFAULT_MODEL, ModelFileMissing, ModelLoadError
from fer_ros.perception.pipeline import FaceResult, PipelineConfig
from fer_ros.perception.pipeline_parameters import PIPELINE_DEFAULTS, PIPELINE_PARAMETERS
from fer_ros.perception.stills import StillImageAnalyser

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm",
                            ".ppm"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_DIR",
                        help="image files, or folders whose images are all read")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    parser.add_argument("--model", default=PIPELINE_DEFAULTS["model"],
                        help="mini_xception, face_expression_net, ensemble, a model file or "
                        "export folder, or a comma-separated list (default: "
                        f"{DEFAULT_MODEL})")
    parser.add_argument("--detector", default=PIPELINE_DEFAULTS["detector"], choices=DETECTORS,
                        help="face detector (default: %(default)s)")
    parser.add_argument("--min-face-size", type=int, default=PIPELINE_DEFAULTS["min_face_size"],
                        metavar="PX", help="smallest face side reported (default: %(default)s)")
    parser.add_argument("--max-faces", type=int, default=None, metavar="N",
                        help="report only the N largest faces of an image (default: all)")
    parser.add_argument("--annotate", type=Path, metavar="DIR",
                        help="also write annotated copies of the images into DIR, as PNG, "
                        "under their paths relative to the inputs' common folder")
    parser.add_argument("--max-image-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                        help="skip images whose header claims more pixels (default "
                        f"{DEFAULT_MAX_PIXELS}, 4096x4096); checked before decoding")


class NoImages(ValueError):
    """A folder given as input holds no image file; the message says what it holds instead."""


def image_paths(inputs: list[Path]) -> list[Path]:
    """Files as given, folders expanded to their images (sorted, not recursive). Dangling
    symbolic links are kept, so they are reported and counted as skipped. A folder without
    one image is refused: '0 images processed' with status 0 read as success, and a folder
    of subfolders (one per camera, one per class) is the usual way to get there."""
    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            try:
                found = sorted(p for p in item.iterdir()
                               if p.suffix.lower() in IMAGE_SUFFIXES
                               and (p.is_file() or (p.is_symlink() and not p.exists())))
            except OSError as exc:
                raise NoImages(f"{item}: cannot list the folder ({exc.strerror})") from None
            if not found:
                raise NoImages(_no_images(item))
            paths.extend(found)
        else:
            paths.append(item)
    return paths


def _no_images(folder: Path) -> str:
    subfolders = sum(1 for p in folder.iterdir() if p.is_dir())
    holds = (f"it holds {subfolders} subfolder(s), which are not searched: give them as inputs"
             if subfolders else "it is empty" if not any(folder.iterdir())
             else "none of its files has an image suffix")
    suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
    return f"{folder}: no image in this folder ({holds}; image files end in {suffixes})"


def annotated_paths(paths: list[Path], folder: Path) -> dict[Path, Path]:
    """Where each image's annotated copy goes: its path relative to the folder the inputs share,
    as PNG. ``cam1/img001.jpg`` and ``cam2/img001.jpg`` stay apart; ``a.jpg`` beside ``a.png``
    keeps its suffix in the name (``a.jpg.png``)."""
    absolute = [Path(os.path.abspath(p)) for p in paths]
    common = Path(os.path.commonpath([p.parent for p in absolute])) if absolute else folder
    targets: dict[Path, Path] = {}
    taken: set[Path] = set()
    pngs_first = sorted(zip(paths, absolute), key=lambda pair: pair[0].suffix.lower() != ".png")
    for path, full in pngs_first:
        relative = full.relative_to(common)
        target = folder / relative.with_suffix(".png")
        if target in taken:
            target = folder / relative.with_name(relative.name + ".png")
        taken.add(target)
        targets[path] = target
    return targets


def check_outputs(args: argparse.Namespace) -> None:
    """Fail now, not after every image was processed, when an output cannot be written."""
    if args.json is not None:
        check_output_path(args.json, f"--json {args.json}")
    if args.annotate is not None:
        try:
            args.annotate.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputFileError(f"--annotate {args.annotate}: cannot create the folder "
                                  f"({exc.strerror})") from exc
        if not os.access(args.annotate, os.W_OK):
            raise OutputFileError(f"--annotate {args.annotate} is not writable")


class AnnotationWriter:
    """Writes the annotated copies and counts the ones it could not write: on a full disk
    nearly every write fails, which must show in the exit status, not only in lines that
    scroll by. The first failure is said in full, the rest are counted."""

    def __init__(self, targets: dict[Path, Path]):
        self.targets = targets
        self.failed = 0

    def write(self, path: Path, image, faces: list[FaceResult]) -> None:
        target = self.targets[path]
        drawn = draw_annotations(image, [FaceAnnotation(f.box, f.face_id, f.label,
                                                        f.confidence) for f in faces])
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            encoded, png = cv2.imencode(".png", drawn)
            if not encoded:
                raise OutputFileError(f"--annotate {target}: cannot encode the image")
            write_atomically(target, png.tobytes(), f"--annotate {target}")
        except (OSError, OutputFileError) as exc:
            self.failed += 1
            if self.failed == 1:
                reason = exc.strerror if isinstance(exc, OSError) else exc
                print(f"fer predict: {reason}; later failures are only counted",
                      file=sys.stderr)


def check_numbers(args: argparse.Namespace) -> None:
    """Refuse a count out of its range before any work: ``--max-image-pixels -1`` ended in a
    traceback, ``--min-face-size -5`` was taken as given (the node's parameter range refuses
    it)."""
    face = next(spec for spec in PIPELINE_PARAMETERS if spec.name == "min_face_size")
    if not face.low <= args.min_face_size <= face.high:
        raise ValueError(f"--min-face-size {args.min_face_size}: give a whole number from "
                         f"{face.low:g} to {face.high:g} (pixels, as the node's min_face_size)")
    if args.max_faces is not None and args.max_faces < 1:
        raise ValueError(f"--max-faces {args.max_faces}: give at least 1")
    if args.max_image_pixels < 1:
        raise ValueError(f"--max-image-pixels {args.max_image_pixels}: give at least 1")


def read_input(path: Path, max_pixels: int):
    """The image, or None and the reason to skip it."""
    if path.is_symlink() and not path.exists():
        return None, f"dangling symbolic link (to {os.readlink(path)})"
    if not path.exists():
        return None, "no such file"
    if not path.is_file():
        return None, "not a regular file"
    try:
        image = read_image(path, max_pixels)
    except ImageTooLarge as exc:
        return None, str(exc)
    except ImageHeaderError as exc:
        return None, f"not a readable image ({exc})"
    except OSError as exc:
        return None, f"cannot read it ({exc.strerror})"
    return (image, None) if image is not None else (None, "not a readable image")


def face_record(face: FaceResult, labels: tuple[str, ...]) -> dict:
    """One face as JSON holds it. Scores that are not finite numbers (JSON has no NaN) are
    null, and so are the label and confidence drawn from them."""
    finite = math.isfinite(float(face.confidence)) and all(
        math.isfinite(float(p)) for p in face.scores)
    return {
        "box": [int(v) for v in face.box],
        "label": face.label if finite else None,
        "confidence": round(float(face.confidence), 6) if finite else None,
        "scores": {label: round(float(p), 6) if math.isfinite(float(p)) else None
                   for label, p in zip(labels, face.scores)},
    }


def run(args: argparse.Namespace) -> int:
    """Exit status 0 when every image was processed, 1 when some were skipped as unreadable,
    2 when the model or an output cannot be used or written (checked before any image, and
    again at each write), 128 + the signal's number when SIGINT, SIGTERM or SIGHUP stopped
    the run: the images done so far are still written."""
    stop = StopRequest()
    try:
        return _predict(args, stop)
    finally:
        stop.restore()


def _predict(args: argparse.Namespace, stop: StopRequest) -> int:
    config = PipelineConfig(detector=args.detector, model=args.model,
                            min_face_size=args.min_face_size)
    try:
        check_outputs(args)
        check_numbers(args)
        paths = image_paths(args.inputs)
        analyser = StillImageAnalyser.from_config(config, max_faces=args.max_faces)
    except (OutputFileError, ModelLoadError, ModelFileMissing, ValueError) as exc:
        print(f"fer predict: error: {exc}", file=sys.stderr)
        return 2
    annotations = AnnotationWriter(
        annotated_paths(paths, args.annotate) if args.annotate is not None else {})
    results: dict[str, list[dict]] = {}
    skipped = 0
    for path in paths:
        if stop.is_set():
            break
        image, reason = read_input(path, args.max_image_pixels)
        if image is None:
            print(f"fer predict: skipped {path}: {reason}", file=sys.stderr)
            skipped += 1
            continue
        faces = analyser.analyse(image)
        results[str(path)] = [face_record(face, analyser.labels) for face in faces]
        if path in annotations.targets:
            annotations.write(path, image, faces)
    status = 1 if skipped else 0
    if stop.is_set():
        done = len(results) + skipped
        print(f"fer predict: interrupted after {done} of {len(paths)} image(s) by signal "
              f"{stop.signal}; writing the results so far", file=sys.stderr)
        status = 128 + (stop.signal or 0)
    if args.json is not None:
        try:
            text = json.dumps(results, indent=2, allow_nan=False) + "\n"
            write_atomically(args.json, text.encode("utf-8"), f"--json {args.json}")
        except OutputFileError as exc:
            print(f"fer predict: error: {exc}", file=sys.stderr)
            status = max(status, 2)
    else:
        print_table(results)
    summary = f"fer predict: {len(results)} image(s) processed, {skipped} skipped"
    if annotations.failed:
        summary += f", {annotations.failed} annotated image(s) not written"
        status = max(status, 2)
    print(summary, file=sys.stderr)
    return status


def print_table(results: dict[str, list[dict]]) -> None:
    print(f"{'image':40} {'box (x y w h)':>20}  {'label':9} {'conf':>5}")
    for path, faces in results.items():
        name = path if len(path) <= 40 else "..." + path[-37:]
        if not faces:
            print(f"{name:40} {'(no face)':>20}")
        for face in faces:
            box = " ".join(str(v) for v in face["box"])
            if face["label"] is None:
                print(f"{name:40} {box:>20}  (no finite scores)")
            else:
                print(f"{name:40} {box:>20}  {face['label']:9} {face['confidence']:5.2f}")
