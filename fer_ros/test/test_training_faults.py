"""`fer train` and `fer evaluate` against malformed CSVs, files that are not files, and signals
part-way through a training run: one line naming the file and row, and an interrupted run keeps
its last finished epoch's checkpoint. Small datasets; one training subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fer_ros.learning import evaluation, training
from fer_ros.learning.interruption import StopSignals
from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.model_files import bundled_model
from full_disk import fill, small_disk
from optional_dependencies import needs_tensorflow
from ros_harness import executable, wait_until
from synthetic_faces import standard_splits, write_csv
from test_training import evaluate_args, train_args

pytestmark = [needs_tensorflow, pytest.mark.filterwarnings(
    # Raised inside Keras' own fit loop under NumPy 2; nothing this package can change.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)]
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


def test_bad_learning_rates_and_epochs_are_refused_from_the_command_line(tmp_path):
    """`fer train --learning-rate nan` (and -1) trained and exported a model that outputs NaN;
    `--epochs 0` trained 50 epochs. test_training_options covers every value of every option."""
    dataset = write_csv(tmp_path / "fer2013.csv", standard_splits(per_class=2, held_out=1))
    for option in ("--learning-rate=nan", "--learning-rate=-1", "--epochs=0"):
        out = tmp_path / "out"
        done = subprocess.run([*executable("fer"), "train", str(dataset), "--out", str(out),
                               "--arch", "seed", "--batch-size", "8", option],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, (option, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, done.stderr
        ours = [line for line in done.stderr.splitlines() if line.startswith("fer train:")]
        assert len(ours) == 1 and ours[0].startswith(
            f"fer train: error: {option.split('=')[0]}"), done.stderr
        assert not out.exists(), option


def test_a_run_whose_loss_becomes_nan_stops_without_exporting(tmp_path, capsys):
    """Weights that turn NaN in epoch 2 (what a too-high learning rate does): the run stops at
    that batch, says why and what to do, keeps epoch 1's checkpoint and exports nothing."""
    import keras

    dataset = write_csv(tmp_path / "fer2013.csv", standard_splits(per_class=4, held_out=2))
    out = tmp_path / "model"

    def poison(batch: int, logs=None) -> None:
        if poisoner.epoch == 1 and batch == 2:
            model = poisoner.model
            model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])

    poisoner = keras.callbacks.LambdaCallback(on_train_batch_begin=poison)
    poisoner.epoch = 0
    poisoner.on_epoch_begin = lambda epoch, logs=None: setattr(poisoner, "epoch", epoch)
    config = training.TrainConfig(dataset=dataset, out=out, arch="seed", epochs=4, batch_size=8,
                                  seed=1, verbose=0)
    with pytest.raises(training.TrainingError) as stopped:
        training.train(config, callbacks=(poisoner,))
    message = str(stopped.value)
    for words in ("loss nan in epoch 2, batch 3", "diverged", "nothing was exported",
                  "epochs 1 to 1 are kept", "lower --learning-rate"):
        assert words in message, message
    assert not (out / "metadata.json").exists()
    assert json.loads((out / training.STATE_FILE).read_text())["completed_epochs"] == 1
    assert len((out / training.HISTORY_FILE).read_text().splitlines()) == 2
    assert sorted(p.name for p in (out / training.CHECKPOINT_DIR).iterdir()) == [
        "best.keras", "last.keras"]
    from fer_ros.learning.export import load_keras

    last = load_keras(out / training.CHECKPOINT_DIR / "last.keras", compile=False)
    assert all(np.isfinite(w).all() for w in last.get_weights())


def test_fine_tuning_a_model_that_outputs_nan_is_refused_before_training(tmp_path, capsys):
    from broken_models import nan_export

    dataset = write_csv(tmp_path / "fer2013.csv", standard_splits(per_class=2, held_out=1))
    out = tmp_path / "tuned"
    status = training.run(train_args(dataset, "--out", out, "--init-model",
                                     nan_export(tmp_path / "nan_model"), "--epochs", 3))
    assert status == 2
    one_error_line(capsys.readouterr().err, "fer train", "model.keras", "not finite numbers",
                   "nothing to fine-tune")
    assert not out.exists()


def _unusable_out(kind: str, root: Path, stack: contextlib.ExitStack) -> Path:
    if kind == "a file":
        (root / "out").write_text("keep me\n")
        return root / "out"
    if kind == "under a file":
        (root / "file").write_text("keep me\n")
        return root / "file" / "out"
    disk = stack.enter_context(small_disk(root / "disk", read_only=kind == "read-only"))
    if kind == "a full disk":
        fill(disk)
    return disk / "out"


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()[:64])
            for p in sorted(root.rglob("*")) if p.name != "fer2013.csv"}


@pytest.mark.parametrize("kind, words", [
    ("a file", "is a file, not a folder"), ("under a file", "is a file, not a folder"),
    ("read-only", "read-only file system"), ("a full disk", "free on its disk")])
def test_an_unusable_out_folder_is_refused_before_any_work(tmp_path, capsys, kind, words):
    """--out on a read-only or full disk, or naming a file, ended in tracebacks after the
    dataset was loaded, leaving `.last.partial.keras` or an empty checkpoints/."""
    dataset = write_csv(tmp_path / "fer2013.csv", standard_splits(per_class=2, held_out=1))
    with contextlib.ExitStack() as stack:
        out = _unusable_out(kind, tmp_path, stack)
        before = _tree(tmp_path)
        assert training.run(train_args(dataset, "--out", out, "--arch", "seed", "--epochs", 1,
                                       "--batch-size", 8)) == 2
        one_error_line(capsys.readouterr().err, "fer train", "--out", words)
        assert _tree(tmp_path) == before
        model = bundled_model("fer_mini_xception.tflite")
        assert evaluation.run(evaluate_args(str(model), dataset, "--split", "Training",
                                            "--out", out)) == 2
        one_error_line(capsys.readouterr().err, "fer evaluate", "--out", words)
        assert _tree(tmp_path) == before


def test_a_full_disk_during_a_write_leaves_no_partial_file(tmp_path):
    """A checkpoint or export that runs out of room part-way is removed, not left as
    `.last.partial.keras` beside the previous one."""
    from broken_models import tiny_model
    from fer_ros.learning.export import save_keras_atomic, write_bytes_atomic
    from fer_ros.perception.expressions.model_metadata import ModelMetadata

    model = tiny_model(7)
    with small_disk(tmp_path / "disk", size="64k") as disk:
        with pytest.raises(OSError):
            write_bytes_atomic(disk / "model_float16.tflite", bytes(1 << 20))
        with pytest.raises(OSError):
            ModelMetadata(source="x" * (1 << 17)).save(disk / "metadata.json")
        fill(disk)
        with pytest.raises(OSError):
            save_keras_atomic(model, disk / "last.keras")
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_a_failed_new_run_leaves_no_empty_folders(tmp_path, capsys):
    """A dataset that cannot be used left `out/checkpoints/` behind, empty."""
    out = tmp_path / "runs" / "first"
    assert training.run(train_args(tmp_path / "missing.csv", "--out", out, "--arch", "seed")) == 2
    one_error_line(capsys.readouterr().err, "fer train", "dataset not found")
    assert not (tmp_path / "runs").exists()


def test_nothing_written_as_json_holds_nan():
    """JSON has no NaN: a metric that is not a finite number is refused where metadata is made
    or read, and a training callback's infinite start value is saved as null."""
    from fer_ros.perception.expressions.model_metadata import ModelMetadata, ModelMetadataError

    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ModelMetadataError, match="finite"):
            ModelMetadata(metrics={"val_accuracy": bad})
        with pytest.raises(ModelMetadataError, match="finite"):
            ModelMetadata.from_dict({"labels": ["a", "b"], "input_size": [48, 48],
                                     "metrics": {"val_accuracy": bad}})
    assert training._plain(np.float32("inf")) is None
    assert training._plain(np.float64(0.5)) == 0.5


@pytest.mark.parametrize("labels", [
    ("a", "b", "c"), tuple("abcdefg"), tuple("abcdefghi"), (*EMOTIONS[:6], "contempt"),
    ("angry", "anger", *EMOTIONS[2:])])
def test_evaluate_refuses_a_model_whose_labels_are_not_the_datasets_classes(tmp_path, capsys,
                                                                            labels):
    """Three labels ended in a reshape traceback; seven or nine other labels were scored, and
    printed, under names that were not the faces' classes."""
    from broken_models import export, tiny_model

    dataset = write_csv(tmp_path / "fer2013.csv", standard_splits(per_class=2, held_out=1))
    model = export(tmp_path / "model", tiny_model(len(labels)), labels)
    assert evaluation.run(evaluate_args(model, dataset)) == 2
    one_error_line(capsys.readouterr().err, "fer evaluate", "are not the dataset's classes",
                   ", ".join(labels))
    assert sorted(p.name for p in model.iterdir()) == ["metadata.json", "model.keras"]


def test_evaluate_scores_the_seven_classes_in_any_order_and_spelling(tmp_path):
    """The same model with its outputs and labels rotated (and spelled as synonyms) scores the
    same confusion matrix, under the dataset's class names."""
    from broken_models import export, tiny_model
    from fer_ros.learning.datasets import load_split

    dataset = write_csv(tmp_path / "fer2013.csv", standard_splits(per_class=3, held_out=3))
    faces = load_split(dataset, "PrivateTest")
    plain = tiny_model(len(EMOTIONS), seed=5)
    rotation = [(i + 1) % len(EMOTIONS) for i in range(len(EMOTIONS))]
    rotated = tiny_model(len(EMOTIONS))
    *body, (weights, bias) = [layer.get_weights() for layer in plain.layers]
    for layer, values in zip(rotated.layers, body):
        layer.set_weights(values)
    rotated.layers[-1].set_weights([weights[:, rotation], bias[rotation]])
    spelled = {"angry": "Anger", "happy": "Happiness", "surprise": "Surprised"}
    labels = tuple(spelled.get(EMOTIONS[i], EMOTIONS[i]) for i in rotation)
    expected = evaluation.evaluate(export(tmp_path / "plain", plain), faces)
    got = evaluation.evaluate(export(tmp_path / "rotated", rotated, labels), faces)
    assert got.scores.labels == EMOTIONS
    np.testing.assert_array_equal(got.scores.confusion, expected.scores.confusion)
    assert got.scores.confusion.sum() == len(faces)
