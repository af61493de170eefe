"""Camera frames that reach emotion_node over DDS, by the camera driver's DDS settings.

    .venv/bin/python bench/dds.py                      # 8 cells x 3 runs of 300 frames, ~6 min
    .venv/bin/python bench/dds.py --runs 1 --frames 150

A camera driver (fer_ros/test/default_dds_camera.py: plain rclpy, as most drivers are) publishes
random bgr8 frames at 30 Hz to a real emotion_node, in each cell of the matrix

- driver DDS settings: Fast DDS's defaults (no profile: a 512 KB shared-memory segment) or
  fer_ros's profile (fer_ros/nodes/dds/fastdds_large_images.xml: 32 MiB);
- resolution: 640x480 and 1280x720;
- reliability: best effort on both sides (SensorDataQoS, the node's default), or reliable on
  both (the driver reliable, the node with ``input_reliability:=reliable``).

The node runs with its own defaults (its profile, fastdds_emotion_node.xml). Frames received
and frames lost in transport come from the node's /diagnostics ("frames received", "frames
lost in transport", read from gaps in the stamps), so the table also shows how well the node's
loss detection counts. Medians over ``--runs`` runs. Writes bench/results/dds.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from diagnostic_msgs.msg import DiagnosticArray

from harness import REPO, NodeProcess, PrivateRos, RosPeer, wait_until
from run import Report, standalone

CAMERA = REPO / "fer_ros" / "test" / "default_dds_camera.py"
PACKAGE_PROFILE = REPO / "fer_ros" / "fer_ros" / "nodes" / "dds" / "fastdds_large_images.xml"
RESOLUTIONS = ((640, 480), (1280, 720))
DRIVER_SETTINGS = ("Fast DDS defaults", "fer_ros profile")
RELIABILITIES = ("best_effort", "reliable")
STATUS = "emotion_node: emotion recognition"
START_TIMEOUT = 60.0
OPTIONS = {
    "--runs": (3, "runs per cell"),
    "--frames": (300, "frames the camera sends per run"),
    "--rate": (30.0, "the camera's frames per second"),
}


class NodeCounts:
    """The node's running totals, from its latest /diagnostics report."""

    def __init__(self, peer: RosPeer):
        self._arrays = peer.collect(DiagnosticArray, "/diagnostics")

    def latest(self) -> tuple[int, dict[str, str]]:
        arrays = list(self._arrays)
        for index in range(len(arrays) - 1, -1, -1):
            for status in arrays[index].status:
                if status.name == STATUS:
                    return index, {kv.key: kv.value for kv in status.values}
        return -1, {}

    def after_next_report(self) -> dict[str, str]:
        """Totals from a report made after this call: all frames sent so far are counted."""
        seen, _ = self.latest()
        wait_until(lambda: self.latest()[0] > seen + 1, 5.0)
        return self.latest()[1]


def one_run(ros: PrivateRos, counts: NodeCounts, driver: str, size: tuple[int, int],
            reliability: str, args: argparse.Namespace, index: int) -> dict:
    camera_env = {k: v for k, v in ros.env.items()
                  if k not in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS")}
    command = [sys.executable, str(CAMERA), "--width", str(size[0]), "--height", str(size[1]),
               "--rate", str(args.rate), "--frames", str(args.frames)]
    if driver == "fer_ros profile":
        command += ["--profile", str(PACKAGE_PROFILE)]
    if reliability == "reliable":
        command.append("--reliable")
    before = counts.after_next_report()
    camera = ros.start(command, f"camera-{driver[:8]}-{size[0]}-{reliability}-{index}.log",
                       namespaced=False, env=camera_env)
    done = camera.wait_for_output(f"published {args.frames}", 30 + 2 * args.frames / args.rate)
    camera.stop()
    after = counts.after_next_report()

    def delta(key: str) -> int:
        return int(after.get(key, 0)) - int(before.get(key, 0))

    return {"driver": driver, "width": size[0], "height": size[1], "reliability": reliability,
            "run": index, "sent": args.frames, "completed": done,
            "received": delta("frames received"),
            "lost_reported": delta("frames lost in transport")}


def cells(ros: PrivateRos, node: NodeProcess, reliability: str,
          args: argparse.Namespace) -> list[dict]:
    """Every driver setting and resolution against one node, ``--runs`` times each."""
    counts = NodeCounts(ros.peer)
    if not wait_until(lambda: counts.latest()[0] >= 0, START_TIMEOUT):
        raise RuntimeError(f"emotion_node did not report:\n{node.output}")
    records = []
    for driver in DRIVER_SETTINGS:
        for size in RESOLUTIONS:
            for index in range(args.runs):
                record = one_run(ros, counts, driver, size, reliability, args, index)
                records.append(record)
                print(f"{driver}, {size[0]}x{size[1]}, {reliability}, run {index + 1}: "
                      f"{record['received']}/{record['sent']} received, "
                      f"{record['lost_reported']} reported lost", flush=True)
    return records


def run(args: argparse.Namespace) -> Report:
    records: list[dict] = []
    with PrivateRos("dds", "dds_bench") as ros:
        for reliability in RELIABILITIES:
            node = ros.start("emotion_node", f"emotion-{reliability}.log",
                             {"input_reliability": reliability, "publish_annotated": "false"},
                             namespaced=False)
            try:
                records += cells(ros, node, reliability, args)
            finally:
                node.stop()

    report = Report("dds", f"Frames of a 30 Hz bgr8 camera that reach emotion_node, median of "
                    f"{args.runs} runs of {args.frames} frames",
                    ["driver DDS settings", "resolution", "reliability", "received",
                     "received %", "reported lost"])
    for driver in DRIVER_SETTINGS:
        for width, height in RESOLUTIONS:
            for reliability in RELIABILITIES:
                mine = [r for r in records if (r["driver"], r["width"], r["reliability"])
                        == (driver, width, reliability)]
                received = statistics.median(r["received"] for r in mine)
                report.rows.append([driver, f"{width}x{height}", reliability, received,
                                    100.0 * received / args.frames,
                                    statistics.median(r["lost_reported"] for r in mine)])
    report.notes.append(f"logs: {ros.logs}")
    report.data["runs"] = records
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__]))
