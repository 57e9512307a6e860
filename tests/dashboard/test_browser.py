"""End to end in a real browser: Debian chromium + chromedriver, headless, via Selenium.

A uvicorn server runs the dashboard in a thread over a fresh store, once over a gateway's
SQLite file and once over the fleet's PostgreSQL (a real server, the fleet schema, devices
named <gateway>/<device>); the test plays the gateway (or the ingest) by inserting rows and checks that the page follows live, that an operator can
acknowledge with the token and that nobody can without it. Screenshots go to artifacts/.
"""
from __future__ import annotations

import math
import random
import shutil
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest

from dashboard_probe import live_server

from dashboard_c9 import TOKEN, FakeFleet, FakeGateway

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
    reason="needs Debian chromium and chromium-driver (scripts/apt-packages.txt)")




@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, FakeGateway]]:

    from imuad.dashboard.app import Settings, create_app

    if request.param == "sqlite":
        gw = FakeGateway(tmp_path / "store.db")
    else:
        gw = FakeFleet(request.getfixturevalue("pg_url"))
    seed_history(gw)
    app = create_app(Settings(store=gw.path, token=TOKEN, poll_s=0.05))
    with live_server(app) as base:
        yield base, gw
    gw.close()


def seed_history(gw: FakeGateway) -> None:
    """A plant of machines with 5 minutes of heartbeats, so pages look like a real shift."""
    rng = random.Random(7)
    now = time.time()
    machines = [("spindle-a", "Spindle A", 110), ("coolant-pump", "Coolant pump", 90),
                ("gearbox-3", "Gearbox 3", 140), ("fan-north", "Exhaust fan N", 80),
                ("press-2", "Press 2", 120)]
    for i, (dev, name, thr) in enumerate(machines):
        rows = []
        for k in range(150):
            base = 0.45 * thr + 0.08 * thr * math.sin(k / 9 + i)
            rows.append(dict(device_id=dev, seq=k, kind=3, score=int(base + rng.gauss(0, 6)),
                             received_at=now - 300 + 2 * k, uptime_ms=(5000 + 2 * k) * 1000))
        anomalous = dev == "gearbox-3"
        if anomalous:
            rows.append(dict(device_id=dev, seq=150, kind=1, score=thr + 25, received_at=now - 5))
        gw.insert_events(rows)
        gw.upsert_device(dev, name=name, model_id="9f3a61c2", fw_version="1.2.0",
                         last_seen=now - 2, state=1 if anomalous else 0, threshold=thr,
                         uptime_ms=(5000 + 300) * 1000, battery=round(0.5 + 0.1 * i, 2),
                         source="ble")
    gw.add_run("qemu-0001", "sim", "qemu", "cnn_small", "smartmanuad/pump_03.csv",
               {"parity": {"exact": 812, "total": 812, "max_lsb": 0},
                "instructions_per_inference": 1843210, "windows": 812, "events": 4,
                "decision": {"threshold_on": 100, "threshold_off": 80, "k": 3, "n": 5}})
    gw.insert_events([dict(device_id="sim:qemu-0001", seq=k, kind=1 if k in (200, 600) else 2 if k in (300, 700) else 3,
                           score=int(45 + 6 * math.sin(k / 15) + rng.gauss(0, 5)
                                     + (75 if 200 <= k < 300 or 600 <= k < 700 else 0)),
                           received_at=now - 400 + 0.25 * k)
                      for k in range(1, 812)])


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1920,1080",
                 f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(20)
    # a 1080p wall screen, whatever the headless window chrome takes
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    yield driver
    driver.quit()


FETCH_ACK = """
const done = arguments[arguments.length - 1];
fetch('/api/events/ack', {method: 'POST', credentials: 'same-origin',
  headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({device_id: arguments[0], seq: arguments[1], note: 'sneaky'})})
  .then(r => done(r.status), e => done(String(e)));
"""


@pytest.mark.timeout(120)
def test_live_dashboard_in_chromium(server: tuple[str, FakeGateway], browser: object,
                                    artifacts_dir: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    base, gw = server
    d = browser
    wait = WebDriverWait(d, 15)
    t_start = time.time()
    suffix = "" if isinstance(gw, FakeGateway) else "_fleet"  # screenshots of each back end

    # read access needs the token: we land on the login page, and a wrong token is refused
    d.get(base + "/")
    wait.until(EC.url_contains("/login"))
    d.find_element(By.ID, "token").send_keys("not-the-token")
    d.find_element(By.ID, "login-submit").click()
    wait.until(EC.presence_of_element_located((By.ID, "login-error")))
    d.find_element(By.ID, "token").send_keys(TOKEN)
    d.find_element(By.ID, "login-submit").click()
    def dev(device_id: str) -> tuple[str, str]:  # the device's card on the overview
        return By.CSS_SELECTOR, f'.dev[data-device="{gw.key(device_id)}"]'

    wait.until(EC.presence_of_element_located(dev("spindle-a")))
    wait.until(EC.text_to_be_present_in_element((By.ID, "live-status"), "live"))
    if isinstance(gw, FakeFleet):  # the plant: one section per gateway, in gateway id order
        hall_a = d.find_element(By.CSS_SELECTOR, 'section[data-gateway="hall-a"]')
        assert len(hall_a.find_elements(By.CSS_SELECTOR, ".dev")) == 5
        other = FakeFleet(gw.path, gateway="hall-0")
        other.upsert_device("kiln", name="Kiln", last_seen=time.time(), state=1, threshold=90)
        other.insert_events([dict(device_id="kiln", seq=1, kind=1, score=120)])
        other.close()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-gateway="hall-0"] .dev')))
        heads = [h.text.lower() for h in d.find_elements(By.CSS_SELECTOR, "h2.section.gateway")]
        assert [h.split(" ")[1] for h in heads] == ["hall-0", "hall-a"], heads
        assert "1 machine · 1 in anomaly" in heads[0] and "5 machines · 1 in anomaly" in heads[1]

    # a new device appears without reload when the gateway first hears from it
    assert not d.find_elements(*dev("press-7"))
    now = time.time()
    gw.upsert_device("press-7", name="Press 7", model_id="9f3a61c2", fw_version="1.2.0",
                     last_seen=now, state=0, threshold=100, uptime_ms=42_000, battery=0.93,
                     source="ble")
    # received_at is the gateway's clock; spacing samples 2 s apart (in the recent past)
    # gives the chart a realistic time axis without making the test wait
    t0 = now - 90
    gw.insert_events([dict(device_id="press-7", seq=0, kind=3, score=35, received_at=t0)])
    card = wait.until(EC.presence_of_element_located(dev("press-7")))
    assert "Press 7" in card.text
    d.save_screenshot(str(artifacts_dir / f"dashboard_overview{suffix}.png"))

    # its live chart follows inserted events (SSE, no reload)
    card.click()
    wait.until(EC.url_contains("/devices/" + quote(gw.key("press-7"), safe="")))
    chart = d.find_element(By.ID, "chart")
    wait.until(lambda _: int(chart.get_attribute("data-points") or 0) >= 1)
    rng = random.Random(1)
    seq = 1
    for k in range(40):
        score = 30 + rng.randint(0, 12) + (90 if 20 <= k < 30 else 0)
        kind = 1 if k == 20 else 2 if k == 30 else 3
        gw.insert_events([dict(device_id="press-7", seq=seq, kind=kind, score=score,
                               state=1 if 20 <= k < 30 else 0, received_at=t0 + 2 * seq)])
        seq += 1
        time.sleep(0.02)
    wait.until(lambda _: int(chart.get_attribute("data-points")) == 41)
    assert d.find_element(By.ID, "n-points").text == "41"
    wait.until(EC.text_to_be_present_in_element((By.ID, "device-state"), "NORMAL"))
    onset = wait.until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, '#alert-list li.alert.onset .ack-btn')))

    # acknowledge with the token (cookie session + CSRF header from the page)
    onset.click()
    note = d.find_element(By.ID, "ack-note")
    wait.until(EC.visibility_of(note))
    note.send_keys("belt tension checked")
    d.find_element(By.ID, "ack-submit").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#alert-list li.alert.onset"),
                                                "belt tension checked"))
    assert gw.ack_of("press-7", 21) == (1, "belt tension checked")
    time.sleep(0.3)  # let the last animation frame paint
    d.save_screenshot(str(artifacts_dir / f"dashboard{suffix}.png"))

    # recalibrate from the same page (a queued command), then the device reports drift live
    form = d.find_element(By.ID, "calibrate-form")
    form.find_element(By.NAME, "windows").send_keys("512")
    form.find_element(By.NAME, "drift_block").send_keys("300")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda _: gw.command_payload("press-7", "calibrate") is not None)
    assert gw.command_payload("press-7", "calibrate") == {
        "windows": 512, "allowed": 0, "margin_permille": 100, "k": 0, "n": 0, "drift_block": 300, "refit": 0}
    assert not d.find_element(By.ID, "device-drift").is_displayed()
    gw.insert_events([dict(device_id="press-7", seq=seq, kind=4, score=81, state=0,
                           received_at=t0 + 2 * seq)])
    wait.until(lambda _: d.find_element(By.ID, "device-drift").is_displayed())
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#alert-list li.alert.drift")))

    d.get(base + "/alerts")
    wait.until(EC.presence_of_element_located((By.ID, "events-table")))
    assert "belt tension checked" in d.find_element(By.ID, "events-table").text
    d.save_screenshot(str(artifacts_dir / f"dashboard_alerts{suffix}.png"))
    # filters: device select, then a local-time range in the future (sent as UTC ISO 8601)
    from selenium.webdriver.support.ui import Select
    Select(d.find_element(By.ID, "f-device")).select_by_value(gw.key("press-7"))
    d.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait.until(EC.url_contains("device=" + quote(gw.key("press-7"), safe="")))
    rows = d.find_elements(By.CSS_SELECTOR, "#events-table tbody tr")
    assert len(rows) == 3 and all("press-7" in r.text for r in rows)  # onset, clear, drift
    assert "DRIFT" in rows[0].text.upper()
    d.execute_script("document.getElementById('f-since').value = '2099-01-01T00:00:00'")
    d.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait.until(EC.url_contains("since=2099"))
    assert "No events match" in d.find_element(By.ID, "events-table").text
    if gw.has_runs:
        check_run_pages(d, base, artifacts_dir)

    # without the token an acknowledge is refused: cookie but no CSRF header -> 403,
    # no session at all -> 401; neither reaches the store
    d.set_script_timeout(10)
    assert d.execute_async_script(FETCH_ACK, gw.key("gearbox-3"), 150) == 403
    d.delete_all_cookies()
    assert d.execute_async_script(FETCH_ACK, gw.key("gearbox-3"), 150) == 401
    assert gw.ack_of("gearbox-3", 150)[0] == 0
    d.get(base + "/alerts")
    wait.until(EC.url_contains("/login"))
    assert time.time() - t_start < 60


def check_run_pages(d: object, base: str, artifacts_dir: Path) -> None:
    """A simulated run's report page, and its live view (runs live in gateway stores)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(d, 15)
    d.get(base + "/runs/qemu-0001")
    wait.until(EC.presence_of_element_located((By.ID, "report-table")))
    assert "1\u202f843\u202f210" in d.find_element(By.CSS_SELECTOR, ".summary").text
    run_chart = d.find_element(By.ID, "chart")
    wait.until(lambda _: int(run_chart.get_attribute("data-points") or 0) == 811)
    time.sleep(0.2)
    d.save_screenshot(str(artifacts_dir / "dashboard_run.png"))
    d.find_element(By.ID, "run-live").click()   # a simulated run reads like a live device
    chart = wait.until(EC.presence_of_element_located((By.ID, "chart")))
    wait.until(lambda _: int(chart.get_attribute("data-points") or 0) == 811)
