"""The package's parts keep to their jobs, computed from the code's own imports.

An AST scan of every module, not a hand-kept list: a new module is checked the day it is added.
``perception``, ``sources`` and ``viewer`` (the browser viewer's HTTP side) must run on a robot
without ROS or TensorFlow in the way (a benchmark, ``fer predict``, another middleware),
``learning`` must never be pulled into the nodes (TensorFlow is 1.3 GB and seconds of
start-up), and none of the four may need ROS at all.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "fer_ros"
PARTS = ("perception", "sources", "learning", "viewer", "nodes")
ROS_FREE = ("perception", "sources", "learning", "viewer")
TENSORFLOW_FREE_AT_IMPORT = ("perception", "sources", "viewer")
TENSORFLOW = ("tensorflow", "keras", "tf_keras")
ROS_ROOTS = ("rclpy", "rcl", "rcutils", "rmw", "rosidl", "ament_index_python", "cv_bridge",
             "launch", "launch_ros", "launch_testing", "message_filters", "image_transport")
ALLOWED_INTERNAL: dict[str, tuple[str, ...]] = {
    "perception": ("perception",),
    "sources": ("sources", "perception"),
    "learning": ("learning", "perception"),
    "viewer": ("viewer",),
    "nodes": ("nodes", "perception", "sources", "viewer"),
}
"""Which parts a part may import at module level: perception is the base, nodes sit on top,
learning stands beside the nodes, never under them, and the viewer knows only HTTP, JPEG bytes
and result dicts (the nodes feed it)."""
NODE_MODULES = ("camera_node", "emotion_node", "bringup", "viewer_node")
"""The modules at the top of nodes/: the nodes and the commands that compose them. Everything in
a subpackage of nodes/ (process, diagnostics, messages, parameters, recording, ...) sits below
them: the nodes call into it and hand it what it needs (counters, callbacks, tables), it never
imports a node, so data and control flow one way."""
PERCEPTION_STAGES: dict[str, tuple[str, ...]] = {
    "limits": ("limits",),
    "detection": ("detection", "limits", "model_files"),
    "expressions": ("expressions", "detection", "limits", "model_files"),
    "tracking": ("tracking", "detection", "expressions", "limits"),
}
"""What each subpackage of perception/ may import from perception/: the stages a frame goes
through build on the ones before (a face box is detection's, an expression model's description
is expressions'), never on the ones after; the modules at perception/'s top (the pipeline, stills,
drawing, model resolution, the parameter table) put them together."""
MOST_PERCEPTION_TOP_MODULES = 8
"""perception/'s top holds what puts the stages together; everything else lives in a stage."""
STANDALONE_TOP_MODULES = ("output_files.py",)
"""Modules at the package's top beside the command line that the command line and the nodes
both use (the files they write); they import nothing of the package."""
LOADS_ITS_NODE = ("nodes/process/entry_points.py",)
"""The executables' entry points import their node, inside a function, once they have taken the
stop signals: that import is the point of them. Nothing else below the nodes may, lazily or not."""


@dataclass(frozen=True)
class Import:
    module: str
    line: int
    at_module_level: bool


def is_ros(module: str) -> bool:
    """rclpy and friends, or any message/interface package (``*_msgs``, ``*_interfaces``)."""
    root = module.split(".")[0]
    return root in ROS_ROOTS or root.endswith(("_msgs", "_interfaces", "_srvs"))


def is_tensorflow(module: str) -> bool:
    return module.split(".")[0] in TENSORFLOW


def part_of(module: str) -> str | None:
    """The part a ``fer_ros`` module belongs to, or None for another package / the top level."""
    names = module.split(".")
    if names[0] != "fer_ros" or len(names) < 2:
        return None
    return names[1] if names[1] in PARTS else None


def imports_of(path: Path, package_root: Path) -> Iterator[Import]:
    """Every import of a module, with relative imports resolved and laziness recorded.

    An import inside a function runs only when that function is called; that is the accepted way
    for perception to load Keras for a ``.keras`` model. Anything else runs at import time.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = path.relative_to(package_root.parent).with_suffix("").parts
    lazy_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            lazy_nodes.update(id(child) for child in ast.walk(node) if child is not node)
    for node in ast.walk(tree):
        module_level = id(node) not in lazy_nodes
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, module_level)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = own[:-1]
                base = list(package[:len(package) - (node.level - 1)])
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield Import(target, node.lineno, module_level)
            for alias in node.names:
                if part_of(f"{target}.{alias.name}") and len(target.split(".")) <= 2:
                    yield Import(f"{target}.{alias.name}", node.lineno, module_level)


def violations(package_root: Path) -> list[str]:
    """Every broken rule, one readable line each, naming the file, the line and the rule."""
    found = []
    for part in PARTS:
        for path in sorted((package_root / part).rglob("*.py")):
            where = path.relative_to(package_root.parent)
            for imp in imports_of(path, package_root):
                if part in ROS_FREE and is_ros(imp.module):
                    found.append(f"{where}:{imp.line} imports {imp.module}: {part}/ must not "
                                 "depend on ROS (rclpy or a message package); that belongs in "
                                 "nodes/")
                if part in TENSORFLOW_FREE_AT_IMPORT and is_tensorflow(imp.module) \
                        and imp.at_module_level:
                    found.append(f"{where}:{imp.line} imports {imp.module} at module level: "
                                 f"{part}/ must import TensorFlow/Keras only inside the function "
                                 "that needs it")
                target = part_of(imp.module)
                if target and target not in ALLOWED_INTERNAL[part] and (
                        imp.at_module_level or target == "nodes"
                        or part in TENSORFLOW_FREE_AT_IMPORT):
                    found.append(f"{where}:{imp.line} imports {imp.module}: {part}/ may import "
                                 f"only {', '.join(ALLOWED_INTERNAL[part])}")
    return found


def nodes_subpackages(package_root: Path) -> list[Path]:
    return sorted(p.parent for p in (package_root / "nodes").glob("*/__init__.py"))


def layer_violations(package_root: Path) -> list[str]:
    """Imports of a module at the top of nodes/ (NODE_MODULES) from a subpackage of nodes/."""
    found = []
    for subpackage in nodes_subpackages(package_root):
        for path in sorted(subpackage.rglob("*.py")):
            where = path.relative_to(package_root.parent)
            for imp in imports_of(path, package_root):
                names = imp.module.split(".")
                if names[:2] != ["fer_ros", "nodes"] or len(names) < 3 \
                        or names[2] not in NODE_MODULES:
                    continue
                if str(where.relative_to("fer_ros")) in LOADS_ITS_NODE and not imp.at_module_level:
                    continue
                found.append(f"{where}:{imp.line} imports {imp.module}: nodes/{subpackage.name}/ "
                             f"sits below the nodes and must not import "
                             f"{', '.join(NODE_MODULES)}")
    return found


def test_every_part_exists_and_holds_modules():
    for part in PARTS:
        modules = [p for p in (PACKAGE_DIR / part).glob("*.py") if p.name != "__init__.py"]
        assert modules, f"{part}/ has no modules"


def test_no_module_lies_outside_the_parts_but_the_command_line():
    top_level = sorted(p.name for p in PACKAGE_DIR.glob("*.py"))
    assert top_level == ["__init__.py", "cli.py", *STANDALONE_TOP_MODULES, "prediction.py"]


def test_the_standalone_top_modules_import_nothing_of_the_package():
    for name in STANDALONE_TOP_MODULES:
        inside = [imp.module for imp in imports_of(PACKAGE_DIR / name, PACKAGE_DIR)
                  if imp.module.split(".")[0] == "fer_ros"]
        assert inside == [], f"{name} imports {inside}"


def copy_with_line(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package (models left out) with ``line`` put at the top of ``module``."""
    copy = tmp_path / "fer_ros"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "models"))
    victim = copy / module
    victim.write_text(line + "\n" + victim.read_text(encoding="utf-8"), encoding="utf-8")
    return copy


def perception_stage_violations(package_root: Path) -> list[str]:
    """Imports between perception/'s subpackages that PERCEPTION_STAGES does not allow, lazy
    ones included: a stage that needs a later one inside a function still needs it."""
    found = []
    for stage, allowed in PERCEPTION_STAGES.items():
        for path in sorted((package_root / "perception" / stage).rglob("*.py")):
            where = path.relative_to(package_root.parent)
            for imp in imports_of(path, package_root):
                names = imp.module.split(".")
                if names[:2] != ["fer_ros", "perception"] or len(names) < 3:
                    continue
                if names[2] not in allowed:
                    found.append(f"{where}:{imp.line} imports {imp.module}: perception/{stage}/ "
                                 f"may import only {', '.join(allowed)} of perception/")
    return found


def test_the_perception_stages_build_on_the_ones_before():
    assert sorted(p.parent.name for p in (PACKAGE_DIR / "perception").glob("*/__init__.py")) \
        == sorted(PERCEPTION_STAGES)
    found = perception_stage_violations(PACKAGE_DIR)
    assert not found, "perception stages broken:\n" + "\n".join(found)


def test_perception_keeps_few_modules_at_its_top_and_says_what_each_stage_does():
    top = sorted(p.name for p in (PACKAGE_DIR / "perception").glob("*.py"))
    assert len(top) <= MOST_PERCEPTION_TOP_MODULES, top
    for stage in PERCEPTION_STAGES:
        init = PACKAGE_DIR / "perception" / stage / "__init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring and len(docstring.splitlines()) >= 3, f"{init} says too little"
        assert [p for p in init.parent.glob("*.py") if p.name != "__init__.py"], stage


def import_circles(package_root: Path) -> list[list[str]]:
    """Every set of the package's modules that import each other round, directly or through
    others, lazy imports included (a circle made of a function's import still ties the two
    modules together); each as its module names, sorted."""
    modules = {}
    for path in package_root.rglob("*.py"):
        parts = path.relative_to(package_root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imp in imports_of(path, package_root):
            target = imp.module
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target != package_root.name:
                graph[name].add(target)
    reaches = {name: _reachable(graph, name) for name in graph}
    circles = {tuple(sorted(n for n in reaches[name] if name in reaches[n]))
               for name in graph if name in reaches[name]}
    return [list(circle) for circle in sorted(circles)]


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def test_no_import_circle_anywhere_in_the_package():
    assert import_circles(PACKAGE_DIR) == []


def test_an_import_circle_is_caught(tmp_path: Path):
    copy = copy_with_line(tmp_path, "sources/frame_sources.py",
                          "def f():\n    from fer_ros.sources.bags import is_bag\n\n")
    assert ["fer_ros.sources.bags", "fer_ros.sources.frame_sources"] in import_circles(copy)


def test_the_parts_keep_their_boundaries():
    found = violations(PACKAGE_DIR)
    assert not found, "architecture boundaries broken:\n" + "\n".join(found)


def test_every_nodes_subpackage_holds_modules():
    subpackages = nodes_subpackages(PACKAGE_DIR)
    assert subpackages
    for subpackage in subpackages:
        assert [p for p in subpackage.glob("*.py") if p.name != "__init__.py"], subpackage


def test_the_nodes_subpackages_never_import_the_nodes():
    found = layer_violations(PACKAGE_DIR)
    assert not found, "layering broken:\n" + "\n".join(found)


@pytest.mark.parametrize(("module", "line", "expected"), [
    ("nodes/diagnostics/updater.py", "from fer_ros.nodes import emotion_node",
     "nodes/diagnostics/updater.py:1 imports fer_ros.nodes.emotion_node: nodes/diagnostics/ "
     "sits below the nodes"),
    ("nodes/process/node_runner.py", "from fer_ros.nodes.camera_node import CameraNode",
     "imports fer_ros.nodes.camera_node: nodes/process/"),
    ("nodes/messages/publishing.py", "def f():\n    from ..bringup import run",
     "imports fer_ros.nodes.bringup: nodes/messages/"),
    ("nodes/process/entry_points.py", "from fer_ros.nodes import viewer_node",
     "imports fer_ros.nodes.viewer_node: nodes/process/"),
    ("perception/detection/haar.py", "from fer_ros.perception.tracking.tracks import iou_matrix",
     "perception/detection/ may import only detection, limits, model_files"),
    ("perception/limits/files.py",
     "def f():\n    from fer_ros.perception.expressions import labels",
     "perception/limits/ may import only limits"),
])
def test_a_broken_layer_is_caught(tmp_path: Path, module: str, line: str, expected: str):
    """A subpackage of nodes/ importing a node, or a stage of perception/ importing a later one,
    is caught by the same scan on a copy with that one import."""
    check = {"nodes": layer_violations, "perception": perception_stage_violations}
    found = check[module.split("/")[0]](copy_with_line(tmp_path, module, line))
    assert any(expected in v for v in found), found


@pytest.mark.parametrize(("part", "line", "expected"), [
    ("perception", "import rclpy", "perception/detection/detectors.py:1 imports rclpy: "
                                   "perception/ must not depend on ROS"),
    ("sources", "from sensor_msgs.msg import Image", "imports sensor_msgs.msg: sources/ must not"),
    ("learning", "from fer_msgs.msg import Emotion", "imports fer_msgs.msg: learning/ must not"),
    ("perception", "import tensorflow as tf", "imports tensorflow at module level"),
    ("sources", "from keras import layers", "imports keras at module level"),
    ("nodes", "from fer_ros.learning import training", "nodes/ may import only"),
    ("perception", "from ...sources import sample", "imports fer_ros.sources: perception/"),
    ("perception", "from fer_ros.nodes.messages.publishing import publish_guarded",
     "perception/ may import only perception"),
    ("viewer", "from sensor_msgs.msg import CompressedImage", "viewer/ must not depend on ROS"),
    ("viewer", "from fer_ros.perception import labels", "viewer/ may import only viewer"),
])
def test_a_broken_boundary_is_caught(tmp_path: Path, part: str, line: str, expected: str):
    """The scan itself works: the same check on a copy with one offending import fails it."""
    copy = tmp_path / "fer_ros"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "models"))
    victim = sorted(p for p in (copy / part).glob("*.py") if p.name != "__init__.py")[0]
    if part == "perception":
        victim = copy / part / "detection" / "detectors.py"
    victim.write_text(line + "\n" + victim.read_text(encoding="utf-8"), encoding="utf-8")
    found = violations(copy)
    assert any(expected in v for v in found), found


def test_lazy_tensorflow_import_inside_a_function_is_allowed(tmp_path: Path):
    """The way perception loads a ``.keras`` model: only when asked to."""
    copy = tmp_path / "fer_ros"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "models"))
    victim = copy / "perception" / "tracking" / "tracks.py"
    victim.write_text(victim.read_text(encoding="utf-8")
                      + "\n\ndef _load():\n    import keras\n    return keras\n", encoding="utf-8")
    assert violations(copy) == []
