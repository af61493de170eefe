"""The ``--out`` folder of ``fer train`` and ``fer evaluate``, checked before any work starts.

A training run writes its first file after the dataset is loaded and an epoch has run; an
evaluation after every face was classified. A folder that is a file, read-only or on a full
disk then ended in a traceback, minutes in, with half-written files left behind. These checks
only look (stat, access, free space): nothing is created until the work starts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

RUN_BYTES_PER_PARAMETER = 4 * 11
"""float32 weights, eleven times over: three checkpoints at the peak (last, best and the new
one under its temporary name), each carrying Adam's two moment vectors (3 copies each), then
the exported .keras and the .tflite files (about 1.75 more). The seed CNN's run wrote 67 MiB
for its 2.3 M parameters (2026-12-07)."""
SLACK_BYTES = 4 << 20
"""History, state, metadata, the files' own overhead; an evaluation's PNGs and JSON."""


class OutputFolderError(ValueError):
    """An output folder cannot be used; the message is one line naming it and the reason."""


def check_output_folder(folder: Path, what: str = "--out") -> list[Path]:
    """Refuse a folder that is a file, lies under a file, or cannot be written into.

    Returns the folders that do not exist yet, deepest first: the caller creates them when the
    work starts and removes them again (when still empty) if it ends before writing anything.
    """
    missing: list[Path] = []
    existing = Path(os.path.abspath(folder))
    while not os.path.lexists(existing):
        missing.append(existing)
        existing = existing.parent
    if not existing.is_dir():
        if existing == Path(os.path.abspath(folder)):
            raise OutputFolderError(f"{what} {folder} is a file, not a folder: name a folder")
        raise OutputFolderError(f"{what} {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputFolderError(f"{what} {folder}: {existing} is not writable "
                                f"({_read_only_reason(existing)})")
    return missing


def check_free_space(folder: Path, needed: int, what: str = "--out") -> None:
    """Refuse a folder whose disk has less room than the work will write."""
    existing = Path(os.path.abspath(folder))
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise OutputFolderError(
            f"{what} {folder}: {_size(free)} free on its disk, the files to write need about "
            f"{_size(needed)}: free some space or choose another folder")


def bytes_for_run(model) -> int:
    """What a training run of ``model`` writes, checkpoints and export together."""
    return int(model.count_params()) * RUN_BYTES_PER_PARAMETER + SLACK_BYTES


def _read_only_reason(path: Path) -> str:
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "a read-only file system"
    except OSError:
        pass
    return "no write permission"


def _size(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB"
