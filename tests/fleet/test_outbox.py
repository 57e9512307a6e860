"""The gateway outbox alone against a real broker: it starts while the broker is down and
publishes once the broker is up; nothing leaves the outbox before the ingest confirms it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fleetkit import ingest_argv, pg_rows, wait_for, wait_line  # noqa: E402

from imuad.gateway.mqtt import MqttOutbox  # noqa: E402
from imuad.gateway.store import Store  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def test_gateway_starts_with_the_broker_down_and_catches_up(broker, pg_url, procs, tmp_path):
    db = tmp_path / "hall-1.db"
    broker.stop()
    with Store(db) as s:
        s.insert_events("dev1", [dict(seq=i, kind=1, state=0, score=i) for i in range(1, 101)])
        # a short confirm timeout: if the resend on reconnect races the ingest's own reconnect
        # (the broker drops what no subscriber holds), rule (d) sends again within seconds
        ob = MqttOutbox(broker.url, db, "hall-1", require_broker=False, confirm_timeout=5.0)
        try:
            s.insert_events("dev1", [dict(seq=i, kind=1, state=0, score=i)
                                     for i in range(101, 151)])
            assert s.outbox_counts() == {"unpublished": 150, "unconfirmed": 0}
            broker.start()  # same port, persistent
            wait_for(lambda: s.outbox_counts()["unpublished"] == 0, 30, "PUBACKs")
            assert s.outbox_counts() == {"unpublished": 0, "unconfirmed": 150}  # not yet ingested
            ing = procs.start(*ingest_argv(broker.url, pg_url, "one"))
            wait_line(ing, "INGEST READY", 30)
            # published before the ingest existed: the broker dropped them (no subscriber yet);
            # the outbox sends them again at the latest 10 x confirm_timeout after their PUBACK
            # or on reconnect. A restart of the broker makes the gateway resend now:
            broker.restart(kill=False)
            wait_for(lambda: s.outbox_counts() == {"unpublished": 0, "unconfirmed": 0}, 60,
                     "confirmations", [ing])
        finally:
            ob.close(1)
    assert sorted(r[2] for r in pg_rows(pg_url)) == list(range(1, 151))
