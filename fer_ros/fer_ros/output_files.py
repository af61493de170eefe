"""Files the `fer` commands write: all or nothing, and only where a regular file may go.

Writing to a temporary file and renaming it over the target keeps a reader from ever seeing
half a file, but the rename replaces whatever the path names: run as root, ``--json
/dev/full`` replaced the device with a JSON file. So the target must be a new path or a
regular file (a symbolic link to one is followed, and its target updated); anything else is
refused before a byte is written. On a full disk or any other write error the temporary file
is removed, the old file stays as it was, and the caller gets one line saying why.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class OutputFileError(Exception):
    """An output cannot be written; the message is one line naming the path and the reason."""


def check_output_path(path: Path, what: str) -> Path:
    """The path to write to (links followed) if it is new or a regular file; else the reason.

    ``what`` names the output in messages (``--json out.json``)."""
    real = Path(os.path.realpath(path))
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputFileError(f"{what}: cannot use it ({exc.strerror})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputFileError(f"{what} is a folder; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputFileError(f"{what} is not a regular file (a device, FIFO or socket); "
                              "only a new path or a regular file is written")
    if not real.parent.is_dir():
        raise OutputFileError(f"{what}: folder {real.parent} does not exist")
    if not os.access(real.parent, os.W_OK):
        raise OutputFileError(f"{what}: folder {real.parent} is not writable")
    return real


def write_atomically(path: Path, data: bytes, what: str) -> None:
    """Replace ``path`` with ``data`` in one step, or raise OutputFileError and leave it (and
    its folder) as it was: no temporary file stays behind, whatever went wrong."""
    real = check_output_path(path, what)
    tmp = real.with_name(f".{real.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise OutputFileError(f"{what}: cannot write ({exc.strerror})") from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        check_output_path(real, what)  # nothing else was put there meanwhile
        os.replace(tmp, real)
    except OSError as exc:
        _remove(tmp)
        raise OutputFileError(f"{what}: cannot write ({exc.strerror}); "
                              "the previous file, if any, is unchanged") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
