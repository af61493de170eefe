"""SIGINT in the `ros2 launch` process: to launch's own handler only, never as KeyboardInterrupt.

launch takes SIGINT through a signal wakeup file descriptor that its asyncio loop reads; it
then shuts the launched processes down and exits when they are gone. Python's default handler
raises KeyboardInterrupt in the main thread as well, wherever that thread is. launch catches it
around its loop, but a second SIGINT that lands while the loop runs one of its tasks (the
shutdown it just started) ends that task with the exception, so a future that launch waits for
is never completed: every process has "finished cleanly" and launch waits forever in its loop.
That is what `timeout -s INT` without a terminal does, and a supervisor that signals the
launch process and then its process group: two SIGINTs, microseconds to milliseconds apart.

`bench/launch_sigint.py` measures how often launch hangs with Python's handler and with this
one (bench/README.md has the figures).

While an asyncio loop runs in the main thread (launch's), the handler here does nothing: the
wakeup descriptor is written by CPython's C-level handler whatever the Python-level handler
does, so launch still sees every SIGINT. Outside such a loop it raises KeyboardInterrupt as
Python's own does: a process that loaded the launch file for something else (pytest running
launch_testing tests, a tool) still stops on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from types import FrameType


def _sigint(signum: int, frame: FrameType | None) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop in this thread: Python's behaviour
        raise KeyboardInterrupt from None
    # A loop runs: launch's, which reads the signal from its wakeup descriptor.


def leave_sigint_to_launch() -> None:
    """Call from a launch file's ``generate_launch_description``, which runs in the launch
    process. Only the main thread may set a handler; a launch description loaded elsewhere (a
    tool that inspects it in a thread) leaves the process as it was."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _sigint)
