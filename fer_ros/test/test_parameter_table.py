"""One table of defaults: every place that names a parameter's default takes it from the node's
table or is checked against it here, and what `ros2 param dump` shows of a node started without
parameters is the shipped YAML."""

from __future__ import annotations

import argparse
import inspect
import subprocess
import time
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from fer_ros.nodes.parameters import camera as camera_parameters
from fer_ros.nodes.parameters import emotion as emotion_parameters
from fer_ros.nodes.parameters.reference import markdown
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.model_files import DEFAULT_MODEL
from fer_ros.perception.parameter_spec import defaults
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig
from fer_ros.perception.pipeline_parameters import PIPELINE_DEFAULTS, PIPELINE_PARAMETERS
from fer_ros.prediction import add_arguments
from optional_dependencies import needs_ros2_tools
from ros_harness import executable

PACKAGE_DIR = Path(__file__).resolve().parents[1]
DOCS = PACKAGE_DIR.parent / "docs" / "parameters.md"
CAMERA_PARAMETERS = (camera_parameters.SOURCE,
                     *camera_parameters.parameter_specs(loop_default=True))
RCLPY_PARAMETERS = ("use_sim_time", "start_type_description_service")
"""Declared by rclpy for every node, not by the package."""
SOURCE_DEPENDENT = {"loop"}
"""camera_node's ``loop`` defaults by source (true for the sample, false for files), so the
shipped YAML leaves it out rather than force one value on every source."""


def flat(parameters: dict, prefix: str = "") -> dict:
    """Nested YAML keys (``humans: {faces: {width: 128}}``) as ROS 2 names them
    (``humans.faces.width``)."""
    out = {}
    for key, value in parameters.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def shipped(name: str) -> dict:
    return flat(yaml.safe_load((PACKAGE_DIR / "config" / name).read_text())["/**"][
        "ros__parameters"])


def test_each_parameter_is_declared_once():
    for table in (emotion_parameters.PARAMETERS, CAMERA_PARAMETERS):
        names = [spec.name for spec in table]
        assert len(names) == len(set(names)), names


def test_pipeline_config_is_the_pipeline_table():
    assert {f.name for f in fields(PipelineConfig)} == {s.name for s in PIPELINE_PARAMETERS}
    config = PipelineConfig()
    for spec in PIPELINE_PARAMETERS:
        assert getattr(config, spec.name) == spec.default, spec.name
        assert type(getattr(config, spec.name)) is type(spec.default), spec.name
    assert set(PIPELINE_DEFAULTS.items()) <= set(defaults(emotion_parameters.PARAMETERS).items())


def test_emotion_pipelines_own_defaults_are_the_tables():
    signature = inspect.signature(EmotionPipeline.__init__)
    defaulted = {name: parameter.default for name, parameter in signature.parameters.items()
                 if parameter.default is not inspect.Parameter.empty
                 and name in PIPELINE_DEFAULTS}
    assert {"max_faces", "detection_interval", "classification_interval",
            "min_face_size"} <= set(defaulted)
    for name, default in defaulted.items():
        assert default == PIPELINE_DEFAULTS[name], name


def test_fer_predict_defaults_are_the_tables():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["photo.jpg"])
    assert args.detector == PIPELINE_DEFAULTS["detector"]
    assert args.min_face_size == PIPELINE_DEFAULTS["min_face_size"]
    assert args.model == PIPELINE_DEFAULTS["model"]


def test_the_default_model_has_one_meaning():
    """An empty ``model`` is the ensemble in the node, in `fer predict` and in the loader."""
    assert PIPELINE_DEFAULTS["model"] == ""
    assert load_classifier("").path.name == DEFAULT_MODEL == "ensemble"


@pytest.mark.parametrize(("name", "table"), [("emotion.yaml", emotion_parameters.PARAMETERS),
                                             ("camera.yaml", CAMERA_PARAMETERS)])
def test_shipped_yaml_holds_exactly_the_tables_defaults(name, table):
    expected = {s.name: s.default for s in table if s.name not in SOURCE_DEPENDENT}
    assert shipped(name) == expected


def test_docs_parameters_md_is_generated_from_the_tables():
    if not DOCS.parent.is_dir():
        pytest.skip(f"no docs/ beside the package ({DOCS.parent}): a workspace holding only "
                    "the packages")
    assert DOCS.read_text(encoding="utf-8") == markdown(), (
        "docs/parameters.md is stale: run `make docs`")


def dump(node: str, env: dict[str, str], timeout: float = 60.0) -> dict:
    """`ros2 param dump` of a running node, retried while the node is still starting."""
    deadline = time.monotonic() + timeout
    while True:
        run = subprocess.run([*executable("ros2"), "param", "dump", "--no-daemon", node],
                             env=env, capture_output=True, text=True, timeout=60)
        if run.returncode == 0 and "ros__parameters" in run.stdout:
            return flat(yaml.safe_load(run.stdout)[node]["ros__parameters"])
        if time.monotonic() > deadline:
            raise AssertionError(f"ros2 param dump {node}: {run.stdout}{run.stderr}")
        time.sleep(1.0)


@needs_ros2_tools
def test_ros2_param_dump_of_nodes_without_parameters_is_the_shipped_yaml(ros_env, tmp_path):
    processes = []
    try:
        for name in ("emotion_node", "camera_node"):
            log = (tmp_path / f"{name}.log").open("wb")
            processes.append(subprocess.Popen(
                [*executable(name)], env=ros_env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL))
        emotion = dump("/emotion_node", ros_env)
        camera = dump("/camera_node", ros_env)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    for dumped in (emotion, camera):
        for rclpys_own in RCLPY_PARAMETERS:
            dumped.pop(rclpys_own)
    assert emotion == shipped("emotion.yaml")
    assert camera.pop("loop") is True, "the sample loops"
    assert camera == shipped("camera.yaml")
