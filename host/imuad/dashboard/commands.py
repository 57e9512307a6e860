"""`imuad dashboard`: serve the web dashboard over a gateway store."""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from ..errors import ImuadError

TOKEN_ENV = "IMUAD_DASHBOARD_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dashboard", help="serve the web dashboard (devices, live scores, alerts, runs)",
        description="Serve the web dashboard over the gateway's SQLite store. Acknowledging and "
                    "threshold changes need the token; reading needs it too unless --public-read.")
    p.add_argument("--store", required=True, type=Path, help="gateway SQLite store (C9)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--token", default=None,
                   help=f"access token (default: ${TOKEN_ENV}; if unset a random one is printed)")
    p.add_argument("--public-read", action="store_true",
                   help="let anyone on the network view pages without the token (wall screen)")
    p.add_argument("--runs", type=Path, default=None, metavar="DIR",
                   help="also list run reports (*.json) from this folder")
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
    if not 0 < args.port < 65536:
        raise ImuadError(f"--port {args.port}: must be 1..65535")
    app = create_app(Settings(store=args.store, token=token, public_read=args.public_read,
                              runs_dir=args.runs))
    print(f"imuad dashboard: http://{args.host}:{args.port}/ (store {args.store}, "
          f"{'public read' if args.public_read else 'token required to read'})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                proxy_headers=False, server_header=False,
                timeout_graceful_shutdown=3)  # open SSE streams must not block Ctrl-C
    return 0
