"""Parameter declarations with descriptions, ranges and choices, and one validator for all.

Both nodes declare their parameters from a table of ParameterSpec so that `ros2 param describe`
shows every range and choice, and so that a bad value, from YAML at start-up or from
`ros2 param set` later, is refused with the same reason. Doubles accept integers (``-p fps:=15``
arrives as an integer) and are stored as doubles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.node import Node
from rclpy.parameter import Parameter


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

    def descriptor(self) -> ParameterDescriptor:
        text = self.description
        if self.choices:
            text += f" One of: {', '.join(self.choices)}."
        descriptor = ParameterDescriptor(
            description=text, read_only=self.read_only,
            dynamic_typing=self.any_type or isinstance(self.default, float),
        )
        if self.low is not None and self.high is not None:
            if isinstance(self.default, bool):
                pass
            elif isinstance(self.default, int):
                descriptor.integer_range = [
                    IntegerRange(from_value=int(self.low), to_value=int(self.high), step=0)]
            elif isinstance(self.default, float):
                descriptor.floating_point_range = [
                    FloatingPointRange(from_value=float(self.low), to_value=float(self.high),
                                       step=0.0)]
        return descriptor

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
        if self.choices is not None and value not in self.choices:
            return value, f"{self.name}={value!r} is not one of {', '.join(self.choices)}"
        return value, None


class ParameterTable:
    """Declares a node's parameters and validates every later change against their specs."""

    def __init__(self, node: Node, specs: Sequence[ParameterSpec]):
        self._specs = {spec.name: spec for spec in specs}
        self.values: dict[str, Any] = {}
        for spec in specs:
            node.declare_parameter(spec.name, spec.default, spec.descriptor())
        for spec in specs:
            value, reason = spec.check(node.get_parameter(spec.name).value)
            if reason is not None:
                raise ValueError(f"invalid parameter: {reason}")
            self.values[spec.name] = value

    def check(self, parameters: Iterable[Parameter]) -> tuple[dict[str, Any], str | None]:
        """Proposed values after the change, or the first reason to refuse it."""
        proposed = dict(self.values)
        for parameter in parameters:
            spec = self._specs.get(parameter.name)
            if spec is None:
                continue
            value, reason = spec.check(parameter.value)
            if reason is not None:
                return proposed, reason
            proposed[parameter.name] = value
        return proposed, None


def refuse(reason: str) -> SetParametersResult:
    return SetParametersResult(successful=False, reason=reason)


def accept() -> SetParametersResult:
    return SetParametersResult(successful=True)
