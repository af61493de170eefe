#!/usr/bin/env python3
"""Point the ROS 2 wheels' CMake exports at this venv's Python and NumPy headers.

The PyPI wheels of ROS 2 were built in a manylinux container and their installed
``*Export.cmake`` files name that container's include folders (``/opt/python/...``), so CMake
refuses to configure fer_msgs ("Imported target ... includes non-existent path"). Rewriting the
two paths once after install is enough; running it again changes nothing.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

PYTHON_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
NUMPY_INCLUDE = re.compile(
    r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/_core/include")


def main() -> None:
    share = Path(sys.prefix) / "share"
    python_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()
    changed = 0
    for path in share.glob("*/cmake/*.cmake"):
        text = path.read_text(encoding="utf-8")
        if "/opt/python/" not in text:
            continue
        text = NUMPY_INCLUDE.sub(numpy_include, text)
        text = PYTHON_INCLUDE.sub(python_include, text)
        path.write_text(text, encoding="utf-8")
        changed += 1
    print(f"fix_wheel_cmake: rewrote {changed} CMake export file(s) under {share}")


if __name__ == "__main__":
    main()
