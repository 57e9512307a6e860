"""FastAPI app: pages (Jinja2), JSON API, CSV export and the live SSE stream over the store.

Every route lists its auth dependency first, then its inputs (query models and bodies from
`inputs`), so nothing about the store is looked up or read for a client that may not see
it, and FastAPI's route table enumerates every input (the fuzz tests rely on that).
"""
from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path as FsPath
from typing import Annotated, Any, AsyncIterator, Iterator
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (HTMLResponse, JSONResponse, RedirectResponse,
                               Response, StreamingResponse)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..contracts.ranges import ROWID, RangeError
from . import live
from .auth import COOKIE_NAME, SESSION_MAX_AGE_S, Identity, TokenAuth
from .inputs import (DEVICE_ID_MAX, AckRequest, CalibrateRequest, DevicesQuery, EventQuery,
                     LoginForm, LoginQuery, NoBody, SeriesQuery, StreamQuery, ThresholdRequest,
                     body, errors_of, parse_time)
from .limits import (MAX_BODY, MAX_STREAMS, MAX_STREAMS_PER_CLIENT, BodyLimit, GuessLimiter,
                     StreamSlots, client_key)
from .queries import (ALERT_KINDS, COUNT_CAP, EVENT_KINDS, STATES, EventFilter, StoreReader,
                      load_run_files)

HERE = FsPath(__file__).resolve().parent
RUN_SOURCES = ("sim", "hil", "replay")
RUN_ID_MAX = 256


@dataclass
class Settings:
    store: FsPath | str  # a gateway SQLite file or the fleet's postgresql:// URL
    token: str
    public_read: bool = False
    runs_dir: FsPath | None = None
    poll_s: float = live.POLL_S
    max_streams: int = MAX_STREAMS
    max_streams_per_client: int = MAX_STREAMS_PER_CLIENT
    login_delay_s: float = 0.5  # after a wrong token: slows a sequential guesser's loop


class LoginRequired(Exception):
    """A page asked for without the token (and without --public-read): go to /login."""


# ---- auth dependencies: listed first in every route, so they run before any lookup -------
def read_api(request: Request) -> Identity:
    ident = request.app.state.auth.identify(request)
    if not ident.authenticated and not request.app.state.settings.public_read:
        raise HTTPException(401, "token required", headers={"WWW-Authenticate": "Bearer"})
    return ident


def write_api(request: Request) -> Identity:
    auth = request.app.state.auth
    ident = auth.identify(request)
    if not ident.authenticated:
        raise HTTPException(401, "token required", headers={"WWW-Authenticate": "Bearer"})
    if not auth.csrf_ok(request, ident):
        raise HTTPException(403, "missing or wrong X-CSRF-Token for a cookie session")
    return ident


def read_page(request: Request) -> Identity:
    ident = request.app.state.auth.identify(request)
    if not ident.authenticated and not request.app.state.settings.public_read:
        raise LoginRequired()
    return ident


ReadApi = Annotated[Identity, Depends(read_api)]
WriteApi = Annotated[Identity, Depends(write_api)]
ReadPage = Annotated[Identity, Depends(read_page)]
DeviceId = Annotated[str, Path(max_length=DEVICE_ID_MAX)]
RunId = Annotated[str, Path(max_length=RUN_ID_MAX)]


def iso(ts: float | None) -> str:
    try:
        dt = datetime.fromtimestamp(ts, timezone.utc)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return ""  # None, or a time no calendar holds
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


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
    reader = StoreReader(settings.store)  # refuses an unreadable or non-C9 store up front
    limiter = GuessLimiter()
    auth = TokenAuth(settings.token, limiter)
    slots = StreamSlots(settings.max_streams, settings.max_streams_per_client)
    # PostgreSQL NOTIFYs each insert: its poll is only a fallback, never faster than the source's
    fallback = reader.source.poll_s
    bc = live.Broadcaster(reader, settings.poll_s if fallback is None
                          else max(settings.poll_s, fallback))
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
    app.state.settings, app.state.reader = settings, reader
    app.state.broadcaster, app.state.guess_limiter, app.state.stream_slots = bc, limiter, slots
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY)
    app.add_middleware(SecurityHeaders)  # outermost: refusals get the headers too

    app.state.auth = auth

    def identity(request: Request) -> Identity:
        return auth.identify(request)

    def page(request: Request, ident: Identity, name: str, **ctx: Any) -> Response:
        ctx.update(request=request, ident=ident, public_read=settings.public_read,
                   now=time.time(), nav=name.split(".")[0])
        return templates.TemplateResponse(request, name, ctx)

    # ---- login -------------------------------------------------------------------------------
    def login_page(request: Request, nxt: str, message: str, status: int = 200,
                   headers: dict[str, str] | None = None) -> Response:
        return templates.TemplateResponse(
            request, "login.html", {"request": request, "next": _safe_next(nxt),
                                    "error": message,
                                    "ident": Identity(None), "nav": "login",
                                    "public_read": settings.public_read},
            status_code=status, headers=headers)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, q: Annotated[LoginQuery, Query()]) -> Response:
        # a fixed text per code: the query string cannot put words on the page
        return login_page(request, q.next, "Wrong token." if q.error == "1" else "")

    @app.post("/login")
    async def login(request: Request,
                    form: Annotated[LoginForm, Depends(body(LoginForm, form=True))]) -> Response:
        token = form.token.strip()
        nxt = _safe_next(form.next)
        try:
            ok = bool(token) and auth.guess(request, token)
        except HTTPException as exc:  # over the guess budget: the token was not looked at
            return login_page(request, nxt, str(exc.detail), 429, exc.headers)
        if not ok:
            await asyncio.sleep(settings.login_delay_s)
            return RedirectResponse(f"/login?error=1&next={quote(nxt, safe='')}", 303)
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(COOKIE_NAME, auth.new_session(), max_age=SESSION_MAX_AGE_S,
                        httponly=True, samesite="strict", path="/")
        return resp

    @app.post("/logout")
    def logout(request: Request, _: Annotated[NoBody, Depends(body(NoBody))]) -> Response:
        ident = identity(request)
        if ident.via == "cookie" and not auth.csrf_ok(request, ident):
            raise HTTPException(403, "missing or wrong X-CSRF-Token")
        resp = JSONResponse({"ok": True})
        resp.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return resp

    # ---- pages -------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def devices_page(request: Request, ident: ReadPage) -> Response:
        return page(request, ident, "devices.html", devices=reader.devices())

    @app.get("/devices/{device_id:path}", response_class=HTMLResponse)
    def device_page(request: Request, ident: ReadPage, device_id: DeviceId) -> Response:
        dev = reader.device(device_id)
        recent = reader.events(EventFilter(device_id=device_id, kinds=ALERT_KINDS), limit=50)
        if dev is None and not recent and not reader.series(device_id, limit=1):
            raise HTTPException(404, f"unknown device {device_id!r}")
        return page(request, ident, "device.html", device_id=device_id, device=dev or {},
                    recent=recent)

    @app.get("/alerts", response_class=HTMLResponse)
    def alerts_page(request: Request, ident: ReadPage,
                    q: Annotated[EventQuery, Query()]) -> Response:
        flt = q.to_filter(default_kind="alerts")
        events = reader.events(flt, limit=q.limit, offset=q.offset)
        total = reader.count_events(flt)
        older = None
        if total > q.offset + len(events) or (total >= COUNT_CAP and len(events) == q.limit):
            params = dict(request.query_params)
            params["offset"] = str(q.offset + q.limit)
            older = "/alerts?" + urlencode(params)
        return page(request, ident, "alerts.html", events=events, q=q, total=total,
                    total_capped=total >= COUNT_CAP, older_url=older,
                    devices=reader.device_ids(),
                    csv_query=str(request.url.query))

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request, ident: ReadPage) -> Response:
        return page(request, ident, "runs.html", runs=_all_runs())

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, ident: ReadPage, run_id: RunId) -> Response:
        run = next((r for r in _all_runs() if r["run_id"] == run_id), None)
        if run is None:
            raise HTTPException(404, f"unknown run {run_id!r}")
        events = reader.events(EventFilter(device_id=run["device_id"], kinds=(1, 2)), limit=500) \
            if run.get("device_id") else []
        return page(request, ident, "run.html", run=run, events=events,
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
    def healthz(request: Request) -> dict[str, Any]:
        if not identity(request).authenticated:  # liveness only; internals need the token
            return {"ok": True}
        return {"ok": True, "live_clients": len(bc.subscribers), "streams": slots.open,
                "cursor": bc.cursor, "store_error": bc.error}

    @app.get("/api/devices")
    def api_devices(_: ReadApi, q: Annotated[DevicesQuery, Query()]) -> dict[str, Any]:
        devices = reader.devices()
        if q.spark:
            sparks = reader.sparks([d["device_id"] for d in devices], q.spark)
            for d in devices:
                d["spark"] = sparks.get(d["device_id"], [])
        return {"devices": devices, "now": time.time()}

    @app.get("/api/devices/{device_id:path}/series")
    def api_series(_: ReadApi, device_id: DeviceId,
                   q: Annotated[SeriesQuery, Query()]) -> dict[str, Any]:
        return {"device": reader.device(device_id),
                "events": reader.series(device_id, parse_time(q.since, "since"), q.limit),
                "cursor": bc.cursor}

    @app.get("/api/events")
    def api_events(_: ReadApi, q: Annotated[EventQuery, Query()]) -> dict[str, Any]:
        flt = q.to_filter()
        return {"events": reader.events(flt, limit=q.limit, offset=q.offset),
                "total": reader.count_events(flt)}

    @app.get("/api/events.csv")
    def api_events_csv(_: ReadApi, q: Annotated[EventQuery, Query()]) -> Response:
        rows = reader.iter_events(q.to_filter())
        first = list(itertools.islice(rows, 1))  # a store error is a 503 here, not mid-file
        name = time.strftime("imuad-events-%Y%m%dT%H%M%SZ.csv", time.gmtime())
        return StreamingResponse(csv_rows(itertools.chain(first, rows)), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.post("/api/events/ack")
    async def api_ack(_: WriteApi,
                      req: Annotated[AckRequest, Depends(body(AckRequest))]) -> dict[str, Any]:
        if reader.event(req.device_id, req.seq) is None:
            raise HTTPException(404, f"no event {req.device_id}#{req.seq}")
        if not await asyncio.to_thread(reader.ack_event, req.device_id, req.seq, req.note):
            raise HTTPException(404, f"no event {req.device_id}#{req.seq}")
        return {"ok": True, "event": reader.event(req.device_id, req.seq)}

    @app.post("/api/commands/threshold")
    async def api_threshold(
            _: WriteApi,
            req: Annotated[ThresholdRequest, Depends(body(ThresholdRequest))]) -> dict[str, Any]:
        # kind/payload as the gateway forwards them: a C7/C8 CONFIG of the decision (C5)
        return await queue_command(req.device_id, "config", req.payload())

    @app.post("/api/commands/calibrate")
    async def api_calibrate(
            _: WriteApi,
            req: Annotated[CalibrateRequest, Depends(body(CalibrateRequest))]) -> dict[str, Any]:
        # the full C5b request (defaults filled in), sent as BLE control op 0x04 / C7 0x10
        return await queue_command(req.device_id, "calibrate", req.payload())

    async def queue_command(device_id: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A C9 command row for a known device; the gateway sends it at its next connection."""
        if reader.device(device_id) is None:
            raise HTTPException(404, f"unknown device {device_id!r}")
        cid = await asyncio.to_thread(reader.queue_command, device_id, kind, payload)
        return {"ok": True, "id": cid, "pending": reader.pending_commands(device_id)}

    @app.get("/api/runs")
    def api_runs(_: ReadApi) -> dict[str, Any]:
        return {"runs": [{k: v for k, v in r.items() if k != "report_json"} for r in _all_runs()]}

    @app.get("/api/stream")
    async def api_stream(request: Request, ident: ReadApi, q: Annotated[StreamQuery, Query()],
                         last_event_id: Annotated[str | None, Header()] = None) -> Response:
        last_id = q.last_id
        if last_event_id is not None:  # the browser's resume point wins over ?last_id
            try:
                last_id = ROWID.parse("Last-Event-ID", last_event_id)
            except RangeError as exc:
                raise HTTPException(422, [{"loc": ["header", "Last-Event-ID"], "msg": str(exc),
                                           "type": "value_error"}]) from None
        release = slots.acquire(client_key(request.client.host if request.client else None),
                                ident.authenticated)
        if isinstance(release, str):
            raise HTTPException(503, release, headers={"Retry-After": "10"})
        body_ = live.stream(bc, q.device or None, last_id, request.is_disconnected, q.max_events)
        return SlotStream(body_, release, media_type="text/event-stream",
                          headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # ---- errors ------------------------------------------------------------------------------
    def error_response(request: Request, status: int, detail: Any,
                       headers: dict[str, str] | None = None) -> Response:
        if request.url.path.startswith("/api/") or request.method != "GET":
            return JSONResponse({"detail": detail}, status, headers=headers)
        ident = getattr(request.state, "imuad_identity", None) or Identity(None)
        if isinstance(detail, list):
            detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in detail)
        return templates.TemplateResponse(
            request, "error.html",
            {"request": request, "status": status, "detail": detail, "ident": ident, "nav": "",
             "public_read": settings.public_read},
            status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 422, errors_of(exc))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    async def store_error(request: Request, exc: Exception) -> Response:
        # damage found after the up-front check, a store locked for too long, PostgreSQL down
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return error_response(request, 503, f"store {reader.path} unreadable: {first}",
                              {"Retry-After": "10"})

    for error_type in reader.source.errors:
        app.add_exception_handler(error_type, store_error)

    return app


class SlotStream(StreamingResponse):
    """A streaming response that gives its stream slot back however the stream ends."""

    def __init__(self, content: Any, release: Any, **kw: Any) -> None:
        super().__init__(content, **kw)
        self._release = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


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


def _safe_next(target: str) -> str:
    # only same-site relative paths: no open redirect via //host or scheme
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
