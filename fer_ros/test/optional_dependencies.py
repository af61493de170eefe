"""Skip markers for tests whose dependency is optional in one of the install routes.

TensorFlow is the training set (`make setup-train`; absent from a runtime install and from what
`rosdep install` brings). The ROS 2 launch and command line tools are on every ROS install but
not on PyPI: the venv has them only where set-up found ../shared/ros2-tools.
"""

from __future__ import annotations

from importlib.util import find_spec

import pytest


def missing(*modules: str) -> bool:
    return any(find_spec(module) is None for module in modules)


needs_tensorflow = pytest.mark.skipif(
    missing("tensorflow", "keras"),
    reason="TensorFlow is not installed: it is the training set (make setup-train, or "
           "pip install -r requirements-train.txt)")

needs_ros2_tools = pytest.mark.skipif(
    missing("launch", "launch_ros", "launch_testing", "ros2cli"),
    reason="the ROS 2 launch and command line tools are not installed (not on PyPI; make setup "
           "installs them from ../shared/ros2-tools where that exists, a ROS install has them)")
