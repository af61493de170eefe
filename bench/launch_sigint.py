"""`ros2 launch` after two SIGINTs close together: how often launch itself never exits.

    .venv/bin/python bench/launch_sigint.py --runs 200     # about 8 minutes

`timeout -s INT` without a terminal signals `ros2 launch` and then its process group, so
launch gets SIGINT twice within microseconds to milliseconds; a supervisor that signals the
launch process and then its group does the same. The second one, raised as KeyboardInterrupt
inside a task of launch's loop, can leave launch waiting forever after every process has
finished (fer_ros/fer_ros/nodes/process/launch_signals.py). Each run starts `ros2 launch` on a
minimal launch file of two Python processes that exit on SIGINT, sends SIGINT to launch, waits a
random 0 to ``--gap`` ms, sends SIGINT to the process group, and gives launch ``--exit-timeout``
s to exit. Two launch files, alternating run by run, so both see the same load: as launch leaves
SIGINT (Python's default handler) and with ``leave_sigint_to_launch()``, as fer_ros's launch
files call it. The nodes play no part in the hang, so they are left out: a run takes a second
and a rare race can be counted. ``--load`` busy loops beside them widen the race.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import LOAD_OPTION, busy_loops, executable
from run import Report, Target, standalone

CHILD = """\
import signal, sys, time
stop = []
signal.signal(signal.SIGINT, lambda signum, frame: stop.append(signum))
print('ready', flush=True)
while not stop:
    time.sleep(0.01)
sys.exit(0)
"""

LAUNCH_FILE = """\
import sys
from launch import LaunchDescription
from launch.actions import ExecuteProcess
{prelude}

def generate_launch_description():
    {call}
    return LaunchDescription([
        ExecuteProcess(cmd=[sys.executable, {child!r}], output='screen', name='child' + str(i))
        for i in range(2)])
"""

VARIANTS = {
    "Python's SIGINT handler": ("", "pass"),
    "leave_sigint_to_launch()": (
        "from fer_ros.nodes.process.launch_signals import leave_sigint_to_launch",
        "leave_sigint_to_launch()"),
}
START_TIMEOUT = 30.0


OPTIONS = {
    "--runs": (200, "runs per launch file"),
    "--gap": (10.0, "largest gap between the two SIGINTs, ms"),
    "--exit-timeout": (8.0, "seconds launch has to exit after the signals"),
    **LOAD_OPTION,
}


def one_run(launch_file: Path, gap_s: float, exit_timeout: float) -> str:
    """'exited', 'hung' or 'not started'; output lines are read until both children are up."""
    process = subprocess.Popen([*executable("ros2"), "launch", str(launch_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    ready, deadline = 0, time.monotonic() + START_TIMEOUT
    while ready < 2 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        ready += line.rstrip().endswith(b"ready")
    if ready < 2:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return "not started"
    process.send_signal(signal.SIGINT)
    time.sleep(random.uniform(0.0, gap_s))
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.communicate(timeout=exit_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return "hung"
    return "exited"


def run(args: argparse.Namespace) -> Report:
    counts = {name: {"exited": 0, "hung": 0, "not started": 0} for name in VARIANTS}
    with busy_loops(args.load), tempfile.TemporaryDirectory() as scratch:
        child = Path(scratch) / "child.py"
        child.write_text(CHILD)
        files = {}
        for k, (name, (prelude, call)) in enumerate(VARIANTS.items()):
            files[name] = Path(scratch) / f"variant{k}.launch.py"
            files[name].write_text(LAUNCH_FILE.format(prelude=prelude, call=call,
                                                      child=str(child)))
        for run_index in range(args.runs):
            for name, path in files.items():
                counts[name][one_run(path, args.gap / 1e3, args.exit_timeout)] += 1
            if (run_index + 1) % 20 == 0:
                print(f"{run_index + 1}/{args.runs}: {counts}", flush=True)
    rows = [[name, c["exited"] + c["hung"], c["hung"], c["not started"]]
            for name, c in counts.items()]
    fixed = counts["leave_sigint_to_launch()"]
    report = Report(
        "launch_sigint", f"ros2 launch, SIGINT to launch then to its group 0-{args.gap:g} ms "
        f"later, {args.load} busy loops beside",
        ["launch file", "runs", "launch hung", "not started"], rows,
        data={"counts": counts, "settings": vars(args) | {"out": str(args.out)}},
        targets=[Target("launch hung after two SIGINTs, with leave_sigint_to_launch()",
                        fixed["hung"], 0, "runs")])
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__]))
