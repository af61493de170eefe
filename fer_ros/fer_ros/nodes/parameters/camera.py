"""camera_node's parameters: ``source`` first (it decides the defaults of the rest), then the
others. camera_node declares them, docs/parameters.md and its class docstring list them."""

from __future__ import annotations

from fer_ros.nodes.parameters.table import MAX_IMAGE_PIXELS, ParameterSpec
from fer_ros.sources.frame_sources import SAMPLE

SOURCE = ParameterSpec(
    "source", SAMPLE, "Device index (0) or path (/dev/video0), video file, image folder, "
    "RTSP/HTTP URL, or 'sample' (built-in moving faces).", read_only=True, any_type=True)
MIN_FPS = 0.01
"""Slowest rate other than 0: one frame every 100 s is a slow slide show; slower is a typo
(1e-7 would mean a frame every 116 days)."""


def parameter_specs(loop_default: bool) -> tuple[ParameterSpec, ...]:
    """The node's parameters besides ``source``; looping is on by default only for the sample,
    which has no end worth stopping at, and off for files, which a user plays to the end."""
    return (
        ParameterSpec("width", 0, "Published width in pixels; 0 = the source's own (with only "
                      "height set, the aspect ratio is kept).", 0, 7680, read_only=True),
        ParameterSpec("height", 0, "Published height in pixels; 0 = the source's own.", 0, 4320,
                      read_only=True),
        ParameterSpec("fps", 0.0, "Rate that files, folders and the sample are played at, and "
                      "the most a device or stream publishes; 0 = the source's own rate (a "
                      "video file's from its header, 30 for folders and the sample, no cap "
                      "for devices and streams).", 0.0, 240.0, min_nonzero=MIN_FPS),
        ParameterSpec("frame_id", "camera", "frame_id of image_raw and camera_info."),
        ParameterSpec("loop", loop_default, "Restart files, folders and the sample at their "
                      "end; when false the node exits there.", read_only=True),
        ParameterSpec("camera_info_url", "", "Calibration YAML (camera_calibration_parsers "
                      "format) as file://, package:// or a plain path; empty = uncalibrated "
                      "camera_info with only the size.", read_only=True),
        ParameterSpec("publish_compressed", False, "Also publish image_raw/compressed (JPEG) "
                      "while it has subscribers.", read_only=True),
        ParameterSpec("jpeg_quality", 80, "JPEG quality of image_raw/compressed.", 1, 100),
        ParameterSpec("reconnect_delay", 0.5, "Seconds before retrying a missing device or "
                      "stream; doubles after each failure.", 0.05, 60.0),
        ParameterSpec("reconnect_max_delay", 8.0, "Longest wait between retries, seconds.",
                      0.1, 600.0),
        ParameterSpec("stats_period", 30.0, "Seconds between statistics log lines "
                      "(0 = never).", 0.0, 3600.0, read_only=True),
        MAX_IMAGE_PIXELS,
        ParameterSpec("bag_topic", "", "For a bag source (.mcap file or rosbag2 folder): the "
                      "Image or CompressedImage topic to play; empty = the bag's only image "
                      "topic.", read_only=True),
    )
