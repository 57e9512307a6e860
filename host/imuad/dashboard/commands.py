"""`imuad dashboard`: serve the web dashboard over a gateway store or the fleet's PostgreSQL."""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from ..contracts.ranges import TCP_PORT, IntRange
from ..errors import ImuadError
from ..fleet.schema import redact
from .limits import MAX_STREAMS, MAX_STREAMS_PER_CLIENT

TOKEN_ENV = "IMUAD_DASHBOARD_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dashboard", help="serve the web dashboard (devices, live scores, alerts, runs)",
        description="Serve the web dashboard over a gateway's SQLite store, or over the fleet's "
                    "PostgreSQL (every device of every gateway, `imuad fleet ingest`). "
                    "Acknowledging, threshold changes and recalibration need the token; "
                    "reading needs it too unless --public-read.")
    p.add_argument("--store", required=True, metavar="FILE.db | postgresql://...",
                   help="a gateway's SQLite store (C9), or the fleet store's PostgreSQL URL "
                        "(C9 fleet store: devices shown as <gateway>/<device>)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=TCP_PORT.argtype("--port"), default=8000,
                   help="TCP port (default 8000)")
    p.add_argument("--token", default=None,
                   help=f"access token (default: ${TOKEN_ENV}; if unset a random one is printed)")
    p.add_argument("--public-read", action="store_true",
                   help="let anyone on the network view pages without the token (wall screen)")
    p.add_argument("--runs", type=Path, default=None, metavar="DIR",
                   help="also list run reports (*.json) from this folder")
    p.add_argument("--max-streams", type=IntRange(1, 10000).argtype("--max-streams"),
                   default=MAX_STREAMS, metavar="N",
                   help=f"concurrent live streams per server (default {MAX_STREAMS}; a quarter "
                        f"is kept for token holders)")
    p.add_argument("--max-streams-per-client", type=IntRange(1, 1000).argtype(
                   "--max-streams-per-client"), default=MAX_STREAMS_PER_CLIENT, metavar="N",
                   help=f"concurrent live streams per client address "
                        f"(default {MAX_STREAMS_PER_CLIENT})")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415  (kept lazy: `imuad --help` must not need it)

    from .app import Settings, create_app  # noqa: PLC0415

    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        token = secrets.token_urlsafe(16)
        print(f"imuad dashboard: no --token or ${TOKEN_ENV}; this run's token is: {token}",
              file=sys.stderr)
    if len(token) < 8:
        raise ImuadError("dashboard token must be at least 8 characters")
    app = create_app(Settings(store=args.store, token=token, public_read=args.public_read,
                              runs_dir=args.runs, max_streams=args.max_streams,
                              max_streams_per_client=args.max_streams_per_client))
    print(f"imuad dashboard: http://{args.host}:{args.port}/ (store {redact(args.store)}, "
          f"{'public read' if args.public_read else 'token required to read'})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                proxy_headers=False, server_header=False,
                timeout_graceful_shutdown=3)  # open SSE streams must not block Ctrl-C
    return 0
