"""One parameter's declaration: name, type (that of its default), default, range, choices and a
one-line description, with the check every value of it goes through.

ROS-free, so that the pipeline's own configuration (perception/pipeline_parameters.py), the nodes
that declare the same parameters to ROS (nodes/parameters/), the `fer` command's defaults and
docs/parameters.md all read one table instead of repeating its numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = False
    any_type: bool = False
    """Accept strings and integers alike (a camera ``source`` of ``0`` or ``/dev/video0``)."""
    min_nonzero: float | None = None
    """For a range starting at 0 that means "off" or "automatic": the smallest other value.
    A rate of 1e-7 frames/s is in [0, 240] but means a wait of 116 days."""

    @property
    def type_name(self) -> str:
        """The ROS parameter type the value has: bool, integer, double or string."""
        if self.any_type:
            return "string or integer"
        return {bool: "bool", int: "integer", float: "double", str: "string"}[type(self.default)]

    def full_description(self) -> str:
        """The description with the choices and the nonzero minimum spelled out, as
        `ros2 param describe` shows it."""
        text = self.description
        if self.choices:
            text += f" One of: {', '.join(self.choices)}."
        if self.min_nonzero is not None:
            text += f" Other than 0, at least {self.min_nonzero:g}."
        return text

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The value as the node uses it, or a reason to refuse it."""
        if self.any_type:
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                return value, f"{self.name} must be a string or an integer, got {value!r}"
            return value, None
        if isinstance(self.default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return value, f"{self.name} must be a number, got {value!r}"
            value = float(value)
        elif type(value) is not type(self.default):
            return value, (f"{self.name} must be of type {type(self.default).__name__}, "
                           f"got {value!r}")
        if self.low is not None and self.high is not None and not isinstance(value, (str, bool)):
            if not self.low <= value <= self.high:
                return value, f"{self.name}={value} is outside [{self.low}, {self.high}]"
            if self.min_nonzero is not None and 0 < value < self.min_nonzero:
                return value, (f"{self.name}={value} is below {self.min_nonzero:g} "
                               "(0 is allowed and means the default)")
        if self.choices is not None and value not in self.choices:
            return value, f"{self.name}={value!r} is not one of {', '.join(self.choices)}"
        return value, None


def defaults(specs: Iterable[ParameterSpec]) -> dict[str, Any]:
    """Each parameter's default, by name."""
    return {spec.name: spec.default for spec in specs}
