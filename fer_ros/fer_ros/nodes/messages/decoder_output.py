"""What image and video decoders print on stderr, routed through the node's throttled logging.

libpng, libjpeg, FFmpeg and OpenCV's own logging write straight to file descriptor 2: one
``libpng error`` line per corrupt frame, at camera rate, one "Premature end of JPEG file" per
loop over a folder. No API of OpenCV's Python bindings silences them, so
the descriptor is pointed at a scratch file for the length of a decode and what was written is
sorted afterwards: decoder messages go to a callback (the node's throttled warning), anything
else (a ROS log line, Fast DDS's or onnxruntime's timestamped lines) goes back to stderr.

Descriptor 2 belongs to the whole process, and `fer bringup` runs every node in one: its
progress lines and even a fatal start-up error, printed by other threads while the camera
decoded, came out as ``[WARN] [fer.camera_node]: decoder: ...``. So Python's own ``sys.stderr``
is first given a descriptor of its own, a duplicate of 2 made before any redirection
(``keep_python_stderr_apart``): whatever Python prints goes straight to the real stderr at
once, and only what C libraries write to descriptor 2 passes through the window.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

NOT_FROM_A_DECODER = re.compile(
    r"^(\[(DEBUG|INFO|WARN|ERROR|FATAL)\] \[\d|Traceback |\s|\w+(Error|Exception|Interrupt)\b"
    r"|\x1b\[|\d{4}-\d\d-\d\d[ T]\d)")
"""ROS console lines, Python tracebacks, and timestamped or coloured log lines (Fast DDS,
onnxruntime), which other threads' C code may write in the window."""

_LOCK = threading.Lock()
"""File descriptor 2 belongs to the whole process: one redirection at a time."""


_python_stderr_apart = False


def keep_python_stderr_apart() -> None:
    """Give ``sys.stderr`` a duplicate of descriptor 2, once, so that no redirection of 2
    catches what Python prints. Nodes call it when they are made, before anything (bringup's
    progress line) keeps a reference to the old ``sys.stderr``. Left alone when ``sys.stderr``
    is not descriptor 2 (a test harness capturing it)."""
    global _python_stderr_apart
    with _LOCK:
        if _python_stderr_apart:
            return
        _python_stderr_apart = True
        try:
            if sys.stderr is None or sys.stderr.fileno() != 2:
                return
        except (AttributeError, OSError, ValueError):
            return
        sys.stderr.flush()
        own = io.FileIO(os.dup(2), "w", closefd=True)
        sys.stderr = io.TextIOWrapper(own, encoding=sys.stderr.encoding,
                                      errors="backslashreplace", line_buffering=True,
                                      write_through=True)


@contextmanager
def decoder_output_to(report: Callable[[str], None]) -> Iterator[None]:
    """Within the block, decoder messages on stderr go to ``report``, one call per line."""
    keep_python_stderr_apart()
    with _LOCK, tempfile.TemporaryFile() as scratch:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(scratch.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            scratch.seek(0)
            _route(scratch.read().decode("utf-8", errors="replace"), report)


def _route(text: str, report: Callable[[str], None]) -> None:
    for line in text.splitlines():
        if not line.strip():
            continue
        if NOT_FROM_A_DECODER.match(line):
            os.write(2, (line + "\n").encode())
        else:
            report(line.strip())
