"""Parameter declarations with descriptions, ranges and choices, and one validator for all.

Both nodes declare their parameters from a table of ParameterSpec so that `ros2 param describe`
shows every range and choice, and so that a bad value, from YAML at start-up or from
`ros2 param set` later, is refused with the same reason. Doubles accept integers (``-p fps:=15``
and ``ros2 param set ... smoothing_alpha 1`` arrive as integers) and are stored as doubles, so
`ros2 param get`, `describe` and `dump` always show the declared type.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from fer_ros.perception.limits.images import DEFAULT_MAX_PIXELS, MAX_PIXELS_LIMIT
from fer_ros.perception.parameter_spec import ParameterSpec

__all__ = ["MAX_IMAGE_PIXELS", "ParameterSpec", "ParameterTable", "accept", "descriptor",
           "refuse", "warn_unknown_overrides"]


def descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """What `ros2 param describe` shows: the description with its choices, the range, and
    whether the value may change at run time."""
    result = ParameterDescriptor(
        description=spec.full_description(), read_only=spec.read_only,
        dynamic_typing=spec.any_type or isinstance(spec.default, float),
    )
    if spec.low is not None and spec.high is not None and not isinstance(spec.default, bool):
        if isinstance(spec.default, int):
            result.integer_range = [
                IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=0)]
        elif isinstance(spec.default, float):
            result.floating_point_range = [
                FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high),
                                   step=0.0)]
    return result


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
        declared = descriptor(spec)
        if not self._is_double(spec):
            node.declare_parameter(spec.name, spec.default, declared)
            return
        writable = ParameterDescriptor(
            description=declared.description, dynamic_typing=True,
            floating_point_range=declared.floating_point_range)
        value = node.declare_parameter(spec.name, spec.default, writable).value
        node.undeclare_parameter(spec.name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        node.declare_parameter(spec.name, value, declared, ignore_override=True)

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


def unknown_overrides(node: Node) -> list[str]:
    """Names that the node was given (``--params-file``, ``-p``, a launch file) but does not
    declare, sorted. rclpy drops such values without a word, so a misspelt name in a user's
    YAML would silently leave the default running. ``qos_overrides.*`` belong to rclpy's
    publishers and subscriptions, not to the node's table."""
    return sorted(name for name in node._parameter_overrides
                  if not node.has_parameter(name) and not name.startswith("qos_overrides."))


def warn_unknown_overrides(node: Node) -> None:
    """Warn once, naming each parameter the node was given but does not have."""
    unknown = unknown_overrides(node)
    if unknown:
        node.get_logger().warning(
            f"unknown parameter(s) ignored: {', '.join(unknown)} (not parameters of "
            f"{node.get_name()}; `ros2 param list {node.get_fully_qualified_name()}` lists "
            "them; check the spelling in your parameter file)")


def refuse(reason: str) -> SetParametersResult:
    return SetParametersResult(successful=False, reason=reason)


def accept() -> SetParametersResult:
    return SetParametersResult(successful=True)
