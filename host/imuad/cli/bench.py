"""`imuad bench NAME [ARGS...]`: run one of the benchmarks in benchmarks/ (figures, not tests)."""
from __future__ import annotations

import argparse
import runpy
import sys

from ..errors import ImuadError
from ..paths import REPO_ROOT, checkout_dir

BENCH_DIR = REPO_ROOT / "benchmarks"


def available() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))


def _run(args: argparse.Namespace) -> int:
    checkout_dir("imuad bench")  # the benchmarks are scripts in the checkout, not in the package
    names = available()
    if args.name in (None, "list"):
        print("benchmarks:", ", ".join(names) or "(none)")
        return 0
    if args.name not in names:
        raise ImuadError(f"no benchmark named {args.name!r}; available: {', '.join(names)}")
    sys.argv = [str(BENCH_DIR / f"{args.name}.py"), *args.args]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exc:  # benchmarks may sys.exit(code)
        return int(exc.code or 0)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark from benchmarks/ and print its figures")
    p.add_argument("name", nargs="?", help="benchmark name, or 'list'")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the benchmark")
    p.set_defaults(func=_run)
