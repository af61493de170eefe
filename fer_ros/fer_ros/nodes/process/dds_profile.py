"""Make Fast DDS carry full camera frames by default.

Fast DDS reads its XML profile when the first participant is created, so this must run before
``rclpy.init``. A profile the user chose (FASTDDS_DEFAULT_PROFILES_FILE already set) always wins,
and other RMW implementations are left alone. Processes that publish camera frames take
``PROFILE``; emotion_node, which mostly receives them, takes ``EMOTION_NODE_PROFILE``, whose
smaller shared-memory segment costs it less resident memory (the file says why).
"""

from __future__ import annotations

import os
from pathlib import Path

PROFILE = Path(__file__).resolve().parents[1] / "dds" / "fastdds_large_images.xml"
"""In nodes/dds/, not here: users point their own camera drivers at this file (README)."""
EMOTION_NODE_PROFILE = PROFILE.with_name("fastdds_emotion_node.xml")


def use_bundled_dds_profile(profile: Path = PROFILE) -> None:
    rmw = os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if not rmw.startswith("rmw_fastrtps"):
        return
    if {"FASTDDS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS"}.isdisjoint(os.environ):
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
