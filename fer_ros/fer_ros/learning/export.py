"""Write a trained model as the folder the emotion node loads: .keras, .tflite and metadata.

Every file is written under a temporary name and renamed into place, and ``metadata.json`` is
written last, so an interrupted export never leaves a half-written model over a good one and a
folder with metadata always has the files it names.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from fer_ros.perception.expressions.model_metadata import METADATA_FILENAME, ModelMetadata

KERAS_FILE = "model.keras"
TFLITE_FILE = "model_float16.tflite"
TFLITE_INT8_FILE = "model_int8.tflite"
REPRESENTATIVE_FACES = 200
"""Faces the int8 converter sees to calibrate activation ranges; a few hundred is the usual
advice and more only slows the conversion."""


@contextmanager
def _replacing(path: Path, tmp: Path) -> Iterator[Path]:
    """Yield ``tmp`` to be written, then rename it to ``path``; on any failure (a full disk)
    ``tmp`` is removed, so no partial file is ever left behind."""
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write under a temporary name, then rename."""
    with _replacing(path, path.with_name(f".{path.name}.partial")) as tmp:
        tmp.write_bytes(data)


def save_keras_atomic(model, path: Path) -> None:
    """``model.save`` to a temporary ``.keras`` name, then rename (Keras insists on the suffix)."""
    with _replacing(path, path.with_name(f".{path.stem}.partial.keras")) as tmp:
        model.save(tmp)


def load_keras(path: str | os.PathLike, compile: bool = True):
    """Load a .keras or .h5 model without ever running code stored in the file."""
    import keras

    return keras.saving.load_model(path, compile=compile, safe_mode=True)


def float32_copy(model):
    """The model with every layer computing in float32 (same weights).

    Models trained under mixed precision hold float32 weights but float16 layers; LiteRT's CPU
    kernels and the float16 weight quantisation both expect a float32 graph.
    """
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model

    def plain(config):
        if isinstance(config, dict):
            if config.get("class_name") == "DTypePolicy":
                return "float32"
            return {key: plain(value) for key, value in config.items()}
        if isinstance(config, list):
            return [plain(value) for value in config]
        return config

    copy = model.__class__.from_config(plain(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def tflite_model(model, representative: np.ndarray | None = None) -> bytes:
    """Convert to LiteRT: float16 weights, or int8 when ``representative`` faces are given.

    The int8 model keeps float32 input and output, so the node feeds it exactly what it feeds
    the float model; operators without an int8 kernel stay in float instead of failing.
    Only builtin operators are allowed: the node's LiteRT runtime has no TensorFlow ops.
    """
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as saved_model:
        float32_copy(model).export(saved_model, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if representative is None:
            converter.target_spec.supported_types = [tf.float16]
        else:
            def samples() -> Iterator[list[np.ndarray]]:
                for face in representative[:REPRESENTATIVE_FACES]:
                    yield [face[None].astype(np.float32)]

            converter.representative_dataset = samples
        return converter.convert()


def export_model(model, out_dir: str | os.PathLike, metadata: ModelMetadata,
                 representative: np.ndarray | None = None) -> ModelMetadata:
    """Write model.keras, model_float16.tflite (and model_int8.tflite) and metadata.json.

    ``representative`` holds normalised faces (N, H, W, C) float32; when given, the int8 model
    is made too. Returns the metadata as written, with ``files`` filled in.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_keras_atomic(model, out / KERAS_FILE)
    files = {"keras": KERAS_FILE, "tflite": TFLITE_FILE}
    write_bytes_atomic(out / TFLITE_FILE, tflite_model(model))
    if representative is not None:
        write_bytes_atomic(out / TFLITE_INT8_FILE, tflite_model(model, representative))
        files["tflite_int8"] = TFLITE_INT8_FILE
    written = replace(metadata, files=files)
    written.save(out / METADATA_FILENAME)
    return written
