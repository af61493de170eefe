"""Camera calibration files (camera_calibration_parsers' YAML) read into CameraInfo fields.

A calibration says how the lens maps the scene onto the image; ROS consumers (image_proc,
rviz) expect it on ``camera_info`` beside every image. Reading it needs no ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from fer_ros.perception.limits.files import FileRefused, read_bounded

MAX_CALIBRATION_BYTES = 1 << 20
"""A calibration YAML is under a kilobyte; anything near a megabyte is not one."""


class CalibrationError(ValueError):
    """A calibration file is missing or not in camera_calibration_parsers' YAML format."""


@dataclass(frozen=True)
class Calibration:
    """The fields of a sensor_msgs/CameraInfo that a calibration file fixes."""

    camera_name: str
    width: int
    height: int
    distortion_model: str
    d: tuple[float, ...]
    k: tuple[float, ...]
    r: tuple[float, ...]
    p: tuple[float, ...]


def calibration_path(url: str) -> Path:
    """The file a ``camera_info_url`` names: ``file://`` URLs and plain paths."""
    if url.startswith("file://"):
        return Path(url[len("file://"):]).expanduser()
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise CalibrationError(f"camera_info_url scheme {scheme}:// is not supported "
                               "(use file://, package:// or a plain path)")
    return Path(url).expanduser()


def _matrix(data: dict, key: str, rows: int, cols: int, default: list[float] | None
            ) -> tuple[float, ...]:
    entry = data.get(key)
    if entry is None:
        if default is None:
            raise CalibrationError(f"{key} is missing")
        return tuple(default)
    try:
        values = tuple(float(v) for v in entry["data"])
        shape = (int(entry["rows"]), int(entry["cols"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"{key} needs rows, cols and numeric data ({exc})") from exc
    if shape[0] * shape[1] != len(values):
        raise CalibrationError(f"{key} is {shape[0]}x{shape[1]} but has {len(values)} values")
    if rows and shape != (rows, cols):
        raise CalibrationError(f"{key} must be {rows}x{cols}, got {shape[0]}x{shape[1]}")
    return values


def load_calibration(path: Path) -> Calibration:
    """Read a camera_calibration_parsers YAML file (as written by the ROS camera calibrator).

    Rectification defaults to identity and projection to the camera matrix, as for a monocular
    camera; a malformed matrix is refused rather than published.
    """
    try:
        data = yaml.safe_load(read_bounded(path, MAX_CALIBRATION_BYTES, "calibration file"))
    except FileRefused as exc:
        raise CalibrationError(f"cannot read calibration: {exc}") from None
    except yaml.YAMLError as exc:
        raise CalibrationError(f"calibration {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CalibrationError(f"calibration {path} is not a YAML mapping")
    missing = [key for key in ("image_width", "image_height") if key not in data]
    if missing:
        raise CalibrationError(f"calibration {path}: {' and '.join(missing)} missing")
    try:
        width, height = int(data["image_width"]), int(data["image_height"])
        k = _matrix(data, "camera_matrix", 3, 3, None)
        d = _matrix(data, "distortion_coefficients", 0, 0, [])
        r = _matrix(data, "rectification_matrix", 3, 3, [1, 0, 0, 0, 1, 0, 0, 0, 1])
        p = _matrix(data, "projection_matrix", 3, 4,
                    [k[0], k[1], k[2], 0, k[3], k[4], k[5], 0, k[6], k[7], k[8], 0])
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"calibration {path}: {exc}") from exc
    model = str(data.get("distortion_model", "plumb_bob" if d else ""))
    return Calibration(str(data.get("camera_name", "")), width, height, model, d, k, r, p)
