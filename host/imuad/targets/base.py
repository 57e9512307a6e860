"""The one interface every firmware target implements: open a byte transport to it."""
from __future__ import annotations

import abc


class TargetError(Exception):
    """The target could not be started or stopped answering (wrapped in ImuadError by users)."""


class Transport(abc.ABC):
    """A byte pipe to a running firmware: write bytes, read with a timeout, close."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def read(self, timeout: float) -> bytes:
        """Up to a few KB; b'' on timeout. Raises EOFError once the firmware has gone away."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def diagnostics(self) -> str:
        """Extra text for error messages (e.g. the firmware's stderr tail)."""
        return ""

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Target(abc.ABC):
    """A firmware build that can be started and talked to with serial frames (C7)."""

    name: str = "?"
    #: seconds the session waits for DEVICE_INFO after HELLO (emulators boot slower)
    hello_timeout: float = 10.0
    #: seconds without any answer before a running session is declared dead
    idle_timeout: float = 10.0

    @abc.abstractmethod
    def open(self) -> Transport:
        """Start (or connect to) the firmware and return its transport."""

    def available(self) -> tuple[bool, str]:
        """(usable here, reason if not) — without building anything expensive."""
        return True, ""

    def __repr__(self) -> str:
        return f"<Target {self.name}>"
