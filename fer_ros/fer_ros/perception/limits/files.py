"""Files the package reads: a regular file under a size cap, checked before a byte is read.

A model folder whose ``metadata.json`` is a FIFO blocked the reader forever, and one linked to
``/dev/zero`` read until memory ran out; a 300-character name raised ``OSError`` (name too long)
where only a refusal was expected. So a path is first checked for its length, then ``os.stat``
(which follows symbolic links: users link models into place, and a link to a regular file is
fine) must find a regular file no larger than the cap, and only then is it opened, with
``O_NONBLOCK`` so that a file swapped for a FIFO between the check and the open still cannot
block, and read no further than the cap.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_NAME_BYTES = 255
"""Longest file or folder name (Linux's NAME_MAX)."""
MAX_PATH_CHARS = 1024
"""Longest path accepted; a quarter of Linux's PATH_MAX, far beyond any real model path."""
MAX_METADATA_BYTES = 1 << 20
"""A model's metadata JSON is under a kilobyte; 1 MiB leaves room for long provenance notes."""
MAX_MODEL_BYTES = 256 << 20
"""Expression models are a few MB; 256 MiB admits much larger ones yet bounds what a load costs."""


class FileRefused(ValueError):
    """A path that is not a regular file under its cap; the message names it and why."""


def _describe(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a folder"),
                       (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def check_path_length(path: str | os.PathLike, what: str = "path") -> None:
    """Refuse a path longer than MAX_PATH_CHARS or with a name over MAX_NAME_BYTES, before any
    system call could fail on it with ENAMETOOLONG."""
    text = os.fspath(path)
    if len(text) > MAX_PATH_CHARS:
        raise FileRefused(f"{what} of {len(text)} characters is longer than the "
                          f"{MAX_PATH_CHARS} accepted ({text[:40]}...)")
    for name in text.split(os.sep):
        size = len(os.fsencode(name))
        if size > MAX_NAME_BYTES:
            raise FileRefused(f"{what}: a name of {size} bytes is longer than the "
                              f"{MAX_NAME_BYTES} a file name can have ({name[:40]}...)")


def regular_file_size(path: str | os.PathLike, cap: int, what: str = "file") -> int:
    """Size of ``path`` if it is (or links to) a regular file of at most ``cap`` bytes; else
    FileRefused saying what it is instead. Only stats, never opens."""
    check_path_length(path, what)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileRefused(f"{path}: {what} is a dangling symbolic link "
                              f"(to {os.readlink(path)})") from None
        raise FileRefused(f"{path}: {what} not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileRefused(f"{path}: {what} is a symbolic link loop") from None
        raise FileRefused(f"{path}: cannot access the {what} ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"{path}: {what} is {_describe(info.st_mode)}, not a regular file")
    if info.st_size > cap:
        raise FileRefused(f"{path}: {what} of {info.st_size} bytes is larger than the "
                          f"{cap} bytes accepted")
    return info.st_size


def open_checked(path: str | os.PathLike, what: str = "file") -> int:
    """A read-only descriptor of ``path``, which ``regular_file_size`` has checked: opened with
    ``O_NONBLOCK`` so that a FIFO swapped in since the check cannot block, and checked again
    to be a regular file once open. Blocking reads are the caller's to set back
    (``os.set_blocking``) where it wants them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise FileRefused(f"{path}: cannot open the {what} ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # replaced between the stat and the open
        os.close(fd)
        raise FileRefused(f"{path}: {what} is {_describe(mode)}, not a regular file")
    return fd


def read_bounded(path: str | os.PathLike, cap: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes, read without ever blocking on a
    FIFO or a device and without reading past the cap (the file may grow after the check)."""
    regular_file_size(path, cap, what)
    fd = open_checked(path, what)
    try:
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise FileRefused(f"{path}: cannot read the {what} ({exc.strerror})") from None
    finally:
        os.close(fd)
    if total > cap:
        raise FileRefused(f"{path}: {what} grew past the {cap} bytes accepted while read")
    return b"".join(chunks)


def is_present(path: str | os.PathLike) -> bool:
    """Whether anything (even a dangling link or a FIFO) is at ``path``; never raises for a
    name that is too long, it says False for it after check_path_length refused it elsewhere."""
    try:
        return os.path.lexists(Path(path))
    except (OSError, ValueError):
        return False
