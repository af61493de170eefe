"""Dataset loading: both layouts, label mapping, and every way a dataset can be broken."""

from __future__ import annotations

import logging
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_ros.learning.datasets import (
    MAX_CSV_LINE_CHARS,
    DatasetError,
    FaceSet,
    default_test_split,
    list_splits,
    load_split,
    load_training_splits,
    split_off,
)
from fer_ros.perception.expressions.labels import EMOTIONS
from synthetic_faces import FOLDER_NAMES, make_faces, standard_splits, write_csv, write_folder


def _pixels(image: np.ndarray) -> str:
    return " ".join(map(str, image.ravel()))


@contextmanager
def dataset_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture the dataset reader's warnings in ``caplog``.

    caplog listens on the root logger. Wherever ``launch`` is importable (any ROS install, and
    this venv with the ROS 2 tools), launch_testing's pytest plugin loads and ``launch`` makes
    every later logger non-propagating, so caplog's handler goes on the reader's logger itself.
    """
    logger = logging.getLogger("fer_ros.learning.datasets")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger=logger.name):
            yield
    finally:
        logger.removeHandler(caplog.handler)


@pytest.fixture(scope="module")
def splits():
    return standard_splits(per_class=4, held_out=2, seed=3)


def test_csv_splits_keep_faces_and_labels(tmp_path: Path, splits) -> None:
    path = write_csv(tmp_path / "fer.csv", splits)
    assert list_splits(path) == ["PrivateTest", "PublicTest", "Training"]
    for usage, (images, labels) in splits.items():
        faces = load_split(path, usage.lower())
        np.testing.assert_array_equal(faces.images, images)
        np.testing.assert_array_equal(faces.labels, labels)
        assert faces.skipped == ()
    assert default_test_split(path) == "PrivateTest"


def test_csv_header_spelled_like_icml_face_data(tmp_path: Path) -> None:
    images, labels = make_faces(1, seed=0)
    path = tmp_path / "icml_face_data.csv"
    rows = [f"{label}, Training,{_pixels(image)}" for image, label in zip(images, labels)]
    path.write_text("emotion, Usage, pixels\n" + "\n".join(rows) + "\n")
    faces = load_split(path, "Training")
    np.testing.assert_array_equal(faces.labels, labels)


def test_csv_without_usage_is_one_training_split(tmp_path: Path) -> None:
    images, labels = make_faces(10, seed=1)
    path = tmp_path / "train.csv"
    rows = [f"{label},{_pixels(image)}" for image, label in zip(images, labels)]
    path.write_text("emotion,pixels\n" + "\n".join(rows) + "\n")
    assert list_splits(path) == ["Training"]
    parts = load_training_splits(path, val_fraction=0.2, seed=0)
    assert len(parts.train) + len(parts.val) == len(labels)
    assert np.all(parts.val.class_counts() == 2)
    assert parts.test is None


@pytest.mark.parametrize("header", ["label,image,Usage", "pixels,Usage", ""])
def test_csv_wrong_header_is_a_clear_error(tmp_path: Path, header: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"{header}\n0,{' '.join(['0'] * 2304)},Training\n")
    with pytest.raises(DatasetError, match="emotion,pixels,Usage"):
        load_split(path, "Training")


def test_malformed_csv_rows_are_counted_skips_never_wrong_labels(tmp_path: Path, caplog) -> None:
    images, labels = make_faces(12, seed=2)
    good = [f"{label},{_pixels(image)},Training" for image, label in zip(images, labels)]
    bad = [
        f"3,{_pixels(images[0])[:-40]},Training",  # truncated row
        f"4,{_pixels(images[0]).replace(' 1', ' x', 1)},Training",  # not a number
        f"2,{' '.join(['300'] * 2304)},Training",  # out of range
        f"9,{_pixels(images[0])},Training",  # no such class
        "5,Training",  # missing field
    ]
    path = tmp_path / "fer.csv"
    path.write_text("emotion,pixels,Usage\n" + "\n".join(good[:40] + bad + good[40:]) + "\n")
    with dataset_warnings(caplog):
        faces = load_split(path, "Training")
    np.testing.assert_array_equal(faces.labels, labels)
    np.testing.assert_array_equal(faces.images, images)
    assert len(faces.skipped) == len(bad)
    assert [s.where for s in faces.skipped] == [f"fer.csv line {n}" for n in range(42, 47)]
    assert "skipped 5 of 89 faces" in caplog.text


def test_mostly_malformed_csv_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "fer.csv"
    rows = [f"0,{' '.join(['7'] * 1000)},Training" for _ in range(10)]
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    with pytest.raises(DatasetError, match="right file"):
        load_split(path, "Training")


def test_unknown_split_lists_the_ones_found(tmp_path: Path, splits) -> None:
    path = write_csv(tmp_path / "fer.csv", splits)
    with pytest.raises(DatasetError, match="PrivateTest, PublicTest, Training"):
        load_split(path, "validation")
    folder = write_folder(tmp_path / "faces", {"train": splits["Training"]})
    with pytest.raises(DatasetError, match="no split folder 'test'"):
        load_split(folder, "test")


def test_folder_names_map_to_the_node_label_order(tmp_path: Path, splits) -> None:
    names = {"train": FOLDER_NAMES, "test": {**FOLDER_NAMES, "angry": "anger", "happy": "HAPPY"}}
    root = write_folder(tmp_path / "faces",
                        {"train": splits["Training"], "test": splits["PrivateTest"]}, names)
    assert default_test_split(root) == "test"
    for split, usage in (("train", "Training"), ("test", "PrivateTest")):
        faces = load_split(root, split)
        # Files are read folder by folder, so compare as multisets of (label, image).
        expected = sorted((int(label), image.tobytes()) for image, label in zip(*splits[usage]))
        got = sorted((int(label), image.tobytes()) for image, label in
                     zip(faces.images, faces.labels))
        assert got == expected
    assert sorted(p.name for p in (root / "train").iterdir())[0] == "Angry"


def test_unknown_class_folder_is_a_clear_error(tmp_path: Path, splits) -> None:
    root = write_folder(tmp_path / "faces", {"train": splits["Training"]})
    (root / "train" / "contempt").mkdir()
    with pytest.raises(DatasetError, match="contempt.*unknown expression class"):
        load_split(root, "train")


def test_empty_folders_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="empty dataset folder"):
        load_split(tmp_path, "train")
    (tmp_path / "train" / "happy").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no faces found"):
        load_split(tmp_path, "train")
    with pytest.raises(DatasetError, match="not found"):
        load_split(tmp_path / "missing", "train")


def test_class_folders_without_split_folder_explain_the_layout(tmp_path: Path, splits) -> None:
    write_folder(tmp_path, {"train": splits["Training"]})
    with pytest.raises(DatasetError, match="class folders directly"):
        load_split(tmp_path / "train", "train")


def test_corrupt_and_foreign_files_are_counted_skips(tmp_path: Path, splits, caplog) -> None:
    root = write_folder(tmp_path / "faces", {"train": splits["Training"]})
    happy = root / "train" / FOLDER_NAMES["happy"]
    png = next(happy.iterdir()).read_bytes()
    (happy / "truncated.png").write_bytes(png[: len(png) // 2])
    (happy / "garbage.png").write_bytes(b"not a png at all")
    (happy / "notes.txt").write_text("labels checked by hand")
    (happy / ".DS_Store").write_bytes(b"\0")
    with dataset_warnings(caplog):
        faces = load_split(root, "train")
    assert len(faces) == len(splits["Training"][1])
    reasons = {s.where.split("/")[-1]: s.reason for s in faces.skipped}
    assert set(reasons) == {"truncated.png", "garbage.png", "notes.txt"}
    assert "corrupt" in reasons["garbage.png"]
    assert "skipped 3 of" in caplog.text


def test_other_sizes_and_colour_images_become_gray_input_size(tmp_path: Path) -> None:
    folder = tmp_path / "faces" / "test" / "surprised"
    folder.mkdir(parents=True)
    colour = np.zeros((96, 80, 3), np.uint8)
    colour[..., 2] = 200
    cv2.imwrite(str(folder / "a.jpg"), colour)
    faces = load_split(tmp_path / "faces", "test", input_size=(64, 64))
    assert faces.images.shape == (1, 64, 64)
    assert faces.labels.tolist() == [EMOTIONS.index("surprise")]


def test_validation_is_held_out_by_class_and_reproducible(tmp_path: Path, splits) -> None:
    root = write_folder(tmp_path / "faces",
                        {"train": make_faces(10, seed=4), "test": splits["PrivateTest"]})
    first = load_training_splits(root, val_fraction=0.2, seed=7)
    again = load_training_splits(root, val_fraction=0.2, seed=7)
    np.testing.assert_array_equal(first.val.images, again.val.images)
    assert np.all(first.val.class_counts() == 2)
    assert np.all(first.train.class_counts() == 8)
    train_set = {im.tobytes() for im in first.train.images}
    assert not any(im.tobytes() in train_set for im in first.val.images)
    assert first.test is not None and len(first.test) == len(splits["PrivateTest"][1])


def test_a_validation_folder_is_used_as_is(tmp_path: Path, splits) -> None:
    root = write_folder(tmp_path / "faces", {"train": splits["Training"],
                                             "Validation": splits["PublicTest"]})
    parts = load_training_splits(root)
    assert len(parts.train) == len(splits["Training"][1])
    assert len(parts.val) == len(splits["PublicTest"][1])
    assert parts.test is None


def test_split_off_needs_two_faces_of_some_class() -> None:
    images, labels = make_faces(1, seed=5)
    with pytest.raises(DatasetError, match="too few faces"):
        split_off(FaceSet(images, labels, "tiny"), 0.1, seed=0)


HEADER = "emotion,pixels,Usage\n"


def _row(label: int, usage: str, value: int = 7) -> str:
    return f"{label},{_pixels(np.full((48, 48), value, np.uint8))},{usage}\n"


def _training_csv(tmp_path: Path, extra: str = "", prefix: bytes = b"") -> Path:
    rows = "".join(_row(i % 7, usage) for usage in ("Training", "PublicTest", "PrivateTest")
                   for i in range(14))
    path = tmp_path / "fer2013.csv"
    path.write_bytes(prefix + (HEADER + rows + extra).encode("utf-8"))
    return path


def test_rows_with_an_empty_usage_land_in_no_split(tmp_path: Path, caplog) -> None:
    """They used to go to training, validation and test at once, inflating test accuracy."""
    path = _training_csv(tmp_path, extra=_row(3, "", value=200) + _row(3, " ", value=200))
    with dataset_warnings(caplog):
        splits = load_training_splits(path)
    for faces in (splits.train, splits.val, splits.test):
        assert len(faces) == 14 and not (faces.images == 200).all(axis=(1, 2)).any()
        assert [s.reason for s in faces.skipped] == ["empty Usage", "empty Usage"]
    assert "empty Usage" in caplog.text
    assert list_splits(path) == ["PrivateTest", "PublicTest", "Training"]


def test_a_field_over_the_csv_limit_is_a_counted_skip(tmp_path: Path) -> None:
    path = _training_csv(tmp_path, extra=f"3,{'1 ' * 70000},Training\n")
    faces = load_split(path, "Training")
    assert len(faces) == 14
    (skipped,) = faces.skipped
    assert "field larger than field limit" in skipped.reason and "line 44" in skipped.where


def test_a_utf8_bom_before_the_header_is_accepted(tmp_path: Path) -> None:
    path = _training_csv(tmp_path, prefix=b"\xef\xbb\xbf")
    assert len(load_split(path, "Training")) == 14


def test_a_file_that_is_not_utf8_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_bytes(HEADER.encode() + _row(1, "Training").encode() + b"2,\xff\xfe 1 2,Training\n")
    with pytest.raises(DatasetError) as refused:
        load_split(path, "Training")
    assert "not a UTF-8 text file" in str(refused.value) and "\n" not in str(refused.value)


def test_fer_commands_report_a_bad_csv_in_one_line(tmp_path: Path) -> None:
    import subprocess

    from ros_harness import executable

    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + "3,caf\xe9,Training\n".encode("latin-1"))
    run = subprocess.run([*executable("fer"), "evaluate", "mini_xception", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "not a UTF-8 text file" in run.stderr and "Traceback" not in run.stderr


def test_a_fifo_among_a_folders_images_is_a_counted_skip(tmp_path: Path) -> None:
    """np.fromfile on a FIFO named like an image blocked the whole load for good."""
    import os
    import time

    root = write_folder(tmp_path / "faces", {"train": make_faces(6, 0)})
    happy = root / "train" / FOLDER_NAMES["happy"]
    os.mkfifo(happy / "pipe.png")
    started = time.monotonic()
    faces = load_split(root, "train")
    assert time.monotonic() - started < 30
    (skipped,) = faces.skipped
    assert "pipe.png" in skipped.where and "named pipe" in skipped.reason


LONG_LINE = 48 << 20
"""A line far over the reader's bound, still quick to write: its cost before the bound was a
multiple of its length (a 2 GiB one took 4.7 GB), after it a few MB whatever its length."""


def _peak_python_memory(work) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("body", ["x", "\0", "1 "])
def test_a_csv_without_line_breaks_is_refused_in_bounded_memory(tmp_path: Path, body) -> None:
    """The CSV reader took the whole line before looking at its fields, then said the header
    had a field over the limit."""
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage" + body * (LONG_LINE // len(body)))

    def load() -> None:
        with pytest.raises(DatasetError) as refused:
            load_split(path, "Training")
        message = str(refused.value)
        assert message.startswith(f"{path} line 1: not a FER-2013 CSV"), message
        assert f"longer than {MAX_CSV_LINE_CHARS} characters" in message and "\n" not in message

    assert _peak_python_memory(load) < 8 << 20


def test_an_overlong_row_is_a_counted_skip_read_in_bounded_memory(tmp_path: Path) -> None:
    path = _training_csv(tmp_path, extra=f"3,{'1 ' * (LONG_LINE // 2)},Training\n"
                         + _row(4, "Training") + "5,1 2\r" + "9" * LONG_LINE)
    faces: list[FaceSet] = []
    peak = _peak_python_memory(lambda: faces.append(load_split(path, "Training")))
    assert peak < 8 << 20
    (faces,) = faces
    assert len(faces) == 15 and faces.labels[-1] == 4
    assert [(s.where, s.reason.split(" (")[0]) for s in faces.skipped] == [
        ("fer2013.csv line 44", f"line longer than {MAX_CSV_LINE_CHARS} characters"),
        ("fer2013.csv line 46", "empty Usage"),  # the \r ended the line
        ("fer2013.csv line 47", f"line longer than {MAX_CSV_LINE_CHARS} characters")]


def test_a_csv_whose_only_row_is_overlong_names_that_line(tmp_path: Path) -> None:
    """Not only 'no rows with Usage Training (found: none)': the line that could not be read
    is named, for training and for one split alike."""
    path = tmp_path / "fer2013.csv"
    path.write_text(HEADER + f"3,{'1 ' * (LONG_LINE // 2)},Training\n")
    for load in (lambda: load_training_splits(path), lambda: load_split(path, "PrivateTest")):
        with pytest.raises(DatasetError) as refused:
            load()
        assert "fer2013.csv line 2: line longer than" in str(refused.value)
