"""At least once, exactly once in PostgreSQL: kill -9 the broker, an ingest process and gateway
processes at random points while simulated gateways send events; after the restarts every
event committed in a gateway's SQLite store (what its device got ACKed for) is in PostgreSQL
exactly once.

The default size runs in CI in seconds (6 gateways x 5 devices). IMUAD_FLEET_FULL=1 runs the
issue's 50 gateways x 20 devices (minutes on 2 cores)."""
from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fleetkit import ingest_argv, pg_rows, simgw_argv, stored_keys, wait_line  # noqa: E402

FULL = os.environ.get("IMUAD_FLEET_FULL") == "1"
GATEWAYS, DEVICES, EVENTS, PROCS = (50, 20, 100, 5) if FULL else (6, 5, 200, 2)
RATE = 100.0 if FULL else 200.0  # events/s per gateway: production lasts DEVICES*EVENTS/RATE s


def _log(p) -> str:
    return Path(p.log_path).read_text()


class Fleet:
    """Two ingest processes, PROCS simulated-gateway processes, one broker; restartable."""

    def __init__(self, broker, pg_url: str, procs, folder: Path) -> None:
        self.broker, self.pg_url, self.procs, self.folder = broker, pg_url, procs, folder
        names = [f"g{i:02d}" for i in range(GATEWAYS)]
        self.groups = [names[i::PROCS] for i in range(PROCS)]
        self.ingests = {n: self._ingest(n) for n in ("a", "b")}
        self.gateways = [self._gateway(g) for g in self.groups]

    def _ingest(self, name: str):
        p = self.procs.start(*ingest_argv(self.broker.url, self.pg_url, name, "--batch", "500"))
        wait_line(p, "INGEST READY", 30)
        return p

    def _gateway(self, group: list[str]):
        p = self.procs.start(*simgw_argv(self.broker.url, self.folder, group, DEVICES, EVENTS,
                                         "--rate", str(RATE), "--wait", "240",
                                         "--confirm-timeout", "20" if FULL else "2"))
        p.group = group  # type: ignore[attr-defined]
        return p

    def kill(self, victim: str, rng: random.Random) -> str:
        if victim == "broker":
            self.broker.kill9()
            time.sleep(rng.uniform(0.0, 0.5))
            self.broker.start()
            return "broker"
        if victim == "ingest":
            name = rng.choice(sorted(self.ingests))
            self.ingests[name].kill()
            self.ingests[name].wait(10)
            time.sleep(rng.uniform(0.0, 0.5))
            self.ingests[name] = self._ingest(name)  # same name: the broker resends its unacked
            return f"ingest {name}"
        i = rng.randrange(len(self.gateways))
        p = self.gateways[i]
        if p.poll() is not None:
            return f"gateway proc {i} (already done)"
        p.kill()
        p.wait(10)
        time.sleep(rng.uniform(0.0, 0.5))
        self.gateways[i] = self._gateway(p.group)  # a rebooted gateway: same stores, same ids
        return f"gateway proc {i}"

    def wait_gateways(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for p in self.gateways:
            try:
                rc = p.wait(max(1.0, deadline - time.monotonic()))
            except Exception:
                rc = None
            assert rc == 0, f"gateway process did not finish cleanly:\n{_log(p)[-3000:]}\n" + \
                "\n".join(_log(i)[-1500:] for i in self.ingests.values())


def _check_exactly_once(fleet: Fleet) -> None:
    stored = stored_keys(fleet.folder)
    rows = pg_rows(fleet.pg_url)
    assert len(stored) == GATEWAYS * DEVICES * EVENTS
    assert len(rows) == len(set(rows)), "duplicates in PostgreSQL"
    assert set(rows) == stored, (f"missing {len(stored - set(rows))}, "
                                 f"unexpected {len(set(rows) - stored)}")


@pytest.mark.timeout(600 if FULL else 150)
@pytest.mark.parametrize("victims,seed", [
    (("broker",), 1),
    (("ingest",), 2),
    (("gateway",), 3),
    (("broker", "ingest", "gateway"), 4),
])
def test_kill9_loses_and_duplicates_nothing(broker, pg_url, procs, tmp_path, victims, seed):
    rng = random.Random(seed)
    fleet = Fleet(broker, pg_url, procs, tmp_path / "gateways")
    produce_s = DEVICES * EVENTS / RATE
    kills = []
    t_end = time.monotonic() + produce_s
    for _ in range(3 if len(victims) == 1 else 5):
        time.sleep(rng.uniform(0.2, produce_s / 3))
        kills.append(fleet.kill(rng.choice(victims), rng))
        if time.monotonic() > t_end:
            break
    fleet.wait_gateways(480 if FULL else 120)
    _check_exactly_once(fleet)
    assert kills  # the faults really happened (listed in the failure message otherwise)
