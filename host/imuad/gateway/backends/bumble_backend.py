"""Bumble backend: Bumble's own host stack over an HCI transport (USB dongle, serial,
or the virtual radio of the tests), LE Secure Connections with passkey entry, bonds
kept in a JSON key store."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from bumble import hci
from bumble.core import UUID, AdvertisingData, BaseBumbleError
from bumble.device import Device, Peer
from bumble.keys import JsonKeyStore
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport import open_transport

from ...contracts.ble_payload import CONTROL_UUID, EVENT_UUID, SERVICE_UUID, STATUS_UUID
from . import LinkError, PairingError

log = logging.getLogger("imuad.gateway.bumble")

DEFAULT_OWN_ADDRESS = "C0:DE:00:00:00:01"  # random static


class _PasskeyDelegate(PairingDelegate):
    """Keyboard-only central: types the passkey the device displays."""

    def __init__(self, passkey: int | None) -> None:
        super().__init__(io_capability=PairingDelegate.IoCapability.KEYBOARD_INPUT_ONLY)
        self.passkey = passkey

    async def get_number(self) -> int | None:
        return self.passkey


class BumbleLink:
    def __init__(self, backend: BumbleBackend, connection) -> None:
        self.backend = backend
        self.connection = connection
        self.address = connection.peer_address.to_string(False)
        self._gone = asyncio.get_running_loop().create_future()
        self._chars: dict[str, object] = {}
        connection.on("disconnection", self._on_disconnection)

    def _on_disconnection(self, reason: int) -> None:
        if not self._gone.done():
            self._gone.set_result(reason)

    async def _guard(self, coro):
        """Run a GATT/SMP operation, failing with LinkError as soon as the link is gone:
        a request sent just after a disconnection would otherwise wait for the 30 s ATT
        timeout, and Bumble cancels requests pending at a disconnection."""
        task = asyncio.ensure_future(coro)
        if self._gone.done():
            task.cancel()
            raise LinkError(f"{self.address}: link lost")
        try:
            await asyncio.wait({task, self._gone}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.done():
            task.cancel()
            raise LinkError(f"{self.address}: link lost during a GATT request")
        if task.cancelled():
            raise LinkError(f"{self.address}: link lost during a GATT request")
        return task.result()

    async def secure(self, passkey: int | None) -> bool:
        conn = self.connection
        self.backend.passkey = passkey
        keys = await self.backend.device.keystore.get(str(conn.peer_address))
        bonded = keys is not None
        try:
            if bonded:
                await self._guard(asyncio.wait_for(conn.encrypt(), 15))
            else:
                await self._guard(asyncio.wait_for(conn.pair(), 30))
        except (BaseBumbleError, hci.HCI_Error, asyncio.TimeoutError) as exc:
            raise PairingError(f"{'encryption' if bonded else 'pairing'} with {self.address} "
                               f"failed: {exc!r}") from exc
        if not (conn.is_encrypted and conn.authenticated):
            raise PairingError(f"link to {self.address} is not encrypted and authenticated")
        return bonded

    async def _discover(self) -> None:
        if self._chars:
            return
        await self._guard(self._discover_now())

    async def _discover_now(self) -> None:
        peer = Peer(self.connection)
        services = await peer.discover_services([UUID(SERVICE_UUID)])
        if not services:
            raise LinkError(f"{self.address} does not offer service {SERVICE_UUID}")
        for ch in await services[0].discover_characteristics():
            self._chars[str(ch.uuid).lower()] = ch

    async def _char(self, uuid: str):
        await self._discover()
        try:
            return self._chars[uuid.lower()]
        except KeyError:
            raise LinkError(f"{self.address}: characteristic {uuid} missing") from None

    async def read_status(self) -> bytes:
        return bytes(await self._guard((await self._char(STATUS_UUID)).read_value()))

    async def subscribe(self, on_value: Callable[[bytes], None]) -> None:
        char = await self._char(EVENT_UUID)
        await self._guard(char.subscribe(lambda v: on_value(bytes(v)), prefer_notify=True))

    async def write_control(self, data: bytes) -> None:
        char = await self._char(CONTROL_UUID)
        await self._guard(char.write_value(data, with_response=True))

    async def wait_disconnected(self) -> None:
        await asyncio.shield(self._gone)

    async def close(self) -> None:
        if not self._gone.done():
            try:
                await asyncio.wait_for(self.connection.disconnect(), 5)
            except Exception:  # already gone or controller unreachable
                pass


class BumbleBackend:
    def __init__(self, transport: str, keystore: str | None = None,
                 own_address: str | None = None) -> None:
        self.transport_spec = transport
        self.keystore_path = keystore
        self.own_address = own_address or DEFAULT_OWN_ADDRESS
        self.passkey: int | None = None
        self.device: Device | None = None
        self._transport = None

    async def open(self) -> None:
        try:
            self._transport = await open_transport(self.transport_spec)
        except Exception as exc:
            raise LinkError(f"cannot open HCI transport {self.transport_spec}: {exc}") from exc
        address = hci.Address(self.own_address, hci.Address.RANDOM_DEVICE_ADDRESS)
        device = Device.with_hci("imuad-gateway", address, self._transport.source,
                                 self._transport.sink)
        if self.keystore_path:
            Path(self.keystore_path).parent.mkdir(parents=True, exist_ok=True)
        device.keystore = JsonKeyStore(namespace=self.own_address, filename=self.keystore_path)
        # Identity address = the random static address we connect from, or the device's
        # bond lookup on reconnection fails.
        device.pairing_config_factory = lambda connection: PairingConfig(
            sc=True, mitm=True, bonding=True,
            delegate=_PasskeyDelegate(self.passkey),
            identity_address_type=PairingConfig.AddressType.RANDOM)
        await device.power_on()
        self.device = device

    async def find(self, service_uuid: str, address: str | None, timeout: float) -> str:
        assert self.device is not None
        wanted = UUID(service_uuid)
        found: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_advertisement(adv) -> None:
            if found.done():
                return
            uuids = adv.data.get(AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS) or []
            uuids += adv.data.get(AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS) or []
            addr = adv.address.to_string(False)
            if wanted in uuids and (address is None or addr.upper() == address.upper()):
                found.set_result(adv.address)

        self.device.on("advertisement", on_advertisement)
        try:
            await self.device.start_scanning(filter_duplicates=False)
            addr = await asyncio.wait_for(found, timeout)
        except asyncio.TimeoutError:
            raise LinkError(f"no device advertising {service_uuid} within {timeout:.0f} s") from None
        finally:
            self.device.remove_listener("advertisement", on_advertisement)
            if self.device.is_scanning:
                await self.device.stop_scanning()
        self._last_found = addr
        return addr.to_string(False)

    async def connect(self, address: str, timeout: float) -> BumbleLink:
        assert self.device is not None
        target = getattr(self, "_last_found", None)
        if target is None or target.to_string(False).upper() != address.upper():
            target = hci.Address(address, hci.Address.PUBLIC_DEVICE_ADDRESS)
        try:
            connection = await self.device.connect(
                target, own_address_type=hci.OwnAddressType.RANDOM, timeout=timeout)
        except (BaseBumbleError, hci.HCI_Error, asyncio.TimeoutError) as exc:
            raise LinkError(f"cannot connect to {address}: {exc!r}") from exc
        return BumbleLink(self, connection)

    async def close(self) -> None:
        if self._transport is not None:
            try:
                await self._transport.close()
            except Exception:
                pass
            self._transport = None
