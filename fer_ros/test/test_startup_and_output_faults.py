"""Node start-up and `fer bringup` output against what a hostile round found: a full disk
under --output, /dev/null as a camera, a malformed parameter file, two nodes with one name,
and SIGHUP. Real processes over DDS, a real tmpfs filled by the run itself."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from fer_ros.nodes.recording.output_folder import RECORDS_NAME
from full_disk import small_disk
from ros_harness import NodeProcess, executable
from test_bringup import RUN_TIMEOUT, bringup


def one_line(run: subprocess.CompletedProcess, *words: str) -> str:
    """The single line of stderr naming ``words``; no traceback anywhere."""
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if all(w in line for w in words)]
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_bringup_output_on_a_full_disk_is_one_line_and_keeps_whole_records(ros_env, tmp_path):
    """Used to end in a traceback from the JSON-lines write."""
    with small_disk(tmp_path / "disk", "1m") as disk:
        run = subprocess.run(bringup("--frames", "300", "--output", str(disk / "out"),
                                     "--png-every", "1"),
                             env=ros_env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert run.returncode == 1, run.stdout + run.stderr
        one_line(run, "error", "No space left")
        lines = (disk / "out" / RECORDS_NAME).read_text().splitlines()
        assert all(json.loads(line)["faces"] is not None for line in lines)
        assert not list((disk / "out").rglob("*.tmp"))


def test_bringup_with_dev_null_as_camera_fails_with_a_clear_line(ros_env):
    """Used to exit 0 after 0 frames (or retry for ever, as an unplugged camera)."""
    run = subprocess.run(bringup("--source", "/dev/null", "--frames", "5"), env=ros_env,
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert run.returncode == 1, run.stdout + run.stderr
    one_line(run, "/dev/null is not a camera")


@pytest.mark.parametrize("text, words", [
    ("emotion_node:\n  ros__parameters:\n    model: [unclosed\n", ("not valid YAML", "line 4")),
    ("- just\n- a list\n", ("maps node names",)),
])
def test_a_malformed_parameter_file_is_one_line(ros_env, tmp_path, text, words):
    params = tmp_path / "params.yaml"
    params.write_text(text)
    for command in ([*executable("emotion_node"), "--ros-args", "--params-file", str(params)],
                    bringup("--emotion-params", str(params), "--frames", "1")):
        run = subprocess.run(command, env=ros_env, capture_output=True, text=True,
                             timeout=RUN_TIMEOUT)
        assert run.returncode == 1, run.stderr
        assert str(params) in one_line(run, "cannot start", *words)
        assert "[rcl]" not in run.stderr, run.stderr


def test_two_emotion_nodes_with_one_name_warn_and_sighup_stops_cleanly(ros_env, tmp_path):
    """Two namesakes used to start without a word; SIGHUP killed a node without its shutdown."""
    command = [*executable("emotion_node"), "--ros-args", "-p", "model:=mini_xception",
               "-p", "detector:=haar"]
    first = NodeProcess(command, ros_env, tmp_path / "first.log")
    second = NodeProcess(command, ros_env, tmp_path / "second.log")
    try:
        for node in (first, second):
            assert node.wait_for_output("ready:", 60), node.output
        assert first.wait_for_output("2 nodes named /emotion_node", 20) \
            or second.wait_for_output("2 nodes named /emotion_node", 1), \
            first.output + second.output
    finally:
        codes = [node.stop(signal.SIGHUP, timeout=10)[0] for node in (first, second)]
    assert codes == [0, 0], first.output + second.output
    assert "Traceback" not in first.output + second.output


def test_a_calibration_file_that_is_a_fifo_is_refused_unread(tmp_path):
    """read_text on a FIFO blocked the camera node's start-up for good."""
    import os

    from fer_ros.sources.calibration import CalibrationError, load_calibration

    path = tmp_path / "camera.yaml"
    os.mkfifo(path)
    with pytest.raises(CalibrationError, match="named pipe"):
        load_calibration(path)
