"""The launch files name only things that exist, and use every argument they declare.

launch and launch_ros are not on PyPI, so the files are checked here without them too: their
source is parsed (executables, parameter files, parameter names, launch arguments); they are run
against stand-ins that accept exactly the keyword arguments of the real launch API, which
catches misspelt keywords and code that fails when called; and, where launch_ros is importable
(a ROS 2 install, or the venv with the tools of ../shared/ros2-tools), the launch description is
built for real. test_launch_fer.py and test_launch_emotion.py run them under launch_testing.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import os
import signal
import socket
import sys
import time
import types
from pathlib import Path

import pytest
import yaml

from fer_ros.nodes import camera_node, emotion_node
from fer_ros.nodes.bringup import share_directory

PACKAGE_DIR = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((PACKAGE_DIR / "launch").glob("*.launch.py"))
NODE_PARAMETERS = {
    "camera_node": {camera_node.SOURCE.name} | {
        spec.name for spec in camera_node.parameter_specs(loop_default=False)},
    "emotion_node": {spec.name for spec in emotion_node.PARAMETERS},
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
        for params in ast.walk(keyword(node, "parameters")):
            if isinstance(params, ast.Dict):
                names = {ast.literal_eval(k) for k in params.keys}
                assert names <= NODE_PARAMETERS[executable], names
    share = calls(tree, "get_package_share_directory")
    assert [first_string(c) for c in share] == ["fer_ros"]
    yaml_files = {n.value for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and str(n.value).endswith(".yaml")}
    assert yaml_files
    for name in yaml_files:
        assert (PACKAGE_DIR / "config" / name).is_file(), name


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_declared_argument_is_used_and_every_used_one_declared(path):
    tree = ast.parse(path.read_text())
    declared = [first_string(c) for c in calls(tree, "DeclareLaunchArgument")]
    used = {first_string(c) for c in calls(tree, "LaunchConfiguration")}
    assert len(declared) == len(set(declared))
    assert set(declared) == used
    for call in calls(tree, "DeclareLaunchArgument"):
        assert keyword(call, "description") is not None, first_string(call)
        assert keyword(call, "default_value") is not None, first_string(call)


def test_fer_launch_has_the_documented_arguments():
    tree = ast.parse((PACKAGE_DIR / "launch" / "fer.launch.py").read_text())
    declared = {first_string(c) for c in calls(tree, "DeclareLaunchArgument")}
    assert {"source", "image_topic", "model", "detector", "namespace", "use_camera"} <= declared


@pytest.mark.parametrize("name", sorted(PARAMETER_FILES))
def test_parameter_files_only_set_declared_parameters(name):
    data = yaml.safe_load((PACKAGE_DIR / "config" / name).read_text())
    parameters = data["/**"]["ros__parameters"]
    assert set(parameters) <= NODE_PARAMETERS[PARAMETER_FILES[name]]


class Recorded:
    """A stand-in launch entity: keeps its arguments for the checks."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def stand_in(name: str, signature_of) -> type:
    """A Recorded subclass whose constructor binds arguments like the real one would."""
    signature = inspect.signature(signature_of)

    def __init__(self, *args, **kwargs):
        signature.bind(*args, **kwargs)
        Recorded.__init__(self, *args, **kwargs)

    return type(name, (Recorded,), {"__init__": __init__})


# Keyword arguments of the real launch API (launch and launch_ros, Humble to Kilted). Action
# keywords that every action takes (condition) are listed where the files may use them.
def _node(*, executable, package=None, name=None, namespace=None, exec_name=None,
          parameters=None, remappings=None, ros_arguments=None, arguments=None,
          output="log", condition=None, emulate_tty=False, respawn=False,
          respawn_delay=None, additional_env=None): ...


def _declare(name, *, default_value=None, description=None, choices=None,
             condition=None): ...


def _group(actions, *, scoped=True, forwarding=True, launch_configurations=None,
           condition=None): ...


def _launch_description(initial_entities=None, *, deprecated_reason=None): ...


def _one(value): ...


def _configuration(variable_name, *, default=None): ...


def _parameter_value(value, *, value_type=None): ...


STAND_INS = {
    "launch": {"LaunchDescription": _launch_description},
    "launch.actions": {"DeclareLaunchArgument": _declare, "GroupAction": _group},
    "launch.conditions": {"IfCondition": _one, "UnlessCondition": _one},
    "launch.substitutions": {"LaunchConfiguration": _configuration},
    "launch_ros": {},
    "launch_ros.actions": {"Node": _node, "PushRosNamespace": _one},
    "launch_ros.parameter_descriptions": {"ParameterValue": _parameter_value},
}


def load_with_stand_ins(path: Path, monkeypatch) -> Recorded:
    """Run the file's generate_launch_description with the stand-ins in place of launch.

    The real ament index finds the installed package; outside a sourced workspace the index
    is this install's prefix, as for `fer bringup`.
    """
    if not os.environ.get("AMENT_PREFIX_PATH"):
        monkeypatch.setenv("AMENT_PREFIX_PATH", sys.prefix)
    for module_name, members in STAND_INS.items():
        module = types.ModuleType(module_name)
        for name, signature_of in members.items():
            setattr(module, name, stand_in(name, signature_of))
        monkeypatch.setitem(sys.modules, module_name, module)
    spec = importlib.util.spec_from_file_location(f"stand_in_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def entities(description: Recorded) -> list[Recorded]:
    found = []
    pending = list(description.args[0])
    while pending:
        entity = pending.pop(0)
        found.append(entity)
        if type(entity).__name__ == "GroupAction":
            pending.extend(entity.args[0])
    return found


def node_named(description: Recorded, executable: str) -> Recorded:
    return next(e for e in entities(description) if type(e).__name__ == "Node"
                and e.kwargs["executable"] == executable)


def test_fer_launch_runs_against_the_launch_api(monkeypatch):
    description = load_with_stand_ins(PACKAGE_DIR / "launch" / "fer.launch.py", monkeypatch)
    found = entities(description)
    group = next(e for e in found if type(e).__name__ == "GroupAction")
    assert type(group.args[0][0]).__name__ == "PushRosNamespace"
    camera, emotion = node_named(description, "camera_node"), node_named(description,
                                                                         "emotion_node")
    assert "condition" in camera.kwargs and "condition" not in emotion.kwargs
    for node in (camera, emotion):
        assert [rule[0] for rule in node.kwargs["remappings"]] == ["image_raw"]
        parameter_file = node.kwargs["parameters"][0]
        assert type(parameter_file).__name__ == "LaunchConfiguration"
    defaults = {d.args[0]: d.kwargs["default_value"] for d in found
                if type(d).__name__ == "DeclareLaunchArgument"}
    assert defaults["source"] == "sample" and defaults["namespace"] == "fer"
    for name in ("camera_params", "emotion_params"):
        assert Path(defaults[name]).is_file(), defaults[name]


def test_emotion_launch_runs_against_the_launch_api(monkeypatch):
    description = load_with_stand_ins(PACKAGE_DIR / "launch" / "emotion.launch.py",
                                      monkeypatch)
    emotion = node_named(description, "emotion_node")
    assert type(emotion.kwargs["namespace"]).__name__ == "LaunchConfiguration"
    assert not any(type(e).__name__ == "Node" and e.kwargs["executable"] == "camera_node"
                   for e in entities(description))


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_description_builds_with_real_launch_ros(path):
    pytest.importorskip("launch_ros", reason="launch_ros is not installed (not on PyPI; make "
                        "setup installs it from ../shared/ros2-tools, a ROS install has it)")
    from launch import LaunchDescription

    spec = importlib.util.spec_from_file_location(f"real_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    tree = ast.parse(path.read_text())
    declared = {first_string(c) for c in calls(tree, "DeclareLaunchArgument")}
    assert {a.name for a in description.get_launch_arguments()} == declared


def test_launch_files_leave_sigint_to_launchs_loop_and_keep_ctrl_c_elsewhere(monkeypatch):
    """While launch's asyncio loop runs, SIGINT reaches it through the signal wakeup descriptor
    only, never as a KeyboardInterrupt inside one of its tasks (which once hung `ros2 launch`
    under `timeout -s INT`); outside a loop, Ctrl-C still raises KeyboardInterrupt."""
    previous = signal.getsignal(signal.SIGINT)
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    try:
        load_with_stand_ins(PACKAGE_DIR / "launch" / "fer.launch.py", monkeypatch)

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
