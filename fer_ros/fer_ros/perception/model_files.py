"""Where the default model files live once set-up has fetched them.

The files are taken from pinned wheels by ``tools/fetch_models.py`` and installed as package
data, so they are found the same way in a venv, an editable install and a colcon install space.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from fer_ros.perception.file_limits import MAX_MODEL_BYTES, regular_file_size

MODELS_DIR = Path(__file__).resolve().parent / "models"
MINI_XCEPTION_FILE = "fer_mini_xception.tflite"


class ModelFileMissing(FileNotFoundError):
    """A bundled model file was not fetched at set-up."""


def bundled_model(filename: str) -> Path:
    """Path of a model shipped with the package; a clear error says how to fetch a missing one."""
    path = MODELS_DIR / filename
    if not path.is_file():
        raise ModelFileMissing(
            f"bundled model file {path} is missing: run 'make models' "
            "(or 'python3 tools/fetch_models.py' in the source tree) before building or installing"
        )
    return path


UNSAFE_KERAS_LAYERS = frozenset({"Lambda"})
"""Layers whose saved form carries Python code; Keras' safe mode refuses them on load, but
only after TensorFlow (hundreds of MB of RSS that stays) has been imported."""


def unsafe_keras_layers(path: Path) -> list[str]:
    """Class names of unsafe layers in a ``.keras`` or ``.h5`` file's saved configuration,
    read without importing TensorFlow; empty when the configuration cannot be read (the
    Keras loader then reports the problem)."""
    text = _keras_config_text(path)
    if text is None:
        return []
    try:
        config = json.loads(text)
    except ValueError:
        return []
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            name = node.get("class_name")
            if isinstance(name, str) and name in UNSAFE_KERAS_LAYERS:
                found.append(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return sorted(set(found))


def unsafe_keras_refusal(path: Path) -> str | None:
    """The one-line reason to refuse a Keras file with unsafe layers, or None."""
    unsafe = unsafe_keras_layers(path)
    if not unsafe:
        return None
    return (f"{path}: refused before loading TensorFlow: unsafe layer {', '.join(unsafe)} "
            "(it carries Python code)")


MAX_KERAS_CONFIG_BYTES = 16 << 20
"""A Keras configuration is tens of kilobytes; a larger one (a zip bomb's) is not read."""


def _keras_config_text(path: Path) -> str | None:
    """The saved configuration, read only from a regular file under MAX_MODEL_BYTES and only
    when it is at most MAX_KERAS_CONFIG_BYTES once decompressed."""
    try:
        regular_file_size(path, MAX_MODEL_BYTES, "model file")
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if archive.getinfo("config.json").file_size > MAX_KERAS_CONFIG_BYTES:
                    return None
                return archive.read("config.json").decode("utf-8")
        import h5py  # comes with Keras; reading an attribute loads no TensorFlow

        with h5py.File(path, "r") as h5:
            value = h5.attrs.get("model_config")
        return value.decode("utf-8") if isinstance(value, bytes) else value
    except (OSError, KeyError, ValueError, ImportError, zipfile.BadZipFile):
        return None
