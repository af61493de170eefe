"""`fer bringup`: camera and emotion node in one process, for machines without `ros2 launch`.

It composes the same nodes with the same config/*.yaml files as launch/fer.launch.py, on one
executor, plus a small recorder node. The recorder takes the results over the real `emotions`
and `image_annotated` topics rather than a hook into the emotion node, so what it records is
exactly what any other subscriber would see (and its subscription is what makes the emotion
node draw annotated images at all). ``--view`` adds the browser viewer's node the same way: it
watches the emotion node's ``emotions`` and ``image_annotated/compressed`` in this process.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions

from fer_ros.nodes.camera_node import CameraNode
from fer_ros.nodes.emotion_node import EmotionNode
from fer_ros.nodes.process.dds_profile import use_bundled_dds_profile
from fer_ros.nodes.process.node_runner import (
    RCL_ERROR,
    close_nodes,
    params_file_error,
    rcl_error_line,
)
from fer_ros.nodes.process.stop_request import StopRequest
from fer_ros.nodes.recording.output_folder import (
    FRAMES_DIR,
    RECORDS_NAME,
    SUMMARY_NAME,
    VIDEO_NAME,
    Output,
)
from fer_ros.nodes.recording.progress import Progress
from fer_ros.nodes.recording.results_node import Recorder
from fer_ros.nodes.viewer_node import (
    ViewerNode,
    add_host_argument,
    open_viewer,
    port_number,
    ros_namespace,
)
from fer_ros.output_files import OutputFileError
from fer_ros.perception.detection.detectors import DETECTORS
from fer_ros.perception.model_files import ModelFileMissing, ModelLoadError
from fer_ros.sources.calibration import CalibrationError
from fer_ros.sources.frame_sources import DEFAULT_RATE, SourceError
from fer_ros.viewer.server import ViewerServer

if TYPE_CHECKING:
    from fer_ros.nodes.recording.mcap_recording import McapRecording

PACKAGE = "fer_ros"
def _at_least(low: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="camera source: device index (0), device path, video "
                        "file, image folder, URL, or 'sample' (default: config/camera.yaml, "
                        "which says sample)")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--frames", type=_at_least(1), metavar="N",
                       help="stop after N frames have been classified")
    limit.add_argument("--seconds", type=_positive_float, metavar="S",
                       help="stop after S seconds")
    parser.add_argument("--output", type=Path, metavar="DIR", help=f"write the annotated "
                        f"video ({VIDEO_NAME}), every Nth annotated frame as PNG "
                        f"({FRAMES_DIR}/), per-frame results ({RECORDS_NAME}) and "
                        f"{SUMMARY_NAME} into DIR")
    parser.add_argument("--png-every", type=_at_least(0), default=10, metavar="N",
                        help="with --output, save every Nth annotated frame as PNG "
                        "(0 = none; default 10)")
    parser.add_argument("--namespace", type=ros_namespace, default="fer",
                        help="ROS namespace of the nodes "
                        "(default fer: topics /fer/image_raw, /fer/emotions, ...)")
    parser.add_argument("--model", help="expression model file or export folder "
                        "(default: config/emotion.yaml)")
    parser.add_argument("--detector", choices=DETECTORS,
                        help="face detector (default: config/emotion.yaml)")
    parser.add_argument("--fps", type=_positive_float, help="camera rate "
                        "(default: config/camera.yaml)")
    parser.add_argument("--summary", action="store_true",
                        help="print a per-face summary at the end")
    parser.add_argument("--record", type=Path, metavar="FILE.mcap",
                        help="record the camera's frames (JPEG), camera_info and the results "
                        "into a ROS 2 MCAP file (ros2 bag, Foxglove; replay with --source "
                        "FILE.mcap)")
    parser.add_argument("--record-raw", action="store_true",
                        help="with --record, record raw bgr8 frames instead of JPEG")
    parser.add_argument("--overwrite", action="store_true",
                        help="with --record, replace an existing file (refused otherwise)")
    parser.add_argument("--camera-params", type=Path, metavar="YAML",
                        help="camera_node parameter file instead of config/camera.yaml")
    parser.add_argument("--emotion-params", type=Path, metavar="YAML",
                        help="emotion_node parameter file instead of config/emotion.yaml")
    parser.add_argument("--view", type=port_number, metavar="PORT",
                        help="serve the live annotated image and results to a web browser on "
                        "PORT (see --host)")
    add_host_argument(parser)


def share_directory() -> Path:
    """Where `make setup`, pip or colcon installed the package's data files.

    The ament index knows when AMENT_PREFIX_PATH is set (a sourced ROS workspace); a plain venv
    install puts them under its prefix, which is where setup.py's data_files go.
    """
    if os.environ.get("AMENT_PREFIX_PATH"):
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )

        try:
            return Path(get_package_share_directory(PACKAGE))
        except PackageNotFoundError:
            pass
    return Path(sys.prefix) / "share" / PACKAGE


def config_file(name: str) -> Path:
    path = share_directory() / "config" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install fer_ros (make setup, or colcon "
                                "build) so that its config files are in place")
    return path


def run(args: argparse.Namespace) -> int:
    """0 when it ran until its limit, the end of the source or Ctrl-C; 1 when it could not."""
    try:
        camera_params = args.camera_params or config_file("camera.yaml")
        emotion_params = args.emotion_params or config_file("emotion.yaml")
    except FileNotFoundError as exc:
        print(f"fer bringup: {exc}", file=sys.stderr)
        return 1
    for path in (camera_params, emotion_params):
        if not path.is_file():
            print(f"fer bringup: parameter file {path} not found", file=sys.stderr)
            return 1
        reason = params_file_error(["--params-file", str(path)])
        if reason is not None:
            print(f"fer bringup: cannot start: {reason}", file=sys.stderr)
            return 1
    if args.output is not None:
        try:
            args.output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"fer bringup: cannot create {args.output}: {exc.strerror}", file=sys.stderr)
            return 1
    if (args.record_raw or args.overwrite) and args.record is None:
        print("fer bringup: --record-raw and --overwrite need --record FILE.mcap",
              file=sys.stderr)
        return 1
    stop = StopRequest()
    viewer = None
    if args.view is not None:
        viewer = open_viewer(args.host, args.view, "fer bringup")
        if viewer is None:
            return 1
    recording = None
    if args.record is not None:
        # Only a recording needs the mcap package (a ROS install may not have it).
        from fer_ros.nodes.recording.mcap_recording import McapRecording, RecordingError

        try:
            recording = McapRecording(args.record, args.overwrite,
                                      on_error=lambda text: print(f"fer bringup: {text}",
                                                                  file=sys.stderr))
        except RecordingError as exc:
            print(f"fer bringup: cannot record: {exc}", file=sys.stderr)
            if viewer is not None:
                viewer.stop()
            return 1
    use_bundled_dds_profile()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    try:
        return _run_nodes(args, camera_params, emotion_params, stop, viewer, recording)
    finally:
        if viewer is not None:
            viewer.stop()
        if recording is not None:
            recording.close()
            print(f"recording: {recording.path} ({recording.messages} messages, "
                  f"{_size_mb(recording.path):.1f} MB)"
                  + (f"; {recording.error}" if recording.error else ""))
        rclpy.try_shutdown(uninstall_handlers=False)
        stop.ignore_from_now()


def _size_mb(path: Path) -> float:
    try:
        return path.stat().st_size / 1e6
    except OSError:
        return 0.0


def _run_nodes(args: argparse.Namespace, camera_params: Path, emotion_params: Path,
               stop: StopRequest, viewer: ViewerServer | None,
               recording: McapRecording | None) -> int:
    camera_overrides = []
    if recording is not None and not args.record_raw:
        camera_overrides.append(Parameter("publish_compressed", value=True))
    if args.source is not None:
        camera_overrides.append(Parameter("source", value=args.source))
    if args.fps is not None:
        camera_overrides.append(Parameter("fps", value=float(args.fps)))
    # No lifecycle manager here: the emotion node always configures and activates itself.
    emotion_overrides = [Parameter(name, value=value) for name, value in
                         (("model", args.model), ("detector", args.detector),
                          ("autostart", True))
                         if value is not None]
    source_done = threading.Event()
    # The recording subscribes before the camera publishes its first frame, so that it holds
    # every frame the emotion node classifies (which subscribes only once its models load).
    recording_nodes: list = []
    if recording is not None:
        from fer_ros.nodes.recording.mcap_recording import RecordingNode

        recording_nodes.append(RecordingNode(recording, args.namespace, raw=args.record_raw))
    nodes: list = []
    try:
        nodes.append(CameraNode(
            on_finished=source_done.set, namespace=args.namespace,
            cli_args=["--ros-args", "--params-file", str(camera_params)],
            parameter_overrides=camera_overrides))
        nodes.append(EmotionNode(
            namespace=args.namespace,
            cli_args=["--ros-args", "--params-file", str(emotion_params)],
            parameter_overrides=emotion_overrides))
    except (SourceError, CalibrationError, ModelLoadError, ModelFileMissing, ValueError,
            ParameterException, RCL_ERROR) as exc:
        reason = rcl_error_line(exc) if isinstance(exc, RCL_ERROR) else exc
        print(f"fer bringup: cannot start: {reason}", file=sys.stderr)
        for node in nodes:
            node.close()
            node.destroy_node()
        for node in recording_nodes:
            node.destroy_node()
        return 1
    camera, emotion = nodes
    fps = camera.get_parameter("fps").value or DEFAULT_RATE
    try:
        output = Output(args.output, fps, args.png_every) if args.output is not None else None
    except (OSError, OutputFileError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc
        print(f"fer bringup: cannot write to {args.output}: {reason}", file=sys.stderr)
        for node in nodes:
            node.close()
            node.destroy_node()
        return 1
    recorder = Recorder(args.namespace, output,
                        annotated=output is not None
                        and emotion.get_parameter("publish_annotated").value,
                        limit=args.frames)
    nodes.append(recorder)
    if viewer is not None:
        nodes.append(ViewerNode(viewer.broadcast, namespace=args.namespace))
    nodes += recording_nodes
    started = time.monotonic()
    interrupted = _spin(nodes, recorder, camera, source_done, args, stop,
                        [recorder.caught_up] + [
                            lambda node=node: node.caught_up(camera.counts["published"])
                            for node in recording_nodes])
    elapsed = time.monotonic() - started
    summary = recorder.summary
    if output is not None:
        output.close(summary)
    rate = summary.frames / elapsed if elapsed > 0 else 0.0
    if interrupted:
        reason = "interrupted"
    elif camera.exit_code:
        reason = "source failed"
    else:
        reason = "source ended" if source_done.is_set() else "done"
    print(f"fer bringup: {reason}: {summary.frames} frames classified in {elapsed:.1f} s "
          f"({rate:.1f} fps) from {camera.spec}")
    if args.summary:
        for line in summary.lines():
            print(line)
    if output is not None:
        print(f"output: {output.describe()}")
        if output.error is not None:
            print(f"fer bringup: error: {output.error}; stopped, what was written before is "
                  "kept", file=sys.stderr)
            return 1
    return camera.exit_code


def _spin(nodes: list, recorder: Recorder, camera: CameraNode, source_done: threading.Event,
          args: argparse.Namespace, stop: StopRequest,
          caught_up: list[Callable[[], bool]]) -> bool:
    """Spin until the frame or time limit, the end of the source or a signal (returns True);
    then, for at most a second, until every ``caught_up`` says what is in flight has arrived."""
    executor = SingleThreadedExecutor()
    for node in nodes:
        executor.add_node(node)
    progress = Progress(sys.stderr)
    deadline = time.monotonic() + args.seconds if args.seconds else math.inf
    try:
        while not (stop.is_set() or source_done.is_set() or recorder.failed()) \
                and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
            if args.frames is not None and recorder.summary.frames >= args.frames:
                break
            progress.update(recorder.summary.frames, len(recorder.summary.faces),
                            camera.counts["published"])
        camera.close()
        drain_until = time.monotonic() + 1.0
        while not (all(done() for done in caught_up) or recorder.failed()) \
                and time.monotonic() < drain_until:
            executor.spin_once(timeout_sec=0.05)
    except ExternalShutdownException:
        pass
    finally:
        progress.end()
        close_nodes(executor, nodes)
    return stop.is_set()
