"""emotion_node's parameters: the pipeline's and the node's own. emotion_node declares them,
docs/parameters.md and its class docstring list them."""

from __future__ import annotations

from fer_ros.nodes.hri.parameters import HRI_TOPICS
from fer_ros.nodes.parameters.table import MAX_IMAGE_PIXELS, ParameterSpec
from fer_ros.perception.pipeline_parameters import PIPELINE_PARAMETERS

PARAMETERS: tuple[ParameterSpec, ...] = (
    *PIPELINE_PARAMETERS,
    ParameterSpec("image_transport", "raw", "Subscribe to raw images or to "
                  "<image_raw>/compressed (JPEG/PNG).", choices=("raw", "compressed"),
                  read_only=True),
    ParameterSpec("input_reliability", "best_effort", "QoS reliability of the image "
                  "subscription. best_effort (SensorDataQoS) matches every camera; reliable "
                  "matches only reliable publishers, and then gets the frames that a "
                  "best-effort transport loses (large raw frames from a driver with Fast DDS's "
                  "default settings) resent, at some latency.",
                  choices=("best_effort", "reliable"), read_only=True),
    MAX_IMAGE_PIXELS,
    ParameterSpec("publish_annotated", True, "Publish image_annotated and "
                  "image_annotated/compressed, each drawn and encoded only while it has "
                  "subscribers."),
    ParameterSpec("jpeg_quality", 80, "JPEG quality of image_annotated/compressed.", 1, 100),
    ParameterSpec("draw_emoji", True, "Draw an emoji beside each face on image_annotated."),
    ParameterSpec("stats_period", 30.0, "Seconds between statistics log lines (0 = never).",
                  0.0, 3600.0, read_only=True),
    ParameterSpec("autostart", True, "Configure and activate at start; false leaves the "
                  "lifecycle transitions to a lifecycle manager.", read_only=True),
    *HRI_TOPICS,
)
"""The node's parameters: the pipeline's (perception/pipeline_parameters.py) and its own."""
