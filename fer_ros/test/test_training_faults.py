"""`fer train` and `fer evaluate` against malformed CSVs, files that are not files, and signals
part-way through a training run: one line naming the file and row, and an interrupted run keeps
its last finished epoch's checkpoint. Small datasets; one training subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fer_ros.learning import evaluation, training
from fer_ros.learning.interruption import StopSignals
from fer_ros.perception.model_files import bundled_model
from optional_dependencies import needs_tensorflow
from ros_harness import executable, wait_until
from synthetic_faces import standard_splits, write_csv
from test_training import evaluate_args, train_args

pytestmark = needs_tensorflow
HEADER = "emotion,pixels,Usage\n"
GOOD_PIXELS = " ".join(["7"] * 2304)


def malformed_csv(path: Path) -> Path:
    """Every row broken in its own way; line 3's pixel overflowed int64 (a traceback)."""
    rows = [
        f"3,{GOOD_PIXELS[:-1]}9{'9' * 30},Training",  # line 2: far outside 0..255
        f"abc,{GOOD_PIXELS},Training",                 # line 3: emotion not a number
        f"9,{GOOD_PIXELS},Training",                   # line 4: emotion out of range
        "3,1 2 3,Training",                            # line 5: too few pixels
        f"3,{GOOD_PIXELS},Training,extra",             # line 6: a fourth field
    ]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def one_error_line(err: str, *words: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and all(w in lines[0] for w in words), err
    return lines[0]


def test_train_and_evaluate_on_malformed_csv_rows_name_the_file_and_rows(tmp_path, capsys):
    dataset = malformed_csv(tmp_path / "fer2013.csv")
    assert training.run(train_args(dataset, "--out", tmp_path / "out", "--arch", "seed")) == 2
    line = one_error_line(capsys.readouterr().err, "fer train", "fer2013.csv line 2",
                          "far outside 0..255", "fer2013.csv line 3")
    assert "skipped 5 of 5" in line
    model = bundled_model("fer_mini_xception.tflite")
    assert evaluation.run(evaluate_args(str(model), dataset, "--split", "Training")) == 2
    one_error_line(capsys.readouterr().err, "fer evaluate", "fer2013.csv line 2")


@pytest.mark.parametrize("kind, words", [("fifo", "named pipe"), ("zero", "character device")])
def test_a_csv_that_is_no_regular_file_is_refused_before_reading(tmp_path, capsys, kind, words):
    """A FIFO blocked `fer train` for good; /dev/zero is one endless line."""
    dataset = tmp_path / "fer2013.csv"
    if kind == "fifo":
        os.mkfifo(dataset)
    else:
        dataset.symlink_to("/dev/zero")
    started = time.monotonic()
    assert training.run(train_args(dataset, "--out", tmp_path / "out", "--arch", "seed")) == 2
    one_error_line(capsys.readouterr().err, "fer train", str(dataset), words)
    assert evaluation.run(evaluate_args("mini_xception", dataset)) == 2
    one_error_line(capsys.readouterr().err, "fer evaluate", words)
    assert time.monotonic() - started < 5


def test_a_signal_outside_the_fit_stops_at_once_and_inside_waits_for_the_batch():
    with StopSignals() as stop:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(1)
        assert stop.name == "SIGHUP"
        stop.received = None
        with stop.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # a handler that raised would have raised here
            with pytest.raises(KeyboardInterrupt):
                stop.check()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_sigterm_during_training_keeps_the_last_finished_epoch(tmp_path):
    dataset = write_csv(tmp_path / "fer2013.csv", standard_splits(per_class=20, held_out=4))
    out = tmp_path / "model"
    process = subprocess.Popen(
        [*executable("fer"), "train", str(dataset), "--out", str(out), "--arch", "seed",
         "--epochs", "500", "--batch-size", "4", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state_file = out / training.STATE_FILE
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.append(process.stderr.read()), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: state_file.is_file() or process.poll() is not None, 240, 0.1)
        assert process.poll() is None, process.stdout.read() + "".join(output)
        time.sleep(0.5)  # part-way through the next epoch
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        process.kill()
    reader.join(timeout=10)
    err = "".join(output)
    assert process.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "interrupted by SIGTERM" in err and "--resume" in err and "Traceback" not in err
    state = json.loads(state_file.read_text())
    done = state["completed_epochs"]
    assert 1 <= done < 500
    history = (out / training.HISTORY_FILE).read_text().splitlines()
    assert len(history) == done + 1, (done, history)
    checkpoints = out / training.CHECKPOINT_DIR
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best.keras", "last.keras"]
    from fer_ros.learning.export import load_keras

    assert load_keras(checkpoints / "last.keras", compile=False).output_shape == (None, 7)
