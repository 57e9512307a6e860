/* imuad dashboard front end: no framework, no inline script (strict CSP), text only via textContent. */
(function () {
  "use strict";
  const KIND = { 1: "onset", 2: "clear", 3: "heartbeat", 4: "drift", 5: "drift cleared", 6: "calibrated" };
  const kindClass = (k) => (KIND[k] || "").replace(/ /g, "-");   // one CSS class per kind
  const DRIFT = 4, DRIFT_CLEAR = 5, CALIBRATED = 6;
  const isAlert = (k) => k !== 3;   // the timeline shows every kind but heartbeats
  const STALE_S = 120;            // a device silent longer than this is shown as offline
  const MAX_POINTS = 3000;        // live chart keeps this many newest points
  const SPARK_POINTS = 120;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const csrf = () => { const m = $('meta[name="csrf-token"]'); return m ? m.content : ""; };
  const canWrite = () => { const m = $('meta[name="can-write"]'); return m && m.content === "yes"; };
  const page = document.body.dataset.page;

  // ---- formatting ------------------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  function fmtTime(ts) {
    if (!ts) return "–";
    const d = new Date(ts * 1000), today = new Date();
    const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return d.toDateString() === today.toDateString() ? hms
      : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
  }
  function fmtAgo(ts) {
    if (!ts) return "never";
    const s = Math.max(0, Date.now() / 1000 - ts);
    if (s < 2) return "just now";
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 172800) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }
  function fmtUptime(ms) {
    if (ms === null || ms === undefined) return "–";
    const s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
  }
  const fmtBattery = (b) => (b === null || b === undefined) ? "–" : (b <= 1 ? `${Math.round(b * 100)} %` : `${Math.round(b)} %`);
  const isStale = (d) => !d.last_seen || Date.now() / 1000 - d.last_seen > STALE_S;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "dataset") Object.assign(e.dataset, v); else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  function toast(msg, bad) {
    const t = $("#toast"); t.textContent = msg; t.className = "toast" + (bad ? " bad" : ""); t.hidden = false;
    clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 3500);
  }
  function refreshTimes() {
    $$("[data-ts]").forEach((n) => {
      const ts = parseFloat(n.dataset.ts);
      if (!ts) return;
      n.textContent = n.id === "stat-seen" ? fmtAgo(ts) : fmtTime(ts);
      n.title = new Date(ts * 1000).toISOString();
    });
  }

  // ---- API -------------------------------------------------------------------------------
  async function api(method, url, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrf()) headers["X-CSRF-Token"] = csrf();
    const r = await fetch(url, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) {
      let msg = data && data.detail ? data.detail : r.statusText;
      if (Array.isArray(msg)) msg = msg.map((d) => d.msg).join("; ");
      const err = new Error(`${r.status}: ${msg}`); err.status = r.status; throw err;
    }
    return data;
  }

  // ---- live stream (SSE) -----------------------------------------------------------------
  function live(params, handlers) {
    const q = new URLSearchParams(params || {});
    const status = $("#live-status");
    let es = null, retry = null;
    function open() {
      es = new EventSource("/api/stream?" + q.toString());
      es.onopen = () => { if (status) { status.className = "live on"; status.textContent = "live"; } };
      es.onerror = () => {
        if (status) { status.className = "live off"; status.textContent = "reconnecting"; }
        if (es.readyState === EventSource.CLOSED) { clearTimeout(retry); retry = setTimeout(open, 3000); }
      };
      es.addEventListener("event", (m) => handlers.event && handlers.event(JSON.parse(m.data)));
      es.addEventListener("devices", () => handlers.devices && handlers.devices());
    }
    open();
    // free the connection when the page goes away (HTTP/1.1 allows only 6 per host, and a
    // page kept in the back/forward cache would otherwise hold its stream open)
    window.addEventListener("pagehide", () => { clearTimeout(retry); if (es) es.close(); });
    window.addEventListener("pageshow", (ev) => { if (ev.persisted) open(); });
    return () => es && es.close();
  }

  // ---- acknowledge dialog ----------------------------------------------------------------
  let ackTarget = null;
  function markAcked(deviceId, seq, note) {
    $$(`[data-device][data-seq="${seq}"]`).filter((n) => n.dataset.device === deviceId && !n.classList.contains("ack-btn"))
      .forEach((row) => {
        row.classList.add("acked");
        const cell = $(".ack-cell", row);
        if (cell) { cell.textContent = ""; cell.append(el("span", { class: "acked-note" }, "✓ " + (note || "acknowledged"))); }
      });
  }
  function setupAck() {
    const dlg = $("#ack-dialog"); if (!dlg) return;
    document.addEventListener("click", (ev) => {
      const b = ev.target.closest(".ack-btn"); if (!b) return;
      if (!canWrite()) { window.location = "/login?next=" + encodeURIComponent(location.pathname + location.search); return; }
      ackTarget = { device_id: b.dataset.device, seq: parseInt(b.dataset.seq, 10) };
      $("#ack-what").textContent = `${ackTarget.device_id} · event #${ackTarget.seq}`;
      $("#ack-note").value = ""; $("#ack-error").hidden = true;
      dlg.showModal(); $("#ack-note").focus();
    });
    $("#ack-cancel").addEventListener("click", () => dlg.close());
    $("#ack-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const note = $("#ack-note").value.trim();
      $("#ack-submit").disabled = true;
      try {
        await api("POST", "/api/events/ack", { ...ackTarget, note });
        markAcked(ackTarget.device_id, ackTarget.seq, note);
        dlg.close(); toast("Alert acknowledged");
      } catch (e) {
        $("#ack-error").textContent = e.status === 401 ? "Sign in first (token required)." : e.message;
        $("#ack-error").hidden = false;
      } finally { $("#ack-submit").disabled = false; }
    });
  }

  function alertItem(e) {
    const li = el("li", { class: `alert ${kindClass(e.kind)} fresh`, dataset: { device: e.device_id, seq: e.seq } },
      el("span", { class: `badge ${kindClass(e.kind)}` }, KIND[e.kind] || e.kind),
      el("span", { class: "when", dataset: { ts: e.received_at } }, fmtTime(e.received_at)),
      el("span", { class: "score" }, `score ${e.score}`));
    const cell = el("span", { class: "ack-cell" });
    if (e.kind === 1) cell.append(el("button", { class: "btn small ack-btn", type: "button", dataset: { device: e.device_id, seq: e.seq } }, "Acknowledge"));
    li.append(cell);
    return li;
  }

  // ---- devices overview ------------------------------------------------------------------
  function sparkline(canvas, values, threshold) {
    const dpr = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== w * dpr) { canvas.width = w * dpr; canvas.height = h * dpr; }
    const g = canvas.getContext("2d"); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
    if (!values.length) return;
    let lo = Math.min(...values), hi = Math.max(...values);
    if (threshold !== null && threshold !== undefined) { lo = Math.min(lo, threshold); hi = Math.max(hi, threshold); }
    if (hi === lo) { hi += 1; lo -= 1; }
    const y = (v) => h - 3 - (v - lo) / (hi - lo) * (h - 6);
    const x = (i) => values.length === 1 ? w : i / (SPARK_POINTS - 1) * w + (SPARK_POINTS - values.length) / (SPARK_POINTS - 1) * w;
    if (threshold !== null && threshold !== undefined) {
      g.strokeStyle = "rgba(251,191,36,.7)"; g.setLineDash([4, 3]); g.lineWidth = 1;
      g.beginPath(); g.moveTo(0, y(threshold)); g.lineTo(w, y(threshold)); g.stroke(); g.setLineDash([]);
    }
    g.strokeStyle = "#4cc2ff"; g.lineWidth = 1.6; g.beginPath();
    values.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v)))); g.stroke();
  }

  function devicesPage() {
    const byId = new Map();      // device_id -> {data, card, spark: []}
    const grid = $("#device-grid"), runGrid = $("#run-grid");
    const isRun = (d) => ["sim", "hil", "replay"].includes(d.source) || /^(sim|hil|replay):/.test(d.device_id);
    // The fleet names devices <gateway>/<device>: one section per gateway (hall), in id order,
    // placed before the runs; a single gateway's store has no '/' and keeps the one grid.
    const gateways = new Map();  // gateway id -> {head, grid}
    const gatewayOf = (d) => { const i = d.device_id.indexOf("/"); return i > 0 ? d.device_id.slice(0, i) : null; };
    function gridFor(d) {
      if (isRun(d)) return runGrid;
      const gw = gatewayOf(d);
      if (gw === null) return grid;
      let g = gateways.get(gw);
      if (!g) {
        g = { head: el("h2", { class: "section gateway" }, "Gateway " + gw, el("small", { class: "muted" }, "")),
              grid: el("section", { class: "grid", dataset: { gateway: gw } }) };
        const next = [...gateways.keys()].sort().find((k) => k > gw);
        const anchor = next ? gateways.get(next).head : $("#runs-heading");
        anchor.before(g.head, g.grid);
        gateways.set(gw, g);
      }
      return g.grid;
    }

    function card(d) {
      const a = el("a", { class: "dev", href: "/devices/" + encodeURIComponent(d.device_id), id: "dev-" + d.device_id, dataset: { device: d.device_id } },
        el("div", { class: "top" }, el("span", { class: "name" }, d.name || d.device_id), el("span", { class: "badge state" }, "–")),
        el("div", { class: "id" }, d.device_id),
        el("div", { class: "mid" }, el("div", { class: "score" }, "–", el("small", {}, "score")), el("canvas", { class: "spark" })),
        el("div", { class: "meta" }));
      return a;
    }
    function render(entry) {
      const d = entry.data, c = entry.card, stale = isStale(d), anomaly = d.state === 1 && !stale;
      c.className = "dev" + (anomaly ? " anomaly" : "") + (stale ? " stale" : "");
      const badge = $(".badge.state", c);
      badge.className = "badge state " + (stale ? "offline" : anomaly ? "anomaly" : "normal");
      badge.textContent = stale ? "offline" : anomaly ? "anomaly" : "normal";
      $(".score", c).firstChild.textContent = d.last_score ?? "–";
      const meta = $(".meta", c); meta.textContent = "";
      const item = (k, v) => meta.append(el("span", {}, k + " ", el("b", {}, v)));
      item("seen", fmtAgo(d.last_seen));
      if (d.threshold !== null && d.threshold !== undefined) item("thr", d.threshold);
      if (d.model_id) item("model", String(d.model_id).slice(0, 8));
      if (d.uptime_ms !== null && d.uptime_ms !== undefined) item("up", fmtUptime(d.uptime_ms));
      if (d.battery !== null && d.battery !== undefined) item("batt", fmtBattery(d.battery));
      if (d.open_alerts) meta.append(el("span", { class: "alerts-pill" }, `${d.open_alerts} open alert${d.open_alerts > 1 ? "s" : ""}`));
      if (d.drifting) meta.append(el("span", { class: "drift-pill" }, "drift"));
      sparkline($("canvas", c), entry.spark, d.threshold);
    }
    function summary() {
      let online = 0, anomaly = 0, open = 0;
      byId.forEach(({ data: d }) => { if (!isStale(d)) { online++; if (d.state === 1) anomaly++; } open += d.open_alerts || 0; });
      $("#sum-devices").textContent = byId.size; $("#sum-online").textContent = online;
      $("#sum-anomaly").textContent = anomaly; $("#sum-open").textContent = open;
      $("#no-devices").hidden = [...byId.values()].some((e) => !isRun(e.data));
      $("#runs-heading").hidden = ![...byId.values()].some((e) => isRun(e.data));
      gateways.forEach((g) => {  // "12 machines · 1 in anomaly" beside each gateway's name
        const cards = [...g.grid.children], bad = cards.filter((c) => c.classList.contains("anomaly")).length;
        $("small", g.head).textContent = ` ${cards.length} machine${cards.length === 1 ? "" : "s"}` + (bad ? ` · ${bad} in anomaly` : "");
      });
    }
    function upsert(devs) {
      for (const d of devs) {
        let entry = byId.get(d.device_id);
        if (!entry) {
          entry = { data: d, card: card(d), spark: (d.spark || []).slice(-SPARK_POINTS) };
          byId.set(d.device_id, entry);
          gridFor(d).append(entry.card);
        }
        entry.data = d;
        if (d.spark && !entry.spark.length) entry.spark = d.spark.slice(-SPARK_POINTS);
        render(entry);
      }
      summary();
    }
    let fetching = null;
    function reload() {
      if (fetching) return fetching;
      fetching = api("GET", "/api/devices?spark=" + SPARK_POINTS).then((r) => upsert(r.devices))
        .catch((e) => toast("refresh failed: " + e.message, true)).finally(() => { fetching = null; });
      return fetching;
    }
    const dirty = new Set();
    live({}, {
      event(e) {
        const entry = byId.get(e.device_id);
        if (!entry) { reload(); return; }
        entry.spark.push(e.score); if (entry.spark.length > SPARK_POINTS) entry.spark.shift();
        Object.assign(entry.data, { last_score: e.score, state: e.state, last_seen: Math.max(entry.data.last_seen || 0, e.received_at) });
        if (e.kind === 1) entry.data.open_alerts = (entry.data.open_alerts || 0) + 1;
        if (e.kind === DRIFT) entry.data.drifting = true;
        else if (e.kind === DRIFT_CLEAR || e.kind === CALIBRATED) entry.data.drifting = false;
        dirty.add(entry);
      },
      devices() { reload(); },
    });
    (function frame() {   // batch redraws: at 1000 events/s the DOM is touched once per frame
      if (dirty.size) { dirty.forEach(render); dirty.clear(); summary(); }
      requestAnimationFrame(frame);
    })();
    setInterval(() => { byId.forEach(render); summary(); }, 5000);  // ages, offline detection
    setInterval(reload, 30000);
    upsert(JSON.parse($("#init-devices").textContent));
    reload();
  }

  // ---- device live view ------------------------------------------------------------------
  function devicePage() {
    const init = JSON.parse($("#init-device").textContent);
    const id = init.device_id;
    let dev = init.device || {};
    const xs = [], ys = [], onset = [], clear = [];
    let plot = null, pending = false;
    const thr = () => (dev.threshold === null || dev.threshold === undefined) ? null : dev.threshold;
    const chartEl = $("#chart");
    const chartHeight = () => Math.max(page === "run" ? 320 : 420, Math.round(window.innerHeight * (page === "run" ? 0.38 : 0.55)));

    function data() { const t = thr(); return [xs, ys, xs.map(() => t), onset, clear]; }
    function make() {
      const w = chartEl.clientWidth || 900;
      plot = new uPlot({
        width: w, height: chartHeight(),
        scales: { x: { time: true } },
        cursor: { drag: { x: false, y: false } },
        axes: [
          { stroke: "#8d9aab", grid: { stroke: "#222b36" }, ticks: { stroke: "#2a3441" }, font: "13px sans-serif" },
          { stroke: "#8d9aab", grid: { stroke: "#222b36" }, ticks: { stroke: "#2a3441" }, font: "13px sans-serif", size: 60 },
        ],
        series: [
          {},
          { label: "score", stroke: "#4cc2ff", width: 2, fill: "rgba(76,194,255,0.08)", points: { show: false } },
          { label: "threshold", stroke: "#fbbf24", width: 2, dash: [8, 6], points: { show: false } },
          { label: "onset", stroke: "#ff5d5d", paths: () => null, points: { show: true, size: 11, fill: "#ff5d5d", stroke: "#ff5d5d" } },
          { label: "clear", stroke: "#60a5fa", paths: () => null, points: { show: true, size: 11, fill: "#60a5fa", stroke: "#60a5fa" } },
        ],
      }, data(), chartEl);
      window.addEventListener("resize", () => plot.setSize({ width: chartEl.clientWidth, height: plot.height }));
    }
    function push(e) {
      if (xs.length && e.received_at < xs[xs.length - 1]) return;   // keep x sorted
      xs.push(e.received_at); ys.push(e.score);
      onset.push(e.kind === 1 ? e.score : null); clear.push(e.kind === 2 ? e.score : null);
      if (xs.length > MAX_POINTS) { const n = xs.length - MAX_POINTS; [xs, ys, onset, clear].forEach((a) => a.splice(0, n)); }
    }
    const set = (sel, v) => { const n = $(sel); if (n) n.textContent = v; };
    function stats(e) {
      if (e) {
        set("#stat-score", e.score);
        dev.state = e.state; dev.last_seen = Math.max(dev.last_seen || 0, e.received_at);
        if (e.uptime_ms !== null && e.uptime_ms !== undefined) dev.uptime_ms = e.uptime_ms;
      }
      const st = $("#device-state"), stale = isStale(dev);
      if (st) {
        st.className = "badge " + (stale ? "offline" : dev.state === 1 ? "anomaly" : "normal");
        st.textContent = stale ? "offline" : dev.state === 1 ? "anomaly" : "normal";
      }
      const seen = $("#stat-seen");
      if (seen) { seen.dataset.ts = dev.last_seen || ""; seen.textContent = fmtAgo(dev.last_seen); }
      set("#stat-threshold", thr() ?? "–");
      const drift = $("#device-drift");
      if (drift) drift.hidden = !dev.drifting;
      set("#stat-uptime", fmtUptime(dev.uptime_ms));
      set("#stat-battery", fmtBattery(dev.battery));
    }
    function redraw() {
      pending = false;
      plot.setData(data());
      $("#n-points").textContent = xs.length;
      chartEl.dataset.points = xs.length;
    }
    const schedule = () => { if (!pending) { pending = true; requestAnimationFrame(redraw); } };

    make(); stats();
    api("GET", `/api/devices/${encodeURIComponent(id)}/series?limit=${MAX_POINTS}`).then((r) => {
      if (r.device) dev = Object.assign(dev, r.device);
      r.events.forEach(push);
      if (r.events.length) stats(r.events[r.events.length - 1]);
      schedule();
      live({ device: id, last_id: r.cursor }, {
        event(e) {
          if (e.kind === DRIFT) dev.drifting = true;
          else if (e.kind === DRIFT_CLEAR || e.kind === CALIBRATED) dev.drifting = false;
          if (e.kind === CALIBRATED) dev.threshold = e.score;   // its score is the new threshold_on
          push(e); stats(e); schedule();
          if (isAlert(e.kind) && $("#alert-list")) {
            $("#alert-list").prepend(alertItem(e)); if ($("#no-alerts")) $("#no-alerts").hidden = true;
          }
        },
        devices() { api("GET", "/api/devices").then((x) => { const d = x.devices.find((d) => d.device_id === id); if (d) { dev = Object.assign(dev, d); stats(); schedule(); } }); },
      });
    }).catch((e) => toast("could not load series: " + e.message, true));
    setInterval(() => stats(), 5000);

    const form = $("#threshold-form");
    if (form) form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const on = parseInt($("#thr-on").value, 10), offRaw = $("#thr-off").value;
      const body = { device_id: id, threshold_on: on };
      if (offRaw !== "") body.threshold_off = parseInt(offRaw, 10);
      try { await api("POST", "/api/commands/threshold", body); toast("Threshold change queued for the gateway"); }
      catch (e) { toast(e.message, true); }
    });
    const cal = $("#calibrate-form");
    if (cal) cal.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { device_id: id };   // empty fields: the server's defaults (k, n: keep)
      $$("input", cal).forEach((inp) => {
        if (inp.type === "checkbox") body[inp.name] = inp.checked ? 1 : 0;
        else if (inp.value !== "") body[inp.name] = parseInt(inp.value, 10);
      });
      try { await api("POST", "/api/commands/calibrate", body); toast("Recalibration queued for the gateway"); }
      catch (e) { toast(e.message, true); }
    });
  }

  // ---- alerts timeline -------------------------------------------------------------------
  // the time filter is typed in the browser's local time and sent as UTC ISO 8601
  function toLocalInput(iso) {
    const t = /^-?[0-9.]+$/.test(iso) ? new Date(parseFloat(iso) * 1000) : new Date(iso);
    if (isNaN(t)) return "";
    return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  }
  function setupTimeFilters() {
    const form = $("#filters"); if (!form) return;
    $$("input[data-name]", form).forEach((inp) => {
      const hidden = $(`input[type=hidden][name="${inp.dataset.name}"]`, form);
      if (hidden.value) inp.value = toLocalInput(hidden.value.includes("T") && !/Z|[+-][0-9:]{5}$/.test(hidden.value) ? hidden.value + "Z" : hidden.value);
    });
    form.addEventListener("submit", () => {
      $$("input[data-name]", form).forEach((inp) => {
        const hidden = $(`input[type=hidden][name="${inp.dataset.name}"]`, form);
        hidden.value = inp.value ? new Date(inp.value).toISOString() : "";
      });
      $$("input[type=hidden], select", form).forEach((x) => { if (!x.value) x.disabled = true; });  // tidy URLs
    });
  }

  function alertsPage() {
    setupTimeFilters();
    const params = new URLSearchParams(location.search);
    const device = params.get("device") || "";
    let n = 0;
    live(device ? { device } : {}, {
      event(e) {
        if (!isAlert(e.kind)) return;
        n++; $("#new-count").textContent = n; $("#new-banner").hidden = false;
      },
    });
  }

  // ---- common ----------------------------------------------------------------------------
  function clock() { const c = $("#clock"); if (c) { const d = new Date(); c.textContent = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; } }
  clock(); setInterval(clock, 1000);
  refreshTimes(); setInterval(refreshTimes, 10000);
  setupAck();
  const lo = $("#logout");
  if (lo) lo.addEventListener("click", async () => { try { await api("POST", "/logout"); } finally { location = "/login"; } });
  if (page === "devices") devicesPage();
  else if (page === "device" || (page === "run" && $("#chart"))) devicePage();
  else if (page === "alerts") alertsPage();
  window.imuad = { api, fmtTime };
})();
