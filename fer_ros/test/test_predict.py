"""`fer predict` as a user runs it: a real process on real image files."""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np

from fer_ros.perception.labels import EMOTIONS
from frames import astronaut_frame, iou
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
    assert iou(tuple(record["box"]), face) > 0.5
    assert record["label"] == "happy"
    assert list(record["scores"]) == list(EMOTIONS)
    assert abs(sum(record["scores"].values()) - 1.0) < 1e-3
    assert record["confidence"] == max(record["scores"].values())


def test_predict_prints_a_table_without_json(tmp_path):
    frame, _ = astronaut_frame()
    path = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(path), frame)
    run = subprocess.run([*executable("fer"), "predict", str(path), str(tmp_path / "gone.png")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "happy" in run.stdout and "astronaut.jpg" in run.stdout
    assert "gone.png: no such file" in run.stderr
