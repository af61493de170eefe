"""SIGINT, SIGTERM and SIGHUP as a flag that the node runner looks at between spins.

SIGHUP (the terminal or SSH session that started the node went away) means the same as
SIGTERM here: a node has no configuration to re-read, and the default action killed it
without a clean shutdown.

Kept free of heavy imports so that a node executable takes the signals before it imports
rclpy, OpenCV and the models: a signal in a node's first second must stop it as cleanly as one
an hour later.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequest:
    """Installs handlers for STOP_SIGNALS that set ``event``. Any later signal finds the
    flag set and changes nothing: ``ros2 launch`` without a terminal signals each node twice,
    and the second one must not interrupt the shutdown the first one started."""

    def __init__(self, immediate: bool = False) -> None:
        self.event = threading.Event()
        self.signal: int | None = None
        self.immediate = immediate
        """While true (a node's imports and construction, which take seconds on a busy robot
        and cannot look at a flag), a signal raises SystemExit(0): the start-up is abandoned
        at once and quietly. The runner clears it once the node exists and spins."""
        self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum
        self.event.set()
        if self.immediate:
            self.immediate = False
            self.ignore_from_now()
            raise SystemExit(0)

    def is_set(self) -> bool:
        return self.event.is_set()

    def restore(self) -> None:
        """Put back the handlers that were there before: for a command run inside another
        program (a test, a notebook) rather than as a process of its own."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def ignore_from_now(self) -> None:
        """Ignore the stop signals for the rest of the process, once everything is closed.

        Python's finalization resets handlers to the default action, and finalizing a process
        that used DDS takes a while: a second SIGINT in that time would kill
        it with status -2. Ignored signals are left ignored by the finalization.
        """
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def stop_behind(exc: BaseException | None) -> SystemExit | None:
    """The SystemExit a start-up signal raised, if ``exc`` is it or was caused by it.

    The signal can land anywhere, including inside the import of a C extension: pybind11 then
    reports ``ImportError("initialization failed")`` with the SystemExit as its cause
    (onnxruntime's, imported while the node configures). Code that catches errors to report
    them must let such a stop through, or the abandoned start-up looks like a broken model.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, SystemExit):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None

