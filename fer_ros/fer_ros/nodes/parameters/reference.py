"""The nodes' parameter tables written out for readers, so that no description can drift from
what the nodes declare: docs/parameters.md
(`python -m fer_ros.nodes.parameters.reference > docs/parameters.md`, `make docs`; a test fails
when the committed file is stale) and the Parameters section of each node class's docstring."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from fer_ros.nodes.hri import expression_parameters
from fer_ros.nodes.parameters import camera, emotion
from fer_ros.perception.parameter_spec import ParameterSpec

HEADER = """# Parameters

Generated from the nodes' parameter tables (`make docs`); do not edit by hand. The shipped
`config/emotion.yaml` and `config/camera.yaml` hold exactly these defaults, and
`ros2 param describe` shows the same descriptions and ranges. Read-only parameters are set at
start-up (YAML, `-p`, launch arguments); the others can also be changed at run time with
`ros2 param set`.
"""


def _default(spec: ParameterSpec) -> str:
    if spec.name == "loop":
        return "true for `sample`, else false"
    if isinstance(spec.default, bool):
        return str(spec.default).lower()
    return f"`{spec.default!r}`" if isinstance(spec.default, str) else f"`{spec.default}`"


def _range(spec: ParameterSpec) -> str:
    if spec.choices:
        return ", ".join(spec.choices)
    if spec.low is not None and spec.high is not None and not isinstance(spec.default, bool):
        return f"{spec.low:g} to {spec.high:g}"
    return ""


def table(specs: Sequence[ParameterSpec]) -> str:
    rows = ["| name | type | default | range | run time | description |",
            "|---|---|---|---|---|---|"]
    for spec in specs:
        description = spec.description
        if spec.min_nonzero is not None:
            description += f" Other than 0, at least {spec.min_nonzero:g}."
        rows.append(f"| `{spec.name}` | {spec.type_name} | {_default(spec)} | {_range(spec)} "
                    f"| {'no' if spec.read_only else 'yes'} | {description} |")
    return "\n".join(rows)


def camera_table() -> tuple[ParameterSpec, ...]:
    """camera_node's parameters as documented: ``loop`` is described with both defaults."""
    return (camera.SOURCE, *camera.parameter_specs(loop_default=False))


def markdown() -> str:
    return "\n".join([
        HEADER,
        "## emotion_node",
        "",
        "The pipeline's parameters (`fer_ros/perception/pipeline_parameters.py`, also used by "
        "`fer predict` for its detector, model and face size) and the node's own "
        "(`fer_ros/nodes/parameters/emotion.py`).",
        "",
        table(emotion.PARAMETERS),
        "",
        "## camera_node",
        "",
        "`fer_ros/nodes/parameters/camera.py`.",
        "",
        table(camera_table()),
        "",
        "## hri_expression_node",
        "",
        "`fer_ros/nodes/hri/expression_parameters.py`; the model and smoothing parameters are "
        "emotion_node's, set at start here ([hri.md](hri.md)).",
        "",
        table(expression_parameters.PARAMETERS),
        "",
    ])


def docstring_section(specs: Sequence[ParameterSpec]) -> str:
    """A ``Parameters:`` section in the layout of the node docstrings' other sections."""
    lines = ["    Parameters:"] + ([] if specs else [" " * 8 + "none"])
    for spec in specs:
        default = _default(spec).replace("`", "")
        access = "read-only" if spec.read_only else "settable"
        lines += textwrap.wrap(f"{spec.name}: {spec.type_name}, default {default}, {access}. "
                               f"{spec.description}", width=96,
                               initial_indent=" " * 8, subsequent_indent=" " * 12)
    return "\n".join(lines) + "\n"


def with_parameters(specs: Sequence[ParameterSpec]):
    """A class decorator that appends ``specs`` to the class docstring as its Parameters
    section: the docstring then lists exactly what the node declares."""
    def document(cls: type) -> type:
        cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n\n" + docstring_section(specs)
        return cls

    return document


if __name__ == "__main__":
    print(markdown(), end="")
