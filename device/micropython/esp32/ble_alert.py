# BLE alerts over MicroPython's bluetooth + aioble (micropython-lib; `mpremote mip install aioble`),
# with the GATT contract C8 of docs/contracts.md and the status/control layouts of
# device/components/ble_alerts (ble_alerts_proto.h). Needs the radio: not run in CI.
import asyncio
import struct

import aioble
import bluetooth

from imuad_app import EVENT_FMT

SERVICE = bluetooth.UUID("6e0a0001-5f1d-4b8e-9c43-696d75616400")
EVENT = bluetooth.UUID("6e0a0002-5f1d-4b8e-9c43-696d75616400")
STATUS = bluetooth.UUID("6e0a0003-5f1d-4b8e-9c43-696d75616400")
CONTROL = bluetooth.UUID("6e0a0004-5f1d-4b8e-9c43-696d75616400")
# bluetooth.gatts flags (MicroPython docs): encryption / authentication requirements.
_FLAG_READ_ENCRYPTED = 0x0200
_FLAG_WRITE_ENCRYPTED = 0x1000
_FLAG_WRITE_AUTHENTICATED = 0x2000
_FLAG_READ_AUTHENTICATED = 0x0400
CTRL_ACK, CTRL_REPLAY, CTRL_CONFIG = 1, 2, 3
BACKLOG = 128
FLAG_REPLAYED, FLAG_OVERFLOW = 0x01, 0x02


class BleAlert:
    """send(payload) queues a 20-byte event and notifies the bonded gateway; unacknowledged
    events are kept (bounded) and resent on a REPLAY control write."""

    def __init__(self, detector, fw_version="mpy-0.1", name="imuad-mpy"):
        self.detector = detector
        self.fw_version = fw_version
        self.name = name
        self.backlog = []       # payloads, oldest first
        self.acked = 0
        self.last_seq = 0
        self.overflows = 0
        self.state = 0
        self.decision = (0, 0, 1, 1)
        svc = aioble.Service(SERVICE)
        self.event = aioble.Characteristic(svc, EVENT, notify=True)
        self.status = aioble.Characteristic(svc, STATUS, read=True)
        self.control = aioble.Characteristic(svc, CONTROL, write=True, capture=True)
        # aioble builds flags from its keyword arguments; add the C8 security requirements.
        self.event.flags |= _FLAG_READ_ENCRYPTED | _FLAG_READ_AUTHENTICATED
        self.status.flags |= _FLAG_READ_ENCRYPTED
        self.control.flags |= _FLAG_WRITE_ENCRYPTED | _FLAG_WRITE_AUTHENTICATED
        aioble.register_services(svc)
        self.connection = None
        self._update_status()

    def send(self, payload):
        seq = struct.unpack_from("<I", payload, 4)[0]
        self.state = payload[2]
        self.last_seq = seq
        if len(self.backlog) >= BACKLOG:
            self.backlog.pop(0)
            self.overflows += 1
        self.backlog.append(payload)
        self._notify(payload)
        self._update_status()

    def _notify(self, payload):
        if self.connection is not None and self.connection.is_connected():
            try:
                self.event.notify(self.connection, payload)
            except OSError:
                pass  # kept in the backlog until acknowledged

    def _update_status(self):
        on, off, k, n = self.decision
        mid = struct.unpack_from("<I", self.backlog[-1], 16)[0] if self.backlog else 0
        fw = self.fw_version.encode()[:16]
        self.status.write(struct.pack("<BBBBiiIIIHHI16s", 1, self.state, k, n, on, off, mid, self.last_seq,
                                      self.acked, len(self.backlog), BACKLOG, self.overflows, fw))

    def _control(self, data):
        if len(data) == 5 and data[0] in (CTRL_ACK, CTRL_REPLAY):
            seq = struct.unpack_from("<I", data, 1)[0]
            if data[0] == CTRL_ACK:
                self.acked = max(self.acked, seq)
                self.backlog = [p for p in self.backlog if struct.unpack_from("<I", p, 4)[0] > seq]
            else:
                for p in self.backlog:
                    if struct.unpack_from("<I", p, 4)[0] >= seq:
                        q = bytearray(p)
                        q[3] |= FLAG_REPLAYED
                        self._notify(bytes(q))
        elif len(data) == 11 and data[0] == CTRL_CONFIG:
            on, off, k, n = struct.unpack_from("<iiBB", data, 1)
            try:
                self.detector.configure(on, off, k, n)
                self.decision = (on, off, k, n)
            except ValueError:
                pass
        self._update_status()

    async def control_task(self):
        while True:
            conn, data = await self.control.written()
            self._control(bytes(data))

    async def advertise_task(self):
        while True:
            self.connection = await aioble.advertise(250_000, name=self.name, services=[SERVICE])
            try:
                await self.connection.pair(bond=True, le_secure=True, mitm=True)
            except Exception:
                pass  # the gateway may start pairing itself
            await self.connection.disconnected(timeout_ms=None)
            self.connection = None


assert struct.calcsize(EVENT_FMT) == 20
