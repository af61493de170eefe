"""`fer train` and `fer evaluate` in a runtime install, which has no TensorFlow: one clear
message saying how to install the training set, exit status 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fer_ros import cli
from optional_dependencies import missing
from ros_harness import executable


def arguments(command: str, tmp_path: Path) -> list[str]:
    dataset = str(tmp_path / "fer2013.csv")
    if command == "train":
        return ["train", dataset, "--out", str(tmp_path / "out")]
    return ["evaluate", str(tmp_path / "model"), dataset, "--out", str(tmp_path / "out")]


@pytest.mark.parametrize("command", sorted(cli.NEEDS_TENSORFLOW))
def test_training_commands_say_how_to_install_tensorflow(command, tmp_path, monkeypatch,
                                                         capsys):
    # What `import tensorflow` does where it is not installed: raise ImportError.
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    assert cli.main(arguments(command, tmp_path)) == 2
    err = capsys.readouterr().err
    assert f"fer {command}: needs TensorFlow" in err
    assert "make setup-train" in err and "requirements-train.txt" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not missing("tensorflow"), reason="TensorFlow is installed here; this "
                    "checks the runtime-only install")
def test_fer_train_in_the_runtime_install(tmp_path):
    run = subprocess.run([*executable("fer"), *arguments("train", tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "fer train: needs TensorFlow" in run.stderr and "Traceback" not in run.stderr
