"""The `fer` command: one entry point for predicting, running, training and evaluating.

Each subcommand lives in the module that owns its concern and provides ``add_arguments`` and
``run``; this file only wires them. Only the chosen subcommand's module is imported, so
`fer predict` never pays for rclpy or TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("fer_ros.prediction", "detect faces and classify expressions in image files"),
    "bringup": ("fer_ros.nodes.bringup",
                "run camera and emotion node in one process, no ros2 launch"),
    "view": ("fer_ros.nodes.viewer_node",
             "watch a namespace's annotated image and results in a web browser"),
    "train": ("fer_ros.learning.training",
              "train an expression model on FER-2013 or a folder dataset"),
    "evaluate": ("fer_ros.learning.evaluation", "accuracy, confusion matrix and export agreement"),
}
NEEDS_TENSORFLOW = {"train", "evaluate"}
USES_ROS = {"bringup", "view"}
"""Subcommands that join a ROS domain, so need a valid ROS_DOMAIN_ID."""
NO_TENSORFLOW = """fer {command}: needs TensorFlow, which the runtime install leaves out
(over a gigabyte that the nodes and `fer predict` never use). Install the training set, then run
it again:
  make setup-train                          (in the repository, the venv route)
  pip install -r requirements-train.txt     (into the environment that runs fer)
  pip install tensorflow                    (on a ROS install)"""


def tensorflow_installed() -> bool:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="fer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if argv[:1] == [name]:
            importlib.import_module(module_name).add_arguments(sub)
    args = parser.parse_args(argv)
    if args.command in NEEDS_TENSORFLOW and not tensorflow_installed():
        print(NO_TENSORFLOW.format(command=args.command), file=sys.stderr)
        return 2
    if args.command in USES_ROS:
        from fer_ros.nodes.process.domain_id import domain_id_error

        reason = domain_id_error()
        if reason is not None:
            print(f"fer {args.command}: cannot start: {reason}", file=sys.stderr)
            return 1
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return module.run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
