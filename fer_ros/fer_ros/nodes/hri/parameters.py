"""The REP-155 parameters: emotion_node's switch and the face image size both nodes share.

REP-155 sizes the faces' ``cropped`` and ``aligned`` images by the global parameters
``/humans/faces/width`` and ``/humans/faces/height`` (128 x 128 by default). ROS 2 has no global
parameters and a parameter name cannot start with '/'; hri_face_detect, ROS4HRI's own detector,
fixes the size at 128 x 128 in its code. Here each node declares the same names under its own
parameters, with the separator ROS 2 parameters use: ``humans.faces.width`` and
``humans.faces.height`` (``humans: {faces: {width: 128}}`` in a YAML file), default 128.
"""

from __future__ import annotations

from fer_ros.perception.parameter_spec import ParameterSpec

MIN_FACE_IMAGE_SIDE, MAX_FACE_IMAGE_SIDE = 16, 1024

FACE_IMAGE_SIZE: tuple[ParameterSpec, ...] = (
    ParameterSpec("humans.faces.width", 128, "Width in pixels of the REP-155 face images "
                  "(cropped, aligned): REP-155's /humans/faces/width.",
                  MIN_FACE_IMAGE_SIDE, MAX_FACE_IMAGE_SIDE, read_only=True),
    ParameterSpec("humans.faces.height", 128, "Height in pixels of the REP-155 face images "
                  "(cropped, aligned): REP-155's /humans/faces/height.",
                  MIN_FACE_IMAGE_SIDE, MAX_FACE_IMAGE_SIDE, read_only=True),
)

HRI_TOPICS: tuple[ParameterSpec, ...] = (
    ParameterSpec("hri_topics", False, "Also publish the ROS4HRI (REP-155) face topics: "
                  "/humans/faces/tracked and per face /humans/faces/<id>/roi, cropped, "
                  "aligned, expression (docs/hri.md). Set at start (launch argument hri).",
                  read_only=True),
    *FACE_IMAGE_SIZE,
)
"""emotion_node's REP-155 parameters."""
