"""What every launch_testing test of this package launches its nodes with."""

from __future__ import annotations

import tempfile

import launch_testing.asserts
from launch.actions import SetEnvironmentVariable

from ros_harness import DomainClaim

_claims: list[DomainClaim] = []
"""Held until the test process exits, which outlives the nodes it launched."""


def private_ros_environment() -> tuple[list[SetEnvironmentVariable], int]:
    """Actions that give the launched processes a ROS_DOMAIN_ID of their own, discovery on
    this machine only and a log folder of their own; and that domain id, for the test peer."""
    claim = DomainClaim()
    _claims.append(claim)
    log_dir = tempfile.mkdtemp(prefix="fer-launch-test-log-")
    return [SetEnvironmentVariable("ROS_DOMAIN_ID", str(claim.domain_id)),
            SetEnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"),
            SetEnvironmentVariable("ROS_LOG_DIR", log_dir)], claim.domain_id


class CleanExitChecks:
    """What every launch test checks after shutdown: each process exited with 0 and printed no
    traceback. A test file subclasses it under ``@launch_testing.post_shutdown_test()``."""

    def test_every_process_exits_with_0(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)

    def test_no_traceback(self, proc_output):
        for output in proc_output:
            self.assertNotIn("Traceback", output.text.decode(errors="replace"),
                             output.process_name)
