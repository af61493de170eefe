"""Shared test set-up: every ROS test talks over real DDS, kept private to this machine.

Discovery is limited to localhost, each test gets its own ROS_DOMAIN_ID, claimed exclusively on
this machine (so leftovers of one test never reach the next, and parallel runs never see each
other), and logs go to a temp dir.
"""

from __future__ import annotations

import ast
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="fer-test-roslog-"))
os.environ.pop("ROS_LOCALHOST_ONLY", None)
# The ament index of this install, for `ros2 launch` and the launch tests, unless a sourced
# workspace (colcon) already names one.
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)

from fer_ros.nodes.process.dds_profile import use_bundled_dds_profile  # noqa: E402
from ros_harness import DomainClaim, node_environment  # noqa: E402

use_bundled_dds_profile()


def defines_launch_test(path: Path) -> bool:
    """Whether a test file is a launch_testing test (it defines generate_test_description)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    return any(isinstance(node, ast.FunctionDef) and node.name == "generate_test_description"
               for node in tree.body)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):
    """Collect ordinary test files the way pytest does, leaving only launch tests to
    launch_testing's plugin.

    Wherever ``launch_testing`` is installed (any ROS install), its plugin imports every test file
    while the folder is being collected, to look for a launch test. A file that skips at import
    (an optional dependency missing) would then skip the whole folder, and one that fails would
    stop the run. Decided from the source instead, each file skips or fails on its own.
    """
    if module_path.name == "__init__.py" or defines_launch_test(module_path):
        return None
    return pytest.Module.from_parent(parent, path=module_path)


@pytest.fixture
def ros_domain() -> Iterator[int]:
    """A ROS_DOMAIN_ID that no other test, test run or benchmark on this machine holds."""
    claim = DomainClaim()
    yield claim.domain_id
    claim.release()


@pytest.fixture
def ros_env(ros_domain: int, tmp_path: Path) -> dict[str, str]:
    """Environment for node processes: this test's domain, logs under its temp dir."""
    env = node_environment(os.environ)
    env["ROS_DOMAIN_ID"] = str(ros_domain)
    env["ROS_LOG_DIR"] = str(tmp_path / "ros_log")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def session(ros_domain: int, ros_env: dict[str, str], tmp_path: Path):
    """emotion_node with its defaults, and a peer feeding it (emotion_session.Session)."""
    from emotion_session import Session

    with Session(ros_domain, ros_env, tmp_path) as running:
        yield running
