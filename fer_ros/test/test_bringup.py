"""`fer bringup` as a user runs it (a real subprocess over DDS), and its output helpers."""

from __future__ import annotations

import json
import signal
import subprocess

import cv2
import numpy as np
import pytest

from fer_ros.cli import main as fer_main
from fer_ros.nodes.bringup import config_file
from fer_ros.nodes.recording.face_summary import FaceSummary
from fer_ros.nodes.recording.output_folder import (
    RECORDS_NAME,
    SUMMARY_NAME,
    VIDEO_NAME,
    TimedVideo,
)
from fer_ros.sources.sample import SampleSequence
from ros_harness import NodeProcess, executable

RUN_TIMEOUT = 60


def bringup(*args: str) -> list[str]:
    return [*executable("fer"), "bringup", *args]


def test_fixed_number_of_frames_writes_video_pngs_and_json_lines(ros_env, tmp_path):
    out = tmp_path / "out"
    run = subprocess.run(bringup("--frames", "20", "--output", str(out), "--png-every", "5",
                                 "--summary"),
                         env=ros_env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    records = [json.loads(line) for line in (out / RECORDS_NAME).read_text().splitlines()]
    assert len(records) == 20
    stamps = [r["stamp"] for r in records]
    assert stamps == sorted(stamps) and len(set(stamps)) == 20
    assert all(r["frame_id"] == "camera" for r in records)
    faces = [face for r in records for face in r["faces"]]
    assert len(faces) >= 30, records
    for face in faces:
        assert set(face) == {"face_id", "label", "confidence", "box"}
        assert face["face_id"] >= 1 and 0.0 < face["confidence"] <= 1.0
        assert len(face["box"]) == 4 and face["box"][2] > 0
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["frames"] == 20 and len(summary["faces"]) >= 2
    video = cv2.VideoCapture(str(out / VIDEO_NAME))
    ok, frame = video.read()
    assert ok and frame.shape == (480, 640, 3)
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) >= 15
    video.release()
    pngs = sorted((out / "frames").glob("frame_*.png"))
    assert 2 <= len(pngs) <= 4
    assert cv2.imread(str(pngs[0])).shape == (480, 640, 3)
    assert "done: 20 frames classified" in run.stdout
    assert "face  frames  mean conf  labels" in run.stdout
    assert "Traceback" not in run.stderr


def test_a_parameter_file_with_autostart_false_still_classifies(ros_env, tmp_path):
    """bringup has no lifecycle manager: it always starts the emotion node itself."""
    params = tmp_path / "emotion.yaml"
    params.write_text(config_file("emotion.yaml").read_text().replace("autostart: true",
                                                                      "autostart: false"))
    assert "autostart: false" in params.read_text()
    run = subprocess.run(bringup("--frames", "5", "--emotion-params", str(params)),
                         env=ros_env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "done: 5 frames classified" in run.stdout, run.stdout + run.stderr


def test_sigint_stops_it_promptly_with_complete_output(ros_env, tmp_path):
    out = tmp_path / "out"
    process = NodeProcess(bringup("--output", str(out), "--fps", "15"), ros_env,
                          tmp_path / "bringup.log")
    try:
        assert process.wait_for_output("frames classified,", RUN_TIMEOUT), process.output
    finally:
        code, seconds = process.stop(signal.SIGINT)
    assert code == 0, process.output
    assert seconds < 3.0
    output = process.output
    assert "interrupted:" in output and "Traceback" not in output
    assert "publish on" not in output, output
    records = (out / RECORDS_NAME).read_text().splitlines()
    assert json.loads((out / SUMMARY_NAME).read_text())["frames"] == len(records) > 0


def test_end_of_a_video_file_ends_bringup(ros_env, tmp_path):
    sequence = SampleSequence(320, 240)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for index in range(12):
        writer.write(sequence.frame(index))
    writer.release()
    run = subprocess.run(bringup("--source", str(video), "--summary"), env=ros_env,
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "source ended:" in run.stdout
    assert "end of file" in run.stderr


def test_a_source_that_cannot_work_is_refused(ros_env, tmp_path):
    run = subprocess.run(bringup("--source", str(tmp_path / "missing.mp4")), env=ros_env,
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 1
    assert "cannot start: no such video file or image folder" in run.stderr
    assert "Traceback" not in run.stderr


def test_frames_and_seconds_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exit_info:
        fer_main(["bringup", "--frames", "5", "--seconds", "1"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_installed_config_files_are_found():
    for name in ("camera.yaml", "emotion.yaml"):
        assert "ros__parameters" in config_file(name).read_text()


def test_face_summary_counts_labels_and_confidence():
    summary = FaceSummary()
    for label, confidence in (("happy", 0.9), ("happy", 0.7), ("sad", 0.5)):
        summary.add({"stamp": 0.0, "faces": [
            {"face_id": 3, "label": label, "confidence": confidence, "box": [0, 0, 9, 9]}]})
    summary.add({"stamp": 1.0, "faces": []})
    assert summary.as_dict() == {"frames": 4, "faces": {"3": {
        "frames": 3, "mean_confidence": 0.7, "labels": {"happy": 0.6667, "sad": 0.3333}}}}
    assert summary.lines()[1].split() == ["3", "3", "0.70", "happy", "67%,", "sad", "33%"]
    assert FaceSummary().lines() == ["no faces seen"]


def test_timed_video_holds_frames_across_gaps(tmp_path):
    path = tmp_path / "v.mp4"
    video = TimedVideo(path, fps=10.0)
    frames = [np.full((48, 64, 3), value, np.uint8) for value in (0, 120, 240)]
    for frame, stamp in zip(frames, (5.0, 5.1, 5.5)):
        video.add(frame, stamp)
    video.add(frames[0], 5.49)
    video.close()
    assert video.frames == 6
    capture = cv2.VideoCapture(str(path))
    means = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        means.append(round(float(frame.mean()) / 10))
    capture.release()
    assert means == [0, 12, 12, 12, 12, 24]


def video_frames(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def test_timed_video_fits_frames_of_other_sizes_into_the_first(tmp_path):
    """OpenCV's writer drops frames of another size without a word: each is letterboxed into
    the first frame's size instead (a wide one gets bars above and below, a tall one beside)."""
    path = tmp_path / "v.mp4"
    video = TimedVideo(path, fps=10.0)
    sizes = [(64, 48), (128, 48), (32, 96), (640, 480), (64, 48)]
    for index, (width, height) in enumerate(sizes):
        video.add(np.full((height, width, 3), 200, np.uint8), 1.0 + index / 10)
    video.close()
    assert video.frames == 5 and video.letterboxed == 3
    frames = video_frames(path)
    assert len(frames) == 5 and all(f.shape == (48, 64, 3) for f in frames)
    wide, tall = frames[1], frames[2]
    assert wide[1:4].mean() < 20 and wide[20:28].mean() > 180
    assert tall[:, 1:4].mean() < 20 and tall[:, 28:36].mean() > 180


def test_a_folder_of_photos_of_different_sizes_makes_a_video_of_all_of_them(ros_env, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    sequence = SampleSequence(320, 240)
    for index in range(9):
        width, height = [(320, 240), (480, 240), (200, 300)][index % 3]
        photo = cv2.resize(sequence.frame(index * 10), (width, height))
        cv2.imwrite(str(folder / f"{index}.jpg"), photo)
    out = tmp_path / "out"
    run = subprocess.run(bringup("--source", str(folder), "--fps", "3", "--output", str(out)),
                         env=ros_env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    frames = video_frames(out / VIDEO_NAME)
    described = int(run.stdout.split(f"{out / VIDEO_NAME} (")[1].split(" frames")[0])
    # the first frame may go out before the emotion node listens, and a busy node skips some
    assert len(frames) == described >= 4, run.stdout
    width, height = frames[0].shape[1], frames[0].shape[0]
    assert f"frames of other sizes fitted into {width}x{height}" in run.stdout
    assert all(frame.shape == frames[0].shape for frame in frames)


@pytest.mark.parametrize("value,reason", [
    ("233", "ROS_DOMAIN_ID=233 is out of range: DDS derives its UDP ports from it"),
    ("300", "ROS_DOMAIN_ID=300 is out of range"),
    ("abc", "ROS_DOMAIN_ID='abc' is not a domain id: give a whole number from 0 to 232"),
    ("-1", "ROS_DOMAIN_ID='-1' is not a domain id"),
])
def test_an_invalid_domain_id_is_refused_by_every_executable(ros_env, value, reason):
    env = dict(ros_env, ROS_DOMAIN_ID=value)
    for command, name in ((bringup("--frames", "1"), "fer bringup"),
                          ([*executable("fer"), "view"], "fer view"),
                          (executable("camera_node"), "camera_node"),
                          (executable("emotion_node"), "emotion_node")):
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 1, (name, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{name}: cannot start: {reason}"), (
            name, run.stderr)


def test_timed_video_gives_a_stamp_far_off_its_grid_one_frame_not_seconds(tmp_path):
    """Hostile stamps (2038, 1901, back and forth) or a looping bag restart the grid: each such
    frame is one frame of video, and frames after it are kept, never 5 s of filler each."""
    video = TimedVideo(tmp_path / "v.mp4", fps=10.0)
    frame = np.zeros((48, 64, 3), np.uint8)
    stamps = [100.0, 100.1, 2**31 - 1.0, 100.2, -2.0**31, 100.3, 100.4, 50.0, 50.1]
    for stamp in stamps:
        video.add(frame, stamp)
    video.close()
    assert video.frames == len(stamps)
    assert len(video_frames(tmp_path / "v.mp4")) == len(stamps)
