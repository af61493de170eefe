"""Where the default model files live once set-up has fetched them.

The files are taken from pinned wheels by ``tools/fetch_models.py`` and installed as package
data, so they are found the same way in a venv, an editable install and a colcon install space.
"""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_CLASSIFIER = "fer_mini_xception.tflite"


class ModelFileMissing(FileNotFoundError):
    """A default model file was not fetched at set-up."""


def bundled_model(filename: str) -> Path:
    """Path of a model shipped with the package; a clear error says how to fetch a missing one."""
    path = MODELS_DIR / filename
    if not path.is_file():
        raise ModelFileMissing(
            f"default model file {path} is missing: run 'make models' "
            "(or 'python3 tools/fetch_models.py' in the source tree) before building or installing"
        )
    return path
