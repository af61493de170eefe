"""A real full disk for tests: a small tmpfs mounted for the test, filled to the last byte.

Mounting needs root (CI containers and this project's set-up run as root); elsewhere the test
is skipped with the reason, since no other way gives the real ENOSPC from the kernel."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "256k", read_only: bool = False) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size`` (mounted read-only if asked: root's permission
    bits cannot make a folder unwritable for root), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a tmpfs mount, which needs root")
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    """Write a filler file until the disk has no byte left."""
    with open(folder / "filler", "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
