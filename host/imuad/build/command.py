"""`imuad build TARGET [--clean]`: build one row of the build table and print its artefacts;
`imuad build --list`; `imuad build --write-presets` regenerates CMakePresets.json."""
from __future__ import annotations

import argparse

from . import TARGETS, artefact, clean, ensure_built, missing_tools
from .presets import write_presets


def _run(args: argparse.Namespace) -> int:
    if args.write_presets:
        print(write_presets())
        return 0
    if args.list or not args.target:
        for name, row in TARGETS.items():
            why = missing_tools(name)
            print(f"{name:18} {row.driver:11} {row.kernels or '-':10} {row.description}"
                  + (f"  [unavailable: {why}]" if why else ""))
        return 0
    if args.clean:
        clean(args.target)
    out = ensure_built(args.target)
    print(f"{args.target}: {out}")
    for role in TARGETS[args.target].artefacts:
        print(f"  {role:14} {artefact(args.target, role, build=False)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build a firmware target of the build table (host, qemu, idflinux, ...)")
    p.add_argument("target", nargs="?", choices=list(TARGETS), help="target name (= build dir = CMake preset)")
    p.add_argument("--clean", action="store_true", help="delete the target's build dir first")
    p.add_argument("--list", action="store_true", help="list the build table")
    p.add_argument("--write-presets", action="store_true", help="regenerate CMakePresets.json from the table")
    p.set_defaults(func=_run)
