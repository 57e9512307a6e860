"""bleak backend: the operating system's BLE stack (BlueZ on Linux/Raspberry Pi,
CoreBluetooth on macOS, WinRT on Windows).

Pairing goes through the OS: on Linux, BlueZ asks its registered agent for the passkey
(e.g. run `bluetoothctl` with `agent KeyboardOnly` + `default-agent`, or pair once with
`bluetoothctl pair <addr>`); bonds are kept by the OS, so later connections only
encrypt. The passkey given to `imuad gateway` is not used by this backend.
Not exercised by the tests (no BlueZ in CI); the Bumble backend is.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from ...contracts.ble_payload import CONTROL_UUID, EVENT_UUID, STATUS_UUID
from . import LinkError, PairingError


class BleakLink:
    def __init__(self, client, address: str) -> None:
        self.client = client
        self.address = address
        self._gone = asyncio.get_running_loop().create_future()

    def _on_disconnect(self, _client) -> None:
        if not self._gone.done():
            self._gone.set_result(None)

    async def _guard(self, coro):
        task = asyncio.ensure_future(coro)
        await asyncio.wait({task, self._gone}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            raise LinkError(f"{self.address}: link lost")
        try:
            return task.result()
        except Exception as exc:  # BleakError, D-Bus errors
            raise LinkError(f"{self.address}: {exc}") from exc

    async def secure(self, passkey: int | None) -> bool:
        try:
            # BlueZ returns at once when a bond exists; otherwise its agent handles the passkey
            await self.client.pair()
        except Exception as exc:
            raise PairingError(f"pairing with {self.address} failed: {exc} (is a BlueZ agent "
                               f"registered to enter the passkey?)") from exc
        return False  # the OS does not tell whether the bond existed before

    async def read_status(self) -> bytes:
        return bytes(await self._guard(self.client.read_gatt_char(STATUS_UUID)))

    async def subscribe(self, on_value: Callable[[bytes], None]) -> None:
        await self._guard(self.client.start_notify(EVENT_UUID, lambda _c, data: on_value(bytes(data))))

    async def write_control(self, data: bytes) -> None:
        await self._guard(self.client.write_gatt_char(CONTROL_UUID, data, response=True))

    async def wait_disconnected(self) -> None:
        await asyncio.shield(self._gone)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.client.disconnect(), 5)
        except Exception:
            pass


class BleakBackend:
    def __init__(self) -> None:
        self._devices: dict[str, object] = {}

    async def open(self) -> None:
        try:
            import bleak  # noqa: F401
        except ModuleNotFoundError as exc:
            raise LinkError("the bleak backend needs bleak: pip install 'imuad[gateway]'") from exc

    async def find(self, service_uuid: str, address: str | None, timeout: float) -> str:
        from bleak import BleakScanner

        def match(device, adv) -> bool:
            uuids = [u.lower() for u in (adv.service_uuids or [])]
            return service_uuid.lower() in uuids and (
                address is None or device.address.upper() == address.upper())

        try:
            device = await BleakScanner.find_device_by_filter(match, timeout=timeout)
        except Exception as exc:  # adapter off, no permission...
            raise LinkError(f"BLE scan failed: {exc}") from exc
        if device is None:
            raise LinkError(f"no device advertising {service_uuid} within {timeout:.0f} s")
        self._devices[device.address] = device
        return device.address

    async def connect(self, address: str, timeout: float) -> BleakLink:
        from bleak import BleakClient
        target = self._devices.get(address, address)
        link: BleakLink | None = None

        def on_disconnect(client) -> None:
            if link is not None:
                link._on_disconnect(client)

        client = BleakClient(target, disconnected_callback=on_disconnect, timeout=timeout)
        try:
            await client.connect()
        except Exception as exc:
            raise LinkError(f"cannot connect to {address}: {exc}") from exc
        link = BleakLink(client, address)
        return link

    async def close(self) -> None:
        return None
