"""The launch files name only things that exist, and pass the user's configuration through.

Their source names only console scripts of setup.py and the fer_ros share directory; with the
real launch API (a ROS install, or the venv with ../shared/ros2-tools) the descriptions are built
and their arguments evaluated, to check that an argument left unset overrides nothing.
test_launch_fer.py, test_launch_emotion.py and test_launch_params.py run them under
launch_testing.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import os
import signal
import socket
import time
from pathlib import Path

import pytest
import yaml

from fer_ros.nodes.bringup import share_directory
from fer_ros.nodes.parameters import camera as camera_parameters
from fer_ros.nodes.parameters import emotion as emotion_parameters
from test_parameter_table import flat

PACKAGE_DIR = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((PACKAGE_DIR / "launch").glob("*.launch.py"))
NODE_PARAMETERS = {
    "camera_node": {camera_parameters.SOURCE.name} | {
        spec.name for spec in camera_parameters.parameter_specs(loop_default=False)},
    "emotion_node": {spec.name for spec in emotion_parameters.PARAMETERS},
}
PARAMETER_FILES = {"camera.yaml": "camera_node", "emotion.yaml": "emotion_node"}


def console_scripts() -> dict[str, str]:
    """name -> "module:function" from setup.py, read without running it."""
    tree = ast.parse((PACKAGE_DIR / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value == "console_scripts":
                    entries = [ast.literal_eval(e) for e in v.elts]
                    return dict((part.strip() for part in e.split("=")) for e in entries)
    raise AssertionError("setup.py declares no console_scripts")


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == name]


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def first_string(call: ast.Call) -> str:
    assert call.args and isinstance(call.args[0], ast.Constant), ast.unparse(call)
    return call.args[0].value


def test_there_are_launch_files_and_they_are_installed():
    assert {"fer.launch.py", "emotion.launch.py"} <= {p.name for p in LAUNCH_FILES}
    for path in LAUNCH_FILES:
        assert (share_directory() / "launch" / path.name).is_file(), path.name


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_executables_and_parameters_exist(path):
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
               for n in tree.body)
    scripts = console_scripts()
    nodes = calls(tree, "Node")
    assert nodes
    for node in nodes:
        assert ast.literal_eval(keyword(node, "package")) == "fer_ros"
        executable = ast.literal_eval(keyword(node, "executable"))
        assert executable in scripts, f"{executable} is not a console script of setup.py"
        module_name, function = scripts[executable].split(":")
        assert callable(getattr(importlib.import_module(module_name), function))
    share = calls(tree, "get_package_share_directory")
    assert [first_string(c) for c in share] == ["fer_ros"]


@pytest.mark.parametrize("name", sorted(PARAMETER_FILES))
def test_parameter_files_only_set_declared_parameters(name):
    data = yaml.safe_load((PACKAGE_DIR / "config" / name).read_text())
    parameters = flat(data["/**"]["ros__parameters"])
    assert set(parameters) <= NODE_PARAMETERS[PARAMETER_FILES[name]]


def load_launch_file(path: Path):
    spec = importlib.util.spec_from_file_location(f"real_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def launched(path: Path, **arguments: str) -> list:
    """The launch_ros Node actions the file starts with ``arguments`` given by the user,
    with the launch context they are evaluated in."""
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
    from launch_ros.actions import Node

    context = LaunchContext()
    context.launch_configurations.update(arguments)
    pending = list(load_launch_file(path).entities)
    nodes = []
    while pending:
        entity = pending.pop(0)
        if isinstance(entity, DeclareLaunchArgument):
            entity.execute(context)
        elif isinstance(entity, OpaqueFunction):
            pending.extend(entity.execute(context))
        elif isinstance(entity, GroupAction):
            pending.extend(entity.get_sub_entities())
        elif isinstance(entity, Node):
            nodes.append(entity)
    return nodes, context


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_description_builds_with_real_launch_ros(path):
    pytest.importorskip("launch_ros", reason="launch_ros is not installed (not on PyPI; make "
                        "setup installs it from ../shared/ros2-tools, a ROS install has it)")
    from launch import LaunchDescription

    description = load_launch_file(path)
    assert isinstance(description, LaunchDescription)
    arguments = description.get_launch_arguments()
    names = [a.name for a in arguments]
    assert len(names) == len(set(names))
    assert {"namespace", "image_topic", "emotion_params", "model", "detector",
            "autostart"} <= set(names)
    for argument in arguments:
        assert argument.description and not argument.description.startswith("no description")
    nodes, context = launched(path)
    assert {n.node_executable for n in nodes} <= set(console_scripts())
    for name in ("emotion_params", "camera_params"):
        if name in context.launch_configurations:
            assert Path(context.launch_configurations[name]).is_file()


def test_fer_launch_has_the_documented_arguments():
    pytest.importorskip("launch_ros", reason="launch_ros is not installed")
    names = {a.name for a in load_launch_file(PACKAGE_DIR / "launch" / "fer.launch.py")
             .get_launch_arguments()}
    assert {"source", "image_topic", "model", "detector", "namespace", "use_camera",
            "camera_params"} <= names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_arguments_left_unset_override_nothing_and_given_ones_win(path):
    """Only the parameter file reaches the node unless the user gave an argument; then the
    argument comes after the file, typed as the node declares it."""
    pytest.importorskip("launch_ros", reason="launch_ros is not installed")
    from fer_ros.nodes.parameters.launch_arguments import (
        EMOTION_OVERRIDES,
        given_overrides,
        node_parameters,
    )

    _, context = launched(path)
    assert given_overrides(context, EMOTION_OVERRIDES) == {}
    assert node_parameters(context, "emotion_params", EMOTION_OVERRIDES) == [
        context.launch_configurations["emotion_params"]]
    _, context = launched(path, detector="haar", autostart="false", model="")
    assert node_parameters(context, "emotion_params", EMOTION_OVERRIDES) == [
        context.launch_configurations["emotion_params"], {"detector": "haar",
                                                          "autostart": False}]
    with pytest.raises(ValueError, match="autostart"):
        launched(path, autostart="maybe")


def test_launch_files_leave_sigint_to_launchs_loop_and_keep_ctrl_c_elsewhere():
    """While launch's asyncio loop runs, SIGINT reaches it through the signal wakeup descriptor
    only, never as a KeyboardInterrupt inside one of its tasks (which once hung `ros2 launch`
    under `timeout -s INT`); outside a loop, Ctrl-C still raises KeyboardInterrupt."""
    previous = signal.getsignal(signal.SIGINT)
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    try:
        load_launch_file(PACKAGE_DIR / "launch" / "fer.launch.py")

        async def signalled_inside_the_loop() -> bytes:
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(0.2)
            return reader.recv(16)

        loop = asyncio.new_event_loop()
        try:
            assert loop.run_until_complete(signalled_inside_the_loop()) == bytes([signal.SIGINT])
        finally:
            loop.close()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)
    finally:
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGINT, previous)
        reader.close()
        writer.close()
