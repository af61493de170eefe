"""Expression classifiers: one batched call for all faces of a frame.

The original program called ``model.predict`` once per face, paying Keras' per-call set-up every
time. Here every face of a frame goes through the model in one call. ``.tflite`` models run in
LiteRT (a few MB, starts in milliseconds), ``.onnx`` models in onnxruntime, and TensorFlow is
imported only when a Keras model is configured, so the default node never pays its start-up time
or memory.

What a ``model`` value names (bundled models, ensembles, files, export folders) is resolved and
checked in perception/model_files.py; this module loads what that hands it, picks the runtime
by the file's type, probes the model, and averages several in an ensemble (ensemble.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from fer_ros.perception.detection.detections import Box
from fer_ros.perception.expressions.ensemble import EnsembleClassifier
from fer_ros.perception.expressions.model_metadata import ModelMetadata
from fer_ros.perception.expressions.preprocessing import normalize, prepare_frame_faces
from fer_ros.perception.model_files import (
    KERAS_SUFFIXES,
    ONNX_SUFFIXES,
    TFLITE_SUFFIXES,
    ModelFile,
    ModelLoadError,
    resolve_model,
    resolve_models,
)


class ExpressionClassifier(Protocol):
    """What the pipeline needs: a frame's faces in, one row of probabilities per face out."""

    metadata: ModelMetadata
    path: Path
    """The model file; for an ensemble, its name (what the ``model`` parameter said)."""

    def classify(self, bgr: np.ndarray, gray: np.ndarray, boxes: Sequence[Box],
                 rolls: Sequence[float] | None = None) -> np.ndarray:
        """Probabilities (N, len(metadata.labels)) for the N face boxes of one frame; ``rolls``
        (degrees per face, alignment.py) levels tilted faces first."""
        ...


class SingleModel:
    """A model with one input convention: crops the frame as its metadata says, then predicts.

    ``predict`` takes an already normalised NHWC batch (training's evaluation uses it).
    """

    metadata: ModelMetadata
    path: Path

    def predict(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def classify(self, bgr: np.ndarray, gray: np.ndarray, boxes: Sequence[Box],
                 rolls: Sequence[float] | None = None) -> np.ndarray:
        return self.predict(prepare_frame_faces(bgr, gray, boxes, self.metadata, rolls))


def _softmax_if_needed(outputs: np.ndarray) -> np.ndarray:
    """Models normally end in softmax; logits from a custom head are turned into probabilities."""
    outputs = outputs.astype(np.float32, copy=False)
    sums = outputs.sum(axis=1)
    if outputs.size and (outputs.min() < 0.0 or not np.allclose(sums, 1.0, atol=1e-3)):
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)
    return outputs


class LiteRTClassifier(SingleModel):
    """A ``.tflite`` model run by LiteRT, resized to the batch it is given.

    Re-allocating tensors costs about as much as an inference, so the batch dimension grows in
    powers of two and only shrinks back when the batch becomes much smaller; the padded rows are
    computed and discarded, which is cheaper than re-allocating every frame as the face count
    changes.
    """

    def __init__(self, path: Path, metadata: ModelMetadata, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.path = path
        self.metadata = metadata
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{path}: not a valid TFLite model ({exc})") from exc
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelLoadError(
                f"{path}: expected one input and one output, found {len(inputs)} and {len(outputs)}"
            )
        self._input = inputs[0]
        self._output_index = outputs[0]["index"]
        _check_shapes(path, metadata, tuple(self._input["shape"]), tuple(outputs[0]["shape"]))
        if self._input["dtype"] != np.float32:
            raise ModelLoadError(
                f"{path}: input type {np.dtype(self._input['dtype']).name} is not supported "
                "(export a model with float32 input and output)"
            )
        self._capacity = int(self._input["shape"][0])

    def _ensure_capacity(self, count: int) -> None:
        wanted = 1 << max(0, math.ceil(math.log2(max(count, 1))))
        if wanted > self._capacity or wanted * 4 <= self._capacity:
            shape = [wanted, *self._input["shape"][1:]]
            self._interpreter.resize_tensor_input(self._input["index"], shape)
            self._interpreter.allocate_tensors()
            self._capacity = wanted

    def predict(self, batch: np.ndarray) -> np.ndarray:
        count = batch.shape[0]
        if count == 0:
            return np.zeros((0, len(self.metadata.labels)), dtype=np.float32)
        self._ensure_capacity(count)
        if count < self._capacity:
            padded = np.zeros((self._capacity, *batch.shape[1:]), dtype=np.float32)
            padded[:count] = batch
            batch = padded
        self._interpreter.set_tensor(self._input["index"], np.ascontiguousarray(batch))
        self._interpreter.invoke()
        return _softmax_if_needed(self._interpreter.get_tensor(self._output_index)[:count].copy())


class KerasClassifier(SingleModel):
    """A Keras model (``.keras`` or legacy ``.h5``), loaded in safe mode and called directly.

    Calling the model (``model(x, training=False)``) avoids ``predict``'s per-call set-up of a
    data pipeline, which dominates for the few faces of a frame. Safe mode refuses models that
    would run arbitrary Python (lambda layers) when loaded.
    """

    def __init__(self, path: Path, metadata: ModelMetadata):
        import keras

        self.path = path
        self.metadata = metadata
        try:
            self._model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many types for a bad file; report them all alike.
            text = str(exc).strip()
            first_line = text.splitlines()[0] if text else type(exc).__name__
            raise ModelLoadError(f"{path}: cannot load Keras model ({first_line})") from exc
        _check_shapes(path, metadata, tuple(self._model.input_shape),
                      tuple(self._model.output_shape))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] == 0:
            return np.zeros((0, len(self.metadata.labels)), dtype=np.float32)
        return _softmax_if_needed(np.asarray(self._model(batch, training=False)))


class OnnxRuntimeClassifier(SingleModel):
    """An ``.onnx`` model run by onnxruntime.

    On FaceExpressionNet it ran markedly faster than OpenCV's dnn module with one thread
    (bench/classifier_runtimes.py; docs/performance.md). The model must take a float32 NHWC
    batch of any size and return one row per face.
    """

    def __init__(self, path: Path, metadata: ModelMetadata, num_threads: int = 2):
        import onnxruntime

        self.path = path
        self.metadata = metadata
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        # Idle worker threads would otherwise spin, taking a core from the node's other threads
        # (DDS, the detector), for no faster classification.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own error types for a bad file
            text = str(exc).strip()
            first_line = text.splitlines()[0] if text else type(exc).__name__
            raise ModelLoadError(f"{path}: not a valid ONNX model ({first_line})") from exc
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelLoadError(
                f"{path}: expected one input and one output, found {len(inputs)} and {len(outputs)}"
            )
        self._input_name = inputs[0].name
        _check_shapes(path, metadata, _fixed_dims(inputs[0].shape), _fixed_dims(outputs[0].shape))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] == 0:
            return np.zeros((0, len(self.metadata.labels)), dtype=np.float32)
        outputs = self._session.run(None, {self._input_name: np.ascontiguousarray(batch)})[0]
        return _softmax_if_needed(outputs.reshape(batch.shape[0], -1))


def _fixed_dims(shape: list) -> tuple:
    """onnxruntime names a dynamic dimension ('batch'); the checks want None for it."""
    return tuple(d if isinstance(d, int) else None for d in shape)


def _check_shapes(path: Path, metadata: ModelMetadata, input_shape: tuple, output_shape: tuple):
    """Refuse at start-up a model whose tensors do not match what its metadata promises."""
    expected_input = (*metadata.input_size, metadata.channels)
    if tuple(int(v) for v in input_shape[1:] if v is not None) != expected_input:
        raise ModelLoadError(
            f"{path}: model input shape {tuple(input_shape[1:])} does not match the metadata's "
            f"{expected_input}"
        )
    if len(output_shape) != 2 or output_shape[-1] != len(metadata.labels):
        raise ModelLoadError(
            f"{path}: model has {output_shape[-1]} outputs but its metadata lists "
            f"{len(metadata.labels)} labels ({', '.join(metadata.labels)})"
        )


def load_model(model: ModelFile, num_threads: int = 2) -> SingleModel:
    """Load one resolved model (perception/model_files.py) in the runtime its file's type
    needs, and probe it; every failure is one ModelLoadError line."""
    suffix = model.path.suffix.lower()
    if suffix in TFLITE_SUFFIXES:
        loaded: SingleModel = LiteRTClassifier(model.path, model.metadata,
                                               num_threads=num_threads)
    elif suffix in ONNX_SUFFIXES:
        loaded = OnnxRuntimeClassifier(model.path, model.metadata, num_threads=num_threads)
    elif suffix in KERAS_SUFFIXES:
        loaded = KerasClassifier(model.path, model.metadata)
    else:
        raise ModelLoadError(
            f"{model.path}: unsupported model type {suffix!r} "
            f"(expected one of {', '.join(TFLITE_SUFFIXES + ONNX_SUFFIXES + KERAS_SUFFIXES)})"
        )
    check_finite_outputs(loaded)
    return loaded


def load_single_model(path: str | Path, num_threads: int = 2) -> SingleModel:
    """Load one model by name, file or export folder."""
    return load_model(resolve_model(path), num_threads=num_threads)


def probe_faces(metadata: ModelMetadata) -> np.ndarray:
    """Three inputs a working model answers with probabilities: mid-gray, black and a
    gradient, scaled as the model's metadata says."""
    height, width = metadata.input_size
    gradient = np.linspace(0.0, 255.0, height * width, dtype=np.float32).reshape(height, width)
    faces = np.stack([np.full((height, width), 128.0, np.float32),
                      np.zeros((height, width), np.float32), gradient])
    faces = np.repeat(faces[..., None], metadata.channels, axis=-1)
    return normalize(faces, metadata).astype(np.float32)


def check_finite_outputs(model: SingleModel) -> None:
    """Refuse a model whose outputs on the probe faces are not finite probabilities.

    A training run that diverged exports weights that are NaN: every face then gets NaN
    scores, the argmax of NaN names the first class, and NaN reached JSON (which has no NaN)
    in `fer predict --json` and the viewer. Three one-face inferences at load find it, before the
    model replaces a working one.
    """
    try:  # one face per call: the size of most frames, and no runtime resizes for the probe
        outputs = np.concatenate([model.predict(face[None])
                                  for face in probe_faces(model.metadata)])
    except Exception as exc:  # each runtime raises its own types for a graph that fails
        text = str(exc).strip()
        first_line = text.splitlines()[0] if text else type(exc).__name__
        raise ModelLoadError(f"{model.path}: fails on a probe input ({first_line})") from exc
    if not np.all(np.isfinite(outputs)):
        bad = outputs[~np.isfinite(outputs)]
        raise ModelLoadError(
            f"{model.path}: outputs {bad.flat[0]} (not a finite number) on a probe face: the "
            "model is broken (a training run that diverged?) and is not used")


def load_classifier(model: str | Path | None = None,
                    num_threads: int = 2) -> ExpressionClassifier:
    """Load what a ``model`` parameter names: empty for the default, a bundled model's or an
    ensemble's name, a file, an export folder, or a comma-separated list to average."""
    choice = resolve_models(model)
    loaded = [load_model(member, num_threads=num_threads) for member in choice.members]
    if not choice.ensemble:
        return loaded[0]
    try:
        return EnsembleClassifier(choice.name, loaded)
    except ValueError as exc:
        raise ModelLoadError(str(exc)) from exc
