"""A clock the test moves by hand, for code that takes its time source as an argument."""

from __future__ import annotations


class FakeClock:
    """Returns ``now``, which starts at 100 s and moves only when the test sets it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now
