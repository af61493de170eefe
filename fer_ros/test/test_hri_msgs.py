"""The REP-155 messages fer_ros publishes speak upstream hri_msgs' wire format.

On the venv route hri_msgs is the repository's own copy (hri_msgs/, built into the venv by the
Makefile); on a ROS 2 install it is the released package. Either way a subscriber built against
ROS4HRI's hri_msgs must match our publishers: DDS (Kilted, Jazzy) refuses to match endpoints
whose type hashes (RIHS01, REP-2011) differ. So the installed type descriptions are compared with
hashes recorded once from upstream.

Where the expected hashes come from: ros4hri/hri_msgs at tag 2.0.0 (commit
5d52c81f7d310d487148fb776851ad636270210d, the ROS 2 port; humble-devel's head 4e7c176 has the
same message files), configured and built with cmake in a scratch folder outside the repository
against this venv's ROS 2 Kilted wheels; the values are the ``type_hashes`` of
build/rosidl_generator_type_description/hri_msgs/msg/<Name>.json. Nothing of that build is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ament_index_python.packages import get_package_share_directory

UPSTREAM_HASHES = {
    "Expression": "RIHS01_411b88e0604397d44775d8ec6a4bc69398fb0dfbfe864c33a40fa99ee85f1b00",
    "IdsList": "RIHS01_7e0812d1ac945c98fd3e393568d581ad0ab567f37b24eff633eab778c1bfe62d",
    "NormalizedRegionOfInterest2D":
        "RIHS01_2e50c93f1ca166ee77af9a5424dc951ae4e452b740162a7f83c082d917dcaff5",
}

EXPRESSION_CONSTANTS = {
    "NEUTRAL": "neutral", "ANGRY": "angry", "SAD": "sad", "HAPPY": "happy",
    "SURPRISED": "surprised", "DISGUSTED": "disgusted", "SCARED": "scared",
}
"""The constants fer_ros maps its seven classes to (nodes/hri/expressions.py): constants are
not part of the type hash, so their values are checked on their own."""


def installed_hash(name: str) -> str:
    description = Path(get_package_share_directory("hri_msgs")) / "msg" / f"{name}.json"
    hashes = json.loads(description.read_text(encoding="utf-8"))["type_hashes"]
    return next(h["hash_string"] for h in hashes if h["type_name"] == f"hri_msgs/msg/{name}")


@pytest.mark.parametrize("name", sorted(UPSTREAM_HASHES))
def test_type_hash_matches_upstream(name):
    assert installed_hash(name) == UPSTREAM_HASHES[name]


def test_expression_constants_match_upstream():
    from hri_msgs.msg import Expression

    assert {name: getattr(Expression, name) for name in EXPRESSION_CONSTANTS} == \
        EXPRESSION_CONSTANTS


def test_hri_msgs_copy_stays_out_of_colcon():
    """The copy in the repository must never shadow the released hri_msgs in a workspace."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "hri_msgs").is_dir():
        pytest.skip("not run from the repository (colcon test of an installed package)")
    assert (root / "hri_msgs" / "COLCON_IGNORE").is_file()
