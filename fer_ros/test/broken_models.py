"""Small Keras exports that are wrong in one way each: weights that are NaN (a training run
that diverged), or labels that are not FER-2013's seven classes. Built in a second or two with
the tiny head below; they need TensorFlow (the training set)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.expressions.model_metadata import METADATA_FILENAME, ModelMetadata


def tiny_model(outputs: int, seed: int = 0):
    """48x48 gray faces in, ``outputs`` softmax probabilities out."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((48, 48, 1)),
        keras.layers.AveragePooling2D(8),
        keras.layers.Flatten(),
        keras.layers.Dense(outputs, activation="softmax"),
    ])
    return model


def export(folder: Path, model, labels: tuple[str, ...] = EMOTIONS) -> Path:
    """``folder`` as `fer train` writes an export: model.keras and metadata.json."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    ModelMetadata(labels=tuple(labels), files={"keras": "model.keras"},
                  architecture="tiny").save(folder / METADATA_FILENAME)
    return folder


def nan_export(folder: Path) -> Path:
    """A seven-class export whose weights are all NaN: every output is NaN."""
    model = tiny_model(len(EMOTIONS))
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    return export(folder, model)
