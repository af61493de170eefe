"""`fer predict`: the node's pipeline on image files, for checking a model without a robot."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2

from fer_ros.perception.annotation import FaceAnnotation, draw_annotations
from fer_ros.perception.detection import DEFAULT_DETECTOR, DETECTORS
from fer_ros.perception.pipeline import EmotionPipeline, FaceResult, PipelineConfig

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm",
                            ".ppm"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_DIR",
                        help="image files, or folders whose images are all read")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    parser.add_argument("--model", default="", help="mini_xception, face_expression_net, "
                        "ensemble, a model file or export folder, or a comma-separated list "
                        "(default: ensemble)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTORS)
    parser.add_argument("--min-face-size", type=int, default=30)
    parser.add_argument("--annotate", type=Path, metavar="DIR",
                        help="also write annotated copies of the images into DIR")


def image_paths(inputs: list[Path]) -> list[Path]:
    """Files as given, folders expanded to their images (sorted, not recursive)."""
    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            paths.extend(sorted(p for p in item.iterdir()
                                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            paths.append(item)
    return paths


def face_record(face: FaceResult, labels: tuple[str, ...]) -> dict:
    return {
        "box": [int(v) for v in face.box],
        "label": face.label,
        "confidence": round(float(face.confidence), 6),
        "scores": {label: round(float(p), 6) for label, p in zip(labels, face.scores)},
    }


def run(args: argparse.Namespace) -> int:
    """Exit status 0 when every image was processed, 1 when some were skipped as unreadable."""
    config = PipelineConfig(detector=args.detector, model=args.model,
                            min_face_size=args.min_face_size, smoothing="none")
    pipeline = EmotionPipeline.from_config(config)
    results: dict[str, list[dict]] = {}
    skipped = 0
    for path in image_paths(args.inputs):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
        if image is None:
            reason = "no such file" if not path.exists() else "not a readable image"
            print(f"fer predict: skipped {path}: {reason}", file=sys.stderr)
            skipped += 1
            continue
        pipeline.tracker.reset()
        faces = pipeline.process(image)
        results[str(path)] = [face_record(face, pipeline.labels) for face in faces]
        if args.annotate is not None:
            args.annotate.mkdir(parents=True, exist_ok=True)
            drawn = draw_annotations(image, [FaceAnnotation(f.box, f.face_id, f.label,
                                                            f.confidence) for f in faces])
            cv2.imwrite(str(args.annotate / (path.stem + ".png")), drawn)
    if args.json is not None:
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, args.json)
    else:
        print_table(results)
    print(f"fer predict: {len(results)} image(s) processed, {skipped} skipped", file=sys.stderr)
    return 1 if skipped else 0


def print_table(results: dict[str, list[dict]]) -> None:
    print(f"{'image':40} {'box (x y w h)':>20}  {'label':9} {'conf':>5}")
    for path, faces in results.items():
        name = path if len(path) <= 40 else "..." + path[-37:]
        if not faces:
            print(f"{name:40} {'(no face)':>20}")
        for face in faces:
            box = " ".join(str(v) for v in face["box"])
            print(f"{name:40} {box:>20}  {face['label']:9} {face['confidence']:5.2f}")
