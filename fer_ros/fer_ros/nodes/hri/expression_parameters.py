"""hri_expression_node's parameters: which face image it reads, the image size, and the
expression model and smoothing, declared as emotion_node declares them (the pipeline's table)."""

from __future__ import annotations

from dataclasses import replace

from fer_ros.nodes.hri.parameters import FACE_IMAGE_SIZE
from fer_ros.perception.parameter_spec import ParameterSpec
from fer_ros.perception.pipeline_parameters import PIPELINE_PARAMETERS

_PIPELINE = {spec.name: spec for spec in PIPELINE_PARAMETERS}

PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("face_image", "cropped", "Which REP-155 face image to classify: "
                  "/humans/faces/<id>/cropped (the face box) or /humans/faces/<id>/aligned "
                  "(the face levelled by its eye line).", choices=("cropped", "aligned"),
                  read_only=True),
    *FACE_IMAGE_SIZE,
    *(replace(_PIPELINE[name], read_only=True) for name in (
        "model", "classification_interval", "smoothing", "smoothing_alpha", "smoothing_window",
        "classifier_threads")),
    ParameterSpec("stats_period", 30.0, "Seconds between statistics log lines (0 = never).",
                  0.0, 3600.0, read_only=True),
)
"""All are set at start-up (YAML, -p, launch arguments)."""
