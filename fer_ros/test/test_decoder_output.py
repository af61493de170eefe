"""Decoder messages caught on descriptor 2 without taking what the rest of the process prints:
bringup's progress lines and fatal errors, printed while the camera decoded, came out as
``decoder:`` warnings. In a child process, since the test harness captures stderr itself."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import os, sys, threading
from fer_ros.nodes.messages.decoder_output import decoder_output_to, keep_python_stderr_apart

keep_python_stderr_apart()
progress = sys.stderr  # as bringup's progress line keeps it
reported = []
with decoder_output_to(reported.append):
    progress.write("fer bringup: 3 frames classified, 2 faces\n")
    other = threading.Thread(target=print, args=("fer bringup: cannot start: no camera",),
                             kwargs={"file": sys.stderr})
    other.start()
    other.join()
    os.write(2, b"libpng error: IDAT: CRC error\n")
    os.write(2, b"2026-12-07 23:00:00.000 [RTPS_TRANSPORT_SHM Error] port in use\n")
    os.write(2, b"Premature end of JPEG file\n")
print("REPORTED", reported, file=sys.stderr)
"""


def test_only_decoder_lines_are_reported_and_everything_else_reaches_stderr():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert lines[-1] == ("REPORTED ['libpng error: IDAT: CRC error', "
                         "'Premature end of JPEG file']"), run.stderr
    assert "fer bringup: 3 frames classified, 2 faces" in lines
    assert "fer bringup: cannot start: no camera" in lines
    assert "2026-12-07 23:00:00.000 [RTPS_TRANSPORT_SHM Error] port in use" in lines
    assert not any(line.startswith(("libpng", "Premature")) for line in lines)
