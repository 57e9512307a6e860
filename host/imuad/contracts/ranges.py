"""Integer and float ranges: one checker for every interface (CLI, query, JSON, frames).

`IntRange.check` takes a value that must already be an int (JSON bodies, frames: `true`,
`5.0` and `"5"` are refused, not coerced); `IntRange.parse` takes text (CLI options, query
parameters) and accepts only plain decimal digits. Both raise `RangeError`, whose message
names the field and the range, e.g. "kind must be an integer in 1..6, got '99999999999'".
"""
from __future__ import annotations

import argparse
import math
import numbers
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ImuadError

_DECIMAL = re.compile(r"[+-]?[0-9]+")
_MAX_TEXT = 40  # longer text is no integer any range here holds (and int() of it is slow)


class RangeError(ImuadError, ValueError):
    """A number outside its contract's range (or not a number); `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Range:
    """What both ranges share: the error naming the field, and the argparse adapter."""
    kind = "a value"   # "an integer" / "a number", for messages

    def _error(self, field: str, value: Any) -> RangeError:
        return RangeError(field, f"{field} must be {self.kind} in {self}, got {_show(value)}")

    def parse(self, field: str, text: Any) -> Any:
        raise NotImplementedError

    def argtype(self, option: str) -> Callable[[str], Any]:
        """For argparse `type=`: a bad value exits 2 with the option and range named."""
        def convert(text: str) -> Any:
            try:
                return self.parse(option, text)
            except RangeError as exc:
                raise argparse.ArgumentTypeError(f"must be {self.kind} in {self}, got {_show(text)}") from exc
        convert.__name__ = option  # argparse names the type in some messages
        return convert


@dataclass(frozen=True)
class IntRange(_Range):
    lo: int
    hi: int
    kind = "an integer"

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"

    def check(self, field: str, value: Any) -> int:
        """An integer already (bool, float and str are refused) within [lo, hi]."""
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not self.lo <= value <= self.hi:
            raise self._error(field, value)
        return int(value)

    def parse(self, field: str, text: Any) -> int:
        """Decimal text (surrounding blanks allowed) within [lo, hi]."""
        if not isinstance(text, str) or len(text) > _MAX_TEXT or not _DECIMAL.fullmatch(text.strip()):
            raise self._error(field, text)
        return self.check(field, int(text.strip()))


@dataclass(frozen=True)
class FloatRange(_Range):
    lo: float
    hi: float
    kind = "a number"

    def __str__(self) -> str:
        return f"{self.lo:g}..{self.hi:g}"

    def check(self, field: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or \
                not self.lo <= value <= self.hi:
            raise self._error(field, value)
        return float(value)

    def parse(self, field: str, text: Any) -> float:
        try:
            value = float(text) if isinstance(text, str) and len(text) <= _MAX_TEXT else None
        except ValueError:
            value = None
        if value is None:
            raise self._error(field, text)
        return self.check(field, value)


# C-type widths (C5, C7, C8 fields are little-endian C integers)
INT32 = IntRange(-(2**31), 2**31 - 1)
UINT8 = IntRange(0, 2**8 - 1)
UINT16 = IntRange(0, 2**16 - 1)
UINT32 = IntRange(0, 2**32 - 1)
# C8 event notification
EVENT_KIND = IntRange(1, 6)   # 1 onset, 2 clear, 3 heartbeat, 4 drift, 5 drift cleared, 6 calibrated
EVENT_SEQ = UINT32
PASSKEY = IntRange(0, 999_999)  # LE Secure Connections passkey (6 digits)
# C9 store: SQLite rowids (the live stream's event ids) are signed 64-bit, never negative
ROWID = IntRange(0, 2**63 - 1)
TCP_PORT = IntRange(1, 65535)
