"""The `fer` command: one entry point for predicting, running, training and evaluating.

Each subcommand lives in the module that owns its concern; this file only wires them, and
imports each lazily so `fer predict` never pays for TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("fer_ros.prediction", "detect faces and classify expressions in image files"),
    "bringup": ("fer_ros.bringup", "run camera and emotion node in one process, no ros2 launch"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(module=module_name)
    args_list = sys.argv[1:] if argv is None else argv
    known, _ = parser.parse_known_args(args_list[:1]) if args_list[:1] and \
        args_list[0] in SUBCOMMANDS else (None, None)
    if known is not None:
        module = importlib.import_module(SUBCOMMANDS[args_list[0]][0])
        module.add_arguments(commands.choices[args_list[0]])
    args = parser.parse_args(args_list)
    module = importlib.import_module(args.module)
    try:
        return module.run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
