"""A camera driver as most are: plain rclpy with Fast DDS's default settings (no profile: a
512 KB shared-memory segment), publishing raw bgr8 frames on ``image_raw`` at a steady rate.

Run as a process of its own, so that no fer_ros profile reaches its DDS participant (the test
process and fer_ros's executables load one); ``--profile`` gives it one (bench/dds.py).
``--skip-every k`` leaves out every k-th stamp, as if the transport had lost that frame: a loss
the node must see, whatever DDS does.
Prints ``published N`` when done.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import rclpy
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

START_STAMP_NS = 1_700_000_000_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--reliable", action="store_true")
    parser.add_argument("--skip-every", type=int, default=0)
    parser.add_argument("--wait", type=float, default=30.0,
                        help="seconds to wait for a subscriber before publishing")
    parser.add_argument("--profile", default="",
                        help="a Fast DDS profile for the driver (default: none, Fast DDS's own)")
    args = parser.parse_args()
    if args.profile:
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = args.profile
    elif "FASTDDS_DEFAULT_PROFILES_FILE" in os.environ:
        raise SystemExit("FASTDDS_DEFAULT_PROFILES_FILE is set: this stands for a driver "
                         "with Fast DDS's defaults")
    rclpy.init()
    node = rclpy.create_node("default_dds_camera")
    reliability = ReliabilityPolicy.RELIABLE if args.reliable else ReliabilityPolicy.BEST_EFFORT
    publisher = node.create_publisher(
        Image, "image_raw",
        QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=reliability))
    deadline = time.monotonic() + args.wait
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # discovery completes in both directions
    pixels = np.random.default_rng(0).integers(0, 256, args.width * args.height * 3, np.uint8)
    msg = Image(height=args.height, width=args.width, encoding="bgr8", step=3 * args.width,
                data=pixels.tobytes())
    msg.header.frame_id = "default_dds_camera"
    period_ns = round(1e9 / args.rate)
    start, stamp_index = time.monotonic(), 0
    for i in range(args.frames):
        if args.skip_every and i % args.skip_every == args.skip_every - 1:
            stamp_index += 1
        stamp = START_STAMP_NS + stamp_index * period_ns
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        publisher.publish(msg)
        stamp_index += 1
        time.sleep(max(0.0, start + (i + 1) / args.rate - time.monotonic()))
    time.sleep(0.5)
    print(f"published {args.frames}", flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
