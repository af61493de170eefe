"""fer_ros benchmarks: one subcommand per benchmark, each printing a table and writing JSON.

    .venv/bin/python bench/run.py components   # ms per frame per detector, ms per face per backend
    .venv/bin/python bench/run.py baseline     # the original program's loop, frames/s
    .venv/bin/python bench/run.py pipeline     # emotion_node over DDS, with the baseline beside it
    .venv/bin/python bench/run.py hd           # emotion_node over DDS at 30 Hz, up to 1920x1080
    .venv/bin/python bench/run.py viewer       # CPU cost of one browser viewer (fer view)
    .venv/bin/python bench/run.py recording    # CPU and MB per minute of fer bringup --record
    .venv/bin/python bench/run.py edge         # CPU per scene at 30 Hz, ms per stage, before/after
    .venv/bin/python bench/run.py motion       # a moving camera: CPU per answer, recall, ids
    .venv/bin/python bench/run.py all          # components, pipeline, hd and the table of targets

Results go to ``bench/results/<name>.json`` (``--out`` to change). bench/README.md says what each
figure means and holds the figures measured on the project's reference machine.

This module holds the dispatch and what every benchmark reports through: its table, targets and
JSON, and ``standalone`` for the scripts that run on their own (soak.py, shutdown.py, ...).
What they share to drive nodes is bench/harness.py.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from harness import REPO, add_options

DEFAULT_OUT = REPO / "bench" / "results"

BENCHMARKS: tuple[str, ...] = ("components", "baseline", "pipeline", "hd", "realtime", "viewer",
                               "recording", "edge", "motion")
"""Subcommands, each a module in bench/ with ``run(args) -> Report`` and its options
(``add_benchmark_arguments``)."""


@dataclass
class Target:
    """One line of the issue's targets: what was measured beside the limit it must meet."""

    name: str
    measured: float | None
    limit: float
    unit: str
    higher_is_better: bool = False

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        if self.higher_is_better:
            return self.measured >= self.limit
        return self.measured <= self.limit

    def as_row(self) -> list[str]:
        sign = ">=" if self.higher_is_better else "<="
        verdict = {True: "met", False: "MISSED", None: "not measured"}[self.met]
        measured = "-" if self.measured is None else f"{self.measured:.3g}"
        return [self.name, f"{measured} {self.unit}", f"{sign} {self.limit:g} {self.unit}", verdict]


@dataclass
class Report:
    """What a benchmark hands back: its table (as printed) and the figures for the JSON."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with right-aligned figures, readable in a terminal and in Markdown."""
    text = [[str(c) for c in columns]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in text) for i in range(len(columns))]
    lines = []
    for n, row in enumerate(text):
        lines.append("| " + " | ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths))) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def print_report(report: Report) -> None:
    print(f"\n== {report.title}")
    print(format_table(report.columns, report.rows))
    for note in report.notes:
        print(f"  {note}")
    if report.targets:
        print_targets(report.targets)


def print_targets(targets: Sequence[Target]) -> None:
    print("\nTargets")
    print(format_table(["target", "measured", "limit", ""], [t.as_row() for t in targets]))


def machine() -> dict[str, Any]:
    """Enough about the machine to tell whether two result files are comparable."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return {
        "cpu": model,
        "cpus": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kb / 2**20, 1),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def write_results(out_dir: Path, report: Report) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{report.name}.json"
    payload = {
        "benchmark": report.name,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "columns": report.columns,
        "rows": report.rows,
        "notes": report.notes,
        "targets": [{**t.__dict__, "met": t.met} for t in report.targets],
        **report.data,
    }
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def add_benchmark_arguments(parser: argparse.ArgumentParser, module: ModuleType) -> None:
    """A benchmark module's options: its ``OPTIONS`` table (``harness.add_options``) and what
    its ``add_arguments(parser)`` adds, for the options a table cannot say; either may be absent."""
    add_options(parser, getattr(module, "OPTIONS", {}))
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)


def standalone(module: ModuleType, missed_target_fails: bool = False) -> int:
    """Run one benchmark module on its own, as its script's main: its options (and ``--out``),
    its ``run(args)``, its table and JSON. Exits 1 on a missed target where the benchmark is a
    pass/fail check."""
    parser = argparse.ArgumentParser(description=module.__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
    add_benchmark_arguments(parser, module)
    args = parser.parse_args()
    report = module.run(args)
    print_report(report)
    print(f"  -> {write_results(args.out, report)}")
    return 1 if missed_target_fails and not all(t.met for t in report.targets) else 0


def main(argv: list[str] | None = None) -> int:
    # The benchmark modules import their helpers from "run": let them find this very module
    # rather than load a second copy of it when it runs as __main__.
    sys.modules.setdefault("run", sys.modules[__name__])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="BENCHMARK")
    modules = {name: importlib.import_module(name) for name in BENCHMARKS}
    for name, module in modules.items():
        sub = commands.add_parser(name, help=module.__doc__.splitlines()[0])
        sub.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
        add_benchmark_arguments(sub, module)
    everything = commands.add_parser("all", help="components, pipeline (with baseline), hd")
    everything.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
    for name in ("components", "pipeline", "hd"):
        add_benchmark_arguments(everything, modules[name])
    args = parser.parse_args(argv)

    names = ["components", "pipeline", "hd"] if args.command == "all" else [args.command]
    targets: list[Target] = []
    for name in names:
        report = modules[name].run(args)
        print_report(report)
        print(f"  -> {write_results(args.out, report)}")
        targets += report.targets
    if args.command == "all":
        summary = Report("targets", "targets", ["target", "measured", "limit", ""],
                         [t.as_row() for t in targets], targets=targets)
        print_targets(targets)
        print(f"  -> {write_results(args.out, summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
