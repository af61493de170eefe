"""REP-155 face ids from fer_ros's integer face ids.

REP-155 wants a face id unique while the system runs (a face seen again later is a new face)
and usable as a ROS name segment, since it becomes part of topic names
(``/humans/faces/<id>/roi``). fer_ros's face ids are integers that a node never gives twice
while it stays configured, but start again at 1 in a new process or after a lifecycle cleanup.
So an id is ``f<session>_<face_id>``: ``session`` is the time the publishers were set up, in
milliseconds since 1970 written in base 36 (eight characters until the year 2059), and
``face_id`` the EmotionArray's; ``f12`` of the session ``mivqk3o1`` is ``fmivqk3o1_12``. A
restarted or reconfigured node starts a later session, so its ids never repeat earlier ones,
and a subscriber of both topics can still tell the EmotionArray face behind an id.
"""

from __future__ import annotations

import re
import time

ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
"""A REP-155 id: it names a topic namespace, so a letter first, then letters, digits and
underscores (ROS names allow no other characters; no double underscore either)."""

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(value: int) -> str:
    text = ""
    while True:
        value, digit = divmod(value, 36)
        text = _DIGITS[digit] + text
        if value == 0:
            return text


def is_valid_id(text: str) -> bool:
    """Whether ``text`` can be a REP-155 id (and so a topic name segment)."""
    return bool(ID_PATTERN.match(text)) and "__" not in text


class FaceIds:
    """The REP-155 id of each face id of one session of a node's publishers."""

    def __init__(self, session_ms: int | None = None):
        if session_ms is None:
            session_ms = time.time_ns() // 1_000_000
        self.prefix = f"f{base36(session_ms)}_"

    def of(self, face_id: int) -> str:
        return f"{self.prefix}{face_id}"
