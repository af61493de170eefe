"""`fer predict` on the labelled photos as a user runs it: does the order of the files change
the results, and what accuracy does the command give?

Run from the repository root after ``make setup photos``:

    .venv/bin/python bench/predict_order.py

The accuracy set's photos (bench/accuracy_labels.json) are written to one folder and given to
`fer predict` three ways: sorted in one call, reversed in one call, and one call per photo.
For each way: faces whose label differs from the one-call-per-photo run, faces whose scores
differ by more than 1e-6, and the expression accuracy on the labelled faces (a detected face
matches a labelled one at IoU >= 0.3, as in bench/accuracy.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import LABELS_FILE, LabelledPhoto, load_labels  # noqa: E402
from detectors import match  # noqa: E402
from harness import executable  # noqa: E402
from run import Report, standalone  # noqa: E402

TOLERANCE = 1e-6


def predict(paths: list[Path], out: Path, model: str) -> dict[str, list[dict]]:
    extra = ["--model", model] if model else []
    completed = subprocess.run([*executable("fer"), "predict", *map(str, paths), "--json", str(out),
                                *extra], capture_output=True, text=True, timeout=1800)
    if completed.returncode != 0:
        raise SystemExit(f"fer predict failed: {completed.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.read_text())


def accuracy(results: dict[str, list[dict]], photos: dict[str, LabelledPhoto]) -> tuple[int, int]:
    correct = scored = 0
    for path, faces in results.items():
        photo = photos[path]
        hits, _ = match([f.box for f in photo.faces], [tuple(f["box"]) for f in faces])
        for truth_index, found_index in hits.items():
            truth = photo.faces[truth_index].expression
            if truth is not None:
                scored += 1
                correct += int(faces[found_index]["label"] == truth)
    return correct, scored


def differences(results: dict[str, list[dict]],
                reference: dict[str, list[dict]]) -> tuple[int, int]:
    """Faces whose label differs, faces whose boxes or scores differ beyond the tolerance."""
    labels = scores = 0
    for path, faces in reference.items():
        other = results[path]
        if len(other) != len(faces):
            labels += max(len(other), len(faces))
            scores += max(len(other), len(faces))
            continue
        for a, b in zip(faces, other):
            labels += int(a["label"] != b["label"])
            scores += int(a["box"] != b["box"] or any(
                abs(a["scores"][k] - b["scores"][k]) > TOLERANCE for k in a["scores"]))
    return labels, scores


OPTIONS = {"--model": ("", "fer predict's --model (empty: its own)")}


def run(args: argparse.Namespace) -> Report:
    with tempfile.TemporaryDirectory(prefix="fer-predict-order-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        photos: dict[str, LabelledPhoto] = {}
        for photo in load_labels(LABELS_FILE):
            path = folder / (photo.name.replace("/", "-").replace(":", "-") + ".png")
            cv2.imwrite(str(path), photo.image)
            photos[str(path)] = photo
        paths = sorted(Path(p) for p in photos)
        alone: dict[str, list[dict]] = {}
        for path in paths:
            alone.update(predict([path], Path(tmp) / "one.json", args.model))
        ways = {"one call per photo": alone,
                "sorted, one call": predict(paths, Path(tmp) / "sorted.json", args.model),
                "reversed, one call": predict(paths[::-1], Path(tmp) / "reversed.json",
                                              args.model)}
    report = Report("predict_order", "fer predict: results by the order of the files",
                    ["run", "faces", "labels differing", "scores differing", "accuracy"])
    for name, results in ways.items():
        labels, scores = differences(results, alone)
        correct, scored = accuracy(results, photos)
        report.rows.append([name, sum(len(f) for f in results.values()), labels, scores,
                            f"{correct}/{scored} ({100 * correct / scored:.1f} %)"])
    report.notes.append(f"{len(paths)} photos of {LABELS_FILE.name}; differences against one "
                        f"call per photo (scores: beyond {TOLERANCE:g})")
    report.data = {"photos": len(paths), "rows": report.rows}
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__]))
