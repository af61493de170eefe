"""Hand memory freed by a replaced pipeline back to the system.

A run-time model or detector change drops a pipeline whose model runtimes (onnxruntime
sessions, LiteRT interpreters) held tens of megabytes of native heap. glibc keeps freed heap
in its arenas for reuse, and the next runtime's allocations rarely fit the holes, so the
node's RSS climbed with every change (bench/switch_memory.py shows it). A garbage collection
(the pipeline's reference cycles) and ``malloc_trim`` return those pages at once. Elsewhere
than glibc there is no ``malloc_trim``, and only the collection runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
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
    """Collect unreachable objects, then return the heap's free pages to the system."""
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)
