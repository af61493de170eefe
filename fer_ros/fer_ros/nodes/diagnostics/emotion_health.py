"""The emotion node's health for /diagnostics: rates, drops, latency, faces, bad input, levels.

Levels, checked once a second while the node is active (inactive or unconfigured is OK and
says so: a lifecycle manager chose it):

- ERROR: a frame failed to process since the last report (a bug or a broken model), or frames
  arrive but none has been processed for ``STALLED_SECONDS`` (the worker is stuck).
- WARN: no input for ``NO_INPUT_SECONDS`` (camera down, wrong topic or QoS); processing slower
  than the input, below ``SLOW_FRACTION`` of its rate (frames are dropped: the CPU is too
  slow for this rate, faces or detector); more than ``LOSS_FRACTION`` of the camera's frames
  lost before they reached the node (gaps in its stamps, diagnostics/frame_loss.py: a camera
  driver whose DDS settings cannot carry its frames); bad input frames skipped, or publishing
  failed, since the last report.

Latency runs from a frame's arrival at the node to its EmotionArray being published, so it
includes the time the frame waited for the worker, as a subscriber experiences it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from fer_ros.nodes.diagnostics.updater import (
    ERROR,
    WARN,
    CounterWatch,
    LatencyWindow,
    Report,
    milliseconds,
)

TASK = "emotion recognition"
NO_INPUT_SECONDS = 5.0
STALLED_SECONDS = 5.0
SLOW_FRACTION = 0.8
MIN_INPUT_RATE = 1.0
"""Frames per second below which 'slower than input' is not judged (too few to compare)."""
LOSS_FRACTION = 0.05
"""Share of the camera's frames lost in transport above which the node warns: a camera that
skips one frame a second now and then stays OK."""
COUNTERS = ("input", "processed", "dropped", "bad_input", "errors", "publish_errors", "lost",
            "overwritten", "annotated", "annotated_compressed")


class EmotionHealth:
    def __init__(self, input_topic: str, clock: Callable[[], float] = time.monotonic):
        self.input_topic = input_topic
        self.latency = LatencyWindow()
        self.faces = 0
        """Faces in the last processed frame."""
        self._watch = CounterWatch(clock)
        self.transport_loss: tuple[int, int] | None = None
        """(lost, sent) frames of the last report when it flagged a loss in transport."""
        self.busy_loss: tuple[int, int] | None = None
        """(replaced, sent) frames of the last report when more than LOSS_FRACTION of them were
        replaced before the node, busy, took them (frame_loss.StampGaps.overwritten): a value
        and a log line, not a WARN of its own, since the node being slow for its input is
        judged by the processed rate already."""

    def frame_done(self, latency: float, faces: int) -> None:
        """Called by the worker for every published result."""
        self.latency.add(latency)
        self.faces = faces

    def restart(self, totals: Mapping[str, int]) -> None:
        """On activation: idle times start now, not when the node was last active."""
        self._watch.restart(totals)
        self.latency.take_percentiles(50)

    def check(self, state: str, totals: Mapping[str, int], model: str,
              detector: str) -> tuple[Report, str]:
        interval = self._watch.update({key: totals[key] for key in COUNTERS})
        latency = self.latency.take_percentiles(50, 95) or [None, None]
        input_rate, processed_rate = interval.rate("input"), interval.rate("processed")
        report = Report(values={
            "lifecycle state": state,
            "input topic": self.input_topic,
            "input rate (Hz)": f"{input_rate:.1f}",
            "processed rate (Hz)": f"{processed_rate:.1f}",
            "frames received": str(totals["input"]),
            "frames processed": str(totals["processed"]),
            "frames dropped": str(totals["dropped"]),
            "frames lost in transport": str(totals["lost"]),
            "frames replaced while busy": str(totals["overwritten"]),
            "latency p50 (ms)": milliseconds(latency[0]),
            "latency p95 (ms)": milliseconds(latency[1]),
            "faces": str(self.faces),
            "annotated images": str(totals["annotated"]),
            "compressed annotated images": str(totals["annotated_compressed"]),
            "bad inputs": str(totals["bad_input"]),
            "processing errors": str(totals["errors"]),
            "publish errors": str(totals["publish_errors"]),
            "model": model,
            "detector": detector,
        })
        lost, replaced = interval.deltas["lost"], interval.deltas["overwritten"]
        sent = lost + replaced + interval.deltas["input"]
        self.transport_loss = (
            (lost, sent) if state == "active" and lost > LOSS_FRACTION * sent else None)
        self.busy_loss = (
            (replaced, sent) if state == "active" and replaced > LOSS_FRACTION * sent else None)
        if state != "active":
            return report, f"{state}: not subscribed to {self.input_topic}"
        if interval.deltas["errors"]:
            report.flag(ERROR, f"{interval.deltas['errors']} frames failed to process")
        if interval.idle["input"] >= NO_INPUT_SECONDS:
            report.flag(WARN, f"no input on {self.input_topic} for "
                              f"{interval.idle['input']:.0f} s")
        elif interval.idle["processed"] >= STALLED_SECONDS:
            report.flag(ERROR, f"input arrives but no frame was processed for "
                               f"{interval.idle['processed']:.0f} s")
        elif input_rate >= MIN_INPUT_RATE and processed_rate < SLOW_FRACTION * input_rate:
            report.flag(WARN, f"processing slower than input: {processed_rate:.1f} of "
                              f"{input_rate:.1f} frames/s")
        if self.transport_loss is not None:
            report.flag(WARN, f"{lost} of {sent} camera frames lost before reaching the node "
                              "(gaps in their stamps)")
        if interval.deltas["bad_input"]:
            report.flag(WARN, f"{interval.deltas['bad_input']} bad input frames skipped")
        if interval.deltas["publish_errors"]:
            report.flag(WARN, f"{interval.deltas['publish_errors']} publish errors")
        return report, f"processing {processed_rate:.1f} frames/s"
