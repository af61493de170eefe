"""The launch arguments that fer.launch.py and emotion.launch.py share, and how they reach the
nodes so that what the user configures is what runs.

Order of precedence, lowest first: the node's own defaults (the parameter tables), the
parameter file (``emotion_params:=``, ``camera_params:=``), then the launch arguments the user
gave on the command line. An argument left unset overrides nothing: its default is the empty
string, and only arguments with a value are passed after the file. (A launch file that passed
its own defaults after the file would silently beat the user's YAML.)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from launch.actions import DeclareLaunchArgument
from launch.launch_context import LaunchContext

UNSET = ""


@dataclass(frozen=True)
class OverrideArgument:
    """A launch argument that, when given, overrides one node parameter of the same name."""

    name: str
    description: str
    kind: type = str
    """str, or bool for 'true'/'false' arguments."""
    parameter: str = ""
    """The parameter it sets, where its name is not the argument's."""

    def declaration(self) -> DeclareLaunchArgument:
        return DeclareLaunchArgument(
            self.name, default_value=UNSET,
            description=f"{self.description} (unset: the parameter file's value)")

    def value(self, text: str) -> str | bool:
        """The parameter value for the argument's text, typed as the node declares it."""
        if self.kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError(f"launch argument {self.name}:={text!r} must be true or false")
            return text.lower() == "true"
        return text


EMOTION_OVERRIDES = (
    OverrideArgument("model", "expression model: mini_xception, face_expression_net, "
                     "ensemble, a model file or export folder"),
    OverrideArgument("detector", "face detector: retinaface, blazeface, blazeface_full, "
                     "blazeface_short or haar"),
    OverrideArgument("autostart", "true: emotion_node configures and activates itself at "
                     "start; false: it waits, unconfigured, for a lifecycle manager", bool),
    OverrideArgument("hri", "true: emotion_node also publishes the ROS4HRI (REP-155) face "
                     "topics under /humans/faces (parameter hri_topics)", bool, "hri_topics"),
)
CAMERA_OVERRIDES = (
    OverrideArgument("source", "camera source: device index (0), /dev/videoN, video file, "
                     "image folder, rtsp:// or http:// URL, or sample (built-in moving faces)"),
)


def config_file(share_directory: str, name: str) -> str:
    return os.path.join(share_directory, "config", name)


def shared_declarations(share_directory: str, image_topic: str) -> list[DeclareLaunchArgument]:
    """The arguments both launch files take, ``image_topic`` defaulting as each needs."""
    return [
        DeclareLaunchArgument(
            "namespace", default_value="fer",
            description="namespace of the nodes and of their topics"),
        DeclareLaunchArgument(
            "image_topic", default_value=image_topic,
            description="image topic the emotion node reads (relative names are inside the "
                        "namespace; with image_transport: compressed in the parameter file, "
                        "its /compressed)"),
        DeclareLaunchArgument(
            "emotion_params", default_value=config_file(share_directory, "emotion.yaml"),
            description="emotion_node parameter file"),
        *(argument.declaration() for argument in EMOTION_OVERRIDES),
    ]


def given_overrides(context: LaunchContext,
                    arguments: Iterable[OverrideArgument]) -> dict[str, str | bool]:
    """The parameters set by the arguments the user gave a value, typed for the node."""
    values = {}
    for argument in arguments:
        text = context.launch_configurations.get(argument.name, UNSET)
        if text != UNSET:
            values[argument.parameter or argument.name] = argument.value(text)
    return values


def node_parameters(context: LaunchContext, file_argument: str,
                    arguments: Iterable[OverrideArgument]) -> list:
    """A node's ``parameters``: its file, then the overrides the user gave."""
    parameters: list = [context.launch_configurations[file_argument]]
    overrides = given_overrides(context, arguments)
    if overrides:
        parameters.append(overrides)
    return parameters
