"""`fer predict`'s outputs against devices, full disks and signals: real processes, a real
tmpfs filled to the last byte, real signals part-way through a run."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import cv2
import pytest

from frames import astronaut_frame
from full_disk import fill, small_disk
from ros_harness import executable, wait_until
from test_predict import fer_predict, one_error_line


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.resize(astronaut_frame()[0], (320, 240)))
    return path


def many(image: Path, folder: Path, count: int) -> Path:
    """A folder of ``count`` links to one image."""
    folder.mkdir()
    for i in range(count):
        (folder / f"img{i:04d}.png").symlink_to(image)
    return folder


def no_traceback(run: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in run.stderr + run.stdout, run.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can write to /dev/full's inode")
def test_json_to_a_device_is_refused_and_the_device_stays(image):
    """As root, the rename used to replace /dev/full with a JSON file."""
    one_error_line(fer_predict(image, "--json", "/dev/full"), "/dev/full", "not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_json_to_proc_version_is_one_line(image):
    run = fer_predict(image, "--json", "/proc/version")
    assert run.returncode == 2, run.stderr
    no_traceback(run)
    assert "/proc/version" in run.stderr and "Linux" in Path("/proc/version").read_text()


def test_json_on_a_full_disk_is_one_line_and_keeps_the_old_file(image, tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        out = disk / "out.json"
        out.write_text('{"previous": []}\n')
        fill(disk)
        run = fer_predict(image, "--json", out)
        assert run.returncode == 2, run.stderr
        no_traceback(run)
        errors = [line for line in run.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and "No space left" in errors[0], run.stderr
        assert json.loads(out.read_text()) == {"previous": []}
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "out.json"]


def test_annotate_on_a_full_disk_counts_the_copies_not_written(image, tmp_path):
    """Used to report "0 skipped" with status 0 while 998 of 1000 copies were missing."""
    inputs = many(image, tmp_path / "in", 12)
    with small_disk(tmp_path / "disk", "512k") as disk:
        run = fer_predict(inputs, "--annotate", disk / "out")
        no_traceback(run)
        assert run.returncode == 2, run.stderr
        written = sorted((disk / "out").iterdir())
        assert 0 < len(written) < 12, (written, run.stderr)
        assert f"{12 - len(written)} annotated image(s) not written" in run.stderr, run.stderr
        assert run.stderr.count("No space left") == 1, run.stderr
        assert all(p.suffix == ".png" and cv2.imread(str(p)) is not None for p in written)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_part_way_keeps_the_results_so_far(image, tmp_path, sig):
    inputs = many(image, tmp_path / "in", 400)
    out, annotated = tmp_path / "out.json", tmp_path / "annotated"
    process = subprocess.Popen(
        [*executable("fer"), "predict", str(inputs), "--json", str(out), "--annotate",
         str(annotated)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: annotated.is_dir() and any(annotated.iterdir()), 60, 0.05)
        time.sleep(0.2)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr, stderr
    results = json.loads(out.read_text())
    assert 0 < len(results) < 400
    assert f"interrupted after {len(results)} of 400 image(s)" in stderr, stderr
    assert all(faces and faces[0]["label"] == "happy" for faces in results.values())


def test_an_image_file_over_the_size_cap_is_skipped_unread(image, tmp_path):
    from fer_ros.perception.limits.images import MAX_IMAGE_FILE_BYTES

    big = tmp_path / "big.png"
    with open(big, "wb") as out:
        out.write(image.read_bytes())
        out.truncate(MAX_IMAGE_FILE_BYTES + 1)  # sparse: costs no disk
    run = fer_predict(image, big)
    assert run.returncode == 1, run.stderr
    assert "big.png: not a readable image" in run.stderr and "larger than" in run.stderr


def test_scores_that_are_not_finite_are_written_as_null_never_as_nan():
    """JSON has no NaN: `fer predict --json` wrote NaN for every face of a broken model. Models
    are probed at load now (test_model_changes); a face whose scores still come out NaN is
    written with null scores, label and confidence, and the file stays JSON."""
    import numpy as np

    from fer_ros.perception.expressions.labels import EMOTIONS
    from fer_ros.perception.pipeline import FaceResult
    from fer_ros.prediction import face_record

    for bad in (np.nan, np.inf):
        scores = np.full(len(EMOTIONS), 0.1, np.float32)
        scores[2] = bad
        face = FaceResult(face_id=0, box=(1, 2, 30, 30), detection_score=0.9, label="angry",
                          confidence=float(bad), scores=scores)
        record = face_record(face, EMOTIONS)
        assert record["label"] is None and record["confidence"] is None
        assert record["scores"]["fear"] is None and record["scores"]["angry"] == 0.1
        assert json.loads(json.dumps(record, allow_nan=False)) == record
