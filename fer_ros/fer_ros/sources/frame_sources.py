"""Where camera frames come from, without ROS: devices, files, folders, streams and the sample.

The camera node only loops over ``open``/``read``/``release`` and decides what to do with the
three outcomes that matter to a robot: a frame, the end of a finite source, or a source that is
gone for now. Keeping that logic here lets it be tested without DDS and reused by other tools.

Two kinds of failure are kept apart on purpose. ``SourceError`` means the configuration can never
work (a missing file, an empty folder): retrying would only hide the mistake, so the node stops.
``SourceUnavailable`` means the source may come back (a camera unplugged, a stream restarting):
the node retries with backoff instead of exiting, as a robot left running expects.
"""

from __future__ import annotations

import math
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fer_ros.perception.limits.images import (
    DEFAULT_MAX_PIXELS,
    ImageHeaderError,
    ImageTooLarge,
    describe_pixels,
    read_image,
)
from fer_ros.sources.sample import SampleSequence

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm",
                            ".ppm"})
SAMPLE = "sample"
DEFAULT_RATE = 30.0
"""Frames per second when neither the parameter nor the source says (folders, the sample, a
video file without a rate in its header)."""

STREAM_TIMEOUT_MS = 5000
"""Open and read timeout for network streams, so a dead stream is noticed and reconnected
instead of blocking the capture thread for FFmpeg's default of 30 s."""


class SourceError(Exception):
    """The source can never work as configured; the message says what to fix."""


class SourceUnavailable(Exception):
    """The source cannot deliver now but may later (unplugged, not yet plugged, stream down)."""


class FrameUnreadable(Exception):
    """One item of the source could not be decoded; the next one may be fine."""


@dataclass(frozen=True)
class SourceSpec:
    """What the ``source`` parameter names, decided once from its text."""

    kind: str
    """``device``, ``file``, ``folder``, ``bag``, ``url`` or ``sample``."""
    target: int | str
    """Device index, device path, file or folder path, or URL."""

    @property
    def live(self) -> bool:
        """Live sources run at their own rate and may vanish; the others are replayed."""
        return self.kind in ("device", "url")

    def __str__(self) -> str:
        if self.kind == "device" and isinstance(self.target, int):
            return f"camera {self.target} ({device_path(self.target)})"
        if self.kind == "device":
            return f"camera {self.target}"
        if self.kind == SAMPLE:
            return "the built-in sample"
        return f"{self.kind} {self.target}"


def device_path(index: int) -> str:
    return f"/dev/video{index}"


def output_size(width: int, height: int, wanted_width: int, wanted_height: int) -> tuple[int, int]:
    """Frame size to publish: 0 keeps the source's size; one side alone keeps the aspect."""
    if wanted_width and wanted_height:
        return wanted_width, wanted_height
    if wanted_width:
        return wanted_width, max(1, round(height * wanted_width / width))
    if wanted_height:
        return max(1, round(width * wanted_height / height)), wanted_height
    return width, height


def fit_frame(frame: np.ndarray, wanted_width: int, wanted_height: int) -> np.ndarray:
    height, width = frame.shape[:2]
    size = output_size(width, height, wanted_width, wanted_height)
    if size == (width, height):
        return frame
    shrinking = size[0] * size[1] < width * height
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Gray and BGRA images (folders hold both) as 3-channel BGR, which is what is published."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


class FrameSource:
    """One source of BGR frames. ``read`` returns None at the end of a finite source."""

    spec: SourceSpec
    native_fps: float | None = None
    """The source's own rate once open, if it states one."""
    recorded: Any = None
    """For a recording (fer_ros.sources.bags.RecordedFrame): the stamp, frame_id and
    camera_info that came with the frame last read, so a replay republishes them."""
    warning: str | None = None
    """Something the user should hear about a source that still works (a cut-short bag)."""

    def check(self) -> None:
        """Raise SourceError now for what can never work, before any retrying starts."""

    def open(self) -> str:
        """Open (again); returns a short description of what was opened, for the log."""
        raise NotImplementedError

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def release(self) -> None:
        """Free the device or file; safe to call more than once."""


V4L2_MAJOR = 81
"""Linux's device number for video4linux: every camera node, /dev/video* and its links."""


def not_a_camera(path: str) -> None:
    """Raise SourceError for a device path that exists but can never be a camera: /dev/null
    "opened" as a camera retried forever or ended at once with no frame and status 0. A path
    that does not exist yet is left to the reconnect loop (a camera not plugged in yet)."""
    try:
        info = os.stat(path)
    except OSError:
        return
    if stat.S_ISREG(info.st_mode):
        return  # a video file that happens to live under /dev (/dev/shm)
    if not stat.S_ISCHR(info.st_mode) or os.major(info.st_rdev) != V4L2_MAJOR:
        raise SourceError(f"{path} is not a camera: it is not a video4linux device "
                          "(cameras are /dev/video* or links to them)")


class CaptureSource(FrameSource):
    """A cv2.VideoCapture: V4L2 devices, video files and network streams."""

    def __init__(self, spec: SourceSpec, loop: bool = False, request_width: int = 0,
                 request_height: int = 0, request_fps: float = 0.0,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        self.spec = spec
        self.loop = loop
        self.max_pixels = max_pixels
        self._request = (request_width, request_height, request_fps)
        self._capture: Any = None

    def check(self) -> None:
        if self.spec.kind == "file" and not Path(str(self.spec.target)).is_file():
            raise SourceError(f"no such video file or image folder: {self.spec.target}")
        if self.spec.kind == "device" and isinstance(self.spec.target, str) \
                and sys.platform.startswith("linux"):
            not_a_camera(self.spec.target)

    def open(self) -> str:
        self.release()
        target = self.spec.target
        if self.spec.kind == "device" and sys.platform.startswith("linux"):
            path = device_path(target) if isinstance(target, int) else str(target)
            if not Path(path).exists():
                raise SourceUnavailable(f"{path} does not exist (unplugged?)")
        if self.spec.kind == "url":
            capture = cv2.VideoCapture(str(target), cv2.CAP_FFMPEG, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
        else:
            capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            if self.spec.kind == "file":
                raise SourceError(f"OpenCV cannot decode {target} as a video")
            raise SourceUnavailable(f"OpenCV cannot open {self.spec}")
        if self.spec.kind == "device":
            width, height, fps = self._request
            if width:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps:
                capture.set(cv2.CAP_PROP_FPS, fps)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width * height > self.max_pixels:
            capture.release()
            raise SourceError(f"{self.spec} has frames of {width}x{height} pixels, above the "
                              f"limit of {describe_pixels(self.max_pixels)} (max_image_pixels)")
        self._capture = capture
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.native_fps = fps if math.isfinite(fps) and 0 < fps < 1000 else None
        rate = f", {self.native_fps:g} fps" if self.native_fps else ""
        return f"{self.spec}: {width}x{height}{rate}"

    def read(self) -> np.ndarray | None:
        if self._capture is None:
            raise SourceUnavailable(f"{self.spec} is not open")
        ok, frame = self._capture.read()
        if ok:
            return as_bgr(frame)
        if self.spec.live:
            raise SourceUnavailable(f"reading {self.spec} failed")
        if not self.loop:
            return None
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, frame = self._capture.read()
        if not ok:
            raise SourceError(f"cannot rewind {self.spec.target} to loop it")
        return as_bgr(frame)

    def release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class FolderSource(FrameSource):
    """The images of a folder in name order, as a slide show."""

    def __init__(self, spec: SourceSpec, loop: bool = False,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        self.spec = spec
        self.loop = loop
        self.max_pixels = max_pixels
        self._paths: list[Path] = []
        self._next = 0
        self._unreadable_in_a_row = 0

    def check(self) -> None:
        folder = Path(str(self.spec.target))
        self._paths = sorted(p for p in folder.iterdir()
                             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")

    def open(self) -> str:
        if not self._paths:
            self.check()
        self._next = 0
        return f"{self.spec}: {len(self._paths)} images"

    def read(self) -> np.ndarray | None:
        if self._next >= len(self._paths):
            if not self.loop:
                return None
            self._next = 0
        path = self._paths[self._next]
        self._next += 1
        try:
            frame = read_image(path, self.max_pixels, cv2.IMREAD_UNCHANGED)
            problem = "not a readable 8-bit image"
        except (ImageTooLarge, ImageHeaderError) as exc:
            frame, problem = None, str(exc)
        except OSError as exc:
            frame, problem = None, f"cannot read it ({exc.strerror})"
        if frame is None or frame.dtype != np.uint8:
            self._unreadable_in_a_row += 1
            if self._unreadable_in_a_row >= len(self._paths):
                raise SourceError(f"none of the images in {self.spec.target} is readable")
            raise FrameUnreadable(f"skipped {path}: {problem}")
        self._unreadable_in_a_row = 0
        return as_bgr(frame)


class SampleSource(FrameSource):
    """fer_ros.sources.sample.SampleSequence: moving faces for machines without a camera."""

    def __init__(self, loop: bool = True, width: int = 0, height: int = 0):
        self.spec = SourceSpec(SAMPLE, SAMPLE)
        self.loop = loop
        self._sequence = SampleSequence(width or 640, height or 480)
        self._next = 0

    def open(self) -> str:
        self._next = 0
        sequence = self._sequence
        return (f"{self.spec}: {sequence.width}x{sequence.height}, {len(sequence)} frames"
                f"{' looped' if self.loop else ''}")

    def read(self) -> np.ndarray | None:
        if self._next >= len(self._sequence) and not self.loop:
            return None
        frame = self._sequence.frame(self._next)
        self._next += 1
        return frame
