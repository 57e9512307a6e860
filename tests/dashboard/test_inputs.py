"""Issue class C: every number on every interface is checked against its contract's range.

Query parameters and JSON bodies of the dashboard (enumerated from its routes), the
gateway CLI's options and CONFIG payloads: out of range is a 4xx / exit 2 naming the field
and the range, never a 500, a traceback or a silent coercion (`true` is not 1, `"5"` is
not 5).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imuad.cli import main
from imuad.dashboard.app import Settings, create_app

from dashboard_c9 import TOKEN, FakeGateway, populate
from dashboard_probe import route_inputs

AUTH = {"Authorization": f"Bearer {TOKEN}"}
HUGE = "99999999999999999999"
FUZZ = settings(derandomize=True, deadline=None, max_examples=100,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def client_for(gw: FakeGateway) -> TestClient:
    app = create_app(Settings(store=gw.path, token=TOKEN, poll_s=0.02, login_delay_s=0))
    return TestClient(app, follow_redirects=False, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGateway]:
    gw = populate(FakeGateway(tmp_path_factory.mktemp("inputs") / "store.db"))
    yield gw
    gw.close()


@pytest.fixture(scope="module")
def client(store: FakeGateway) -> Iterator[TestClient]:
    with client_for(store) as c:
        yield c


@pytest.mark.parametrize("url, field, rng", [
    (f"/api/events?kind={HUGE}", "kind", "1..6"),
    (f"/alerts?kind={HUGE}", "kind", "1..6"),
    (f"/api/events.csv?kind={HUGE}", "kind", "1..6"),
    ("/api/events?kind=4,7", "kind", "1..6"),
    ("/api/events?kind=onset,0", "kind", "1..6"),
    (f"/api/stream?last_id=1{'0' * 22}", "last_id", "0..9223372036854775807"),
    ("/api/stream?last_id=-1", "last_id", "0..9223372036854775807"),
    (f"/api/stream?max_events={HUGE}", "max_events", ".."),
    ("/api/devices/pump-1/series?since=nan", "since", ""),
    (f"/api/devices?spark={HUGE}", "spark", "0..1000"),
    (f"/api/events?offset={HUGE}", "offset", ".."),
])
def test_out_of_range_query_parameter_is_a_422_naming_it(client: TestClient, url: str,
                                                           field: str, rng: str) -> None:
    r = client.get(url, headers=AUTH)
    assert r.status_code == 422, (url, r.status_code, r.text[:300])
    assert field in r.text and rng in r.text, r.text[:500]


def test_last_event_id_header_is_checked_like_last_id(client: TestClient) -> None:
    r = client.get("/api/stream", headers={**AUTH, "Last-Event-ID": HUGE})
    assert r.status_code == 422 and "Last-Event-ID" in r.text


@pytest.mark.parametrize("patch, field", [
    ({"threshold_on": True, "threshold_off": 0}, "threshold_on"),  # not queued as 1
    ({"threshold_on": "5", "threshold_off": 0}, "threshold_on"),
    ({"threshold_on": 5.0, "threshold_off": 0}, "threshold_on"),
    ({"threshold_off": False}, "threshold_off"),
    ({"threshold_on": 2**31}, "threshold_on"),
    ({"threshold_off": -(2**31) - 1}, "threshold_off"),
    ({"threshold_off": 200}, "threshold_off"),
    ({"k": True, "n": 2}, "k"),
    ({"k": 0, "n": 1}, "k"),
    ({"k": 3, "n": 2}, "k"),
    ({"k": 1, "n": 33}, "n"),
    ({"k": 2}, "n"),
])
def test_threshold_command_is_strict_c5(client: TestClient, patch: dict, field: str) -> None:
    body = {"device_id": "pump-1", "threshold_on": 140, "threshold_off": 90, **patch}
    r = client.post("/api/commands/threshold", json=body, headers=AUTH)
    assert r.status_code == 422, (patch, r.status_code, r.text)
    assert field in r.text, r.text


@pytest.mark.parametrize("patch, field, says", [
    ({"windows": 15}, "windows", "16..4096"),
    ({"windows": 4097}, "windows", "16..4096"),
    ({"windows": True}, "windows", "16..4096"),      # not queued as 1
    ({"windows": "512"}, "windows", "16..4096"),
    ({"allowed": -1}, "allowed", "0..1000"),
    ({"allowed": 1001}, "allowed", "0..1000"),
    ({"margin_permille": 10_001}, "margin_permille", "0..10000"),
    ({"margin_permille": 1.5}, "margin_permille", "0..10000"),
    ({"drift_block": 65_536}, "drift_block", "0..65535"),
    ({"k": 33, "n": 33}, "k", "0..32"),
    ({"k": 3, "n": 2}, "k", "must be <= n"),
    ({"k": 2, "n": 0}, "n", "give both k and n"),
    ({"k": 0, "n": 4}, "k", "give both k and n"),
    ({"threshold_on": 100}, "threshold_on", "extra"),  # not a calibration field
])
def test_calibrate_command_is_strict_c5b(client: TestClient, patch: dict, field: str,
                                         says: str) -> None:
    body = {"device_id": "pump-1", "windows": 512, "k": 2, "n": 4, **patch}
    r = client.post("/api/commands/calibrate", json=body, headers=AUTH)
    assert r.status_code == 422, (patch, r.status_code, r.text)
    assert field in r.text and says in r.text, r.text


@pytest.mark.parametrize("seq", [True, "10", 10.0, 2**32, -1, None])
def test_ack_seq_is_a_strict_u32(client: TestClient, seq: object) -> None:
    r = client.post("/api/events/ack", json={"device_id": "pump-1", "seq": seq}, headers=AUTH)
    assert r.status_code == 422 and "seq" in r.text, (seq, r.status_code, r.text)


# ---- the same rule everywhere: dashboard, gateway CLI, CONFIG encoder, C5 module ----------
C5_VALUES = st.one_of(st.integers(-(2**33), 2**33), st.integers(-2, 40),
                      st.sampled_from([-(2**31), 2**31 - 1, 2**31, True, False, "5", 5.0, None]))


@FUZZ
@given(on=C5_VALUES, off=C5_VALUES, k=C5_VALUES, n=C5_VALUES)
def test_one_c5_rule_for_dashboard_cli_and_gateway(client: TestClient, store: FakeGateway,
                                                   on, off, k, n) -> None:
    from imuad.contracts.ble_payload import encode_config
    from imuad.contracts.decision import DecisionError, check_config, check_decision
    try:
        check_decision(on, off, k, n)
        ok = True
    except DecisionError as exc:
        ok = False
        assert exc.field in str(exc)
    # the dashboard's command may leave settings out (null = absent): C9's config payload rule
    given_ = {f: v for f, v in (("threshold_on", on), ("threshold_off", off), ("k", k), ("n", n)) if v is not None}
    try:
        check_config(given_)
        ok_payload = True
    except DecisionError:
        ok_payload = False
    r = client.post("/api/commands/threshold", headers=AUTH, json={
        "device_id": "pump-1", "threshold_on": on, "threshold_off": off, "k": k, "n": n})
    assert r.status_code == (200 if ok_payload else 422), (on, off, k, n, r.text)
    if all(type(v) is int for v in (on, off, k, n)):
        try:
            encode_config(on, off, k, n)
            assert ok
        except ValueError:
            assert not ok
        try:
            rc = main(["gateway", "config", "--db", str(store.path), "--device", "pump-1",
                       "--threshold-on", str(on), "--threshold-off", str(off),
                       "-k", str(k), "-n", str(n)])
        except SystemExit as exc:  # argparse: an option out of its range
            rc = exc.code
        assert rc == (0 if ok else 2), (on, off, k, n)


# ---- every query parameter of every GET route, random values --------------------------
BOUNDS = [-(2**63) - 1, -(2**63), -(2**31) - 1, -(2**31), -1, 0, 1, 2, 3, 4, 32, 33, 1000,
          1001, 5000, 5001, 20000, 20001, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63,
          10**22]
INT_TEXT = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from(BOUNDS)).map(str)
QUERY_VALUE = st.one_of(INT_TEXT, st.text(max_size=30), st.sampled_from(
    ["nan", "inf", "-inf", "1e22", "1e400", "0x10", "1_000", " 7 ", "", f"1,2,{HUGE}", "4,5",
     "onset,9", "alerts", "any", "2024-01-01T00:00:00Z", "9999-12-31", "-0"]))
PATH_VALUES = {"device_id": "pump-1", "run_id": "r1"}


def _get_routes(app) -> list:
    return [r for r in route_inputs(app) if r.method == "GET" and r.query]


def test_query_parameters_are_enumerated(client: TestClient) -> None:
    params = {r.path: r.query for r in _get_routes(client.app)}
    assert {"kind", "limit", "offset", "since", "until"} <= set(params["/api/events"])
    assert {"last_id", "max_events", "device"} <= set(params["/api/stream"])
    assert "spark" in params["/api/devices"]
    assert {"since", "limit"} <= set(params["/api/devices/{device_id}/series"])


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_random_query_values_never_break_an_endpoint(client: TestClient, data) -> None:
    route = data.draw(st.sampled_from(_get_routes(client.app)), label="route")
    param = data.draw(st.sampled_from(route.query), label="param")
    value = data.draw(QUERY_VALUE, label="value")
    path = route.path
    for name in route.path_params:
        path = path.replace("{%s}" % name, PATH_VALUES.get(name, "x"))
    url = f"{path}?{urlencode({param: value})}"
    with client.stream("GET", url, headers=AUTH) as r:  # /api/stream never ends by itself
        status = r.status_code
        text = r.read().decode(errors="replace") if status != 200 else ""
    assert status < 500, (url, status)
    assert status in (200, 404, 422), (url, status)
    if status == 422:
        assert param in text, (url, text[:300])


# ---- every field of every JSON body, random values ------------------------------------
JSON_VALUE = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from(BOUNDS), st.booleans(),
                       st.none(), st.floats(), st.text(max_size=20), INT_TEXT,
                       st.lists(st.integers(), max_size=3),
                       st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def _body_routes(app) -> list:
    return [r for r in route_inputs(app) if r.body_model is not None and r.body_model.model_fields]


def test_every_post_route_declares_its_body(client: TestClient) -> None:
    posts = [r for r in route_inputs(client.app) if r.method == "POST"]
    assert posts and all(r.body_model is not None for r in posts), \
        [r.path for r in posts if r.body_model is None]
    for r in posts:  # each model carries a valid example the fuzzer starts from
        example = r.body_model.model_config["json_schema_extra"]["examples"][0]
        r.body_model.model_validate(example)


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_random_body_values_never_break_an_endpoint(client: TestClient, data) -> None:
    route = data.draw(st.sampled_from(_body_routes(client.app)), label="route")
    model = route.body_model
    field = data.draw(st.sampled_from(sorted(model.model_fields)), label="field")
    value = data.draw(JSON_VALUE, label="value")
    body = {**model.model_config["json_schema_extra"]["examples"][0], field: value}
    headers = dict(AUTH)
    if route.path == "/login":
        content = urlencode({k: json.dumps(v) if not isinstance(v, str) else v
                             for k, v in body.items()})
        headers["content-type"] = "application/x-www-form-urlencoded"
    else:
        content = json.dumps(body)
        headers["content-type"] = "application/json"
    r = client.post(route.path, content=content, headers=headers)
    assert r.status_code < 500, (route.path, body, r.status_code)
    if r.status_code == 422:
        assert field in r.text, (route.path, body, r.text[:300])


# ---- gateway CLI numeric options -------------------------------------------------------
def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("option, value, rng", [
    ("--threshold-on", "99999999999", "-2147483648..2147483647"),
    ("--threshold-off", "-99999999999", "-2147483648..2147483647"),
    ("-k", "0", "1..32"),
    ("-n", "300", "1..32"),
    ("-k", "1.5", "1..32"),
])
def test_gateway_config_options_are_range_checked(tmp_path: Path, capsys, option: str,
                                                  value: str, rng: str) -> None:
    args = {"--threshold-on": "100", "--threshold-off": "90", "-k": "2", "-n": "4", option: value}
    rc, err = _cli(["gateway", "config", "--db", str(tmp_path / "g.db"), "--device", "d",
                    *[x for kv in args.items() for x in kv]], capsys)
    assert rc == 2 and option in err and rng in err and "Traceback" not in err, err


@pytest.mark.parametrize("args, option, says", [
    (["--windows", "15"], "--windows", "16..4096"),
    (["--windows", HUGE], "--windows", "16..4096"),
    (["--allowed", "1001"], "--allowed", "0..1000"),
    (["--margin-permille", "-1"], "--margin-permille", "0..10000"),
    (["--drift-block", "65536"], "--drift-block", "0..65535"),
    (["-k", "33", "-n", "33"], "-k", "0..32"),
    (["-k", "2"], "-n", "give both k and n"),
    (["-k", "5", "-n", "4"], "-k", "must be <= n"),
])
def test_gateway_calibrate_options_are_range_checked(tmp_path: Path, capsys, args: list[str],
                                                     option: str, says: str) -> None:
    db = tmp_path / "g.db"
    rc, err = _cli(["gateway", "calibrate", "--db", str(db), "--device", "d", *args], capsys)
    assert rc == 2 and option in err and says in err and "Traceback" not in err, err
    if db.exists():  # refused before anything is queued
        from imuad.gateway.store import Store
        with Store(db) as s:
            assert s.pending_commands() == []


@pytest.mark.parametrize("argv, option", [
    (["events", "--limit", HUGE], "--limit"),
    (["events", "--limit", "-1"], "--limit"),
    (["run", "--sessions", HUGE], "--sessions"),
    (["run", "--until-acked", "-5"], "--until-acked"),
    (["run", "--passkey", "1234567"], "--passkey"),
    (["run", "--scan-timeout", "nan"], "--scan-timeout"),
    (["bench", "--events", "0"], "--events"),
])
def test_gateway_numeric_options_are_range_checked(tmp_path: Path, capsys, argv: list[str],
                                                   option: str) -> None:
    from imuad.gateway.store import Store
    Store(tmp_path / "g.db").close()
    rc, err = _cli(["gateway", argv[0], *(["--db", str(tmp_path / "g.db")]
                                          if argv[0] in ("events", "run") else []), *argv[1:]],
                   capsys)
    assert rc == 2 and option in err and ".." in err, err


def test_config_with_threshold_only_reaches_the_device(store: FakeGateway) -> None:
    """The dashboard queues {threshold_on, threshold_off} (C9): the gateway core completes
    it with the device's k and n instead of dropping it as malformed."""
    import asyncio

    from imuad.gateway.central import Gateway, GatewayOptions
    from imuad.gateway.store import Store

    class Link:
        writes: list[bytes] = []

        async def write_control(self, data: bytes) -> None:
            self.writes.append(bytes(data))

    s = Store(store.path)
    for c in s.pending_commands("pump-1"):
        s.mark_sent(c["id"])
    s.queue_command("pump-1", "config", {"threshold_on": 140, "threshold_off": 90})
    s.queue_command("pump-1", "config", {"threshold_on": True, "threshold_off": 0})  # invalid
    gw = Gateway(backend=None, store=s, options=GatewayOptions())  # type: ignore[arg-type]
    link = Link()
    asyncio.run(gw._send_commands(link, "pump-1", debounce=(3, 5)))
    import struct
    assert link.writes == [struct.pack("<BiiBB", 3, 140, 90, 3, 5)]
    assert s.pending_commands("pump-1") == []
    s.close()
