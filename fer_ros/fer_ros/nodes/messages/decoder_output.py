"""What image and video decoders print on stderr, routed through the node's throttled logging.

libpng, libjpeg, FFmpeg and OpenCV's own logging write straight to file descriptor 2: one
``libpng error`` line per corrupt frame, at camera rate, one "Premature end of JPEG file" per
loop over a folder. No API of OpenCV's Python bindings silences them, so
the descriptor is pointed at a scratch file for the length of a decode and what was written is
sorted afterwards: decoder messages go to a callback (the node's throttled warning), anything
else (a ROS log line or a traceback of another thread in that window) goes back to stderr.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

NOT_FROM_A_DECODER = re.compile(
    r"^(\[(DEBUG|INFO|WARN|ERROR|FATAL)\] \[\d|Traceback |\s|\w+(Error|Exception|Interrupt)\b)")
"""ROS console lines, and Python tracebacks, which other threads may write in the window."""

_LOCK = threading.Lock()
"""File descriptor 2 belongs to the whole process: one redirection at a time."""


@contextmanager
def decoder_output_to(report: Callable[[str], None]) -> Iterator[None]:
    """Within the block, decoder messages on stderr go to ``report``, one call per line."""
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
