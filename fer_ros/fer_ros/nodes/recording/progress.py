"""The progress line of a `fer bringup` run on stderr."""

from __future__ import annotations

import time
from collections import deque
from typing import TextIO


class Progress:
    """Results per second: a line rewritten in place on a terminal, else one a second."""

    WINDOW = 1.5
    """Seconds of history the rate is measured over."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = stream.isatty()
        self._interval = 0.25 if self.tty else 1.0
        self._start = time.monotonic()
        self._history: deque[tuple[float, int]] = deque([(self._start, 0)])
        self._next = self._start + self._interval
        self._shown = False

    def update(self, frames: int, faces: int, camera_frames: int) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._interval
        while now - self._history[0][0] > self.WINDOW:
            self._history.popleft()
        then, before = self._history[0]
        self._history.append((now, frames))
        fps = (frames - before) / (now - then)
        text = (f"fer bringup: {frames} frames classified, {fps:5.1f} fps, {faces} faces, "
                f"{camera_frames} camera frames, {now - self._start:5.1f} s")
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._shown = True

    def end(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()
