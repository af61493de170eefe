"""Hand memory freed by a replaced pipeline back to the system.

A run-time model or detector change drops a pipeline whose model runtimes (onnxruntime
sessions, LiteRT interpreters) hold a large native heap. glibc keeps freed heap
in its arenas for reuse, and the next runtime's allocations rarely fit the holes, so the
node's RSS climbed with every change (bench/switch_memory.py shows it). ``malloc_trim`` returns
those free pages at once, cheaply enough to do on every change. No garbage collection is forced:
the pipeline is freed by reference counting, and a full collection with TensorFlow loaded (a
Keras model) holds the interpreter long enough for the frames to feel the stall. Elsewhere
than glibc there is no ``malloc_trim`` and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim)."""
    if _TRIM is not None:
        _TRIM(0)
