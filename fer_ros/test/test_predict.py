"""`fer predict` as a user runs it: a real process on real image files."""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np

from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.tracking.tracks import box_iou
from frames import astronaut_frame
from ros_harness import executable


def test_predict_folder_with_an_unreadable_file(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    frame, face = astronaut_frame()
    cv2.imwrite(str(images / "astronaut.png"), frame)
    cv2.imwrite(str(images / "empty.jpg"), np.full((120, 160, 3), 200, np.uint8))
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (images / "notes.txt").write_text("not an image, ignored in folders")
    out = tmp_path / "result.json"

    run = subprocess.run([*executable("fer"), "predict", str(images), "--json", str(out)],
                         capture_output=True, text=True, timeout=120)

    assert run.returncode == 1, run.stderr
    assert "broken.png: not a readable image" in run.stderr
    results = json.loads(out.read_text())
    assert sorted(results) == [str(images / "astronaut.png"), str(images / "empty.jpg")]
    assert results[str(images / "empty.jpg")] == []
    (record,) = results[str(images / "astronaut.png")]
    assert box_iou(tuple(record["box"]), face) > 0.5
    assert record["label"] == "happy"
    assert list(record["scores"]) == list(EMOTIONS)
    assert abs(sum(record["scores"].values()) - 1.0) < 1e-3
    assert record["confidence"] == max(record["scores"].values())


def test_stills_of_one_size_are_each_searched_whole(tmp_path):
    """Stills are independent: an image without faces before images of the same size does not
    put them on a stream's empty-scene cadence."""
    images = tmp_path / "images"
    images.mkdir()
    frame, face = astronaut_frame()
    cv2.imwrite(str(images / "a_empty.png"), np.full_like(frame, 200))
    for name in ("b.png", "c.png", "d.png"):
        cv2.imwrite(str(images / name), frame)
    out = tmp_path / "result.json"
    run = fer_predict(images, "--json", out)
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())
    assert results[str(images / "a_empty.png")] == []
    for name in ("b.png", "c.png", "d.png"):
        (record,) = results[str(images / name)]
        assert box_iou(tuple(record["box"]), face) > 0.5


def test_predict_prints_a_table_without_json(tmp_path):
    frame, _ = astronaut_frame()
    path = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(path), frame)
    run = subprocess.run([*executable("fer"), "predict", str(path), str(tmp_path / "gone.png")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "happy" in run.stdout and "astronaut.jpg" in run.stdout
    assert "gone.png: no such file" in run.stderr


def fer_predict(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*executable("fer"), "predict", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def one_error_line(run: subprocess.CompletedProcess, *words: str) -> None:
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    errors = [line for line in run.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and all(word in errors[0] for word in words), run.stderr


def test_bad_output_and_model_paths_are_one_line_before_any_image(tmp_path):
    frame, _ = astronaut_frame()
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), frame)
    (tmp_path / "file").write_text("x")
    one_error_line(fer_predict(image, "--json", tmp_path / "missing" / "out.json"),
                   "missing", "does not exist")
    one_error_line(fer_predict(image, "--annotate", tmp_path / "file" / "sub"), "--annotate")
    one_error_line(fer_predict(image, "--model", "/dev/zero"), "/dev/zero", "character device")
    one_error_line(fer_predict(image, "--model", tmp_path / "nope.tflite"), "nope.tflite")


def test_annotated_copies_keep_relative_paths(tmp_path):
    frame, _ = astronaut_frame()
    for cam in ("cam1", "cam2"):
        (tmp_path / cam).mkdir()
        cv2.imwrite(str(tmp_path / cam / "img001.jpg"), frame)
    cv2.imwrite(str(tmp_path / "cam1" / "img001.png"), frame)
    out = tmp_path / "out"
    run = fer_predict("cam1", "cam2/img001.jpg", "--annotate", out, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["cam1/img001.jpg.png", "cam1/img001.png", "cam2/img001.png"], written


def test_dangling_links_and_bombs_are_counted_as_skipped(tmp_path):
    from bombs import png_bomb

    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), astronaut_frame()[0])
    (images / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (images / "bomb.png").write_bytes(png_bomb(8000, 8000))
    run = fer_predict(images, "--json", tmp_path / "out.json")
    assert run.returncode == 1, run.stderr
    assert "gone.jpg: dangling symbolic link" in run.stderr
    assert "bomb.png: PNG image of 8000x8000 pixels exceeds" in run.stderr
    assert "1 image(s) processed, 2 skipped" in run.stderr


def test_predict_refuses_a_folder_without_images(tmp_path):
    """A folder of subfolders (one per camera or class) was '0 image(s) processed', status 0,
    and so was an empty folder; subfolders are not searched, so say so."""
    cameras = tmp_path / "cameras"
    (cameras / "cam1").mkdir(parents=True)
    (cameras / "cam2").mkdir()
    frame, _ = astronaut_frame()
    cv2.imwrite(str(cameras / "cam1" / "astronaut.png"), frame)
    empty = tmp_path / "empty"
    empty.mkdir()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("no images here")
    out = tmp_path / "result.json"
    for folder, words in ((cameras, "2 subfolder(s), which are not searched"),
                          (empty, "it is empty"), (notes, "none of its files")):
        run = subprocess.run([*executable("fer"), "predict", str(folder), "--json", str(out)],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, (folder, run.stderr)
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith(f"fer predict: error: {folder}: no image") and words in line, line
        assert not out.exists()


def test_predict_refuses_numbers_out_of_range_before_any_image(tmp_path):
    """`--max-image-pixels -1` ended in a traceback; `--min-face-size -5` was taken as given."""
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), astronaut_frame()[0])
    out = tmp_path / "result.json"
    for option in ("--max-image-pixels=-1", "--max-image-pixels=0", "--min-face-size=-5",
                   "--min-face-size=7", "--min-face-size=4001", "--max-faces=0"):
        run = fer_predict(image, option, "--json", out)
        one_error_line(run, "fer predict", option.split("=")[0])
        assert not out.exists(), option
