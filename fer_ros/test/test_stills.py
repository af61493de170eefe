"""Stills are stills: `fer predict` gives every image the result it gives that image alone,
whatever came before it, in whatever order the files are given, alone or in a folder.

The images are the real photos of the accuracy set (bench/accuracy.py, fetched by
``make photos``). Results are compared to 1e-6: boxes, labels and every score.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from fer_ros.cli import main as fer
from ros_harness import executable

PHOTOS_DIR = Path(__file__).resolve().parent / "photos"
PHOTOS = sorted(PHOTOS_DIR.glob("*/*.jpg"))
TOLERANCE = 1e-6

pytestmark = pytest.mark.skipif(
    not PHOTOS, reason=f"no photos in {PHOTOS_DIR}: run 'make photos' (pinned, sha256-checked)")


def predict_process(inputs: list[Path], out: Path) -> dict[str, list[dict]]:
    """`fer predict` as a user runs it: one process for all ``inputs``."""
    run = subprocess.run([*executable("fer"), "predict", *map(str, inputs), "--json", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads(out.read_text())


def predict_in_process(inputs: list[Path], out: Path) -> dict[str, list[dict]]:
    assert fer(["predict", *map(str, inputs), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def assert_same(first: list[dict], second: list[dict], name: str) -> None:
    assert len(first) == len(second), name
    for a, b in zip(first, second):
        assert a["box"] == b["box"], name
        assert a["label"] == b["label"], name
        assert abs(a["confidence"] - b["confidence"]) <= TOLERANCE, name
        assert a["scores"].keys() == b["scores"].keys()
        for label in a["scores"]:
            assert abs(a["scores"][label] - b["scores"][label]) <= TOLERANCE, (name, label)


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> list[Path]:
    """The photos in one folder, so that a folder can be given too; names keep their set."""
    folder = tmp_path_factory.mktemp("stills") / "photos"
    folder.mkdir()
    for photo in PHOTOS:
        shutil.copy(photo, folder / f"{photo.parent.name}-{photo.name}")
    return sorted(folder.iterdir())


@pytest.fixture(scope="module")
def alone(copies, tmp_path_factory) -> dict[str, list[dict]]:
    """Each photo given on its own: the reference."""
    out = tmp_path_factory.mktemp("alone") / "one.json"
    return {str(p): predict_in_process([p], out)[str(p)] for p in copies}


def test_the_photos_hold_faces(alone):
    """The comparison is worth something: most photos have faces, some several."""
    counts = [len(faces) for faces in alone.values()]
    assert sum(counts) >= 40 and max(counts) >= 4, counts


def test_sorted_and_reversed_runs_give_each_photo_its_result_alone(copies, alone, tmp_path):
    forward = predict_process(copies, tmp_path / "sorted.json")
    backward = predict_process(list(reversed(copies)), tmp_path / "reversed.json")
    assert set(forward) == set(backward) == set(alone)
    for name, reference in alone.items():
        assert_same(forward[name], reference, name)
        assert_same(backward[name], reference, name)


def test_a_folder_and_a_shuffled_list_give_each_photo_its_result_alone(copies, alone,
                                                                       tmp_path):
    folder = predict_in_process([copies[0].parent], tmp_path / "folder.json")
    shuffled = list(copies)
    random.Random(7).shuffle(shuffled)
    mixed = predict_in_process(shuffled, tmp_path / "shuffled.json")
    for name, reference in alone.items():
        assert_same(folder[name], reference, name)
        assert_same(mixed[name], reference, name)


def test_the_same_photo_twice_in_a_row_gives_the_same_result(copies, alone, tmp_path):
    """What a video pipeline gets wrong most plainly: the second copy would reuse the first's
    track, scores and smoothing."""
    busiest = max(alone, key=lambda name: len(alone[name]))
    twice = tmp_path / "twice"
    twice.mkdir()
    first, second = twice / "a.jpg", twice / "b.jpg"
    shutil.copy(busiest, first)
    shutil.copy(busiest, second)
    results = predict_in_process([first, second], tmp_path / "twice.json")
    assert_same(results[str(first)], alone[busiest], busiest)
    assert_same(results[str(second)], alone[busiest], busiest)
