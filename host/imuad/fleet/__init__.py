"""The fleet: many gateways -> one MQTT broker -> `imuad fleet ingest` -> one PostgreSQL store.

schema (versioned PostgreSQL migrations) · ingest (MQTT shared subscription -> idempotent batches)
· simgw (simulated gateways for tests and benchmarks) · commands (the `imuad fleet` CLI).
"""

from __future__ import annotations

import json
import time
from typing import Any


def queue_command(conn: Any, gateway_id: str, device_id: str, kind: str, payload: Any) -> int:
    """Queue a command in the fleet store (`imuad fleet command`, the dashboard on PostgreSQL)."""
    from psycopg.rows import tuple_row
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(
            "INSERT INTO commands (gateway_id, device_id, kind, payload_json, created_at) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (gateway_id, device_id, kind, json.dumps(payload), time.time())).fetchone()[0]
