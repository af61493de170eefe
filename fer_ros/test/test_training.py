"""``fer train`` and ``fer evaluate`` end to end, on a tiny learnable dataset.

The faces come from ``synthetic_faces`` (7 classes x 40 training faces, 10 validation and 10
test faces each); the ``seed`` CNN learns them in twelve epochs. Each model is trained once per
module and shared by the tests that inspect it, which keeps the file to about two minutes on two
CPU cores.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_ros.learning import evaluation, training
from fer_ros.learning.architectures import build
from fer_ros.learning.datasets import load_split
from fer_ros.learning.export import float32_copy, load_keras
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.expressions.model_metadata import CropSpec, ModelMetadata
from fer_ros.perception.expressions.preprocessing import normalize
from optional_dependencies import needs_tensorflow
from ros_harness import executable
from synthetic_faces import (
    FOLDER_NAMES,
    TEST_FOLDER_NAMES,
    standard_splits,
    write_csv,
    write_folder,
)

EPOCHS = 12
BATCH = 16
WELL_ABOVE_CHANCE = 0.5
"""Chance is 1/7; the seed CNN reaches 0.85-1.0 on these faces in twelve epochs."""

pytestmark = [needs_tensorflow, pytest.mark.filterwarnings(
    # Raised inside Keras' own fit loop under NumPy 2; nothing this package can change.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)]


def train_args(*argv: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    training.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def evaluate_args(*argv: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    evaluation.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def held_out_batch(dataset: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    faces = load_split(dataset, split)
    batch = normalize(faces.images[..., None].astype(np.float32), ModelMetadata())
    return batch.astype(np.float32), faces.labels


@pytest.fixture(scope="module")
def csv_dataset(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("csv") / "fer2013.csv", standard_splits())


@pytest.fixture(scope="module")
def csv_export(tmp_path_factory, csv_dataset: Path) -> Path:
    out = tmp_path_factory.mktemp("csv_run") / "model"
    status = training.run(train_args(csv_dataset, "--out", out, "--arch", "seed", "--epochs",
                                     EPOCHS, "--batch-size", BATCH, "--seed", 1, "--int8"))
    assert status == 0
    return out


@pytest.fixture(scope="module")
def folder_dataset(tmp_path_factory) -> Path:
    splits = standard_splits()
    root = write_folder(tmp_path_factory.mktemp("folder") / "faces",
                        {"train": splits["Training"], "test": splits["PrivateTest"]},
                        {"train": FOLDER_NAMES, "test": TEST_FOLDER_NAMES})
    (root / "train" / FOLDER_NAMES["sad"] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return root


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory, folder_dataset: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """``fer train`` in its own process, as a user runs it."""
    out = tmp_path_factory.mktemp("folder_run") / "model"
    command = [*executable("fer"), "train", str(folder_dataset), "--out", str(out),
               "--arch", "seed", "--epochs", str(EPOCHS), "--batch-size", str(BATCH),
               "--seed", "2"]
    done = subprocess.run(command, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


def test_csv_training_exports_everything_the_node_needs(csv_export: Path) -> None:
    metadata = ModelMetadata.load(csv_export / "metadata.json")
    assert metadata.labels == EMOTIONS
    assert metadata.files == {"keras": "model.keras", "tflite": "model_float16.tflite",
                              "tflite_int8": "model_int8.tflite"}
    assert all((csv_export / name).is_file() for name in metadata.files.values())
    assert (metadata.input_size, metadata.channels, metadata.normalization) == \
        ((48, 48), 1, "symmetric")
    assert metadata.crop == CropSpec(square=True, margin_frac=0.1)
    assert metadata.architecture == "seed"
    assert "fer2013.csv" in metadata.source
    assert metadata.metrics["test_accuracy"] > WELL_ABOVE_CHANCE
    assert metadata.metrics["epochs_trained"] == EPOCHS
    assert 1 <= metadata.metrics["best_epoch"] <= EPOCHS
    assert {p.name for p in (csv_export / "checkpoints").iterdir()} == {"best.keras",
                                                                       "last.keras"}
    assert not [p for p in csv_export.iterdir() if "partial" in p.name]
    history = evaluation.read_history(csv_export / "history.csv")
    assert history["epoch"] == list(range(EPOCHS))


def test_node_classifier_gives_the_keras_labels_from_the_tflite(csv_export: Path,
                                                              csv_dataset: Path) -> None:
    batch, labels = held_out_batch(csv_dataset, "PrivateTest")
    tflite = load_classifier(csv_export)
    assert tflite.path.name == "model_float16.tflite"
    keras_model = load_classifier(csv_export / "model.keras")
    tflite_labels = np.argmax(tflite.predict(batch), axis=1)
    keras_labels = np.argmax(keras_model.predict(batch), axis=1)
    assert np.mean(tflite_labels == keras_labels) >= evaluation.MIN_AGREEMENT
    assert np.mean(tflite_labels == labels) > WELL_ABOVE_CHANCE
    int8 = load_classifier(csv_export / "model_int8.tflite")
    assert np.mean(np.argmax(int8.predict(batch), axis=1) == labels) > WELL_ABOVE_CHANCE


def test_folder_training_in_a_subprocess(folder_run) -> None:
    out, done = folder_run
    metadata = ModelMetadata.load(out / "metadata.json")
    assert metadata.labels == EMOTIONS
    assert metadata.files == {"keras": "model.keras", "tflite": "model_float16.tflite"}
    assert metadata.metrics["test_accuracy"] > WELL_ABOVE_CHANCE
    assert "train (held out 10%)" in done.stdout
    assert "skipped 1 of 281 faces" in done.stderr
    assert "broken.png" in done.stderr


def test_evaluate_prints_per_class_figures_and_writes_pngs(csv_export: Path, csv_dataset: Path,
                                                           tmp_path: Path, capsys) -> None:
    status = evaluation.run(evaluate_args(csv_export, csv_dataset, "--out", tmp_path))
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "model_float16.tflite on fer2013.csv:PrivateTest: 70 faces" in printed
    for label in EMOTIONS:
        assert any(line.split()[:1] == [label] and len(line.split()) == 5
                   for line in printed.splitlines()), label
    assert "macro f1" in printed
    assert "same label as model.keras: 100.00%  ok" in printed
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["accuracy"] > WELL_ABOVE_CHANCE
    assert np.array(report["confusion_matrix"]).sum() == 70
    for name, min_size in (("confusion_matrix.png", (500, 500)),
                           ("training_curves.png", (300, 800))):
        image = cv2.imread(str(tmp_path / name))
        assert image is not None, name
        assert image.shape[0] >= min_size[0] and image.shape[1] >= min_size[1], name
        assert image.std() > 20, f"{name} looks blank"


def test_evaluate_defaults_to_the_test_folder(folder_run, folder_dataset: Path,
                                             capsys) -> None:
    out, _ = folder_run
    assert evaluation.run(evaluate_args(out, folder_dataset)) == 0
    printed = capsys.readouterr().out
    assert "on test: 70 faces" in printed
    assert (out / "evaluation_test" / "confusion_matrix.png").is_file()
    assert (out / "evaluation_test" / "training_curves.png").is_file()


def test_resume_continues_from_the_last_checkpoint(csv_dataset: Path, tmp_path: Path,
                                                   capsys) -> None:
    import keras

    def interrupt(epoch: int, logs=None) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    out = tmp_path / "model"
    config = training.TrainConfig(dataset=csv_dataset, out=out, arch="seed", epochs=4,
                                  batch_size=BATCH, seed=3, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        training.train(config, callbacks=(keras.callbacks.LambdaCallback(on_epoch_end=interrupt),))
    state = json.loads((out / "training_state.json").read_text())
    assert state["completed_epochs"] == 2
    assert not (out / "metadata.json").exists()

    assert training.run(train_args(csv_dataset, "--out", out, "--resume")) == 0
    assert "resuming" in capsys.readouterr().out
    assert evaluation.read_history(out / "history.csv")["epoch"] == [0, 1, 2, 3]
    steps_per_epoch = -(-len(load_split(csv_dataset, "Training")) // BATCH)
    last = load_keras(out / "checkpoints" / "last.keras")
    assert int(last.optimizer.iterations) == 4 * steps_per_epoch
    assert ModelMetadata.load(out / "metadata.json").metrics["epochs_trained"] == 4


def test_a_new_run_never_overwrites_an_existing_one(csv_export: Path, csv_dataset: Path,
                                                    capsys) -> None:
    before = (csv_export / "model.keras").stat().st_mtime_ns
    assert training.run(train_args(csv_dataset, "--out", csv_export, "--arch", "seed")) == 2
    assert "--resume" in capsys.readouterr().err
    assert (csv_export / "model.keras").stat().st_mtime_ns == before


def test_fine_tuning_starts_from_an_export(csv_export: Path, csv_dataset: Path,
                                           tmp_path: Path) -> None:
    out = tmp_path / "tuned"
    assert training.run(train_args(csv_dataset, "--out", out, "--init-model", csv_export,
                                   "--epochs", 1, "--batch-size", BATCH, "--seed", 4)) == 0
    metadata = ModelMetadata.load(out / "metadata.json")
    assert metadata.architecture == "seed (fine-tuned)"
    assert metadata.metrics["test_accuracy"] > WELL_ABOVE_CHANCE


def _empty(root: Path) -> Path:
    root.mkdir()
    return root


def _unknown_class(root: Path) -> Path:
    write_folder(root, {"train": standard_splits(per_class=2, held_out=1)["Training"]})
    (root / "train" / "Contempt").mkdir()
    return root


def _wrong_header(root: Path) -> Path:
    root.mkdir()
    (root / "fer.csv").write_text("label,image\n0,1 2 3\n")
    return root / "fer.csv"


@pytest.mark.parametrize(("make", "message"), [
    (_empty, "empty dataset folder"),
    (_unknown_class, "Contempt.*unknown expression class"),
    (_wrong_header, "not a FER-2013 CSV"),
])
def test_bad_datasets_stop_with_a_clear_error(make, message: str, tmp_path: Path,
                                              capsys) -> None:
    dataset = make(tmp_path / "dataset")
    out = tmp_path / "out"
    assert training.run(train_args(dataset, "--out", out, "--arch", "seed")) == 2
    err = capsys.readouterr().err
    assert err.startswith("fer train: error:")
    assert re.search(message, err), err
    assert not out.exists()  # not even an empty checkpoints/ folder


def test_class_weights_favour_rare_classes() -> None:
    fer2013 = np.array([3995, 436, 4097, 7215, 4830, 3171, 4965])
    assert training.class_weights(fer2013, "none") is None
    for mode in ("balanced", "sqrt"):
        weights = np.array(list(training.class_weights(fer2013, mode).values()))
        assert np.argmax(weights) == EMOTIONS.index("disgust")
        assert np.argmin(weights) == EMOTIONS.index("happy")
        assert np.isclose((weights * fer2013).sum(), fer2013.sum())
    balanced = training.class_weights(fer2013, "balanced")
    assert np.allclose([balanced[i] * n for i, n in enumerate(fer2013)], fer2013.sum() / 7)


def test_pipeline_uses_the_inference_normalisation(csv_dataset: Path) -> None:
    faces = load_split(csv_dataset, "PublicTest")
    metadata = ModelMetadata()
    plain = training.make_dataset(faces, metadata, 32, training=False)
    batches = [(x.numpy(), y.numpy()) for x, y in plain]
    np.testing.assert_allclose(np.concatenate([x for x, _ in batches]),
                               normalize(faces.images[..., None].astype(np.float32), metadata))
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), faces.labels)
    augmented = training.make_dataset(faces, metadata, len(faces), training=True, seed=0)
    x, y = next(iter(augmented))
    assert x.shape == (len(faces), 48, 48, 1) and x.dtype == "float32"
    assert -1.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0
    assert sorted(y.numpy().tolist()) == sorted(faces.labels.tolist())


def test_mixed_precision_models_export_in_float32() -> None:
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build("seed")
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.layers[0].dtype_policy.name == "mixed_float16"
    assert model.layers[-1].dtype_policy.name == "float32"
    plain = float32_copy(model)
    assert {layer.dtype_policy.name for layer in plain.layers} == {"float32"}
    faces = np.random.default_rng(0).uniform(-1, 1, (4, 48, 48, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(faces)), np.asarray(plain(faces)), atol=1e-2)


def test_a_seed_makes_the_augmented_pipeline_repeatable(csv_dataset: Path) -> None:
    faces = load_split(csv_dataset, "PublicTest")
    first, again = (next(iter(training.make_dataset(faces, ModelMetadata(), 16, training=True,
                                                     seed=3)))[0].numpy() for _ in range(2))
    np.testing.assert_array_equal(first, again)
