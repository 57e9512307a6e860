"""`imuad fleet ...`: ingest every gateway's events into PostgreSQL, migrate, simulate gateways."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
from pathlib import Path

from ..contracts.ranges import FloatRange, IntRange

BATCH = IntRange(1, 100_000)
COUNT = IntRange(1, 10**9)
SECONDS = FloatRange(0.001, 86_400.0)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fleet", help="many gateways -> MQTT -> PostgreSQL (ingest, migrate)")
    sub = p.add_subparsers(dest="fleet_command", metavar="ACTION")

    ing = sub.add_parser("ingest", help="subscribe to every gateway's events and write them "
                                        "into PostgreSQL (several may run at once)")
    ing.add_argument("--broker", required=True, metavar="mqtt://HOST[:PORT]")
    ing.add_argument("--db", required=True, metavar="postgresql://...")
    ing.add_argument("--name", default=socket.gethostname().split(".")[0],
                     help="stable name of this ingest process (MQTT client id "
                          "imuad-ingest-<name>; give each process on one host its own; "
                          "default: the hostname)")
    ing.add_argument("--batch", type=BATCH.argtype("--batch"), default=2000,
                     help=f"events per PostgreSQL transaction ({BATCH}, default 2000)")
    ing.add_argument("--flush", type=SECONDS.argtype("--flush"), default=0.2,
                     help="seconds a partial batch waits (default 0.2)")
    ing.add_argument("--exit-idle", type=SECONDS.argtype("--exit-idle"),
                     help="exit after this many seconds without a message (tests, benchmarks)")
    ing.add_argument("-v", "--verbose", action="store_true")
    ing.set_defaults(func=_cmd_ingest)

    mig = sub.add_parser("migrate", help="create or upgrade the PostgreSQL schema")
    mig.add_argument("--db", required=True, metavar="postgresql://...")
    mig.set_defaults(func=_cmd_migrate)

    cmd = sub.add_parser("command", help="queue a command for a device of a gateway (relayed by "
                                         "the ingest; any kind, JSON payload)")
    cmd.add_argument("--db", required=True, metavar="postgresql://...")
    cmd.add_argument("--gateway", required=True)
    cmd.add_argument("--device", required=True)
    cmd.add_argument("--kind", required=True, help="e.g. config (C9 payload) or calibrate")
    cmd.add_argument("--payload", default="{}", help="JSON (default {})")
    cmd.set_defaults(func=_cmd_command)

    sim = sub.add_parser("simgw", help="simulated gateways (real store and outbox, fake devices)")
    sim.add_argument("--broker", required=True, metavar="mqtt://HOST[:PORT]")
    sim.add_argument("--dir", required=True, type=Path, help="folder of the gateways' stores")
    sim.add_argument("--gateways", required=True, help="gateway ids, comma-separated")
    sim.add_argument("--devices", type=COUNT.argtype("--devices"), default=20)
    sim.add_argument("--events", type=COUNT.argtype("--events"), default=100,
                     help="seqs per device")
    sim.add_argument("--rate", type=FloatRange(0.0, 1e7).argtype("--rate"), default=0.0,
                     help="events/s per gateway (0: as fast as possible)")
    sim.add_argument("--wait", type=SECONDS.argtype("--wait"), default=60.0,
                     help="seconds to wait for the ingest to confirm everything")
    sim.add_argument("--confirm-timeout", type=SECONDS.argtype("--confirm-timeout"), default=30.0,
                     help="seconds an acknowledged event waits for the ingest's confirmation "
                          "before it is sent again (default 30)")
    sim.set_defaults(func=_cmd_simgw)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import Ingest, stats_line
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    ing = Ingest(args.broker, args.db, args.name, batch=args.batch, flush_s=args.flush)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *a: ing.stop())
    print(f"INGEST READY {ing.subscription}", flush=True)
    stats = ing.run(exit_idle=args.exit_idle,
                    report=lambda s: print(f"ingest: {stats_line(s)}", file=sys.stderr, flush=True))
    print(f"INGEST DONE {stats_line(stats)}", flush=True)
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from . import schema
    conn = schema.connect(args.db)
    try:
        applied = schema.migrate(conn)
        print(f"schema version {schema.version(conn)}"
              + (f" (applied {', '.join(map(str, applied))})" if applied else " (up to date)"))
    finally:
        conn.close()
    return 0


def _cmd_command(args: argparse.Namespace) -> int:
    from ..contracts.mqtt import check_gateway_id
    from ..errors import ImuadError
    from . import queue_command, schema
    check_gateway_id(args.gateway, "--gateway")
    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        raise ImuadError(f"--payload: not JSON ({exc})") from None
    conn = schema.connect(args.db)
    try:
        schema.migrate(conn)
        cid = queue_command(conn, args.gateway, args.device, args.kind, payload)
    finally:
        conn.close()
    print(f"queued command {cid}; the ingest relays it to gateway {args.gateway}")
    return 0


def _cmd_simgw(args: argparse.Namespace) -> int:
    import faulthandler
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # stacks on demand (fault tests)
    from ..contracts.mqtt import check_gateway_id
    from .simgw import run
    gws = [check_gateway_id(g.strip(), "--gateways") for g in args.gateways.split(",") if g.strip()]
    totals = run(args.broker, args.dir, gws, args.devices, args.events, args.rate,
                 wait_confirmed=args.wait, confirm_timeout=args.confirm_timeout,
                 report=lambda s: print(s, flush=True))
    print(json.dumps(totals), flush=True)
    return 0 if totals["unpublished"] + totals["unconfirmed"] == 0 else 1
