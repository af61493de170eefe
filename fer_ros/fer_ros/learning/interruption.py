"""SIGINT, SIGTERM and SIGHUP during `fer train`: stop between two batches, never inside a save.

A long CPU run is stopped by Ctrl-C, by a scheduler's SIGTERM or by the SSH session going away
(SIGHUP). The last two used to kill the process wherever it was. Here all three become a
request: while Keras fits, it is acted on at the next batch's end (or after the epoch's
checkpoints are written), so the checkpoint files and the training state always describe the
same finished epoch and ``--resume`` continues from it. Outside the fit (loading the dataset)
nothing can be half-written, and the signal stops the run at once.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """Installs handlers for STOP_SIGNALS while used as a context manager."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._deferring = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        if not self._deferring:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """While inside, a signal is only noted; ``check`` acts on it."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    def check(self, *args, **kwargs) -> None:
        """Raise KeyboardInterrupt if a stop signal came (a Keras callback's signature)."""
        if self.received is not None:
            raise KeyboardInterrupt

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received else "SIGINT"
