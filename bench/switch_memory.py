"""Memory under change: emotion_node's RSS over many run-time parameter switches under a flood.

    .venv/bin/python bench/switch_memory.py --switches 300 --kind all      # about 5 minutes
    .venv/bin/python bench/switch_memory.py --minutes 30 --interval 5      # the long soak

A real emotion_node process; this process floods it with 640x480 frames holding one face at
``--rate`` Hz (best effort, as a camera would) and, every ``--interval`` seconds, sets one
parameter through the node's parameter service, cycling through ``--kind``'s values:

- ``model``: mini_xception, ensemble, face_expression_net (a background load and a swap);
- ``detector``: retinaface, blazeface, retinaface with another detection_size (a new
  detector, built in the parameter call);
- ``tracking``: smoothing_alpha and track_max_misses (a new tracker only);
- ``all``: the three interleaved.

It samples the node's RSS every second and prints RSS after each tenth of the switches, with
the growth from the end of the warm-up (the first ``--warm-up`` switches, when allocator pools
and each model's first load fill) to the end and to the peak, and writes
bench/results/switch_memory_<kind>.json.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import sys
import threading
import time

from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from fer_ros.sources.sample import sample_faces_frame
from harness import PrivateRos, ProcessStats, RosPeer, bench_image, wait_until
from run import Report, standalone

SWITCHES: dict[str, list[tuple[str, object]]] = {
    "model": [("model", "mini_xception"), ("model", "ensemble"),
              ("model", "face_expression_net")],
    "detector": [("detector", "blazeface"), ("detector", "retinaface"),
                 ("detection_size", 640), ("detection_size", 960)],
    "tracking": [("smoothing_alpha", 0.3), ("track_max_misses", 3), ("smoothing_alpha", 0.5),
                 ("track_max_misses", 5)],
}
SWITCHES["all"] = [value for trio in itertools.zip_longest(
    SWITCHES["model"], SWITCHES["detector"], SWITCHES["tracking"]) for value in trio if value]


OPTIONS = {
    "--switches": (300, "parameter switches"),
    "--minutes": (0.0, "run this long instead of a number of switches"),
    "--interval": (1.0, "seconds between switches"),
    "--rate": (60.0, "frames per second sent to the node"),
    "--warm-up": (30, "switches before growth is measured"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=sorted(SWITCHES), default="all")


def flood(peer: RosPeer, topic: str, rate: float, running: threading.Event) -> None:
    publisher = peer.node.create_publisher(Image, topic, qos_profile_sensor_data)
    msg = bench_image(sample_faces_frame(1)[0])
    period = 1.0 / rate
    next_at = time.monotonic()
    while running.is_set():
        msg.header.stamp = peer.node.get_clock().now().to_msg()
        publisher.publish(msg)
        next_at += period
        time.sleep(max(0.0, next_at - time.monotonic()))


def run(args: argparse.Namespace) -> Report:
    running = threading.Event()
    running.set()
    samples: list[dict] = []
    switch_rss: list[float] = []
    refused: list[str] = []
    with PrivateRos("switch-memory", "switch_memory") as ros:
        node = ros.start("emotion_node", "emotion_node.log", {"stats_period": 0.0})
        stats = ProcessStats(node.process.pid)
        try:
            if not node.wait_for_output("ready:", 120):
                raise RuntimeError(f"emotion_node did not start\n{node.output}")
            client = AsyncParameterClient(ros.peer.node, f"{ros.namespace}/emotion_node")
            if not client.wait_for_services(timeout_sec=30):
                raise RuntimeError("no parameter services")
            sender = threading.Thread(target=flood, args=(ros.peer, f"{ros.namespace}/image_raw",
                                                          args.rate, running), daemon=True)
            sender.start()
            time.sleep(3.0)
            start_rss = stats.rss_mb()
            started = time.monotonic()
            cycle = itertools.cycle(SWITCHES[args.kind])
            deadline = started + 60 * args.minutes if args.minutes else float("inf")
            next_sample = started
            count = 0
            while (count < args.switches if not args.minutes else time.monotonic() < deadline):
                name, value = next(cycle)
                future = client.set_parameters([Parameter(name, value=value)])
                if not wait_until(future.done, 10):
                    raise RuntimeError(f"no reply to {name}={value!r}")
                result = future.result().results[0]
                if not result.successful:
                    refused.append(f"{name}={value!r}: {result.reason}")
                count += 1
                switch_end = time.monotonic() + args.interval
                while time.monotonic() < switch_end:
                    if not node.alive():
                        raise RuntimeError(f"emotion_node died\n{node.output}")
                    if time.monotonic() >= next_sample:
                        samples.append({"t": time.monotonic() - started, "switches": count,
                                        "rss_mb": stats.rss_mb()})
                        next_sample += 1.0
                    time.sleep(0.05)
                switch_rss.append(stats.rss_mb())
            elapsed = time.monotonic() - started
            code, _ = node.stop(signal.SIGINT)
        finally:
            running.clear()

    warm = switch_rss[min(args.warm_up, len(switch_rss)) - 1]
    report = Report(f"switch_memory_{args.kind}",
                    f"emotion_node RSS over {count} '{args.kind}' switches every "
                    f"{args.interval:g} s under a {args.rate:g} Hz flood ({elapsed:.0f} s)",
                    ["switches done", "s", "RSS MB"])
    step = max(1, count // 10)
    for i in range(step - 1, count, step):
        t = next((s["t"] for s in samples if s["switches"] > i), elapsed)
        report.rows.append([i + 1, round(t), round(switch_rss[i], 1)])
    report.notes = [
        f"RSS before the first switch {start_rss:.1f} MB; after {args.warm_up} switches "
        f"(warm-up) {warm:.1f} MB; at the end {switch_rss[-1]:.1f} MB "
        f"({switch_rss[-1] - warm:+.1f} MB after warm-up); peak {max(switch_rss):.1f} MB",
        f"refused switches: {len(refused)}; exit after SIGINT: {code}",
    ]
    report.data = {"samples": samples, "switch_rss_mb": switch_rss, "refused": refused,
                   "start_rss_mb": start_rss, "args": {k: str(v) for k, v in vars(args).items()}}
    report.notes.append(f"node log in {ros.logs}")
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__]))
