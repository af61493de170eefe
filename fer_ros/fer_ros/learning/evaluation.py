"""``fer evaluate``: how good an exported model is, measured the way the node will run it.

The figures come from the model file the node loads (the ``.tflite`` of an export), through the
node's own classifier and preprocessing. The export's ``.keras`` must give the same label on at
least 99 % of the faces: a larger disagreement means the conversion broke something, and the
evaluation fails rather than reporting a number the robot will not reproduce. Plots are drawn
with OpenCV, which the package already needs, rather than a plotting library.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.learning.datasets import DatasetError, FaceSet, default_test_split, load_split
from fer_ros.learning.export import write_bytes_atomic
from fer_ros.learning.output_folder import (
    SLACK_BYTES,
    OutputFolderError,
    check_free_space,
    check_output_folder,
)
from fer_ros.learning.training import HISTORY_FILE, normalized_faces
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.labels import EMOTIONS, canonical_label
from fer_ros.perception.expressions.model_metadata import ModelMetadata, ModelMetadataError
from fer_ros.perception.limits.files import FileRefused, read_bounded
from fer_ros.perception.model_files import ModelLoadError, resolve_model

MIN_AGREEMENT = 0.99
BATCH = 256
CONFUSION_PNG = "confusion_matrix.png"
CURVES_PNG = "training_curves.png"
REPORT_JSON = "evaluation.json"


@dataclass(frozen=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Scores:
    """Accuracy, per-class figures and macro F1 from a confusion matrix (rows: true labels)."""

    labels: tuple[str, ...]
    confusion: np.ndarray

    @classmethod
    def from_predictions(cls, y_true: np.ndarray, y_pred: np.ndarray,
                         labels: tuple[str, ...]) -> Scores:
        n = len(labels)
        confusion = np.bincount(np.asarray(y_true) * n + np.asarray(y_pred), minlength=n * n)
        return cls(tuple(labels), confusion.reshape(n, n))

    @property
    def accuracy(self) -> float:
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else 0.0

    @property
    def per_class(self) -> list[ClassScore]:
        scores = []
        for i, label in enumerate(self.labels):
            hits = self.confusion[i, i]
            predicted, support = self.confusion[:, i].sum(), self.confusion[i].sum()
            precision = hits / predicted if predicted else 0.0
            recall = hits / support if support else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            scores.append(ClassScore(label, float(precision), float(recall), float(f1),
                                     int(support)))
        return scores

    @property
    def macro_f1(self) -> float:
        """Mean F1 over the classes that occur or are predicted (as scikit-learn counts it)."""
        seen = [s.f1 for i, s in enumerate(self.per_class)
                if s.support or self.confusion[:, i].sum()]
        return float(np.mean(seen)) if seen else 0.0

    def table(self) -> str:
        """Per-class figures, then the confusion matrix, as plain text."""
        lines = [f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
        lines += [f"{s.label:<10}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}"
                  f"{s.support:>10d}" for s in self.per_class]
        lines.append(f"{'accuracy':<10}{self.accuracy:>30.3f}{self.confusion.sum():>10d}")
        lines.append(f"{'macro f1':<10}{self.macro_f1:>30.3f}")
        width = max(8, *(len(label) for label in self.labels)) + 1
        lines += ["", "confusion matrix (rows: true, columns: predicted)",
                  " " * width + "".join(f"{label:>{width}}" for label in self.labels)]
        for label, row in zip(self.labels, self.confusion):
            lines.append(f"{label:<{width}}" + "".join(f"{v:>{width}d}" for v in row))
        return "\n".join(lines)


class EvaluationError(ValueError):
    """A model cannot be scored on a dataset as asked; the message says why, in one line."""


def dataset_order(labels: tuple[str, ...], model: str | Path) -> np.ndarray:
    """The model's output column for each of the dataset's classes (``EMOTIONS``' order).

    Datasets load as indices into ``EMOTIONS``; a model whose labels are those seven in another
    order or spelling is scored after reordering. Any other label set is refused: three labels
    ended in a reshape traceback, seven or nine other ones were scored under the wrong names.
    """
    try:
        canonical = [canonical_label(label) for label in labels]
    except ValueError:
        canonical = []
    if sorted(canonical) != sorted(EMOTIONS):
        raise EvaluationError(
            f"{model}: its labels ({', '.join(labels)}) are not the dataset's classes "
            f"({', '.join(EMOTIONS)}): it cannot be scored on this dataset")
    return np.array([canonical.index(label) for label in EMOTIONS])


def predict_labels(classifier, faces: FaceSet, order: np.ndarray | None = None) -> np.ndarray:
    """Class indices into ``EMOTIONS`` for every face, in batches, scaled as the node scales
    them; ``order`` picks the model's columns in ``EMOTIONS``' order (see ``dataset_order``)."""
    if order is None:
        order = np.arange(len(EMOTIONS))
    batch = normalized_faces(faces, classifier.metadata)
    return np.concatenate([np.argmax(classifier.predict(batch[i:i + BATCH])[:, order], axis=1)
                           for i in range(0, len(batch), BATCH)])


def model_folder(model: str | Path) -> tuple[Path, ModelMetadata]:
    """The folder holding a model's files and its metadata (an export folder or a model file)."""
    model_path, metadata = resolve_model(model)
    return model_path.parent, metadata


@dataclass(frozen=True)
class Evaluation:
    scores: Scores
    model_file: str
    dataset: str
    agreement: dict[str, float]

    @property
    def agreement_ok(self) -> bool:
        return self.agreement.get("keras", 1.0) >= MIN_AGREEMENT

    def to_json(self) -> str:
        data = {
            "model_file": self.model_file,
            "dataset": self.dataset,
            "faces": int(self.scores.confusion.sum()),
            "accuracy": self.scores.accuracy,
            "macro_f1": self.scores.macro_f1,
            "per_class": {s.label: {"precision": s.precision, "recall": s.recall, "f1": s.f1,
                                    "support": s.support} for s in self.scores.per_class},
            "confusion_matrix": self.scores.confusion.tolist(),
            "labels": list(self.scores.labels),
            "agreement_with_primary": self.agreement,
        }
        return json.dumps(data, indent=2, allow_nan=False) + "\n"


def evaluate(model: str | Path, faces: FaceSet, num_threads: int = 2) -> Evaluation:
    """Score the file the node would load; compare every other model file of the export to it.

    ``agreement`` maps ``keras`` (and ``tflite_int8`` when exported) to the share of faces on
    which that file's label equals the primary file's label.
    """
    folder, metadata = model_folder(model)
    order = dataset_order(metadata.labels, model)
    primary = load_classifier(model, num_threads=num_threads)
    predicted = predict_labels(primary, faces, order)
    agreement = {}
    for key, name in metadata.files.items():
        path = folder / name
        if path == primary.path or not path.is_file():
            continue
        other = predict_labels(load_classifier(path, num_threads=num_threads), faces, order)
        agreement[key] = float(np.mean(other == predicted))
    scores = Scores.from_predictions(faces.labels, predicted, EMOTIONS)
    return Evaluation(scores, primary.path.name, faces.name, agreement)


def draw_confusion(scores: Scores, path: Path, title: str) -> None:
    """Cells coloured by the share of each true class (recall), labelled with counts."""
    n, cell, left, top = len(scores.labels), 72, 120, 92
    width, height = left + n * cell + 24, top + n * cell + 48
    image = np.full((height, width, 3), 255, np.uint8)
    totals = np.maximum(scores.confusion.sum(axis=1, keepdims=True), 1)
    shares = scores.confusion / totals
    colours = cv2.applyColorMap((shares * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    font = cv2.FONT_HERSHEY_SIMPLEX
    _text(image, title, (12, 26), 0.55, (0, 0, 0))
    _text(image, "predicted", (left + n * cell // 2 - 40, 52), 0.5, (60, 60, 60))
    _text(image, "true", (52, top - 10), 0.5, (60, 60, 60))
    for i, label in enumerate(scores.labels):
        (w, _), _ = cv2.getTextSize(label[:8], font, 0.42, 1)
        _text(image, label[:8], (left + i * cell + (cell - w) // 2, top - 10), 0.42, (0, 0, 0))
        _text(image, label, (52, top + i * cell + cell // 2 + 5), 0.42, (0, 0, 0))
        for j in range(n):
            x, y = left + j * cell, top + i * cell
            colour = tuple(int(c) for c in colours[i, j])
            cv2.rectangle(image, (x, y), (x + cell - 1, y + cell - 1), colour, -1)
            ink = (0, 0, 0) if shares[i, j] > 0.6 else (255, 255, 255)
            _text(image, str(int(scores.confusion[i, j])), (x + 8, y + 30), 0.5, ink)
            _text(image, f"{shares[i, j]:.0%}", (x + 8, y + 54), 0.42, ink)
    footer = f"accuracy {scores.accuracy:.1%}   macro F1 {scores.macro_f1:.3f}"
    _text(image, footer, (left, height - 16), 0.5, (0, 0, 0))
    _write_png(path, image)


MAX_HISTORY_BYTES = 16 << 20
"""A history row is about a hundred bytes per epoch; an export folder's larger history.csv is
not read (it may come from anywhere)."""


def read_history(path: Path) -> dict[str, list[float]]:
    """Columns of a Keras CSVLogger file, by name; rows sorted by epoch. A value that is not a
    number is NaN (drawn as a gap); a row without a whole epoch number is left out."""
    text = read_bounded(path, MAX_HISTORY_BYTES, "training history").decode("utf-8", "replace")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        try:
            rows.append((int(row.get("epoch") or ""), row))
        except ValueError:
            continue
    rows.sort(key=lambda pair: pair[0])
    if not rows:
        return {}
    return {key: [_number(row.get(key)) for _, row in rows] for key in rows[0][1]
            if isinstance(key, str)}


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def draw_curves(history: dict[str, list[float]], path: Path) -> None:
    """Loss and accuracy per epoch, training and validation, in two panels side by side."""
    panels = [("loss", "loss"), ("accuracy", "accuracy")]
    panel_w, panel_h = 480, 340
    image = np.full((panel_h, panel_w * len(panels), 3), 255, np.uint8)
    epochs = [int(e) + 1 for e in history.get("epoch", [])]
    for k, (name, key) in enumerate(panels):
        series = {"training": history.get(key, []), "validation": history.get("val_" + key, [])}
        _plot_panel(image[:, k * panel_w:(k + 1) * panel_w], name, epochs, series)
    _write_png(path, image)


_COLOURS = {"training": (180, 100, 30), "validation": (30, 120, 240)}


def _plot_panel(panel: np.ndarray, title: str, epochs: list[int],
                series: dict[str, list[float]]) -> None:
    height, width = panel.shape[:2]
    x0, y0, x1, y1 = 64, 40, width - 16, height - 44
    values = np.array([v for s in series.values() for v in s if np.isfinite(v)])
    _text(panel, title, (x0, 26), 0.6, (0, 0, 0))
    cv2.rectangle(panel, (x0, y0), (x1, y1), (0, 0, 0), 1)
    if not epochs or values.size == 0:
        _text(panel, "no history", (x0 + 20, (y0 + y1) // 2), 0.5, (0, 0, 0))
        return
    lo, hi = float(values.min()), float(values.max())
    pad = (hi - lo) * 0.08 or 0.05
    lo, hi = lo - pad, hi + pad
    first, last = epochs[0], max(epochs[-1], epochs[0] + 1)

    def point(epoch: int, value: float) -> tuple[int, int]:
        x = x0 + (epoch - first) / (last - first) * (x1 - x0)
        y = y1 - (value - lo) / (hi - lo) * (y1 - y0)
        return int(round(x)), int(round(y))

    for t in np.linspace(lo, hi, 5):
        y = point(first, t)[1]
        cv2.line(panel, (x0, y), (x1, y), (225, 225, 225), 1)
        _text(panel, f"{t:.2f}", (8, y + 4), 0.38, (60, 60, 60))
    for e in sorted({int(round(e)) for e in np.linspace(first, last, min(6, last - first + 1))}):
        x = point(e, lo)[0]
        cv2.line(panel, (x, y1), (x, y1 + 4), (0, 0, 0), 1)
        _text(panel, str(e), (x - 6, y1 + 18), 0.38, (60, 60, 60))
    _text(panel, "epoch", ((x0 + x1) // 2 - 20, height - 8), 0.42, (60, 60, 60))
    for n, (name, ys) in enumerate(series.items()):
        pts = [point(e, v) for e, v in zip(epochs, ys) if np.isfinite(v)]
        if not pts:
            continue
        colour = _COLOURS[name]
        cv2.polylines(panel, [np.array(pts, np.int32)], False, colour, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(panel, p, 3, colour, -1, cv2.LINE_AA)
        ly = y0 + 16 + 18 * n
        cv2.line(panel, (x1 - 120, ly - 4), (x1 - 96, ly - 4), colour, 2)
        _text(panel, name, (x1 - 90, ly), 0.42, (0, 0, 0))


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float,
          colour: tuple[int, int, int]) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def _write_png(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"cannot encode {path}")
    write_bytes_atomic(path, data.tobytes())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fer evaluate``."""
    parser.add_argument("model", metavar="MODEL_DIR",
                        help="export folder written by fer train (or a model file)")
    parser.add_argument("dataset", type=Path, metavar="DATASET",
                        help="FER-2013 CSV or a dataset folder")
    parser.add_argument("--split", metavar="NAME",
                        help="split to evaluate (default: PrivateTest of a CSV, test/ of a folder)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder for the PNGs and evaluation.json "
                             "(default: MODEL_DIR/evaluation_<split>)")
    parser.add_argument("--threads", type=int, default=2, metavar="N",
                        help="LiteRT threads (default 2)")


MAX_THREADS = 256


def run(args: argparse.Namespace) -> int:
    """Exit status 0, 1 when the export's model files disagree, 2 for unusable input."""
    split = args.split or default_test_split(args.dataset)
    made: list[Path] = []
    try:
        if not 1 <= args.threads <= MAX_THREADS:
            raise EvaluationError(f"--threads {args.threads}: must be a whole number from 1 to "
                                  f"{MAX_THREADS}")
        folder, metadata = model_folder(args.model)
        dataset_order(metadata.labels, args.model)
        out = args.out or folder / f"evaluation_{split.lower()}"
        made = check_output_folder(out, "--out" if args.out else "output folder")
        check_free_space(out, SLACK_BYTES, "--out" if args.out else "output folder")
        faces = load_split(args.dataset, split, metadata.input_size)
        result = evaluate(args.model, faces, num_threads=args.threads)
        out.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(out / REPORT_JSON, result.to_json().encode())
        title = f"{result.model_file} on {faces.name} ({len(faces)} faces)"
        draw_confusion(result.scores, out / CONFUSION_PNG, title)
        written = [CONFUSION_PNG, REPORT_JSON]
        history = folder / HISTORY_FILE
        if history.is_file():
            try:
                curves = read_history(history)
            except FileRefused as exc:
                print(f"fer evaluate: no training curves: {exc}", file=sys.stderr)
            else:
                draw_curves(curves, out / CURVES_PNG)
                written.insert(1, CURVES_PNG)
    except (DatasetError, EvaluationError, ModelMetadataError, ModelLoadError,
            OutputFolderError, OSError) as exc:
        for created in made:  # only empty folders: nothing of this run is left
            with contextlib.suppress(OSError):
                created.rmdir()
        reason = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and \
            exc.filename and exc.strerror else exc
        print(f"fer evaluate: error: {reason}", file=sys.stderr)
        return 2
    print(f"{result.model_file} on {faces.name}: {len(faces)} faces")
    if faces.skipped:
        print(f"({len(faces.skipped)} unreadable faces skipped)")
    print(result.scores.table())
    for key, share in result.agreement.items():
        verdict = "" if key != "keras" else ("  ok" if share >= MIN_AGREEMENT else
                                             f"  FAILED: below {MIN_AGREEMENT:.0%}")
        print(f"same label as {metadata.files[key]}: {share:.2%}{verdict}")
    print(f"wrote {', '.join(written)} to {out}")
    return 0 if result.agreement_ok else 1
