"""Parameter declarations with descriptions, ranges and choices, and one validator for all.

Both nodes declare their parameters from a table of ParameterSpec so that `ros2 param describe`
shows every range and choice, and so that a bad value, from YAML at start-up or from
`ros2 param set` later, is refused with the same reason. Doubles accept integers (``-p fps:=15``
and ``ros2 param set ... smoothing_alpha 1`` arrive as integers) and are stored as doubles, so
`ros2 param get`, `describe` and `dump` always show the declared type.
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

from fer_ros.perception.image_limits import DEFAULT_MAX_PIXELS, MAX_PIXELS_LIMIT


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

    def descriptor(self) -> ParameterDescriptor:
        text = self.description
        if self.choices:
            text += f" One of: {', '.join(self.choices)}."
        if self.min_nonzero is not None:
            text += f" Other than 0, at least {self.min_nonzero:g}."
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
            if self.min_nonzero is not None and 0 < value < self.min_nonzero:
                return value, (f"{self.name}={value} is below {self.min_nonzero:g} "
                               "(0 is allowed and means the default)")
        if self.choices is not None and value not in self.choices:
            return value, f"{self.name}={value!r} is not one of {', '.join(self.choices)}"
        return value, None


class ParameterTable:
    """Declares a node's parameters and validates every later change against their specs."""

    def __init__(self, node: Node, specs: Sequence[ParameterSpec]):
        self._specs = {spec.name: spec for spec in specs}
        self.values: dict[str, Any] = {}
        for spec in specs:
            self._declare(node, spec)
        for spec in specs:
            value, reason = spec.check(node.get_parameter(spec.name).value)
            if reason is not None:
                raise ValueError(f"invalid parameter: {reason}")
            self.values[spec.name] = value
        node.add_pre_set_parameters_callback(self._keep_declared_types)

    def _declare(self, node: Node, spec: ParameterSpec) -> None:
        """Declare one parameter; an integer override of a double is declared again as a double
        (undeclaring needs a writable parameter, so read-only ones start writable)."""
        descriptor = spec.descriptor()
        if not self._is_double(spec):
            node.declare_parameter(spec.name, spec.default, descriptor)
            return
        writable = ParameterDescriptor(
            description=descriptor.description, dynamic_typing=True,
            floating_point_range=descriptor.floating_point_range)
        value = node.declare_parameter(spec.name, spec.default, writable).value
        node.undeclare_parameter(spec.name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        node.declare_parameter(spec.name, value, descriptor, ignore_override=True)

    @staticmethod
    def _is_double(spec: ParameterSpec) -> bool:
        return isinstance(spec.default, float)

    def _keep_declared_types(self, parameters: list[Parameter]) -> list[Parameter]:
        """Store an integer given for a double as a double; rclpy would store it as an integer,
        since doubles must be declared with dynamic typing to accept ``-p fps:=15`` at all."""
        kept = []
        for parameter in parameters:
            spec = self._specs.get(parameter.name)
            if (spec is not None and self._is_double(spec)
                    and parameter.type_ == Parameter.Type.INTEGER):
                parameter = Parameter(parameter.name, Parameter.Type.DOUBLE,
                                      float(parameter.value))
            kept.append(parameter)
        return kept

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


MAX_IMAGE_PIXELS = ParameterSpec(
    "max_image_pixels", DEFAULT_MAX_PIXELS, "Largest image decoded (a compressed frame, an "
    "image file of a folder, a video's frame size), in pixels (width x height, read from the "
    "header before decoding; default 4096x4096). Larger ones are refused with a warning "
    "naming their size: a few KB of PNG can claim 32000x32000 "
    "pixels and cost gigabytes to decode.", 64 * 64, MAX_PIXELS_LIMIT)


def refuse(reason: str) -> SetParametersResult:
    return SetParametersResult(successful=False, reason=reason)


def accept() -> SetParametersResult:
    return SetParametersResult(successful=True)
