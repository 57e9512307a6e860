"""The `imuad` command: parse arguments, call one stage, print its result.

Each stage's command line lives in one module of this package exposing `register(subparsers)`;
only the module of the command being run is imported, so that e.g. the gateway never imports
TensorFlow. The work itself lives in the packages named by each module.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# Quiet, deterministic TensorFlow for every stage that imports it (oneDNN reorders float math).
# Level 3 also hides TF's C++ ERROR lines: on a CPU-only machine they are "failed call to
# cuInit" and tf.data attribute skew; real failures raise Python exceptions with the message.
# TF_CPP_MIN_LOG_LEVEL=0 imuad ... shows everything.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")

from .. import procs, tfquiet
from ..errors import ImuadError

tfquiet.install()

# module path -> subcommands it registers (so `imuad --help` works without imports)
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "imuad.cli.data": ("data", "synth"),
    "imuad.cli.train": ("train", "evaluate", "zoo"),
    "imuad.cli.deploy": ("quantize", "export", "import", "calibrate"),
    "imuad.cli.parity": ("parity",),
    "imuad.cli.replay": ("replay",),
    "imuad.cli.sim": ("sim",),
    "imuad.cli.device": ("flash", "monitor", "hil"),
    "imuad.build.command": ("build",),
    "imuad.gateway.commands": ("gateway",),
    "imuad.dashboard.commands": ("dashboard",),
    "imuad.fleet.commands": ("fleet",),
    "imuad.cli.bench": ("bench",),
    "imuad.cli.demo": ("demo",),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imuad", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, commands in COMMAND_MODULES.items():
        if only is not None and only not in commands:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if only is not None and exc.name and exc.name.startswith("imuad"):
                raise
            if only is not None:
                raise ImuadError(
                    f"'imuad {only}' needs the Python package '{exc.name}'; "
                    f"install the matching extra, e.g. pip install -e '.[all]'"
                ) from exc
            for name in commands:  # listed in help, explains itself when called
                sub.add_parser(name, help=f"(unavailable: missing package {exc.name})")
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    procs.install_signal_handlers()
    only = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(only)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse has printed the usage error (or --help)
            return int(exc.code or 0)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except ImuadError as exc:
        print(f"imuad: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("imuad: interrupted", file=sys.stderr)
        return 130
