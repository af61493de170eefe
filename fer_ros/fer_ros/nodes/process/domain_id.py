"""ROS_DOMAIN_ID checked before DDS sees it.

Fast DDS derives its UDP ports from the domain id (7400 + 250 per domain, plus offsets), so an
id above 232 asks for ports past 65535: `make demo` with ROS_DOMAIN_ID=300 ended in a Fast DDS
port error and rcl's traceback, with no word from fer. An id that is not a number is refused by
rcl with an equally opaque error. Both are caught here, with the range and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

MAX_DOMAIN_ID = 232
"""The highest id whose ports fit in 16 bits under the RTPS port mapping."""


def domain_id_error(environ: Mapping[str, str] = os.environ) -> str | None:
    """Why the environment's ROS_DOMAIN_ID cannot work, or None (unset or empty means 0)."""
    text = environ.get("ROS_DOMAIN_ID", "")
    if not text.strip():
        return None
    if not text.strip().isdigit():
        return (f"ROS_DOMAIN_ID={text!r} is not a domain id: give a whole number from 0 to "
                f"{MAX_DOMAIN_ID} (or unset it for 0)")
    if int(text) > MAX_DOMAIN_ID:
        return (f"ROS_DOMAIN_ID={text.strip()} is out of range: DDS derives its UDP ports from "
                f"it and ids above {MAX_DOMAIN_ID} need ports past 65535; use 0 to "
                f"{MAX_DOMAIN_ID} (0 to 101 keeps clear of the kernel's ephemeral ports)")
    return None
