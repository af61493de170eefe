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
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray

from run import (
    DEFAULT_OUT,
    REPO,
    NodeProcess,
    Report,
    RosPeer,
    executable,
    log_dir,
    print_report,
    private_ros_env,
    wait_until,
    write_results,
)

CAMERA = REPO / "fer_ros" / "test" / "default_dds_camera.py"
PACKAGE_PROFILE = REPO / "fer_ros" / "fer_ros" / "nodes" / "dds" / "fastdds_large_images.xml"
RESOLUTIONS = ((640, 480), (1280, 720))
DRIVER_SETTINGS = ("Fast DDS defaults", "fer_ros profile")
RELIABILITIES = ("best_effort", "reliable")
STATUS = "emotion_node: emotion recognition"
START_TIMEOUT = 60.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


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


def one_run(env: dict[str, str], logs: Path, counts: NodeCounts, driver: str,
            size: tuple[int, int], reliability: str, args: argparse.Namespace,
            index: int) -> dict:
    camera_env = {k: v for k, v in env.items()
                  if k not in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS")}
    command = [sys.executable, str(CAMERA), "--width", str(size[0]), "--height", str(size[1]),
               "--rate", str(args.rate), "--frames", str(args.frames)]
    if driver == "fer_ros profile":
        command += ["--profile", str(PACKAGE_PROFILE)]
    if reliability == "reliable":
        command.append("--reliable")
    before = counts.after_next_report()
    camera = NodeProcess(command, camera_env,
                         logs / f"camera-{driver[:8]}-{size[0]}-{reliability}-{index}.log")
    done = camera.wait_for_output(f"published {args.frames}", 30 + 2 * args.frames / args.rate)
    camera.stop()
    after = counts.after_next_report()

    def delta(key: str) -> int:
        return int(after.get(key, 0)) - int(before.get(key, 0))

    return {"driver": driver, "width": size[0], "height": size[1], "reliability": reliability,
            "run": index, "sent": args.frames, "completed": done,
            "received": delta("frames received"),
            "lost_reported": delta("frames lost in transport")}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs = log_dir("dds")
    env = private_ros_env(logs)
    records: list[dict] = []
    peer = RosPeer(int(env["ROS_DOMAIN_ID"]), name="dds_bench")
    try:
        for reliability in RELIABILITIES:
            node = NodeProcess([*executable("emotion_node"), "--ros-args", "-p",
                                f"input_reliability:={reliability}", "-p",
                                "publish_annotated:=false"], env,
                               logs / f"emotion-{reliability}.log")
            try:
                counts = NodeCounts(peer)
                if not wait_until(lambda c=counts: c.latest()[0] >= 0, START_TIMEOUT):
                    raise RuntimeError(f"emotion_node did not report:\n{node.output}")
                for driver in DRIVER_SETTINGS:
                    for size in RESOLUTIONS:
                        for index in range(args.runs):
                            record = one_run(env, logs, counts, driver, size, reliability,
                                             args, index)
                            records.append(record)
                            print(f"{driver}, {size[0]}x{size[1]}, {reliability}, run "
                                  f"{index + 1}: {record['received']}/{record['sent']} "
                                  f"received, {record['lost_reported']} reported lost",
                                  flush=True)
            finally:
                node.stop()
    finally:
        peer.close()

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
    report.notes.append(f"logs: {logs}")
    report.data["runs"] = records
    print_report(report)
    print(f"\nwrote {write_results(args.out, report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
