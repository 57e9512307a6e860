"""FastAPI app: pages (Jinja2), JSON API, CSV export and the live SSE stream over the store."""
from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Iterator
import re
from urllib.parse import parse_qs, quote, urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import (HTMLResponse, JSONResponse, RedirectResponse,
                               Response, StreamingResponse)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import live
from .auth import COOKIE_NAME, SESSION_MAX_AGE_S, Identity, TokenAuth
from .queries import (EVENT_KINDS, KIND_BY_NAME, STATES, EventFilter, StoreReader, StoreWriter,
                      load_run_files)

HERE = Path(__file__).resolve().parent
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
DEVICE_ID_MAX = 128
RUN_SOURCES = ("sim", "hil", "replay")


@dataclass
class Settings:
    store: Path
    token: str
    public_read: bool = False
    runs_dir: Path | None = None
    poll_s: float = live.POLL_S


# ---- request bodies (pydantic validates; anything else is a 422) -----------------------------
class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    device_id: str = Field(min_length=1, max_length=DEVICE_ID_MAX)
    seq: int = Field(ge=0, le=2**32 - 1)
    note: str = Field(default="", max_length=500)


class ThresholdRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    device_id: str = Field(min_length=1, max_length=DEVICE_ID_MAX)
    threshold_on: int = Field(ge=INT32_MIN, le=INT32_MAX)
    threshold_off: int | None = Field(default=None, ge=INT32_MIN, le=INT32_MAX)
    k: int | None = Field(default=None, ge=1, le=32)
    n: int | None = Field(default=None, ge=1, le=32)

    @model_validator(mode="after")
    def _consistent(self) -> "ThresholdRequest":  # contract C5
        if self.threshold_off is not None and self.threshold_off > self.threshold_on:
            raise ValueError("threshold_off must be <= threshold_on")
        if (self.k is None) != (self.n is None):
            raise ValueError("give both k and n, or neither")
        if self.k is not None and self.n is not None and self.k > self.n:
            raise ValueError("k must be <= n")
        return self


class EventQuery(BaseModel):
    """Timeline filters from the query string."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    device: str | None = Field(default=None, max_length=DEVICE_ID_MAX)
    kind: str | None = Field(default=None, max_length=40)
    acked: str | None = Field(default=None, pattern=r"^(|any|yes|no|true|false|1|0)$")
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=200, ge=1, le=5000)
    offset: int = Field(default=0, ge=0, le=10**9)

    def to_filter(self) -> EventFilter:
        kinds: tuple[int, ...] | None = None
        if self.kind:
            names = [k.strip().lower() for k in self.kind.split(",") if k.strip()]
            if names == ["alerts"]:
                kinds = (1, 2)
            elif names and names != ["any"]:
                try:
                    kinds = tuple(sorted({KIND_BY_NAME[n] if n in KIND_BY_NAME else int(n)
                                          for n in names}))
                except ValueError:
                    raise _bad("kind", f"unknown event kind {self.kind!r} "
                                       f"(use onset, clear, heartbeat, alerts or 1-3)") from None
        acked = None
        if self.acked in ("yes", "true", "1"):
            acked = True
        elif self.acked in ("no", "false", "0"):
            acked = False
        return EventFilter(device_id=self.device or None, kinds=kinds, acked=acked,
                           since=parse_time(self.since, "since"),
                           until=parse_time(self.until, "until"))


def _bad(field: str, msg: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["query", field], "msg": msg}])


def parse_time(text: str | None, field: str) -> float | None:
    """Epoch seconds or ISO 8601 (a time without offset is UTC)."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _bad(field, f"{text!r} is neither epoch seconds nor ISO 8601") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    if not math.isfinite(value):
        raise _bad(field, "must be finite")
    return value


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def flatten(obj: Any, prefix: str = "", limit: int = 300) -> list[tuple[str, str]]:
    """A run report as (dotted key, short text) rows for a table."""
    out: list[tuple[str, str]] = []

    def walk(o: Any, key: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(o, dict) and o:
            for k, v in o.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(o, list) and o and len(o) <= 16 and \
                any(isinstance(v, (dict, list)) for v in o):
            for i, v in enumerate(o):
                walk(v, f"{key}[{i}]")
        else:
            out.append((key or "value", _short(o)))

    if obj is not None:
        walk(obj, prefix)
    return out


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        text = ", ".join(_short(x) for x in v[:12]) + (" …" if len(v) > 12 else "")
        return f"[{text}]"
    text = "–" if v is None else str(v)
    return text if len(text) <= 200 else text[:200] + "…"


KEY_FIGURE = re.compile(r"parity|exact|max_lsb|instr|cycles|infer|events?\b|onset|windows|"
                        r"f1|precision|recall|latency|arena", re.I)


def humanize(key: str) -> str:
    return key.replace("_", " ").replace(".", " · ")


def bignum(text: str) -> str:
    """1843210 -> 1 843 210 (narrow no-break spaces): big counts readable from across the room."""
    if re.fullmatch(r"-?\d{5,}", text):
        return f"{int(text):,}".replace(",", "\u202f")
    return text


def report_threshold(report: Any) -> int | None:
    """threshold_on of the run's decision (C5), when its report carries one."""
    for key, value in flatten(report):
        if key.split(".")[-1] in ("threshold_on", "threshold"):
            try:
                return int(value)
            except ValueError:
                continue
    return None


def key_figures(report: Any) -> list[tuple[str, str]]:
    """Headline numbers of a run report (parity, instructions per inference, events, ...)."""
    rows = [(k, v) for k, v in flatten(report) if KEY_FIGURE.search(k) and len(v) <= 40]
    return rows


CSV_FIELDS = ("device_id", "seq", "kind", "kind_name", "state", "score", "uptime_ms", "model_id",
              "flags", "received_at", "received_at_utc", "acked", "ack_note", "ack_at_utc")


def _csv_cell(value: Any) -> Any:
    # spreadsheet formula injection: operator-typed text must never start a formula
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_rows(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for i, ev in enumerate(events):
        writer.writerow([
            _csv_cell(ev["device_id"]), ev["seq"], ev["kind"], ev["kind_name"], ev["state"],
            ev["score"], ev["uptime_ms"], _csv_cell(ev["model_id"]), ev["flags"],
            f"{ev['received_at']:.3f}", iso(ev["received_at"]), int(ev["acked"]),
            _csv_cell(ev["ack_note"] or ""), iso(ev["ack_at"])])
        if i % 500 == 499:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def create_app(settings: Settings) -> FastAPI:
    reader = StoreReader(settings.store)
    writer = StoreWriter(settings.store)
    auth = TokenAuth(settings.token)
    bc = live.Broadcaster(reader, settings.poll_s)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(EVENT_KINDS=EVENT_KINDS, STATES=STATES, iso=iso)
    templates.env.filters.update(flatten=flatten, key_figures=key_figures, humanize=humanize,
                                 bignum=bignum)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await bc.start()
        yield
        await bc.stop()
        reader.close()

    app = FastAPI(title="imuad dashboard", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings, app.state.reader, app.state.writer = settings, reader, writer
    app.state.broadcaster = bc
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    app.add_middleware(SecurityHeaders)

    # ---- auth helpers ------------------------------------------------------------------------
    def identity(request: Request) -> Identity:
        return auth.identify(request)

    def require_read_api(request: Request) -> Identity:
        ident = identity(request)
        if not ident.authenticated and not settings.public_read:
            raise HTTPException(401, "token required", headers={"WWW-Authenticate": "Bearer"})
        return ident

    def require_write(request: Request) -> Identity:
        ident = identity(request)
        if not ident.authenticated:
            raise HTTPException(401, "token required", headers={"WWW-Authenticate": "Bearer"})
        if not auth.csrf_ok(request, ident):
            raise HTTPException(403, "missing or wrong X-CSRF-Token for a cookie session")
        return ident

    def page(request: Request, name: str, **ctx: Any) -> Response:
        ident = identity(request)
        if not ident.authenticated and not settings.public_read:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        ctx.update(request=request, ident=ident, public_read=settings.public_read,
                   now=time.time(), nav=name.split(".")[0])
        return templates.TemplateResponse(request, name, ctx)

    # ---- login -------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/", error: str = "") -> Response:
        return templates.TemplateResponse(
            request, "login.html", {"request": request, "next": _safe_next(next), "error": error,
                                    "ident": Identity(None), "nav": "login",
                                    "public_read": settings.public_read})

    @app.post("/login")
    async def login(request: Request) -> Response:
        body = await request.body()
        if len(body) > 4096:
            raise HTTPException(413, "login form too large")
        form = parse_qs(body.decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        nxt = _safe_next((form.get("next") or ["/"])[0])
        if not token or not auth.check_token(token):
            await asyncio.sleep(0.5)  # slows down guessing
            return RedirectResponse(f"/login?error=1&next={quote(nxt, safe='')}", 303)
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(COOKIE_NAME, auth.new_session(), max_age=SESSION_MAX_AGE_S,
                        httponly=True, samesite="strict", path="/")
        return resp

    @app.post("/logout")
    def logout(request: Request) -> Response:
        ident = identity(request)
        if ident.via == "cookie" and not auth.csrf_ok(request, ident):
            raise HTTPException(403, "missing or wrong X-CSRF-Token")
        resp = JSONResponse({"ok": True})
        resp.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return resp

    # ---- pages -------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def devices_page(request: Request) -> Response:
        return page(request, "devices.html", devices=reader.devices())

    @app.get("/devices/{device_id}", response_class=HTMLResponse)
    def device_page(request: Request, device_id: str) -> Response:
        dev = reader.device(device_id)
        recent = reader.events(EventFilter(device_id=device_id, kinds=(1, 2)), limit=50)
        if dev is None and not recent and not reader.series(device_id, limit=1):
            raise HTTPException(404, f"unknown device {device_id!r}")
        return page(request, "device.html", device_id=device_id, device=dev or {}, recent=recent)

    @app.get("/alerts", response_class=HTMLResponse)
    def alerts_page(request: Request) -> Response:
        q = _event_query(request, default_kind="alerts")
        flt = q.to_filter()
        events = reader.events(flt, limit=q.limit, offset=q.offset)
        total = reader.count_events(flt)
        older = None
        if total > q.offset + len(events):
            params = dict(request.query_params)
            params["offset"] = str(q.offset + q.limit)
            older = "/alerts?" + urlencode(params)
        return page(request, "alerts.html", events=events, q=q, total=total, older_url=older,
                    devices=[d["device_id"] for d in reader.devices()],
                    csv_query=str(request.url.query))

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request) -> Response:
        return page(request, "runs.html", runs=_all_runs())

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str) -> Response:
        run = next((r for r in _all_runs() if r["run_id"] == run_id), None)
        if run is None:
            raise HTTPException(404, f"unknown run {run_id!r}")
        events = reader.events(EventFilter(device_id=run["device_id"], kinds=(1, 2)), limit=500) \
            if run.get("device_id") else []
        return page(request, "run.html", run=run, events=events,
                    device=(reader.device(run["device_id"]) if run.get("device_id") else None)
                    or {"threshold": report_threshold(run["report"])},
                    n_events=reader.count_events(EventFilter(device_id=run["device_id"]))
                    if run.get("device_id") else 0)

    def _all_runs() -> list[dict[str, Any]]:
        runs = reader.runs()
        if settings.runs_dir is not None:
            known = {r["run_id"] for r in runs}
            runs += [r for r in load_run_files(settings.runs_dir) if r["run_id"] not in known]
        return runs

    # ---- JSON API ----------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "live_clients": len(bc.subscribers), "cursor": bc.cursor}

    @app.get("/api/devices")
    def api_devices(request: Request, spark: int = 0) -> dict[str, Any]:
        require_read_api(request)
        if not 0 <= spark <= 1000:
            raise _bad("spark", "spark must be 0..1000")
        devices = reader.devices()
        if spark:
            sparks = reader.sparks([d["device_id"] for d in devices], spark)
            for d in devices:
                d["spark"] = sparks.get(d["device_id"], [])
        return {"devices": devices, "now": time.time()}

    @app.get("/api/devices/{device_id}/series")
    def api_series(request: Request, device_id: str, since: float | None = None,
                   limit: int = 2000) -> dict[str, Any]:
        require_read_api(request)
        if not 1 <= limit <= 20000:
            raise _bad("limit", "limit must be 1..20000")
        return {"device": reader.device(device_id), "events": reader.series(device_id, since, limit),
                "cursor": bc.cursor}

    @app.get("/api/events")
    def api_events(request: Request) -> dict[str, Any]:
        require_read_api(request)
        q = _event_query(request)
        flt = q.to_filter()
        return {"events": reader.events(flt, limit=q.limit, offset=q.offset),
                "total": reader.count_events(flt)}

    @app.get("/api/events.csv")
    def api_events_csv(request: Request) -> Response:
        require_read_api(request)
        flt = _event_query(request).to_filter()
        name = time.strftime("imuad-events-%Y%m%dT%H%M%SZ.csv", time.gmtime())
        return StreamingResponse(csv_rows(reader.iter_events(flt)), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.post("/api/events/ack")
    async def api_ack(request: Request) -> dict[str, Any]:
        require_write(request)
        body = await _json_body(request, AckRequest)
        if reader.event(body.device_id, body.seq) is None:
            raise HTTPException(404, f"no event {body.device_id}#{body.seq}")
        if not await asyncio.to_thread(writer.ack_event, body.device_id, body.seq, body.note):
            raise HTTPException(404, f"no event {body.device_id}#{body.seq}")
        return {"ok": True, "event": reader.event(body.device_id, body.seq)}

    @app.post("/api/commands/threshold")
    async def api_threshold(request: Request) -> dict[str, Any]:
        require_write(request)
        body = await _json_body(request, ThresholdRequest)
        if reader.device(body.device_id) is None:
            raise HTTPException(404, f"unknown device {body.device_id!r}")
        payload = body.model_dump(exclude={"device_id"}, exclude_none=True)
        if "threshold_off" not in payload:
            payload["threshold_off"] = body.threshold_on
        # kind/payload as the gateway forwards them: a C7/C8 CONFIG of the decision (C5)
        cid = await asyncio.to_thread(writer.queue_command, body.device_id, "config", payload)
        return {"ok": True, "id": cid, "pending": reader.pending_commands(body.device_id)}

    @app.get("/api/runs")
    def api_runs(request: Request) -> dict[str, Any]:
        require_read_api(request)
        return {"runs": [{k: v for k, v in r.items() if k != "report_json"} for r in _all_runs()]}

    @app.get("/api/stream")
    async def api_stream(request: Request, device: str | None = None,
                         max_events: int | None = None) -> Response:
        require_read_api(request)
        last = request.headers.get("last-event-id") or request.query_params.get("last_id")
        try:
            last_id = int(last) if last else None
        except ValueError:
            raise _bad("last_id", "Last-Event-ID must be an integer") from None
        if max_events is not None and max_events < 1:
            raise _bad("max_events", "must be >= 1")
        body = live.stream(bc, device or None, last_id, request.is_disconnected, max_events)
        return StreamingResponse(body, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.method != "GET":
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        return templates.TemplateResponse(
            request, "error.html",
            {"request": request, "status": exc.status_code, "detail": exc.detail,
             "ident": identity(request), "nav": "", "public_read": settings.public_read},
            status_code=exc.status_code, headers=exc.headers)

    return app


SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
    b"content-security-policy": (
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        b"base-uri 'none'"),
}


class SecurityHeaders:
    """Pure ASGI middleware (BaseHTTPMiddleware would wrap and may cancel SSE streams)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS.items() if k not in present]
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _event_query(request: Request, default_kind: str | None = None) -> EventQuery:
    params = dict(request.query_params)
    if default_kind is not None and "kind" not in params:
        params["kind"] = default_kind
    try:
        return EventQuery(**params)
    except ValidationError as exc:
        raise HTTPException(422, detail=_errors(exc, "query")) from None


async def _json_body(request: Request, model: type[BaseModel]) -> Any:
    if "application/json" not in request.headers.get("content-type", ""):
        raise HTTPException(415, "send application/json")
    raw = await request.body()
    if len(raw) > 8192:
        raise HTTPException(413, "request body too large")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise HTTPException(422, detail=_errors(exc, "body")) from None


def _errors(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    return [{"loc": [where, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def _safe_next(target: str) -> str:
    # only same-site relative paths: no open redirect via //host or scheme
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
