"""Every input of the dashboard's endpoints, declared once with its range.

Query parameters are pydantic models that FastAPI validates before a handler runs (after
the auth dependency); JSON and form bodies are read by `body(Model)` once auth passed,
under the `BodyLimit` cap, and validated by their model. Integers go through
`imuad.contracts.ranges` (decimal text for queries and forms, strict JSON integers for
bodies: `true`, `5.0` and `"5"` are not numbers) and the C5 settings through
`imuad.contracts.decision`, so every refusal is a 422 naming the field and its range.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import HTTPException, Request
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainValidator,
                      ValidationError, ValidationInfo, model_validator)

from ..contracts.calibration import (ALLOWED_ONSETS, CALIB_WINDOWS, DRIFT_BLOCK, K_N_OR_KEEP, REFIT,
                                     MARGIN_PERMILLE, check_request)
from ..contracts.decision import THRESHOLD, K_N, check_config
from ..contracts.ranges import EVENT_KIND, EVENT_SEQ, ROWID, IntRange, RangeError
from .queries import ALERT_KINDS, EVENT_KINDS, KIND_BY_NAME, EventFilter

DEVICE_ID_MAX = 192  # a fleet key <gateway>/<device>: 63 + 1 + 128
LIMIT = IntRange(1, 5000)           # events per page / API call
OFFSET = IntRange(0, 10**9)
SPARK = IntRange(0, 1000)           # sparkline points per device
SERIES_LIMIT = IntRange(1, 20000)   # live chart backfill
MAX_EVENTS = IntRange(1, 2**32 - 1)


def _name(info: ValidationInfo) -> str:
    return info.field_name or "value"


def query_int(r: IntRange) -> Any:
    """An integer query/form parameter: decimal text within `r`."""
    def convert(value: Any, info: ValidationInfo) -> int:
        return r.parse(_name(info), value) if isinstance(value, str) else \
            r.check(_name(info), value)
    return Annotated[int, PlainValidator(convert)]


def json_int(r: IntRange) -> Any:
    """An integer JSON field: a JSON integer within `r` (no bool, float or string)."""
    def convert(value: Any, info: ValidationInfo) -> int:
        return r.check(_name(info), value)
    return Annotated[int, PlainValidator(convert)]


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
            raise RangeError(field, f"{field}: {text!r} is neither epoch seconds nor "
                                    f"ISO 8601") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    if not math.isfinite(value):
        raise RangeError(field, f"{field} must be a finite number of epoch seconds")
    return value


def _time_text(value: str | None, info: ValidationInfo) -> str | None:
    parse_time(value, _name(info))
    return value


def parse_kinds(text: str | None) -> tuple[int, ...] | None:
    """'onset,clear' / 'drift' / 'alerts' / 'any' / '1,3' -> event kinds (C8), None for any.
    'alerts' is every kind but heartbeats."""
    names = [k.strip().lower() for k in (text or "").split(",") if k.strip()]
    if not names or names == ["any"]:
        return None
    if names == ["alerts"]:
        return ALERT_KINDS
    kinds = set()
    for n in names:
        if n in KIND_BY_NAME:
            kinds.add(KIND_BY_NAME[n])
            continue
        if n.lstrip("+-").isdigit():
            kinds.add(EVENT_KIND.parse("kind", n))  # "kind must be an integer in 1..6, got ..."
            continue
        known = ", ".join(v.replace(" ", "_") for v in EVENT_KINDS.values())
        raise RangeError("kind", f"kind: unknown event kind {n[:40]!r} (use {known}, alerts, "
                                 f"any or an integer in {EVENT_KIND})")
    return tuple(sorted(kinds))


def _kind_text(value: str | None) -> str | None:
    parse_kinds(value)
    return value


TimeText = Annotated[str | None, Field(default=None, max_length=40), AfterValidator(_time_text)]


class EventQuery(BaseModel):
    """Timeline filters (/api/events, /api/events.csv, /alerts)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    device: str | None = Field(default=None, max_length=DEVICE_ID_MAX)
    kind: Annotated[str | None, Field(default=None, max_length=60),
                    AfterValidator(_kind_text)] = None
    acked: str | None = Field(default=None, pattern=r"^(|any|yes|no|true|false|1|0)$")
    since: TimeText = None
    until: TimeText = None
    limit: query_int(LIMIT) = 200
    offset: query_int(OFFSET) = 0

    def to_filter(self, default_kind: str | None = None) -> EventFilter:
        acked = None
        if self.acked in ("yes", "true", "1"):
            acked = True
        elif self.acked in ("no", "false", "0"):
            acked = False
        return EventFilter(device_id=self.device or None,
                           kinds=parse_kinds(self.kind if self.kind is not None else default_kind),
                           acked=acked, since=parse_time(self.since, "since"),
                           until=parse_time(self.until, "until"))


class DevicesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    spark: query_int(SPARK) = 0


class SeriesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    since: TimeText = None
    limit: query_int(SERIES_LIMIT) = 2000


class StreamQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    device: str | None = Field(default=None, max_length=DEVICE_ID_MAX)
    last_id: query_int(ROWID) | None = None  # event rowid to resume after (as Last-Event-ID)
    max_events: query_int(MAX_EVENTS) | None = None


class LoginQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    next: str = Field(default="/", max_length=2000)
    error: str = Field(default="", max_length=20)


# ---- bodies -------------------------------------------------------------------------------
class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"device_id": "pump-1", "seq": 10, "note": "bearing checked"}]})
    device_id: str = Field(min_length=1, max_length=DEVICE_ID_MAX, strict=True)
    seq: json_int(EVENT_SEQ)
    note: str = Field(default="", max_length=500, strict=True)


class ThresholdRequest(BaseModel):
    """A C9 `config` command: C5 settings, off defaulting to on, k and n both or neither."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"device_id": "pump-1", "threshold_on": 140, "threshold_off": 90,
                      "k": 2, "n": 4}]})
    device_id: str = Field(min_length=1, max_length=DEVICE_ID_MAX, strict=True)
    threshold_on: json_int(THRESHOLD)
    threshold_off: json_int(THRESHOLD) | None = None
    k: json_int(K_N) | None = None
    n: json_int(K_N) | None = None

    @model_validator(mode="after")
    def _c5(self) -> "ThresholdRequest":
        check_config(self.payload())  # DecisionError is a ValueError: a 422 naming the field
        return self

    def payload(self) -> dict[str, int]:
        d = self.model_dump(exclude={"device_id"}, exclude_none=True)
        return check_config(d)


class CalibrateRequest(BaseModel):
    """A C9 `calibrate` command: a C5b request, omitted fields at their defaults, k and n both
    or neither (both 0 keeps the device's)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"device_id": "pump-1", "windows": 1024, "allowed": 0,
                      "margin_permille": 100, "k": 2, "n": 4, "drift_block": 600}]})
    device_id: str = Field(min_length=1, max_length=DEVICE_ID_MAX, strict=True)
    windows: json_int(CALIB_WINDOWS) | None = None
    allowed: json_int(ALLOWED_ONSETS) | None = None
    margin_permille: json_int(MARGIN_PERMILLE) | None = None
    k: json_int(K_N_OR_KEEP) | None = None
    n: json_int(K_N_OR_KEEP) | None = None
    drift_block: json_int(DRIFT_BLOCK) | None = None
    refit: json_int(REFIT) | None = None

    @model_validator(mode="after")
    def _c5b(self) -> "CalibrateRequest":
        self.payload()  # RangeError is a ValueError: a 422 naming the field
        return self

    def payload(self) -> dict[str, int]:
        return check_request(self.model_dump(exclude={"device_id"}, exclude_none=True)).as_dict()


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={
        "examples": [{"token": "not-the-token", "next": "/alerts"}]})
    token: str = Field(default="", max_length=1000)
    next: str = Field(default="/", max_length=2000)


class NoBody(BaseModel):
    """POSTs without a body (logout): anything sent is ignored, within the size cap."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{}]})


def errors_of(exc: ValidationError | Any, where: str | None = None) -> list[dict[str, Any]]:
    """422 detail: where, the field and the message (the input is not echoed back)."""
    out = []
    for e in exc.errors():
        loc = list(e["loc"])
        if where and loc[:1] != [where]:
            loc.insert(0, where)
        msg = str(e["msg"]).removeprefix("Value error, ")
        out.append({"loc": loc, "msg": msg, "type": e["type"]})
    return out


def body(model: type[BaseModel], form: bool = False) -> Callable[..., Any]:
    """Dependency reading and validating the body as `model` (JSON, or an urlencoded form);
    list it after the auth dependency so nothing is read for an unauthenticated client.
    `body_model` lets tests enumerate every endpoint's body fields."""
    async def read(request: Request) -> Any:
        json_body = not form and model is not NoBody
        if json_body and "application/json" not in request.headers.get("content-type", ""):
            raise HTTPException(415, "send application/json")
        raw = await request.body()  # at most BodyLimit's cap
        if model is NoBody:
            return NoBody()
        try:
            if form:
                fields = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=20)
                return model.model_validate({k: v[0] for k, v in fields.items()})
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise HTTPException(422, detail=errors_of(exc, "body")) from None
        except ValueError as exc:  # parse_qs: too many fields
            raise HTTPException(422, detail=[{"loc": ["body"], "msg": str(exc),
                                              "type": "value_error"}]) from None
    read.body_model = model  # type: ignore[attr-defined]
    return read
