"""Contract C9 (MQTT part): topics, payloads and ids between gateways and the fleet ingest.

imuad/<gateway>/<device>/events   gateway -> ingest, QoS 1: one JSON event (EVENT_FIELDS +
                                  gateway_id)
imuad/<gateway>/<device>/status   gateway -> ingest, QoS 1, retained: the device row
                                  (STATUS_FIELDS + gateway_id + status_at) when its name, model,
                                  firmware, threshold, battery or source changed, and all on each
                                  connect; the ingest keeps the newest status_at per device
imuad/<gateway>/ingested          ingest -> gateway, QoS 1: {"events": {device: [[lo, hi], ...]}}
                                  (seq ranges committed to PostgreSQL; the gateway drops them from
                                  its outbox)
imuad/<gateway>/commands          ingest (from PostgreSQL) -> gateway, QoS 1: {"id", "device_id", "kind",
                                  "payload"}
imuad/<gateway>/commands/ack      gateway -> ingest, QoS 1: {"id", "status": "sent", "sent_at",
                                  "gateway_id"} once the gateway core handed it to the device
Imports nothing from the rest of imuad except errors (a Raspberry Pi gateway uses it).
"""
from __future__ import annotations

import json
import math
import re
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ..errors import ImuadError
from .ranges import FloatRange, IntRange, RangeError

PREFIX = "imuad"
SHARE_GROUP = "imuad-ingest"
# The events row of C9 as published (operator ack columns stay with the store that owns them).
EVENT_FIELDS = ("device_id", "seq", "kind", "state", "score", "uptime_ms", "model_id", "flags",
                "received_at")
# The devices row of C9 as published; a change in STATUS_TRIGGER publishes it (last_seen,
# state and uptime change with every event, which carries them anyway).
STATUS_FIELDS = ("device_id", "name", "model_id", "fw_version", "last_seen", "state",
                 "threshold", "uptime_ms", "battery", "source")
STATUS_TRIGGER = ("name", "model_id", "fw_version", "threshold", "battery", "source")
GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class MqttContractError(ImuadError):
    pass


def check_gateway_id(gateway_id: str, what: str = "--gateway-id") -> str:
    """A gateway id is one MQTT topic level and part of the client id: letters, digits, _.-"""
    if not isinstance(gateway_id, str) or not GATEWAY_ID.match(gateway_id):
        raise MqttContractError(f"{what} {gateway_id!r}: 1-63 letters, digits, '_', '.' or '-', "
                                f"starting with a letter or digit")
    return gateway_id


def default_gateway_id() -> str:
    host = socket.gethostname().split(".")[0]
    try:
        return check_gateway_id(host)
    except MqttContractError:
        raise MqttContractError(f"hostname {host!r} is not a valid gateway id; pass --gateway-id "
                                f"(letters, digits, '_', '.', '-')") from None


def topic_level(device_id: str) -> str:
    """A device id as one topic level (MQTT forbids wildcards and '/' in a level)."""
    return device_id.replace("+", "_").replace("#", "_").replace("/", "_")


def events_topic(gateway_id: str, device_id: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/{gateway_id}/{topic_level(device_id)}/events"


def ingested_topic(gateway_id: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/{gateway_id}/ingested"


def commands_topic(gateway_id: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/{gateway_id}/commands"


def command_ack_topic(gateway_id: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/{gateway_id}/commands/ack"


def status_topic(gateway_id: str, device_id: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/{gateway_id}/{topic_level(device_id)}/status"


def status_subscription(prefix: str = PREFIX, share: str | None = SHARE_GROUP) -> str:
    topic = f"{prefix}/+/+/status"
    return f"$share/{share}/{topic}" if share else topic


def events_subscription(prefix: str = PREFIX, share: str | None = SHARE_GROUP) -> str:
    topic = f"{prefix}/+/+/events"
    return f"$share/{share}/{topic}" if share else topic


def gateway_client_id(gateway_id: str) -> str:
    return f"imuad-gw-{gateway_id}"


def _encode_row(gateway_id: str, row: dict[str, Any], fields: tuple[str, ...],
                **extra: Any) -> bytes:
    body = {f: row.get(f) for f in fields}
    body["gateway_id"] = gateway_id
    body.update(extra)
    return json.dumps(body, separators=(",", ":")).encode()


def _decode_row(payload: bytes, what: str) -> dict[str, Any]:
    """A JSON object with a valid gateway_id and a device_id; errors name `what` and the field."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MqttContractError(f"{what} payload is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise MqttContractError(f"{what} payload is not a JSON object")
    check_gateway_id(body.get("gateway_id"), "gateway_id")  # type: ignore[arg-type]
    if not isinstance(body.get("device_id"), str) or not body["device_id"]:
        raise MqttContractError(f"{what} field device_id: a non-empty string is required")
    return body


def encode_event(gateway_id: str, row: dict[str, Any]) -> bytes:
    return _encode_row(gateway_id, row, EVENT_FIELDS)


def decode_event(payload: bytes) -> dict[str, Any]:
    """One event payload, checked: raises MqttContractError naming the bad field."""
    body = _decode_row(payload, "event")
    for f in ("seq", "kind", "state", "score"):
        if not isinstance(body.get(f), int) or isinstance(body.get(f), bool):
            raise MqttContractError(f"event field {f}: an integer is required, not {body.get(f)!r}")
    if not isinstance(body.get("received_at"), (int, float)):
        raise MqttContractError("event field received_at: a number is required")
    return body


def encode_status(gateway_id: str, row: dict[str, Any], status_at: float | None = None) -> bytes:
    """`status_at`: the gateway's clock when it composed the status. The ingest keeps the
    newest per device, so a status redelivered late cannot undo a newer one."""
    if status_at is None:
        return _encode_row(gateway_id, row, STATUS_FIELDS)
    return _encode_row(gateway_id, row, STATUS_FIELDS, status_at=float(status_at))


def decode_status(payload: bytes) -> dict[str, Any]:
    """One device status payload, checked: raises MqttContractError naming the bad field."""
    body = _decode_row(payload, "status")
    for f, types in (("name", str), ("model_id", str), ("fw_version", str), ("source", str),
                     ("last_seen", (int, float)), ("battery", (int, float)), ("status_at", (int, float)),
                     ("state", int), ("threshold", int), ("uptime_ms", int)):
        v = body.get(f)
        if v is not None and (not isinstance(v, types) or isinstance(v, bool)
                              or (isinstance(v, float) and not math.isfinite(v))):
            raise MqttContractError(f"status field {f}: {v!r} is not a "
                                    f"{getattr(types, '__name__', 'finite number')}")
    return body


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """[1, 2, 3, 7] -> [[1, 3], [7, 7]] (compact confirmations)."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def encode_ingested(by_device: dict[str, Iterable[int]]) -> bytes:
    return json.dumps({"events": {d: seq_ranges(s) for d, s in by_device.items()}},
                      separators=(",", ":")).encode()


def decode_ingested(payload: bytes) -> list[tuple[str, int]]:
    body = json.loads(payload)
    out = []
    for device, ranges in body["events"].items():
        for lo, hi in ranges:
            out.extend((device, s) for s in range(int(lo), int(hi) + 1))
    return out


def parse_broker_url(url: str, what: str = "--broker") -> tuple[str, int]:
    """mqtt://HOST[:PORT] (or HOST[:PORT]) -> (host, port); port 1883 by default."""
    raw = url if "://" in url else f"mqtt://{url}"
    try:
        parts = urlsplit(raw)
        port = parts.port or 1883
    except ValueError as exc:
        raise MqttContractError(f"{what} {url!r}: {exc}") from None
    if parts.scheme != "mqtt" or not parts.hostname:
        raise MqttContractError(f"{what} {url!r}: expected mqtt://HOST[:PORT]")
    return parts.hostname, port


def encode_command(command: dict[str, Any]) -> bytes:
    """{"id": int, "device_id": str, "kind": str, "payload": object}: any kind passes through."""
    return json.dumps({k: command.get(k) for k in ("id", "device_id", "kind", "payload")},
                      separators=(",", ":")).encode()


def decode_command(payload: bytes) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MqttContractError(f"command payload is not JSON ({exc})") from None
    if not isinstance(body, dict) or not isinstance(body.get("id"), int) \
            or not isinstance(body.get("device_id"), str) or not isinstance(body.get("kind"), str):
        raise MqttContractError("command payload needs integer id, string device_id and kind")
    return body


# Command kind `ack`: an acknowledgement made on the fleet's dashboard, for the gateway's own
# store (its SQLite dashboard then shows it too); the gateway applies it, never the device.
ACK_KIND = "ack"
ACK_NOTE_MAX = 500  # as the dashboard's form
_ACK_SEQ = IntRange(0, 2**32 - 1)
_ACK_AT = FloatRange(0.0, 1e12)


def ack_payload(seq: int, note: str, ack_at: float) -> dict[str, Any]:
    return {"seq": int(seq), "note": note, "ack_at": float(ack_at)}


def decode_ack(payload: Any) -> tuple[int, str, float]:
    """(seq, note, ack_at) of an `ack` command's payload; MqttContractError names the field."""
    if not isinstance(payload, dict):
        raise MqttContractError("ack payload is not an object")
    note = payload.get("note", "")
    if not isinstance(note, str) or len(note) > ACK_NOTE_MAX:
        raise MqttContractError(f"ack payload: note must be a string of at most {ACK_NOTE_MAX} characters")
    try:
        return _ACK_SEQ.check("seq", payload.get("seq")), note, _ACK_AT.check("ack_at", payload.get("ack_at"))
    except RangeError as exc:
        raise MqttContractError(f"ack payload: {exc}") from None
