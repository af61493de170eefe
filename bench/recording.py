"""What `fer bringup --record` costs: CPU at 640x480, 30 Hz, 4 faces, and MB per minute.

CPU: `fer bringup` (camera and emotion node in one process) plays a looped folder of 640x480
frames holding 4 faces (``sample_faces_frame``, shifted a few pixels per frame so that the
tracker and the JPEG encoder see motion) at 30 Hz, once without and once with ``--record``
(JPEG frames: the camera's image_raw/compressed encoding included, camera_info, results), the
two alternated ``--reps`` times. CPU % is the process's user+system time over a window after
a warm-up (100 % = one core), from /proc; frames/s are read from bringup's progress lines
over the same window. The cost is the difference of the medians, in % of one core; it means
something only where both runs get the 30 Hz they are offered (a quiet machine).

On a loaded machine the pipeline gets less than the 30 Hz it is offered, and the run that
records gets even less, which hides part of the cost in that difference. So the work that
recording adds per frame is also timed in this process, without DDS: the camera's JPEG encoding
of the frame (q80) and the recorder writing the CompressedImage, the CameraInfo and an
EmotionArray of 4 faces (rclpy serialization and the MCAP writer into a file); times 30 frames
a second, as % of one core. What that leaves out is DDS handing the three topics to the
recorder's subscriptions.

Size: `fer bringup --seconds S --record` on the built-in sample (its two faces on a textured
background, drawn at the size asked for) at 640x480 and 1920x1080, JPEG and raw. MB per
minute is the file's bytes per recorded camera frame times 30 x 60 (every frame the camera
published is recorded, with its camera_info and the results); the camera may fall behind
30 Hz on a busy machine, which changes how long a run covers, not the bytes per frame.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fer_ros.sources.sample import sample_faces_frame
from harness import (
    REPO,
    CpuWindow,
    NodeProcess,
    ProcessStats,
    bench_namespace,
    executable,
    log_dir,
    private_ros_env,
)
from run import Report, Target

RATE_HZ = 30
CONFIG = REPO / "fer_ros" / "config"
"""This tree's parameter files, not the installed ones (which may be another version)."""
FACES = 4
LOOP_FRAMES = 30
PROGRESS = re.compile(r"fer bringup: (\d+) frames classified, +[\d.]+ fps, \d+ faces, "
                      r"(\d+) camera frames, +([\d.]+) s")
SIZES = ((640, 480), (1920, 1080))
COST_LIMIT = 10.0
"""Most CPU, in % of one core, that recording may add (the issue's target)."""


OPTIONS = {
    "--reps": (2, "runs without and with recording, alternated"),
    "--warm-up": (4.0, "seconds after the first result before the window"),
    "--window": (10.0, "measured seconds per run"),
    "--size-seconds": (4.0, "seconds of each size run"),
}


def camera_params(folder: Path, width: int = 0, height: int = 0) -> Path:
    """camera.yaml with looping on (and a frame size, for the sample)."""
    text = (CONFIG / "camera.yaml").read_text(encoding="utf-8")
    text = text.replace("    width: 0", f"    width: {width}").replace(
        "    height: 0", f"    height: {height}")
    path = folder / f"camera_{width}x{height}.yaml"
    path.write_text(text.rstrip("\n") + "\n    loop: true\n", encoding="utf-8")
    return path


def four_face_folder(folder: Path) -> Path:
    frame, _ = sample_faces_frame(FACES)
    out = folder / "frames"
    out.mkdir()
    for index in range(LOOP_FRAMES):
        shift = np.float32([[1, 0, index % 10], [0, 1, (index % 10) // 2]])
        moved = cv2.warpAffine(frame, shift, (640, 480), borderMode=cv2.BORDER_REPLICATE)
        cv2.imwrite(str(out / f"{index:03d}.png"), moved)
    return out


def progress(output: str) -> tuple[int, int, float] | None:
    """The last progress line: frames classified, camera frames, seconds since start."""
    found = PROGRESS.findall(output)
    if not found:
        return None
    frames, camera, seconds = found[-1]
    return int(frames), int(camera), float(seconds)


def cpu_run(args: argparse.Namespace, env: dict, work: Path, frames: Path, params: Path,
            record: bool, index: int) -> dict:
    command = [*executable("fer"), "bringup", "--source", str(frames), "--fps", str(RATE_HZ),
               "--camera-params", str(params), "--namespace", bench_namespace(),
               "--emotion-params", str(CONFIG / "emotion.yaml")]
    if record:
        command += ["--record", str(work / f"cpu_{index}.mcap")]
    process = NodeProcess(command, env, work / f"cpu_{index}_{int(record)}.log")
    try:
        if not process.wait_for_output("frames classified,", 120):
            raise RuntimeError(f"fer bringup did not start:\n{process.output}")
        time.sleep(args.warm_up)
        cpu = CpuWindow(ProcessStats(process.process.pid))
        progress0 = progress(process.output)
        time.sleep(args.window)
        cpu_percent, wall = cpu.reading()
        progress1 = progress(process.output)
    finally:
        process.stop(signal.SIGINT, timeout=10.0)
    assert progress0 is not None and progress1 is not None
    span = progress1[2] - progress0[2]
    camera_frames = progress1[1] - progress0[1]
    return {"record": record, "cpu_percent": cpu_percent,
            "cpu_ms_per_camera_frame": 10 * cpu_percent * wall / max(camera_frames, 1),
            "classified_fps": (progress1[0] - progress0[0]) / span,
            "camera_fps": (progress1[1] - progress0[1]) / span}


def size_run(args: argparse.Namespace, env: dict, work: Path, width: int, height: int,
             raw: bool) -> dict:
    from mcap.reader import make_reader

    bag = work / f"size_{width}x{height}_{'raw' if raw else 'jpeg'}.mcap"
    command = [*executable("fer"), "bringup", "--seconds", str(args.size_seconds),
               "--camera-params", str(camera_params(work, width, height)),
               "--namespace", bench_namespace(),
               "--emotion-params", str(CONFIG / "emotion.yaml"), "--record", str(bag)]
    if raw:
        command.append("--record-raw")
    process = NodeProcess(command, env, work / f"{bag.stem}.log")
    code = process.process.wait(timeout=300)
    process.stop()
    if code != 0:
        raise RuntimeError(f"fer bringup --record failed:\n{process.output}")
    with bag.open("rb") as stream:
        summary = make_reader(stream).get_summary()
    counts = {channel.topic: summary.statistics.channel_message_counts.get(channel_id, 0)
              for channel_id, channel in summary.channels.items()}
    images = max(n for topic, n in counts.items() if "image_raw" in topic)
    size = bag.stat().st_size
    bag.unlink()
    return {"size": f"{width}x{height}", "images": "raw bgr8" if raw else "JPEG q80",
            "camera_frames": images, "bytes": size,
            "kb_per_frame": size / images / 1e3,
            "mb_per_minute": size / images * RATE_HZ * 60 / 1e6}


def per_frame_ms(work: Path, frames: int = 300) -> dict:
    """Median ms per frame of what recording adds, in this process (see the module's text)."""
    from fer_msgs.msg import Emotion, EmotionArray
    from sensor_msgs.msg import CameraInfo, CompressedImage, RegionOfInterest
    from std_msgs.msg import Header

    from fer_ros.nodes.recording.mcap_recording import McapRecording

    image, boxes = sample_faces_frame(FACES)
    recording = McapRecording(work / "per_frame.mcap")
    encode, write = [], []
    for index in range(frames):
        header = Header(frame_id="camera")
        header.stamp.sec, header.stamp.nanosec = 1000 + index // RATE_HZ, index * 1000
        start = time.perf_counter()
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        compressed = CompressedImage(header=header, format="bgr8; jpeg compressed bgr8",
                                     data=jpeg.tobytes())
        middle = time.perf_counter()
        recording.write("/fer/image_raw/compressed", compressed)
        recording.write("/fer/camera_info", CameraInfo(header=header, width=640, height=480))
        recording.write("/fer/emotions", EmotionArray(header=header, emotions=[
            Emotion(face_id=n, roi=RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h),
                    label="happy", confidence=0.9, scores=[1 / 7] * 7)
            for n, (x, y, w, h) in enumerate(boxes)]))
        end = time.perf_counter()
        encode.append(1e3 * (middle - start))
        write.append(1e3 * (end - middle))
    recording.close()
    return {"jpeg_ms": statistics.median(encode), "write_ms": statistics.median(write)}


def run(args: argparse.Namespace) -> Report:
    env = private_ros_env(log_dir("recording"))
    work = Path(tempfile.mkdtemp(prefix="fer-bench-recording-"))
    frames = four_face_folder(work)
    params = camera_params(work)
    runs = []
    for rep in range(args.reps):
        for record in (False, True):
            runs.append(cpu_run(args, env, work, frames, params, record, rep))
    plain = [r for r in runs if not r["record"]]
    recorded = [r for r in runs if r["record"]]

    def median(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    cost = median(recorded, "cpu_percent") - median(plain, "cpu_percent")
    parts = per_frame_ms(work)
    per_frame_cost = (parts["jpeg_ms"] + parts["write_ms"]) * RATE_HZ / 10
    sizes = [size_run(args, env, work, width, height, raw)
             for width, height in SIZES for raw in (False, True)]
    rows = [[f"bringup, {FACES} faces, 640x480, {RATE_HZ} Hz" + (", --record" if rec else ""),
             median(group, "cpu_percent"), median(group, "classified_fps"),
             median(group, "camera_fps"), median(group, "cpu_ms_per_camera_frame")]
            for rec, group in ((False, plain), (True, recorded))]
    notes = [f"recording adds {cost:.1f} % of one core (median of {args.reps} runs each, "
             f"{args.window:g} s windows after {args.warm_up:g} s of warm-up)",
             f"per frame in this process: JPEG {parts['jpeg_ms']:.2f} ms + writing "
             f"{parts['write_ms']:.2f} ms (3 messages) = {per_frame_cost:.1f} % of one core "
             f"at {RATE_HZ} Hz"]
    notes += [f"{s['size']} {s['images']}: {s['kb_per_frame']:.0f} kB per frame, "
              f"{s['mb_per_minute']:.0f} MB per minute at {RATE_HZ} Hz "
              f"({s['camera_frames']} frames recorded)" for s in sizes]
    return Report("recording", "fer bringup --record: CPU and size",
                  ["run", "CPU % of one core", "classified/s", "camera frames/s",
                   "CPU ms per camera frame"], rows,
                  data={"runs": runs, "sizes": sizes, "cost_percent_of_core": cost,
                        "per_frame_ms": parts, "per_frame_percent_of_core": per_frame_cost},
                  targets=[Target("recording CPU cost, 640x480, 30 Hz, 4 faces (bringup)",
                                  cost, COST_LIMIT, "% of a core"),
                           Target("recording CPU cost per frame x 30 Hz (in process)",
                                  per_frame_cost, COST_LIMIT, "% of a core")],
                  notes=notes)
