"""docs/parameters.md, generated from the nodes' parameter tables so that it cannot drift from
what the nodes declare: `python -m fer_ros.nodes.parameter_reference > docs/parameters.md`
(`make docs`). A test fails when the committed file is stale."""

from __future__ import annotations

from collections.abc import Sequence

from fer_ros.nodes import camera_node, emotion_node
from fer_ros.perception.parameter_spec import ParameterSpec

HEADER = """# Parameters

Generated from the nodes' parameter tables (`make docs`); do not edit by hand. The shipped
`config/emotion.yaml` and `config/camera.yaml` hold exactly these defaults, and
`ros2 param describe` shows the same descriptions and ranges. Read-only parameters are set at
start-up (YAML, `-p`, launch arguments); the others can also be changed at run time with
`ros2 param set`.
"""


def _default(spec: ParameterSpec) -> str:
    if isinstance(spec.default, bool):
        return str(spec.default).lower()
    if spec.name == "loop":
        return "true for `sample`, else false"
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


def markdown() -> str:
    camera = (camera_node.SOURCE, *camera_node.parameter_specs(loop_default=False))
    return "\n".join([
        HEADER,
        "## emotion_node",
        "",
        "The pipeline's parameters (`fer_ros/perception/pipeline_parameters.py`, also used by "
        "`fer predict` for its detector, model and face size) and the node's own "
        "(`fer_ros/nodes/emotion_node.py`).",
        "",
        table(emotion_node.PARAMETERS),
        "",
        "## camera_node",
        "",
        "`fer_ros/nodes/camera_node.py`.",
        "",
        table(camera),
        "",
    ])


if __name__ == "__main__":
    print(markdown(), end="")
