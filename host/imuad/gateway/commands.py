"""`imuad gateway ...`: run the BLE gateway, list stored events, queue a config or calibrate
command, run the virtual radio, benchmark the link."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sqlite3
import sys
import time

from ..contracts.calibration import (ALLOWED_ONSETS, CALIB_WINDOWS, DRIFT_BLOCK, EVENT_NAMES,
                                     K_N_OR_KEEP, MARGIN_PERMILLE, CalibrationRequest,
                                     check_request)
from ..contracts.decision import K_N, THRESHOLD, DecisionError, check_decision
from ..contracts.ranges import PASSKEY, TCP_PORT, UINT32, FloatRange, IntRange, RangeError
from ..errors import ImuadError

# ranges of the options that are not contract fields (those come from imuad.contracts)
COUNT = IntRange(1, 10**9)
EVENTS_LIMIT = IntRange(1, 10**6)
TIMEOUT_S = FloatRange(0.1, 3600.0)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gateway", help="BLE gateway: device events -> SQLite (-> MQTT)")
    sub = p.add_subparsers(dest="gateway_command", metavar="ACTION")

    run = sub.add_parser("run", help="collect events from a device until interrupted")
    _add_link_args(run)
    run.add_argument("--db", required=True, help="SQLite store (created if missing)")
    run.add_argument("--mqtt", metavar="mqtt://HOST[:PORT]",
                     help="also publish every stored event, at least once, to "
                          "imuad/<gateway>/<device>/events (contract C9 MQTT)")
    run.add_argument("--gateway-id", help="this gateway's id in the fleet (topic level and MQTT "
                                          "client id imuad-gw-<id>; default: the hostname)")
    run.add_argument("--sessions", type=COUNT.argtype("--sessions"),
                     help="stop after this many connections")
    run.add_argument("--until-acked", type=UINT32.argtype("--until-acked"), metavar="SEQ",
                     help="stop once every event up to SEQ is stored and acknowledged")
    run.add_argument("--json-events", action="store_true",
                     help="print one JSON line per gateway event on stdout (for scripts)")
    run.add_argument("-v", "--verbose", action="store_true")
    run.set_defaults(func=_cmd_run)

    ev = sub.add_parser("events", help="print stored events (newest first)")
    ev.add_argument("--db", required=True)
    ev.add_argument("--device")
    ev.add_argument("--limit", type=EVENTS_LIMIT.argtype("--limit"), default=20,
                    help=f"how many events ({EVENTS_LIMIT}, default 20)")
    ev.set_defaults(func=_cmd_events)

    cfg = sub.add_parser("config", help="queue a threshold/debounce change for a device")
    cfg.add_argument("--db", required=True)
    cfg.add_argument("--device", required=True)
    # ranges and the off <= on, k <= n rules: contract C5 (imuad.contracts.decision)
    cfg.add_argument("--threshold-on", type=THRESHOLD.argtype("--threshold-on"), required=True)
    cfg.add_argument("--threshold-off", type=THRESHOLD.argtype("--threshold-off"),
                     required=True)
    cfg.add_argument("-k", type=K_N.argtype("-k"), required=True,
                     help=f"hot windows of the last n that raise an alert ({K_N})")
    cfg.add_argument("-n", type=K_N.argtype("-n"), required=True, help=f"history length ({K_N})")
    cfg.set_defaults(func=_cmd_config)

    # ranges and the k/n rule: contract C5b (imuad.contracts.calibration)
    cal = sub.add_parser("calibrate", help="queue an on-device recalibration (threshold and "
                                           "debounce fitted from its next windows) for a device")
    dflt = CalibrationRequest()
    cal.add_argument("--db", required=True)
    cal.add_argument("--device", required=True)
    cal.add_argument("--windows", type=CALIB_WINDOWS.argtype("--windows"), default=dflt.windows,
                     help=f"window scores to fit on ({CALIB_WINDOWS}, default {dflt.windows})")
    cal.add_argument("--allowed", type=ALLOWED_ONSETS.argtype("--allowed"), default=dflt.allowed,
                     help=f"onsets tolerated over those windows ({ALLOWED_ONSETS}, "
                          f"default {dflt.allowed})")
    cal.add_argument("--margin-permille", type=MARGIN_PERMILLE.argtype("--margin-permille"),
                     default=dflt.margin_permille,
                     help=f"headroom above the lowest quiet threshold, per mille of its distance "
                          f"to the median ({MARGIN_PERMILLE}, default {dflt.margin_permille})")
    cal.add_argument("-k", type=K_N_OR_KEEP.argtype("-k"), default=0,
                     help="hot windows of the last n that raise an alert (1..32, k <= n; "
                          "default: keep the device's)")
    cal.add_argument("-n", type=K_N_OR_KEEP.argtype("-n"), default=0,
                     help="history length (1..32; give it with -k)")
    cal.add_argument("--drift-block", type=DRIFT_BLOCK.argtype("--drift-block"),
                     default=dflt.drift_block,
                     help=f"then watch for drift over blocks of this many windows ({DRIFT_BLOCK}; "
                          f"default {dflt.drift_block}: no drift watch)")
    cal.add_argument("--refit", action="store_true",
                     help="first refit the model's shape statistics on the device (spectral_gauss; "
                          "then the threshold on as many windows again)")
    cal.set_defaults(func=_cmd_calibrate)

    vl = sub.add_parser("vlink", help="virtual BLE radio: Bumble controllers as HCI TCP servers")
    vl.add_argument("--port", type=TCP_PORT.argtype("--port"), action="append", required=True)
    vl.set_defaults(func=_cmd_vlink)

    b = sub.add_parser("bench", help="events/s firmware -> gateway -> SQLite and pairing time "
                                     "on the virtual link (builds imuad-ble-host)")
    b.add_argument("--events", type=COUNT.argtype("--events"), default=3000)
    b.add_argument("--pairings", type=COUNT.argtype("--pairings"), default=5)
    b.set_defaults(func=_cmd_bench)

    p.set_defaults(func=lambda args: p.print_help() or 2)


def _add_link_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("bleak", "bumble"), default="bleak",
                   help="bleak: the OS BLE stack (default); bumble: raw HCI controller")
    p.add_argument("--transport", help="bumble HCI transport, e.g. usb:0 or tcp-client:127.0.0.1:7002")
    p.add_argument("--keystore", help="bumble bond store (JSON file)")
    p.add_argument("--own-address", help="bumble: our random static address")
    p.add_argument("--address", help="only this device address")
    p.add_argument("--passkey", type=PASSKEY.argtype("--passkey"),
                   help="6-digit passkey the device displays")
    p.add_argument("--scan-timeout", type=TIMEOUT_S.argtype("--scan-timeout"), default=10.0,
                   help=f"seconds ({TIMEOUT_S}, default 10)")


def _cmd_run(args: argparse.Namespace) -> int:
    from .backends import make_backend
    from .central import Gateway, GatewayOptions
    from .store import Store

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    forwarder = None
    if args.mqtt:
        from ..contracts.mqtt import check_gateway_id, default_gateway_id
        gateway_id = check_gateway_id(args.gateway_id) if args.gateway_id else default_gateway_id()
    store = Store(args.db)  # migrates the store (the outbox) before the publisher opens it
    if args.mqtt:
        from .mqtt import MqttOutbox
        try:
            # the BLE side runs whether or not the broker is up: events wait in the outbox
            forwarder = MqttOutbox(args.mqtt, args.db, gateway_id, require_broker=False)
        except BaseException:
            store.close()
            raise
    backend = make_backend(args.backend, transport=args.transport, keystore=args.keystore,
                           own_address=args.own_address)

    def report(what: str, info: dict) -> None:
        if args.json_events:
            print(json.dumps({"event": what, **info}, default=str), flush=True)
        else:
            print(f"gateway: {what} " + " ".join(f"{k}={v}" for k, v in info.items()),
                  file=sys.stderr, flush=True)

    gw = Gateway(backend, store, GatewayOptions(
        passkey=args.passkey, address=args.address, scan_timeout=args.scan_timeout,
        max_sessions=args.sessions, stop_after_events=args.until_acked),
        report=report, forward=forwarder.notify if forwarder else None)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, gw.stop)
        await gw.run()

    try:
        asyncio.run(main())
    finally:
        if forwarder:
            forwarder.close()
        store.close()
    c = gw.counters
    report("summary", {k: v for k, v in vars(c).items()})
    return 0


def _when(ts: object) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return f"(bad time {ts!r})"  # a damaged row: shown, not a traceback


def _cmd_events(args: argparse.Namespace) -> int:
    from .store import Store, StoreError
    with Store(args.db, readonly=True) as s:  # verified up front; writes nothing
        try:
            events = s.events(args.device, limit=args.limit)
        except sqlite3.DatabaseError as exc:
            raise StoreError(args.db, f"unreadable ({exc})") from None
        for e in events:
            kind = EVENT_NAMES.get(e["kind"], str(e["kind"])).replace(" ", "_")
            print(f"{_when(e['received_at'])} {e['device_id']} seq={e['seq']} kind={kind} "
                  f"state={e['state']} score={e['score']} flags={e['flags']}")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    try:
        decision = check_decision(args.threshold_on, args.threshold_off, args.k, args.n)
    except DecisionError as exc:
        option = {"k": "-k", "n": "-n"}.get(exc.field, "--" + exc.field.replace("_", "-"))
        raise ImuadError(f"{option}: {exc}") from None
    return _queue(args, "config", decision.as_dict())


def _queue(args: argparse.Namespace, kind: str, payload: dict) -> int:
    """A C9 command row for the gateway to send at its next connection to the device."""
    from .store import Store, StoreError
    with Store(args.db) as s:
        try:
            cid = s.queue_command(args.device, kind, payload)
        except sqlite3.DatabaseError as exc:
            raise StoreError(args.db, f"cannot queue the command ({exc})") from None
    print(f"queued command {cid}; sent when the gateway is next connected to {args.device}")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    try:
        req = check_request({"windows": args.windows, "allowed": args.allowed,
                             "margin_permille": args.margin_permille, "k": args.k, "n": args.n,
                             "drift_block": args.drift_block, "refit": int(args.refit)})
    except RangeError as exc:
        option = {"k": "-k", "n": "-n"}.get(exc.field, "--" + exc.field.replace("_", "-"))
        raise ImuadError(f"{option}: {exc}") from None
    return _queue(args, "calibrate", req.as_dict())


def _cmd_vlink(args: argparse.Namespace) -> int:
    from .vlink import main
    return main([a for p in args.port for a in ("--port", str(p))])


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench
    run_bench(events=args.events, pairings=args.pairings)
    return 0
