"""BLE backends of the gateway: the core talks to a device through these few methods.

- bleak  (default for users): the operating system's BLE stack (BlueZ, CoreBluetooth,
  WinRT). Pairing/passkey entry goes through the OS agent.
- bumble: Google Bumble's host stack on a raw HCI controller: USB dongles without BlueZ
  (`usb:0`), serial HCI, or the virtual radio of the tests (`tcp-client:127.0.0.1:PORT`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ...errors import ImuadError


class LinkError(Exception):
    """The link failed or went away (the core reconnects)."""


class PairingError(LinkError):
    """Pairing/encryption was refused (wrong passkey, no bond, legacy pairing...)."""


class Link(Protocol):
    address: str  # identity address of the device, used as device_id

    async def secure(self, passkey: int | None) -> bool:
        """Encrypt with the bond if there is one (returns True), else pair with the passkey
        (returns False). Raises PairingError when the link is not encrypted+authenticated."""

    async def read_status(self) -> bytes: ...

    async def subscribe(self, on_value: Callable[[bytes], None]) -> None: ...

    async def write_control(self, data: bytes) -> None: ...

    async def wait_disconnected(self) -> None: ...

    async def close(self) -> None: ...


class Backend(Protocol):
    async def open(self) -> None: ...

    async def find(self, service_uuid: str, address: str | None, timeout: float) -> str:
        """Address of an advertising device offering service_uuid (or `address`)."""

    async def connect(self, address: str, timeout: float) -> Link: ...

    async def close(self) -> None: ...


def make_backend(name: str, *, transport: str | None = None, keystore: str | None = None,
                 own_address: str | None = None) -> Backend:
    if name == "bumble":
        if not transport:
            raise ImuadError("--backend bumble needs --transport (e.g. usb:0, "
                             "tcp-client:127.0.0.1:7002)")
        from .bumble_backend import BumbleBackend
        return BumbleBackend(transport, keystore=keystore, own_address=own_address)
    if name == "bleak":
        from .bleak_backend import BleakBackend
        return BleakBackend()
    raise ImuadError(f"unknown BLE backend {name!r}; use bleak or bumble")
