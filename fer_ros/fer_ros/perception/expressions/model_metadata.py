"""The small JSON file that travels with every expression model.

A model file alone does not say how its input was made. Feeding a model faces cropped, sized or
scaled differently from its training data degrades it silently, so training writes these facts
down and inference reads them back instead of assuming them.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.limits.files import MAX_METADATA_BYTES, FileRefused, read_bounded

FORMAT_VERSION = 1
METADATA_FILENAME = "metadata.json"

NORMALIZATIONS: dict[str, tuple[float, float]] = {
    "symmetric": (2.0 / 255.0, -1.0),
    "unit": (1.0 / 255.0, 0.0),
    "none": (1.0, 0.0),
}
"""Pixel value v becomes v * scale + offset; symmetric maps 0..255 to -1..1."""


MAX_MARGIN_FRAC = 1.0
MAX_MARGIN_PX = 1000
MAX_INPUT_SIDE = 1024


class ModelMetadataError(ValueError):
    """A metadata file is missing, unreadable or inconsistent; the message names the file."""


@dataclass(frozen=True)
class CropSpec:
    """How a detected face box becomes the model's input crop.

    ``square`` grows the shorter side around the centre; then ``margin_frac`` of the side and
    ``margin_px`` pixels are added on every side. The fer mini-Xception was trained on crops with
    10 px added to a square box; our own FER-2013 models use a fraction so the crop does not
    depend on how far the person stands from the camera.
    """

    square: bool = True
    margin_frac: float = 0.0
    margin_px: int = 0

    def __post_init__(self) -> None:
        """Refuse at load what would make every frame fail (a negative margin shrinks the crop
        to nothing) or silently feed the model something else than it was trained on."""
        if not isinstance(self.square, bool):
            raise ModelMetadataError(f"crop.square must be true or false, got {self.square!r}")
        if (isinstance(self.margin_frac, bool) or not isinstance(self.margin_frac, (int, float))
                or not 0.0 <= self.margin_frac <= MAX_MARGIN_FRAC):
            raise ModelMetadataError(f"crop.margin_frac must be a number in [0, "
                                     f"{MAX_MARGIN_FRAC}], got {self.margin_frac!r}")
        if (isinstance(self.margin_px, bool) or not isinstance(self.margin_px, int)
                or not 0 <= self.margin_px <= MAX_MARGIN_PX):
            raise ModelMetadataError(f"crop.margin_px must be an integer in [0, {MAX_MARGIN_PX}], "
                                     f"got {self.margin_px!r}")


@dataclass(frozen=True)
class ModelMetadata:
    """What a classifier expects as input and what its outputs mean."""

    labels: tuple[str, ...] = EMOTIONS
    input_size: tuple[int, int] = (48, 48)
    channels: int = 1
    normalization: str = "symmetric"
    crop: CropSpec = field(default_factory=CropSpec)
    architecture: str = ""
    source: str = ""
    files: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ModelMetadataError(f"labels must be distinct and non-empty, got {self.labels!r}")
        if not all(isinstance(label, str) and label for label in self.labels):
            raise ModelMetadataError(f"labels must be non-empty strings, got {self.labels!r}")
        if len(self.input_size) != 2:
            raise ModelMetadataError(f"input_size must be [height, width], got {self.input_size!r}")
        height, width = self.input_size
        if not (8 <= height <= MAX_INPUT_SIDE and 8 <= width <= MAX_INPUT_SIDE):
            raise ModelMetadataError(f"input_size must be between 8x8 and {MAX_INPUT_SIDE}x"
                                     f"{MAX_INPUT_SIDE}, got {self.input_size!r}")
        if not isinstance(self.crop, CropSpec):
            raise ModelMetadataError(f"crop must be an object, got {self.crop!r}")
        if self.channels not in (1, 3):
            raise ModelMetadataError(f"channels must be 1 or 3, got {self.channels!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ModelMetadataError(
                f"normalization {self.normalization!r} is not one of {sorted(NORMALIZATIONS)}"
            )
        bad = {k: v for k, v in self.metrics.items()
               if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)}
        if bad:
            raise ModelMetadataError(f"metrics must be finite numbers, got {bad!r}")

    @property
    def scale_offset(self) -> tuple[float, float]:
        return NORMALIZATIONS[self.normalization]

    def to_json(self) -> str:
        data = asdict(self)
        data["format_version"] = FORMAT_VERSION
        return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict, origin: str = "<dict>") -> ModelMetadata:
        try:
            version = data.get("format_version", FORMAT_VERSION)
            if version != FORMAT_VERSION:
                raise ModelMetadataError(
                    f"{origin}: format_version {version} is not supported "
                    f"(expected {FORMAT_VERSION})"
                )
            crop_data = data.get("crop", {})
            if not isinstance(crop_data, dict):
                raise ModelMetadataError(f"{origin}: crop must be an object, got {crop_data!r}")
            crop = CropSpec(**crop_data)
            return cls(
                labels=tuple(data["labels"]),
                input_size=tuple(int(v) for v in data["input_size"]),
                channels=int(data.get("channels", 1)),
                normalization=str(data.get("normalization", "symmetric")),
                crop=crop,
                architecture=str(data.get("architecture", "")),
                source=str(data.get("source", "")),
                files=dict(data.get("files", {})),
                metrics={str(k): float(v) for k, v in data.get("metrics", {}).items()},
            )
        except ModelMetadataError as exc:
            if str(exc).startswith(origin):
                raise
            raise ModelMetadataError(f"{origin}: invalid model metadata: {exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelMetadataError(f"{origin}: invalid model metadata: {exc}") from exc

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelMetadata:
        """Read a metadata file that must be a regular file under MAX_METADATA_BYTES: a FIFO
        or a link to a device is refused before it is opened."""
        path = Path(path)
        try:
            data = json.loads(read_bounded(path, MAX_METADATA_BYTES, "model metadata file")
                              .decode("utf-8"))
        except FileRefused as exc:
            raise ModelMetadataError(str(exc)) from None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ModelMetadataError(f"{path}: cannot read model metadata: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelMetadataError(f"{path}: model metadata must be a JSON object")
        return cls.from_dict(data, origin=str(path))

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically so an interrupted export never leaves a half-written file."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(self.to_json(), encoding="utf-8")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
