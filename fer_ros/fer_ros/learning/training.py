"""``fer train``: fit an expression model on a FER-2013-style dataset and export it for the node.

The loop follows Keras' own examples (``model.fit`` on a ``tf.data`` pipeline, with callbacks)
and adds what a long CPU run needs: the best model is kept, every epoch ends with a checkpoint
that ``--resume`` continues from (counters of early stopping and of the learning-rate schedule
included), and the export is only written once training is over. TensorFlow is imported inside
the functions so ``fer --help`` and the node stay quick to start.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import logging
import math
import secrets
import signal
import sys
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np

from fer_ros.learning.architectures import ARCHITECTURES, DEFAULT_ARCHITECTURE, DESCRIPTIONS, build
from fer_ros.learning.datasets import DatasetError, FaceSet, TrainingSplits, load_training_splits
from fer_ros.learning.export import (
    REPRESENTATIVE_FACES,
    export_model,
    load_keras,
    save_keras_atomic,
    write_bytes_atomic,
)
from fer_ros.learning.interruption import StopSignals
from fer_ros.learning.output_folder import (
    OutputFolderError,
    bytes_for_run,
    check_free_space,
    check_output_folder,
)
from fer_ros.perception.expressions.classification import probe_faces
from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.expressions.model_metadata import (
    METADATA_FILENAME,
    CropSpec,
    ModelMetadata,
    ModelMetadataError,
)
from fer_ros.perception.expressions.preprocessing import normalize

log = logging.getLogger(__name__)

STATE_FILE = "training_state.json"
HISTORY_FILE = "history.csv"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.keras"
BEST_CHECKPOINT = "best.keras"
MONITOR = "val_accuracy"

DEFAULT_EPOCHS = 50
DEFAULT_BATCH_SIZE = 64
DEFAULT_CROP_MARGIN = 0.1
"""FER-2013 faces were registered to fill most of the 48x48 frame: forehead to chin with a thin
border of hair and background, a little more than a Haar box (brows to chin). Growing the
detector's square box by 10 % of its side on every side frames live faces the same way."""

CLASS_WEIGHT_MODES = ("balanced", "sqrt", "none")


class TrainingError(RuntimeError):
    """Training cannot start or continue as asked; the message says what to do instead."""


@dataclass(frozen=True)
class TrainConfig:
    """One ``fer train`` run.

    ``epochs`` None means DEFAULT_EPOCHS for a new run and the first run's number on resume;
    a resumed run keeps every other setting of the first run, except that ``int8`` may be added.
    """

    dataset: Path
    out: Path
    arch: str = DEFAULT_ARCHITECTURE
    epochs: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    learning_rate: float | None = None
    patience: int = 10
    seed: int | None = None
    resume: bool = False
    init_model: Path | None = None
    int8: bool = False
    class_weight: str = "sqrt"
    val_fraction: float = 0.1
    augment: bool = True
    crop_margin: float = DEFAULT_CROP_MARGIN
    verbose: int | None = None

    def __post_init__(self) -> None:
        check_options(self)


MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 1 << 16
MAX_LEARNING_RATE = 1.0
"""Adam's step bound: above 1 every weight moves by more than its own scale in one step, which
ends in a NaN loss, not in a model."""
MAX_SEED = 2**32 - 1
"""NumPy's and TensorFlow's seeds are unsigned 32-bit numbers."""


def check_options(config: TrainConfig) -> None:
    """Refuse a value that would train nonsense or fail only after the dataset was loaded.

    NaN slips through every ordered comparison (``nan < 0`` is false), so each float is tested
    to be finite first; ``--learning-rate nan`` trained and exported a model that outputs NaN,
    and ``--epochs 0`` trained the default 50 epochs.
    """
    def whole(option: str, value: object, low: int, high: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise TrainingError(f"{option} {value!r}: must be a whole number from {low} to {high}")

    def real(option: str, value: object, low: float, high: float, *, low_open: bool,
             high_open: bool) -> None:
        ok = (not isinstance(value, bool) and isinstance(value, int | float)
              and math.isfinite(value)
              and (low < value if low_open else low <= value)
              and (value < high if high_open else value <= high))
        if not ok:
            span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise TrainingError(f"{option} {value!r}: must be a finite number in {span}")

    if config.epochs is not None:
        whole("--epochs", config.epochs, 1, MAX_EPOCHS)
    whole("--batch-size", config.batch_size, 1, MAX_BATCH_SIZE)
    whole("--patience", config.patience, 1, MAX_EPOCHS)
    if config.seed is not None:
        whole("--seed", config.seed, 0, MAX_SEED)
    if config.learning_rate is not None:
        real("--learning-rate", config.learning_rate, 0.0, MAX_LEARNING_RATE, low_open=True,
             high_open=False)
    real("--val-fraction", config.val_fraction, 0.0, 1.0, low_open=True, high_open=True)
    real("--crop-margin", config.crop_margin, 0.0, 1.0, low_open=False, high_open=True)


@dataclass(frozen=True)
class TrainResult:
    out: Path
    metadata: ModelMetadata
    epochs_completed: int


def augmentation(seed: int | None = None):
    """Small, label-preserving changes: a mirrored face keeps its expression, a big rotation
    or a crop that loses the mouth would not. Works on 0..255 values, before ``normalize``."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.08, 0.08, fill_mode="nearest", seed=seed),
            layers.RandomRotation(10 / 360, fill_mode="nearest", seed=seed),
            layers.RandomZoom(0.1, fill_mode="nearest", seed=seed),
            layers.RandomBrightness(0.2, value_range=(0.0, 255.0), seed=seed),
        ],
        name="augmentation",
    )


def make_dataset(faces: FaceSet, metadata: ModelMetadata, batch_size: int, *,
                 training: bool, augment: bool = True, seed: int | None = None):
    """A ``tf.data`` pipeline of normalised batches, built with the inference ``normalize``.

    Faces arrive decoded (by ``datasets``, once) as one uint8 array, a quarter of the memory of
    float32; batches are converted, augmented and normalised on the fly, in parallel with the
    training step. Evaluation batches never change, so they are cached after the first pass.
    With a ``seed`` the batches are prepared one at a time: the augmentation layers draw from
    one random stream, and only a fixed call order makes a seeded run repeatable.
    """
    import tensorflow as tf

    images = faces.images[..., None]
    data = tf.data.Dataset.from_tensor_slices((images, faces.labels))
    if training:
        data = data.shuffle(len(faces), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    augmenter = augmentation(seed) if training and augment else None

    def prepare(x, y):
        x = tf.cast(x, tf.float32)
        if augmenter is not None:
            x = augmenter(x, training=True)
        if metadata.channels == 3:
            x = tf.image.grayscale_to_rgb(x)
        return normalize(x, metadata), y

    data = data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE if seed is None else None)
    if not training:
        data = data.cache()
    return data.prefetch(tf.data.AUTOTUNE)


def normalized_faces(faces: FaceSet, metadata: ModelMetadata) -> np.ndarray:
    """Faces as the node feeds them to a model: float32 NHWC, normalised."""
    batch = faces.images[..., None].astype(np.float32)
    if metadata.channels == 3:
        batch = np.repeat(batch, 3, axis=-1)
    return normalize(batch, metadata).astype(np.float32)


def class_weights(counts: np.ndarray, mode: str) -> dict[int, float] | None:
    """Loss weights that stop the rare classes (FER-2013's disgust: 1.5 %) being ignored.

    ``balanced`` weighs every class equally in total; ``sqrt`` goes half way, which helps the
    rare classes while costing the common ones less accuracy. Weights average 1 per face.
    """
    if mode == "none":
        return None
    if mode not in CLASS_WEIGHT_MODES:
        raise ValueError(f"class weight mode {mode!r} is not one of {CLASS_WEIGHT_MODES}")
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.ones_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    if mode == "sqrt":
        weights[present] = np.sqrt(weights[present])
    weights /= (weights * counts).sum() / counts.sum()
    return {i: float(w) for i, w in enumerate(weights)}


def use_mixed_precision() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def train(config: TrainConfig, callbacks: tuple = (),
          stop: StopSignals | None = None) -> TrainResult:
    """Train (or resume, or fine-tune), then export the best epoch into ``config.out``.

    ``callbacks`` are extra Keras callbacks, run after the ones that keep the checkpoints.
    KeyboardInterrupt propagates; the last finished epoch is already saved for ``--resume``.
    ``stop`` (installed by ``run``) defers signals during the fit to the next batch's end.
    """
    import keras

    out = Path(config.out)
    made = check_output_folder(out)
    state = _start_state(config, out)
    config = state.config
    history_existed = (out / HISTORY_FILE).exists()
    try:
        previous_policy = keras.config.dtype_policy()
        try:
            if use_mixed_precision():
                keras.config.set_dtype_policy("mixed_float16")
            if config.seed is not None:
                keras.utils.set_random_seed(config.seed)
            model, metadata = _model_for(config, state)
            check_free_space(out, bytes_for_run(model))
            splits = load_training_splits(config.dataset, metadata.input_size,
                                          config.val_fraction, state.split_seed)
            _print_summary(config, splits.train, splits.val, splits.test)
            (out / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
            if state.completed < config.epochs and not state.stopped_early:
                _fit(model, config, state, splits.train, splits.val, metadata, callbacks, stop)
            if stop is not None:
                stop.check()  # came during the last epoch's checkpoint: export on --resume
            best = load_keras(out / CHECKPOINT_DIR / BEST_CHECKPOINT, compile=False)
        finally:
            keras.config.set_dtype_policy(previous_policy)
        written = _export(best, config, state, splits, metadata)
    except BaseException as exc:
        if state.completed == 0 and not config.resume:
            _remove_unstarted_run(out, made, remove_history=not history_existed)
        if isinstance(exc, OSError):
            raise TrainingError(_write_failure(out, exc, state)) from exc
        raise
    return TrainResult(out, written, state.completed)


def _write_failure(out: Path, exc: OSError, state: _State) -> str:
    """One line for a file that could not be written (or read) part-way through a run."""
    where = exc.filename or out
    reason = exc.strerror or str(exc)
    if state.completed:
        return (f"{where}: {reason}; nothing was exported, the checkpoint of epoch "
                f"{state.completed} is kept: '--resume' continues once the cause is fixed")
    return f"{where}: {reason}; nothing was exported and nothing of this run is left in {out}"


def _remove_unstarted_run(out: Path, made: list[Path], remove_history: bool) -> None:
    """A new run that ends before its first epoch is checkpointed leaves nothing behind: not
    an empty ``checkpoints/``, not the folders it created (only empty folders are removed)."""
    if remove_history:
        (out / HISTORY_FILE).unlink(missing_ok=True)
    for folder in [out / CHECKPOINT_DIR, *made]:
        try:
            folder.rmdir()
        except OSError:
            pass


def _export(model, config: TrainConfig, state: _State, splits: TrainingSplits,
            metadata: ModelMetadata) -> ModelMetadata:
    """Export the best epoch with the figures measured on it; prints what was written."""
    metrics = {"val_accuracy": accuracy(model, splits.val, metadata)}
    if splits.test is not None:
        metrics["test_accuracy"] = accuracy(model, splits.test, metadata)
    metrics["best_epoch"] = float(state.best_epoch)
    metrics["epochs_trained"] = float(state.completed)
    sizes = f"{len(splits.train)} training, {len(splits.val)} validation" + (
        f", {len(splits.test)} test faces" if splits.test is not None else " faces")
    source = (f"fer train on {Path(config.dataset).name} ({sizes}), "
              f"{date.today().isoformat()}; metrics measured by fer train")
    metadata = replace(metadata, source=source, metrics=metrics)
    representative = None
    if config.int8:
        pick = np.random.default_rng(state.split_seed).permutation(len(splits.train))
        calibration = splits.train.subset(pick[:REPRESENTATIVE_FACES], "calibration")
        representative = normalized_faces(calibration, metadata)
    written = export_model(model, config.out, metadata, representative)
    figures = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k.endswith("accuracy"))
    print(f"exported {', '.join(written.files.values())} and {METADATA_FILENAME} to "
          f"{config.out} (best epoch {state.best_epoch} of {state.completed}): {figures}")
    return written


def accuracy(model, faces: FaceSet, metadata: ModelMetadata, batch_size: int = 256) -> float:
    probs = model.predict(normalized_faces(faces, metadata), batch_size=batch_size, verbose=0)
    if not np.all(np.isfinite(probs)):
        raise TrainingError(f"the model's outputs are not finite numbers on {faces.name}: "
                            "it diverged, nothing was exported")
    return float(np.mean(np.argmax(probs, axis=1) == faces.labels))


@dataclass
class _State:
    """What ``training_state.json`` holds: enough to continue a run exactly where it stopped."""

    config: TrainConfig
    split_seed: int
    """Picks the validation hold-out, so a resumed run never validates on faces it trained on;
    the ``--seed`` when one was given, else drawn at random and kept here."""
    metadata: dict | None = None
    completed: int = 0
    best: float | None = None
    best_epoch: int = 0
    stopped_early: bool = False
    counters: dict | None = None

    def save(self, out: Path) -> None:
        data = {
            "config": {k: (str(v) if isinstance(v, Path) else v)
                       for k, v in asdict(self.config).items()},
            "split_seed": self.split_seed,
            "metadata": self.metadata,
            "completed_epochs": self.completed,
            "best_" + MONITOR: self.best,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "counters": self.counters or {},
        }
        text = json.dumps(data, indent=2, allow_nan=False)
        write_bytes_atomic(out / STATE_FILE, (text + "\n").encode())

    @classmethod
    def load(cls, out: Path, config: TrainConfig) -> _State:
        """The saved state, with the settings of the first run and this run's ``epochs``."""
        path = out / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            saved = data["config"]
            for key in ("dataset", "out", "init_model"):
                if saved.get(key) is not None:
                    saved[key] = Path(saved[key])
            first = TrainConfig(**saved)
            state = cls(first, int(data["split_seed"]), data["metadata"],
                        int(data["completed_epochs"]), _finite(data["best_" + MONITOR]),
                        int(data["best_epoch"]), bool(data["stopped_early"]), data["counters"])
        except FileNotFoundError as exc:
            raise TrainingError(f"{out}: nothing to resume ({STATE_FILE} not found)") from exc
        except (OSError, ValueError, KeyError, TypeError, TrainingError) as exc:
            raise TrainingError(f"{path}: unreadable training state: {exc}") from exc
        state.config = replace(first, dataset=config.dataset, out=config.out, resume=True,
                               epochs=first.epochs if config.epochs is None else config.epochs,
                               int8=first.int8 or config.int8, verbose=config.verbose)
        return state


def _start_state(config: TrainConfig, out: Path) -> _State:
    if config.resume:
        state = _State.load(out, config)
        if not (out / CHECKPOINT_DIR / LAST_CHECKPOINT).is_file():
            raise TrainingError(f"{out}: no checkpoint to resume from")
        print(f"resuming {out} after epoch {state.completed}")
        return state
    if (out / STATE_FILE).exists() or (out / METADATA_FILENAME).exists():
        raise TrainingError(
            f"{out} already holds a training run or an export: pass --resume to continue it, "
            "or choose another --out"
        )
    if config.arch not in ARCHITECTURES:
        raise TrainingError(
            f"unknown architecture {config.arch!r}: expected one of {', '.join(ARCHITECTURES)}"
        )
    if config.class_weight not in CLASS_WEIGHT_MODES:
        raise TrainingError(f"--class-weight must be one of {', '.join(CLASS_WEIGHT_MODES)}")
    split_seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    epochs = DEFAULT_EPOCHS if config.epochs is None else config.epochs
    return _State(replace(config, epochs=epochs), split_seed)


def _model_for(config: TrainConfig, state: _State):
    """The model to fit and the metadata its export will carry."""
    if state.metadata is not None:
        model = load_keras(Path(config.out) / CHECKPOINT_DIR / LAST_CHECKPOINT)
        return model, ModelMetadata.from_dict(state.metadata, origin=STATE_FILE)
    crop = CropSpec(square=True, margin_frac=config.crop_margin)
    if config.init_model is not None:
        model, base = _load_init_model(Path(config.init_model))
        height, width, channels = model.input_shape[1:4]
        metadata = ModelMetadata(
            input_size=(height, width), channels=channels, normalization=base.normalization,
            crop=crop, architecture=f"{base.architecture or model.name} (fine-tuned)",
        )
        learning_rate = 1e-4 if config.learning_rate is None else config.learning_rate
    else:
        model = build(config.arch, (48, 48, 1), len(EMOTIONS))
        metadata = ModelMetadata(crop=crop, architecture=model.name)
        learning_rate = 1e-3 if config.learning_rate is None else config.learning_rate
    compile_for_training(model, learning_rate)
    state.metadata = json.loads(metadata.to_json())
    return model, metadata


def compile_for_training(model, learning_rate: float) -> None:
    """Adam on sparse labels; under mixed precision Keras adds loss scaling by itself."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def _load_init_model(path: Path):
    """A model to fine-tune and the metadata saved with it (or the defaults, with a warning)."""
    if path.is_dir():
        base = ModelMetadata.load(path / METADATA_FILENAME)
        if "keras" not in base.files:
            raise TrainingError(f"{path}: the export holds no Keras model to fine-tune")
        path = path / base.files["keras"]
    else:
        base = _metadata_beside(path)
    if path.suffix.lower() not in (".keras", ".h5"):
        raise TrainingError(f"{path}: fine-tuning needs a .keras or .h5 model")
    model = load_keras(path, compile=False)
    shape = model.input_shape
    if model.output_shape[-1] != len(EMOTIONS) or len(shape) != 4 or None in shape[1:]:
        raise TrainingError(
            f"{path}: expected an image classifier with a fixed input size and "
            f"{len(EMOTIONS)} outputs, got inputs {shape} and outputs {model.output_shape}"
        )
    if base.labels != EMOTIONS:
        raise TrainingError(f"{path}: its labels {base.labels} are not in the order {EMOTIONS}")
    probe = probe_faces(replace(base, input_size=tuple(shape[1:3]), channels=shape[3]))
    if not np.all(np.isfinite(np.asarray(model(probe, training=False)))):
        raise TrainingError(f"{path}: its outputs are not finite numbers on a probe face "
                            "(a training run that diverged?): there is nothing to fine-tune")
    return model, base


def _metadata_beside(model_path: Path) -> ModelMetadata:
    for candidate in (model_path.parent / METADATA_FILENAME, model_path.with_suffix(".json")):
        if candidate.is_file():
            metadata = ModelMetadata.load(candidate)
            if model_path.name in metadata.files.values():
                return metadata
    log.warning("%s: no metadata names this model; assuming FER-2013 label order and "
                "symmetric (-1..1) input scaling", model_path)
    return ModelMetadata()


def _fit(model, config: TrainConfig, state: _State, train_faces: FaceSet, val_faces: FaceSet,
         metadata: ModelMetadata, extra_callbacks: tuple, stop: StopSignals | None) -> None:
    import keras

    out = Path(config.out)
    history = out / HISTORY_FILE
    _truncate_history(history, state.completed)
    early = keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=config.patience,
                                          verbose=1)
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=max(1, config.patience // 3), min_lr=1e-6,
        verbose=1,
    )
    guard = _LossGuard(model)
    keeper = _CheckpointKeeper(model, out, state, {"early_stopping": early, "reduce_lr": plateau},
                               guard)
    callbacks = [
        keras.callbacks.LambdaCallback(on_epoch_begin=guard.epoch_begin,
                                       on_train_batch_end=guard.batch_done,
                                       on_epoch_end=guard.epoch_done),
        early,
        plateau,  # before the logger: it adds the epoch's learning rate to the logs
        keras.callbacks.CSVLogger(str(history), append=True),
        keras.callbacks.LambdaCallback(on_train_begin=keeper.restore_counters,
                                       on_epoch_end=keeper.epoch_done),
        *extra_callbacks,
    ]
    if stop is not None:  # after the keeper: an epoch's checkpoints are complete first
        callbacks.append(keras.callbacks.LambdaCallback(
            on_train_batch_end=stop.check, on_epoch_end=stop.check, on_test_batch_end=stop.check))
    weights = class_weights(train_faces.class_counts(), config.class_weight)
    with stop.deferred() if stop is not None else contextlib.nullcontext():
        _run_fit(model, config, state, train_faces, val_faces, metadata, callbacks, weights)
    if guard.diverged is not None:
        _truncate_history(history, state.completed)
        kept = (f"the checkpoints of epochs 1 to {state.completed} are kept in {out}"
                if state.completed else "nothing was kept")
        raise TrainingError(f"training stopped: {guard.diverged}; the model diverged, nothing was "
                            f"exported and {kept}. Train again with a lower --learning-rate "
                            f"(this run's: {_learning_rate(model)})")
    state.stopped_early = state.completed < config.epochs
    state.save(out)


class _LossGuard:
    """Stops the fit at the first batch whose loss is not a finite number, as Keras'
    TerminateOnNaN does, and says where. A NaN loss means NaN weights: the epoch is not
    checkpointed, and the run ends without an export, since such a model outputs NaN for
    every face."""

    def __init__(self, model):
        self._model = model
        self._epoch = 0
        self.diverged: str | None = None

    def epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch = epoch

    def batch_done(self, batch: int, logs=None) -> None:
        self._check(logs, f"epoch {self._epoch + 1}, batch {batch + 1}")

    def epoch_done(self, epoch: int, logs=None) -> None:
        self._check(logs, f"epoch {epoch + 1}")

    def _check(self, logs, where: str) -> None:
        if self.diverged is not None:
            return
        bad = []
        for name, value in (logs or {}).items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(number):
                bad.append(f"{name} {number}")
        if bad:
            self.diverged = f"{', '.join(bad)} in {where}"
            self._model.stop_training = True


def _learning_rate(model) -> str:
    try:
        return f"{float(model.optimizer.learning_rate):g}"
    except (AttributeError, TypeError, ValueError):
        return "unknown"


def _run_fit(model, config: TrainConfig, state: _State, train_faces: FaceSet,
             val_faces: FaceSet, metadata: ModelMetadata, callbacks: list, weights) -> None:
    model.fit(
        make_dataset(train_faces, metadata, config.batch_size, training=True,
                     augment=config.augment, seed=config.seed),
        validation_data=make_dataset(val_faces, metadata, config.batch_size, training=False),
        epochs=config.epochs,
        initial_epoch=state.completed,
        class_weight=weights,
        callbacks=callbacks,
        verbose=config.verbose if config.verbose is not None else _progress_verbosity(),
        shuffle=False,  # the pipeline shuffles; Keras cannot shuffle a tf.data.Dataset
    )


class _CheckpointKeeper:
    """Saves last.keras, best.keras and the state after each epoch, each file atomically.

    Keras' ModelCheckpoint and BackupAndRestore write in place and forget early-stopping and
    learning-rate counters, so a resumed run would behave differently from an uninterrupted one.
    """

    COUNTER_ATTRS = ("wait", "best", "cooldown_counter", "best_epoch")

    def __init__(self, model, out: Path, state: _State, counted: dict, guard: _LossGuard):
        self._model, self._out, self._state, self._counted = model, out, state, counted
        self._guard = guard

    def restore_counters(self, logs=None) -> None:
        for name, values in (self._state.counters or {}).items():
            for attr, value in values.items():
                if value is not None:  # not finite when saved: the callback's initial value
                    setattr(self._counted[name], attr, value)

    def epoch_done(self, epoch: int, logs=None) -> None:
        if self._guard.diverged is not None:
            return
        value = _finite((logs or {}).get(MONITOR))
        checkpoints = self._out / CHECKPOINT_DIR
        save_keras_atomic(self._model, checkpoints / LAST_CHECKPOINT)
        if self._state.best_epoch == 0 or (value is not None and (
                self._state.best is None or value > self._state.best)):
            save_keras_atomic(self._model, checkpoints / BEST_CHECKPOINT)
            self._state.best = value
            self._state.best_epoch = epoch + 1
        self._state.completed = epoch + 1
        self._state.counters = {
            name: {attr: _plain(getattr(cb, attr)) for attr in self.COUNTER_ATTRS
                   if hasattr(cb, attr)}
            for name, cb in self._counted.items()
        }
        self._state.save(self._out)


def _plain(value):
    """A callback counter as JSON can hold it (Keras keeps some as NumPy scalars); an infinite
    ``best`` (a callback's start value) becomes None, which JSON has and restoring skips."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return _finite(value)
    return int(value)


def _finite(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _truncate_history(path: Path, completed: int) -> None:
    """Drop history rows of epochs that a resumed run will train again."""
    if not path.is_file():
        return
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    if not rows or "epoch" not in rows[0]:
        return
    column = rows[0].index("epoch")
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[column]) < completed]
    if len(kept) != len(rows):
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(kept)
        write_bytes_atomic(path, text.getvalue().encode())


def _progress_verbosity() -> int:
    """Keras' progress bar on a terminal, one line per epoch in logs and CI."""
    return 1 if sys.stdout.isatty() else 2


def _print_summary(config: TrainConfig, *splits: FaceSet | None) -> None:
    for faces in splits:
        if faces is None:
            continue
        counts = ", ".join(f"{label} {n}" for label, n in zip(EMOTIONS, faces.class_counts()))
        skipped = f", {len(faces.skipped)} skipped" if faces.skipped else ""
        print(f"{faces.name}: {len(faces)} faces ({counts}){skipped}")
    missing = [label for label, n in zip(EMOTIONS, splits[0].class_counts()) if n == 0]
    if missing:
        log.warning("no training faces for %s: the model cannot learn these classes",
                    ", ".join(missing))
    if not config.resume and config.init_model is None:
        seed = config.seed if config.seed is not None else "none (not repeatable)"
        print(f"architecture: {config.arch} ({DESCRIPTIONS[config.arch]}), seed {seed}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fer train``."""
    parser.add_argument("dataset", type=Path, metavar="DATASET",
                        help="FER-2013 CSV (emotion,pixels,Usage) or a folder with "
                             "train/<class>/ and test/<class>/ image folders")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output folder: checkpoints, history and the exported model")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCHITECTURE,
                        help=f"architecture to train from scratch (default {DEFAULT_ARCHITECTURE})")
    parser.add_argument("--init-model", type=Path, metavar="PATH",
                        help="fine-tune this .keras/.h5 model or export folder instead")
    parser.add_argument("--epochs", type=int, metavar="N",
                        help=f"maximum epochs; early stopping may end sooner (default "
                             f"{DEFAULT_EPOCHS}, or as first run when resuming)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                        help=f"default {DEFAULT_BATCH_SIZE}")
    parser.add_argument("--learning-rate", type=float, metavar="LR",
                        help="initial Adam learning rate (default 1e-3, 1e-4 when fine-tuning)")
    parser.add_argument("--patience", type=int, default=10, metavar="N",
                        help="epochs without a better validation accuracy before stopping; the "
                             "learning rate halves after a third of that without a lower "
                             "validation loss (default 10)")
    parser.add_argument("--class-weight", choices=CLASS_WEIGHT_MODES, default="sqrt",
                        help="weigh rare classes up: balanced, sqrt (half way, default) or none")
    parser.add_argument("--val-fraction", type=float, default=0.1, metavar="F",
                        help="share of training faces held out for validation when the dataset "
                             "has no validation split (default 0.1)")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="train without flips, shifts, rotations, zoom and brightness changes")
    parser.add_argument("--crop-margin", type=float, default=DEFAULT_CROP_MARGIN, metavar="F",
                        help="margin around the detected face, as a fraction of its side, that "
                             "matches how the dataset's faces are framed (default 0.1, FER-2013)")
    parser.add_argument("--int8", action="store_true",
                        help="also export an int8 .tflite calibrated on training faces")
    parser.add_argument("--seed", type=int, metavar="N",
                        help="repeatable run: fixes shuffling, augmentation, the validation "
                             "split and the initial weights (augmentation then uses one thread)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in --out from its last epoch "
                             "(its settings are kept; --epochs may be raised, --int8 added)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        dataset=args.dataset, out=args.out, arch=args.arch, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, patience=args.patience,
        seed=args.seed, resume=args.resume, init_model=args.init_model, int8=args.int8,
        class_weight=args.class_weight, val_fraction=args.val_fraction, augment=args.augment,
        crop_margin=args.crop_margin,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``fer train``; returns the exit status (2 for bad input, 128 + the signal's number
    when SIGINT, SIGTERM or SIGHUP stopped it: 130, 143, 129)."""
    with StopSignals() as stop:
        try:
            train(config_from_args(args), stop=stop)
        except KeyboardInterrupt:
            if (Path(args.out) / STATE_FILE).is_file():
                print(f"\ninterrupted by {stop.name}: the last finished epoch's checkpoint is "
                      f"kept; 'fer train {args.dataset} --out {args.out} --resume' continues "
                      "after it", file=sys.stderr)
            else:
                print(f"\ninterrupted by {stop.name} before the first epoch ended: nothing kept",
                      file=sys.stderr)
            return 128 + (stop.received or signal.SIGINT)
        except (DatasetError, ModelMetadataError, OutputFolderError, TrainingError) as exc:
            print(f"fer train: error: {exc}", file=sys.stderr)
            return 2
    return 0
