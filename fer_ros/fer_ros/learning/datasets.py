"""Face datasets for training and evaluation: the FER-2013 CSV and a folder of class folders.

Both layouts load into one in-memory form: uint8 faces plus label indices into ``EMOTIONS``.
Labels always come from ``canonical_label`` or the CSV's own index, never from the order folders
happen to sort in, so a model's outputs mean what its metadata says. A face that cannot be read
(a malformed CSV row, a corrupt image) is skipped, counted and reported; a problem that would
make labels ambiguous (an unknown class folder, a wrong header) stops loading with an error.
Decoding happens once, here, with OpenCV (as at inference); TensorFlow is not imported.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fer_ros.perception.expressions.labels import EMOTIONS, canonical_label
from fer_ros.perception.expressions.model_metadata import ModelMetadata
from fer_ros.perception.expressions.preprocessing import resize_face
from fer_ros.perception.limits.files import FileRefused, check_path_length, regular_file_size
from fer_ros.perception.limits.images import (
    DEFAULT_MAX_PIXELS,
    ImageHeaderError,
    ImageTooLarge,
    read_image,
)

log = logging.getLogger(__name__)

FER2013_SIZE = 48
"""FER-2013's CSV stores every face as 48x48 gray values."""

CSV_SPLITS = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
FOLDER_SPLITS = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation"),
    "test": ("test", "testing"),
}
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})
MAX_SKIP_FRACTION = 0.25
"""Above this share of unreadable faces the input is more likely the wrong file than a few bad
rows, so loading fails instead of training on what is left."""


class DatasetError(ValueError):
    """A dataset cannot be used as given; the message names the file and what was expected."""


@dataclass(frozen=True)
class Skipped:
    where: str
    reason: str


@dataclass(frozen=True)
class FaceSet:
    """Faces of one split: ``images`` (N, H, W) uint8 and ``labels`` (N,) indices into EMOTIONS."""

    images: np.ndarray
    labels: np.ndarray
    name: str
    skipped: tuple[Skipped, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(EMOTIONS))

    def subset(self, indices: np.ndarray, name: str) -> FaceSet:
        return FaceSet(self.images[indices], self.labels[indices], name)


@dataclass(frozen=True)
class TrainingSplits:
    train: FaceSet
    val: FaceSet
    test: FaceSet | None


def is_csv(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".csv"


def default_test_split(path: str | Path) -> str:
    """The split ``fer evaluate`` uses when none is named: never one that training looked at."""
    return CSV_SPLITS["test"] if is_csv(path) else FOLDER_SPLITS["test"][0]


def _dataset_path(path: str | Path) -> Path:
    """The dataset's path once its length is sane and something is there."""
    try:
        check_path_length(path, "dataset path")
    except FileRefused as exc:
        raise DatasetError(str(exc)) from None
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: dataset not found")
    return path


def load_split(path: str | Path, split: str, input_size: tuple[int, int] = (48, 48)) -> FaceSet:
    """Load one split by name (``PrivateTest``, ``test``...; case-insensitive), resized."""
    path = _dataset_path(path)
    collector = _Collector(tuple(input_size))
    if is_csv(path):
        _read_csv_split(path, split, collector)
        name = f"{path.name}:{split}"
    elif path.is_dir():
        split_dir = _find_split_dir(path, split)
        _read_folder_split(split_dir, collector)
        name = split_dir.name
    else:
        raise DatasetError(f"{path}: expected a FER-2013 .csv file or a dataset folder")
    return collector.finish(name)


def load_training_splits(path: str | Path, input_size: tuple[int, int] = (48, 48),
                         val_fraction: float = 0.1, seed: int = 0) -> TrainingSplits:
    """Training, validation and (when present) test splits of a dataset.

    A dataset without a validation split (most folder datasets) gives up a stratified
    ``val_fraction`` of its training faces, so early stopping never looks at the test faces.
    """
    path = Path(path)
    available = {name.lower(): name for name in list_splits(path)}

    def pick(role: str) -> str | None:
        names = (CSV_SPLITS[role],) if is_csv(path) else FOLDER_SPLITS[role]
        return next((available[n.lower()] for n in names if n.lower() in available), None)

    train_name = pick("train")
    if train_name is None:
        if not is_csv(path):
            _find_split_dir(path, FOLDER_SPLITS["train"][0])  # says what the folder lacks
        # says which lines could not be read, when those may have held the training rows
        load_split(path, CSV_SPLITS["train"], input_size)
        found = ", ".join(sorted(available.values())) or "none"
        raise DatasetError(f"{path}: no rows with Usage Training (found: {found})")
    train = load_split(path, train_name, input_size)
    val_name, test_name = pick("val"), pick("test")
    if val_name is not None:
        val = load_split(path, val_name, input_size)
    else:
        train, val = split_off(train, val_fraction, seed)
    test = load_split(path, test_name, input_size) if test_name is not None else None
    return TrainingSplits(train, val, test)


def split_off(faces: FaceSet, fraction: float, seed: int) -> tuple[FaceSet, FaceSet]:
    """Hold out ``fraction`` of every class (at least one face of any class with two or more)."""
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for label in range(len(EMOTIONS)):
        members = rng.permutation(np.flatnonzero(faces.labels == label))
        if len(members) >= 2:
            held.append(members[: max(1, round(fraction * len(members)))])
    held_idx = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    if held_idx.size == 0:
        raise DatasetError(f"{faces.name}: too few faces to hold out a validation split")
    keep = np.setdiff1d(np.arange(len(faces)), held_idx)
    rest = FaceSet(faces.images[keep], faces.labels[keep], faces.name, faces.skipped)
    return rest, faces.subset(held_idx, f"{faces.name} (held out {fraction:.0%})")


def list_splits(path: str | Path) -> list[str]:
    """Split names of a dataset: a CSV's Usage values or a folder's subfolders."""
    path = _dataset_path(path)
    if is_csv(path):
        with _open_csv(path) as (columns, rows):
            if "usage" not in columns:
                return [CSV_SPLITS["train"]]
            usage = columns["usage"]
            return sorted({row[usage].strip() for _, row in rows
                           if isinstance(row, list) and len(row) > usage and row[usage].strip()})
    if not path.is_dir():
        raise DatasetError(f"{path}: expected a FER-2013 .csv file or a dataset folder")
    return sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


MAX_CSV_BYTES = 2 << 30
"""FER-2013's CSV is about 290 MB; 2 GiB admits much larger sets of 48x48 faces."""
CSV_FIELD_LIMIT = 64 * 1024
"""Longest field read: a FER-2013 pixels field is about 9,000 characters (2,304 numbers)."""
MAX_CSV_LINE_CHARS = 4 * CSV_FIELD_LIMIT
"""Longest line read. The CSV reader takes a whole line from the file before it looks at its
fields, so its field limit alone let a 2 GiB file without a line break take 4.7 GB."""


class _LineTooLong(Exception):
    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


class _BoundedLines:
    """The file's lines for the CSV reader, none longer than MAX_CSV_LINE_CHARS.

    A longer line raises _LineTooLong at once (for the header, the caller gives up); the next
    call first reads past its rest in bounded pieces, so a bad row costs time, never memory.
    ``line`` counts the physical lines read, the long ones included.
    """

    def __init__(self, f):
        self._f = f
        self._skip_rest = False
        self.line = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        if self._skip_rest:
            self._skip_rest = False
            piece = "-"
            while piece and not piece.endswith(("\n", "\r")):
                piece = self._f.readline(1 << 20)
        text = self._f.readline(MAX_CSV_LINE_CHARS)
        if not text:
            raise StopIteration
        self.line += 1
        if len(text) >= MAX_CSV_LINE_CHARS and not text.endswith(("\n", "\r")):
            self._skip_rest = True
            raise _LineTooLong(self.line)
        return text


TOO_LONG = (f"line longer than {MAX_CSV_LINE_CHARS} characters (a FER-2013 row has about "
            "9,000)")


@contextmanager
def _open_csv(path: Path) -> Iterator[tuple[dict[str, int], Iterator[tuple[int, list[str] | str]]]]:
    """Check a FER-2013 CSV's header before any of its rows is trusted.

    Yields the columns and the rows as ``(line, row)``, where ``row`` is the reason instead of
    the fields for a line the CSV reader cannot parse (a field over the limit, a NUL byte), so
    the caller skips and counts it. A UTF-8 byte order mark before the header is accepted; a
    file that is not UTF-8 text is refused with one line, and so is anything but a regular file
    under MAX_CSV_BYTES (a FIFO blocked the reader, /dev/zero is one endless line).
    """
    try:
        regular_file_size(path, MAX_CSV_BYTES, "dataset CSV")
    except FileRefused as exc:
        raise DatasetError(str(exc)) from None
    with open(path, newline="", encoding="utf-8-sig") as f:
        lines = _BoundedLines(f)
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
        except _LineTooLong:
            raise DatasetError(f"{path} line 1: not a FER-2013 CSV: the header is "
                               f"a {TOO_LONG}, expected emotion,pixels,Usage") from None
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from exc
        except csv.Error as exc:
            raise DatasetError(f"{path}: not a FER-2013 CSV: unreadable header ({exc})") from exc
        columns = {name.strip().lower(): i for i, name in enumerate(header or [])}
        if not {"emotion", "pixels"} <= columns.keys():
            raise DatasetError(
                f"{path}: not a FER-2013 CSV: the header is {header!r}, expected the "
                "columns emotion,pixels,Usage (Usage optional)"
            )
        yield columns, _rows(path, reader, lines)


def _rows(path: Path, reader, lines: _BoundedLines) -> Iterator[tuple[int, list[str] | str]]:
    previous = csv.field_size_limit(CSV_FIELD_LIMIT)
    try:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, exc) from exc
            except _LineTooLong as exc:
                yield exc.line, TOO_LONG
                continue
            except csv.Error as exc:
                yield lines.line, f"unreadable line ({exc})"
                continue
            yield lines.line, row
    finally:
        csv.field_size_limit(previous)


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> DatasetError:
    return DatasetError(f"{path}: not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} "
                        "cannot be decoded): is this the FER-2013 CSV?")


class _Collector:
    """Gathers faces resized to one size, and the ones skipped, for one split."""

    def __init__(self, size: tuple[int, int]):
        self._meta = ModelMetadata(input_size=size)
        self.images: list[np.ndarray] = []
        self.labels: list[int] = []
        self.skipped: list[Skipped] = []

    def add(self, image: np.ndarray, label: int) -> None:
        self.images.append(resize_face(image, self._meta))
        self.labels.append(label)

    def skip(self, where: str, reason: str) -> None:
        self.skipped.append(Skipped(where, reason))

    def finish(self, name: str) -> FaceSet:
        total = len(self.images) + len(self.skipped)
        if self.skipped:
            examples = "; ".join(f"{s.where}: {s.reason}" for s in self.skipped[:5])
            more = f" (and {len(self.skipped) - 5} more)" if len(self.skipped) > 5 else ""
            message = f"{name}: skipped {len(self.skipped)} of {total} faces: {examples}{more}"
            if not self.images or len(self.skipped) > MAX_SKIP_FRACTION * total:
                raise DatasetError(
                    f"{message}; more than {MAX_SKIP_FRACTION:.0%} of the faces are unreadable: "
                    "is this the right file?"
                )
            log.warning("%s", message)
        return FaceSet(np.stack(self.images), np.asarray(self.labels, dtype=np.int64), name,
                       tuple(self.skipped))


def _read_csv_split(path: Path, split: str, out: _Collector) -> None:
    seen: set[str] = set()
    wanted = split.strip().lower()
    with _open_csv(path) as (columns, rows):
        emotion_col, pixels_col = columns["emotion"], columns["pixels"]
        usage_col = columns.get("usage")
        for line, row in rows:
            if isinstance(row, str):
                out.skip(f"{path.name} line {line}", row)
                continue
            if not row:
                continue
            if usage_col is None:
                usage = CSV_SPLITS["train"]
            else:
                usage = row[usage_col].strip() if len(row) > usage_col else ""
            if not usage:
                # a face without a split would land in training and test alike
                out.skip(f"{path.name} line {line}", "empty Usage")
                continue
            seen.add(usage)
            if usage.lower() != wanted:
                continue
            try:
                if len(row) != len(columns):
                    raise ValueError(f"{len(row)} fields, expected {len(columns)}")
                image, label = _parse_row(row[emotion_col], row[pixels_col])
            except ValueError as exc:
                out.skip(f"{path.name} line {line}", str(exc))
                continue
            out.add(image, label)
    if not out.images and wanted not in {usage.lower() for usage in seen}:
        found = ", ".join(sorted(seen)) or "none"
        unread = "; ".join(f"{s.where}: {s.reason}" for s in out.skipped[:2])
        more = f" and {len(out.skipped) - 2} more" if len(out.skipped) > 2 else ""
        unread = f"; lines not read, which may have held them: {unread}{more}" if unread else ""
        raise DatasetError(f"{path}: no rows with Usage {split!r} (found: {found}){unread}")


def _parse_row(emotion: str, pixels: str) -> tuple[np.ndarray, int]:
    label = int(emotion)
    if not 0 <= label < len(EMOTIONS):
        raise ValueError(f"emotion {label} is not an index 0..{len(EMOTIONS) - 1}")
    try:
        values = np.array(pixels.split(), dtype=np.int64)
    except OverflowError:
        raise ValueError("a pixel value is far outside 0..255") from None
    if values.size != FER2013_SIZE * FER2013_SIZE:
        raise ValueError(
            f"{values.size} pixel values, expected {FER2013_SIZE * FER2013_SIZE} "
            f"({FER2013_SIZE}x{FER2013_SIZE})"
        )
    if values.min() < 0 or values.max() > 255:
        raise ValueError("pixel values outside 0..255")
    return values.astype(np.uint8).reshape(FER2013_SIZE, FER2013_SIZE), label


def _find_split_dir(root: Path, split: str) -> Path:
    subdirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for candidate in subdirs:
        if candidate.name.lower() == split.strip().lower():
            return candidate
    if not subdirs:
        raise DatasetError(
            f"{root}: empty dataset folder: expected train/<class>/*.png and test/<class>/*.png"
        )
    if all(_is_label(p.name) for p in subdirs):
        raise DatasetError(
            f"{root} holds class folders directly: put them under {root}/train/ "
            "(and held-out faces under test/)"
        )
    names = ", ".join(sorted(p.name for p in subdirs))
    raise DatasetError(f"{root}: no split folder {split!r} (found: {names})")


def _is_label(name: str) -> bool:
    try:
        canonical_label(name)
    except ValueError:
        return False
    return True


def _read_folder_split(split_dir: Path, out: _Collector) -> None:
    class_dirs = sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for class_dir in class_dirs:
        try:
            label = EMOTIONS.index(canonical_label(class_dir.name))
        except ValueError as exc:
            raise DatasetError(f"{class_dir}: {exc}") from exc
        for file in sorted(class_dir.iterdir()):
            if file.name.startswith(".") or file.is_dir():
                continue
            where = f"{split_dir.name}/{class_dir.name}/{file.name}"
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                out.skip(where, "not an image file")
                continue
            try:
                image = read_image(file, DEFAULT_MAX_PIXELS, cv2.IMREAD_GRAYSCALE)
            except ImageTooLarge as exc:
                out.skip(where, str(exc))
                continue
            except ImageHeaderError as exc:
                out.skip(where, f"cannot decode the image (corrupt or truncated: {exc})")
                continue
            if image is None:
                out.skip(where, "cannot decode the image (corrupt or truncated)")
                continue
            out.add(image, label)
    if not out.images and not out.skipped:
        raise DatasetError(
            f"{split_dir}: no faces found: expected {split_dir}/<class>/*.png with class folders "
            f"named after {', '.join(EMOTIONS)}"
        )
