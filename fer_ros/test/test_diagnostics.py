"""/diagnostics from both nodes: the levels' rules on their own, then the real nodes over DDS."""

from __future__ import annotations

import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import Image

from fake_clock import FakeClock
from fer_ros.nodes.diagnostics.camera_health import CameraHealth, hardware_id
from fer_ros.nodes.diagnostics.emotion_health import COUNTERS, EmotionHealth
from fer_ros.nodes.diagnostics.updater import ERROR, OK, WARN, CounterWatch, LatencyWindow, Report
from fer_ros.perception.model_files import DEFAULT_MODEL
from fer_ros.sources.frame_sources import SourceSpec
from frames import astronaut_frame, image_msg
from ros_harness import NodeProcess, RosPeer, executable, wait_for_subscriber, wait_until

START_TIMEOUT = 30.0


def test_counter_watch_gives_rates_and_idle_times():
    clock = FakeClock()
    watch = CounterWatch(clock)
    clock.now += 2.0
    interval = watch.update({"frames": 60, "errors": 0})
    assert interval.rate("frames") == pytest.approx(30.0)
    assert interval.deltas == {"frames": 60, "errors": 0}
    assert interval.idle == {"frames": 0.0, "errors": 2.0}
    clock.now += 3.0
    interval = watch.update({"frames": 60, "errors": 0})
    assert interval.rate("frames") == 0.0
    assert interval.idle == {"frames": 3.0, "errors": 5.0}
    watch.restart({"frames": 60, "errors": 0})
    clock.now += 1.0
    assert watch.update({"frames": 60, "errors": 0}).idle == {"frames": 1.0, "errors": 1.0}


def test_report_keeps_the_worst_level_and_every_summary():
    report = Report()
    assert (report.level, report.summary("fine")) == (OK, "fine")
    report.flag(ERROR, "broken")
    report.flag(WARN, "slow")
    assert report.level == ERROR
    assert report.summary("fine") == "broken; slow"


def test_latency_percentiles_cover_one_report_each():
    window = LatencyWindow()
    assert window.take_percentiles(50, 95) is None
    for ms in range(1, 101):
        window.add(ms / 1000)
    p50, p95 = window.take_percentiles(50, 95)
    assert p50 == pytest.approx(0.0505) and p95 == pytest.approx(0.09505)
    assert window.take_percentiles(50) is None


class EmotionCase:
    """An EmotionHealth whose counters and clock a test moves by hand."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.health = EmotionHealth("/fer/image_raw", self.clock)
        self.totals = dict.fromkeys(COUNTERS, 0)
        self.health.restart(self.totals)

    def run(self, seconds: float, **per_second: int) -> tuple[bytes, str, dict[str, str]]:
        """Advance whole seconds with these counts per second, reporting after each one."""
        for _ in range(int(seconds)):
            self.clock.now += 1.0
            for key, n in per_second.items():
                self.totals[key] += n
            report, fallback = self.health.check("active", self.totals, "m.tflite", "haar")
        return report.level, report.summary(fallback), report.values


def test_emotion_health_is_ok_while_it_keeps_up():
    case = EmotionCase()
    for _ in range(30):
        case.health.frame_done(0.012, faces=2)
    level, message, values = case.run(1, input=30, processed=30)
    assert (level, message) == (OK, "processing 30.0 frames/s")
    assert values["input rate (Hz)"] == "30.0" and values["processed rate (Hz)"] == "30.0"
    assert values["latency p50 (ms)"] == "12.0" and values["faces"] == "2"
    assert values["model"] == "m.tflite" and values["detector"] == "haar"


@pytest.mark.parametrize("counts, level, text", [
    ({}, WARN, "no input on /fer/image_raw for 5 s"),
    ({"input": 30}, ERROR, "input arrives but no frame was processed for 5 s"),
    ({"input": 30, "processed": 12, "dropped": 18}, WARN,
     "processing slower than input: 12.0 of 30.0 frames/s"),
    ({"input": 30, "processed": 29, "errors": 1}, ERROR, "1 frames failed to process"),
    ({"input": 30, "processed": 28, "bad_input": 2}, WARN, "2 bad input frames skipped"),
])
def test_emotion_health_levels_and_thresholds(counts, level, text):
    got_level, message, _ = EmotionCase().run(5, **counts)
    assert got_level == level, message
    assert text in message


def test_emotion_health_four_seconds_without_input_is_still_ok():
    level, message, _ = EmotionCase().run(4)
    assert level == OK, message


def test_inactive_emotion_node_is_ok_and_says_why():
    case = EmotionCase()
    case.clock.now += 60
    report, fallback = case.health.check("inactive", case.totals, "m.tflite", "haar")
    assert report.level == OK
    assert report.summary(fallback) == "inactive: not subscribed to /fer/image_raw"


def camera_case(spec: SourceSpec, target: float, seconds: int, **per_second: int):
    clock = FakeClock()
    counts = {"published": 0, "dropped": 0, "unreadable": 0, "publish_errors": 0,
              "reconnects": 0}
    health = CameraHealth(spec, counts, lambda: target, clock)
    for _ in range(seconds):
        clock.now += 1.0
        for key, n in per_second.items():
            counts[key] += n
        report, fallback = health.check()
    return report.level, report.summary(fallback), report.values


def test_camera_health_levels_and_thresholds():
    sample, device = SourceSpec("sample", "sample"), SourceSpec("device", "/dev/video0")
    assert camera_case(sample, 30.0, 3, published=30)[:2] == (
        OK, "publishing 30.0 frames/s from the built-in sample")
    level, message, values = camera_case(sample, 30.0, 3, published=20)
    assert (level, message) == (WARN, "publishing 20.0 of 30.0 frames/s")
    assert values["source"] == "the built-in sample" and values["target rate (Hz)"] == "30.0"
    assert hardware_id(SourceSpec("device", 2)) == "/dev/video2"
    assert camera_case(device, 30.0, 3, published=20)[0] == OK  # a device sets its own rate
    level, message, values = camera_case(device, 30.0, 5, reconnects=1)
    assert level == ERROR and "cannot open camera /dev/video0, retrying" in message
    assert values["failed opens"] == "5"
    assert camera_case(device, 30.0, 5)[:2] == (ERROR, "no frame from camera /dev/video0 "
                                                       "for 5 s")
    level, message, _ = camera_case(sample, 30.0, 2, published=30, unreadable=1)
    assert (level, message) == (WARN, "1 unreadable frames skipped")


def statuses(arrays: list[DiagnosticArray], name: str) -> list[DiagnosticStatus]:
    return [s for a in list(arrays) for s in a.status if s.name == name]


def test_emotion_node_reports_rates_faces_latency_and_the_lack_of_input(ros_domain, ros_env,
                                                                          tmp_path):
    node = NodeProcess([*executable("emotion_node")], ros_env, tmp_path / "emotion.log")
    peer = RosPeer(ros_domain)
    try:
        arrays = peer.collect(DiagnosticArray, "/diagnostics")
        pub = peer.publisher(Image, "image_raw")
        assert wait_for_subscriber(pub, START_TIMEOUT), node.output
        name = "emotion_node: emotion recognition"
        frame, _ = astronaut_frame()
        stamp = 1_700_000_000_000_000_000
        for _ in range(20):  # 4 s at 5 Hz: every report of the last seconds saw input
            stamp += 200_000_000
            pub.publish(image_msg(frame, stamp))
            time.sleep(0.2)
        busy = statuses(arrays, name)[-1]
        values = {kv.key: kv.value for kv in busy.values}
        assert busy.level == OK, (busy.message, values)
        assert busy.hardware_id == "none"
        assert 3.0 <= float(values["input rate (Hz)"]) <= 7.0, values
        assert float(values["processed rate (Hz)"]) >= 3.0, values
        assert values["faces"] == "1" and values["detector"] == "retinaface", values
        assert values["model"] == DEFAULT_MODEL, values
        assert 0.0 < float(values["latency p50 (ms)"]) <= float(values["latency p95 (ms)"])
        assert values["lifecycle state"] == "active"

        bad = image_msg(frame, stamp + 1)
        bad.encoding = "32FC1"
        pub.publish(bad)
        assert wait_until(lambda: any("1 bad input frames skipped" in s.message
                                      for s in statuses(arrays, name)), 5.0), node.output
        assert wait_until(lambda: any(s.level == WARN and "no input on /image_raw" in s.message
                                      for s in statuses(arrays, name)), 10.0)
    finally:
        peer.close()
        code, _ = node.stop()
    assert code == 0 and "Traceback" not in node.output, node.output


def test_camera_node_reports_its_rate_and_a_device_it_cannot_open(ros_domain, ros_env,
                                                                    tmp_path):
    sample = NodeProcess([*executable("camera_node"), "--ros-args", "-p", "fps:=10.0", "-r",
                          "__node:=sample_camera"], ros_env, tmp_path / "sample.log")
    missing = NodeProcess([*executable("camera_node"), "--ros-args", "-p",
                           "source:=/dev/video99", "-p", "reconnect_delay:=0.5", "-r",
                           "__node:=missing_camera", "-r", "image_raw:=missing/image_raw"],
                          ros_env, tmp_path / "missing.log")
    peer = RosPeer(ros_domain)
    try:
        arrays = peer.collect(DiagnosticArray, "/diagnostics")
        assert wait_until(lambda: any(
            s.level == ERROR and "cannot open camera /dev/video99, retrying" in s.message
            for s in statuses(arrays, "missing_camera: camera")), START_TIMEOUT), \
            missing.output
        reports = statuses(arrays, "sample_camera: camera")
        assert reports, sample.output
        last = reports[-1]
        values = {kv.key: kv.value for kv in last.values}
        assert last.level == OK, (last.message, values)
        assert last.hardware_id == "sample"
        assert 7.0 <= float(values["publish rate (Hz)"]) <= 11.0, values
        assert values["target rate (Hz)"] == "10.0" and int(values["frames published"]) > 10
    finally:
        peer.close()
        codes = [process.stop()[0] for process in (sample, missing)]
    assert codes == [0, 0], (sample.output, missing.output)



def test_emotion_health_warns_of_frames_lost_in_transport():
    case = EmotionCase()
    level, message, values = case.run(2, input=15, processed=15, lost=15)
    assert level == WARN and "15 of 30 camera frames lost before reaching the node" in message
    assert values["frames lost in transport"] == "30"
    assert case.health.transport_loss == (15, 30)
    level, message, _ = case.run(1, input=30, processed=30, lost=1)
    assert (level, case.health.transport_loss) == (OK, None), message
