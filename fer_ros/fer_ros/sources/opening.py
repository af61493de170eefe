"""Which kind of source a ``source`` value names, and the source that reads it.

The one module that knows every kind (devices, files, folders, streams, recordings, the sample):
frame_sources.py holds the sources that OpenCV reads and what every source shares, bags.py the
recordings, and neither needs the other's kinds, so the choice between them lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fer_ros.perception.limits.images import DEFAULT_MAX_PIXELS
from fer_ros.sources.bags import BagSource, is_bag
from fer_ros.sources.frame_sources import (
    SAMPLE,
    CaptureSource,
    FolderSource,
    FrameSource,
    SampleSource,
    SourceError,
    SourceSpec,
)


def parse_source(value: str | int) -> SourceSpec:
    """Interpret the ``source`` parameter.

    A string of digits is a device index like an integer is, because launch files and YAML may
    deliver ``0`` as either type. Paths are classified by what exists now; a path that does not
    exist is taken for a file, so the error names it.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SourceError(f"source must be a device index, path, URL or 'sample', got {value!r}")
    if isinstance(value, int) or value.strip().isdigit():
        index = int(value)
        if index < 0:
            raise SourceError(f"device index must be >= 0, got {index}")
        return SourceSpec("device", index)
    text = value.strip()
    if not text:
        raise SourceError("source is empty: give a device index, a path, a URL or 'sample'")
    if text == SAMPLE:
        return SourceSpec(SAMPLE, SAMPLE)
    if text.startswith("file://"):
        text = text[len("file://"):]
    elif "://" in text:
        return SourceSpec("url", text)
    if text.startswith("/dev/"):
        return SourceSpec("device", text)
    path = Path(text).expanduser()
    if is_bag(path):
        return SourceSpec("bag", str(path))
    return SourceSpec("folder" if path.is_dir() else "file", str(path))



def make_source(spec: SourceSpec, loop: bool, width: int = 0, height: int = 0,
                fps: float = 0.0, max_pixels: int = DEFAULT_MAX_PIXELS, bag_topic: str = "",
                decode: Callable[[str, Any], np.ndarray] | None = None) -> FrameSource:
    """The source for a spec. The sample is drawn at the wanted size, so it is never resized.
    A bag needs ``decode`` for its image messages."""
    if spec.kind == "bag":
        if decode is None:
            raise SourceError(f"{spec} needs an image decoder to be replayed")
        return BagSource(spec, bag_topic, loop, decode)
    if spec.kind == SAMPLE:
        return SampleSource(loop, width, height)
    if spec.kind == "folder":
        return FolderSource(spec, loop, max_pixels)
    return CaptureSource(spec, loop, width, height, fps, max_pixels)
