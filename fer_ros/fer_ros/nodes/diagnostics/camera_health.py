"""The camera node's health for /diagnostics: source, rates, drops, unreadable frames, reopens.

Levels, checked once a second:

- ERROR: no frame published for ``NO_FRAME_SECONDS``; the summary says whether the source
  cannot be opened (the node keeps retrying) or has stalled.
- WARN: a file, folder or the sample played below ``SLOW_FRACTION`` of its target rate (the
  machine cannot decode or publish fast enough; live devices and streams set their own rate,
  ``fps`` only caps it); unreadable frames skipped, or publishing failed, since the last report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from fer_ros.nodes.diagnostics.updater import ERROR, WARN, CounterWatch, Report
from fer_ros.sources.frame_sources import SourceSpec, device_path

TASK = "camera"
NO_FRAME_SECONDS = 5.0
SLOW_FRACTION = 0.8
COUNTERS = ("published", "dropped", "unreadable", "publish_errors", "reconnects")


def hardware_id(spec: SourceSpec) -> str:
    """What diagnostic tools group a camera's reports by: its device path, file or URL."""
    if spec.kind == "device" and isinstance(spec.target, int):
        return device_path(spec.target)
    return str(spec.target)


class CameraHealth:
    def __init__(self, spec: SourceSpec, counts: Mapping[str, int],
                 target_rate: Callable[[], float], clock: Callable[[], float] = time.monotonic):
        """``counts`` is the node's live counter dict; ``target_rate`` its current rate."""
        self._spec = spec
        self._counts = counts
        self._target_rate = target_rate
        self._watch = CounterWatch(clock)
        self._reports = 0

    def check(self) -> tuple[Report, str]:
        interval = self._watch.update({key: self._counts[key] for key in COUNTERS})
        self._reports += 1
        rate, target = interval.rate("published"), self._target_rate()
        report = Report(values={
            "source": str(self._spec),
            "target rate (Hz)": f"{target:.1f}" if target > 0 else "the source's own",
            "publish rate (Hz)": f"{rate:.1f}",
            "frames published": str(self._counts["published"]),
            "frames over the fps cap": str(self._counts["dropped"]),
            "unreadable frames": str(self._counts["unreadable"]),
            "failed opens": str(self._counts["reconnects"]),
            "publish errors": str(self._counts["publish_errors"]),
            "seconds since last frame": f"{interval.idle['published']:.0f}",
        })
        idle = interval.idle["published"]
        if idle >= NO_FRAME_SECONDS:
            if self._counts["reconnects"] and interval.idle["reconnects"] < idle:
                report.flag(ERROR, f"cannot open {self._spec}, retrying; no frame for "
                                   f"{idle:.0f} s")
            else:
                report.flag(ERROR, f"no frame from {self._spec} for {idle:.0f} s")
        elif (self._reports > 1 and not self._spec.live and target > 0
              and rate < SLOW_FRACTION * target):
            report.flag(WARN, f"publishing {rate:.1f} of {target:.1f} frames/s")
        if interval.deltas["unreadable"]:
            report.flag(WARN, f"{interval.deltas['unreadable']} unreadable frames skipped")
        if interval.deltas["publish_errors"]:
            report.flag(WARN, f"{interval.deltas['publish_errors']} publish errors")
        return report, f"publishing {rate:.1f} frames/s from {self._spec}"
