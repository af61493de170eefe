"""Run-time model changes that used to kill, wedge or bloat the node: a name too long for the
file system, a metadata.json that is a FIFO or a link to /dev/zero, an ensemble of a thousand
members. Each must be refused within a second, with its reason, and the running model must
stay. The same files given to `fer predict --model` (load_classifier) are refused alike."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import cv2
import pytest
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient

from emotion_session import Session
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.ensemble import MAX_ENSEMBLE_MEMBERS
from fer_ros.perception.limits.files import MAX_METADATA_BYTES
from fer_ros.perception.model_files import ModelLoadError, bundled_model
from frames import astronaut_frame, image_msg
from optional_dependencies import needs_tensorflow
from ros_harness import executable, wait_until

REPLY_BOUND_S = 1.0
"""Every parameter call must be answered within this (the rule the hostile round set)."""


def export_folder(root: Path, metadata: str) -> Path:
    """An export folder with a real model whose metadata.json is ``metadata`` (a kind)."""
    folder = root / f"export_{metadata}"
    folder.mkdir()
    shutil.copy(bundled_model("fer_mini_xception.tflite"), folder / "model.tflite")
    target = folder / "metadata.json"
    if metadata == "fifo":
        os.mkfifo(target)
    elif metadata == "zero":
        target.symlink_to("/dev/zero")
    elif metadata == "huge":
        with open(target, "wb") as out:
            out.truncate(MAX_METADATA_BYTES + 1)
    return folder


def hostile_values(root: Path) -> list[tuple[str, str, str]]:
    """(what, model value, words the refusal must contain)."""
    return [
        ("300-character name", "m" * 300, "longer than"),
        ("300-character file name in a folder", str(root / ("x" * 300 + ".tflite")),
         "longer than"),
        ("FIFO metadata.json", str(export_folder(root, "fifo")), "named pipe"),
        ("metadata.json linked to /dev/zero", str(export_folder(root, "zero")),
         "character device"),
        ("metadata.json over the cap", str(export_folder(root, "huge")), "larger than"),
        ("1000-member ensemble", ",".join(["mini_xception"] * 1000), "accepted"),
        (f"{MAX_ENSEMBLE_MEMBERS + 1}-member ensemble",
         ",".join(["mini_xception"] * (MAX_ENSEMBLE_MEMBERS + 1)), "accepted"),
        ("model file linked to /dev/zero", "/dev/zero", "character device"),
    ]


def set_model(client: AsyncParameterClient, value: str):
    """The SetParameters result and how long the reply took; None if none came in 10 s."""
    started = time.monotonic()
    future = client.set_parameters([Parameter("model", value=value)])
    wait_until(future.done, 10.0)
    took = time.monotonic() - started
    return (future.result().results[0] if future.done() else None), took


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_hostile_model_values_are_refused_at_once_and_the_model_stays(ros_domain, ros_env,
                                                                      tmp_path):
    session = Session(ros_domain, ros_env, tmp_path, "model:=mini_xception")
    try:
        client = AsyncParameterClient(session.peer.node, "emotion_node")
        assert client.wait_for_services(timeout_sec=10)
        frame, _ = astronaut_frame()
        before = rss_mb(session.node.process.pid)
        for what, value, words in hostile_values(tmp_path):
            result, took = set_model(client, value)
            assert result is not None, f"{what}: no reply\n{session.node.output}"
            assert took < REPLY_BOUND_S, f"{what}: reply after {took:.2f} s"
            assert not result.successful and words in result.reason, (what, result.reason)
            assert session.node.alive(), f"{what} ended the node\n{session.node.output}"
            answer = session.send(image_msg(frame, session.next_stamp()))
            assert answer is not None and answer.emotions[0].label == "happy", what
        grown = rss_mb(session.node.process.pid) - before
        assert grown < 100, f"RSS grew by {grown:.0f} MB over the refusals"
        got = client.get_parameters(["model"])
        assert wait_until(got.done, 10)
        assert got.result().values[0].string_value == "mini_xception"
        assert "loaded and in use" not in session.node.output
    finally:
        code, _ = session.close()
    assert code == 0, session.node.output


def test_a_symlinked_model_is_accepted(ros_domain, ros_env, tmp_path):
    """Users link models into place: a link to a regular file is a regular file."""
    link = tmp_path / "linked.tflite"
    link.symlink_to(bundled_model("fer_mini_xception.tflite"))
    link.with_suffix(".json").symlink_to(bundled_model("fer_mini_xception.json"))
    classifier = load_classifier(link)
    assert classifier.path == link


@pytest.mark.parametrize("kind, words", [
    ("fifo", "named pipe"), ("zero", "character device"), ("huge", "larger than")])
def test_fer_predict_refuses_a_metadata_file_that_is_not_regular_without_reading_it(
        tmp_path, kind, words):
    """`fer predict --model` on a /dev/zero metadata link reached 2.5 GB in 2 s; on a FIFO it
    never returned."""
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as refused:
        load_classifier(export_folder(tmp_path, kind))
    assert words in str(refused.value) and "metadata.json" in str(refused.value)
    assert time.monotonic() - started < REPLY_BOUND_S


def test_an_ensemble_has_a_maximum_number_of_members():
    with pytest.raises(ModelLoadError, match=f"more than the {MAX_ENSEMBLE_MEMBERS} accepted"):
        load_classifier(",".join(["mini_xception"] * (MAX_ENSEMBLE_MEMBERS + 1)))
    assert len(load_classifier(",".join(["mini_xception"] * MAX_ENSEMBLE_MEMBERS)).members) \
        == MAX_ENSEMBLE_MEMBERS


@needs_tensorflow
def test_a_model_that_outputs_nan_is_refused_at_load(tmp_path):
    """A diverged training run's export passed every step: `fer predict --json` wrote NaN,
    which is not JSON, for every face."""
    from broken_models import nan_export

    model = nan_export(tmp_path / "nan_model")
    with pytest.raises(ModelLoadError, match="not a finite number") as refused:
        load_classifier(model)
    assert "model.keras" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(ModelLoadError, match="not a finite number"):
        load_classifier(f"mini_xception,{model}")
    frame, _ = astronaut_frame()
    image, out = tmp_path / "face.png", tmp_path / "result.json"
    cv2.imwrite(str(image), frame)
    run = subprocess.run([*executable("fer"), "predict", str(image), "--model", str(model),
                          "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    ours = [line for line in run.stderr.splitlines() if line.startswith("fer predict:")]
    assert len(ours) == 1 and "not a finite number" in ours[0], run.stderr[-2000:]
    assert not out.exists()


@needs_tensorflow
def test_a_nan_model_set_at_run_time_is_refused_and_the_model_stays(ros_domain, ros_env,
                                                                   tmp_path):
    from broken_models import nan_export

    model = nan_export(tmp_path / "nan_model")
    session = Session(ros_domain, ros_env, tmp_path, "model:=mini_xception")
    try:
        client = AsyncParameterClient(session.peer.node, "emotion_node")
        assert client.wait_for_services(timeout_sec=10)
        result, _ = set_model(client, str(model))
        assert result is not None, session.node.output
        assert wait_until(lambda: "not a finite number" in session.node.output, 120), \
            session.node.output
        frame, _ = astronaut_frame()
        answer = session.send(image_msg(frame, session.next_stamp()))
        assert answer is not None and answer.emotions[0].label == "happy"
        assert all(0.0 <= p <= 1.0 for p in answer.emotions[0].scores)
        assert session.node.alive()
        assert "loaded and in use" not in session.node.output
    finally:
        code, _ = session.close()
    assert code == 0, session.node.output
