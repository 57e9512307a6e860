"""A virtual BLE radio for tests and benchmarks: Bumble controllers on one LocalLink,
each exposed as an HCI-over-TCP server (H4 framing) on 127.0.0.1.

    python -m imuad.gateway.vlink --port 7001 --port 7002

A line "drop" on stdin cuts every connection (answered by "DROPPED n").

Every TCP client gets a fresh controller (a new "dongle"); when the client goes away
its links are dropped as a real radio would (the peer sees a supervision timeout), so
a killed firmware or gateway process looks like a power loss to the other side.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import threading

from bumble import core, hci, ll
from bumble.controller import Controller
from bumble.link import LocalLink
from bumble.transport.common import StreamPacketSource

log = logging.getLogger("imuad.vlink")

SUPERVISION_TIMEOUT = 0x08


class AddressFixLink(LocalLink):
    """LocalLink that sends LE ACL data from the address the sender's connection uses.

    Bumble's LocalLink labels LE data with the sender's *random* address; a host that
    connects from its public address (NimBLE's and the ESP32's default) then has its
    data dropped by the receiver, which looks connections up by peer address.
    """

    def send_acl_data(self, sender_controller, destination_address, transport, data):
        if transport == core.PhysicalTransport.LE:
            connection = sender_controller.le_connections.get(destination_address)
            destination = self.find_le_controller(destination_address)
            if connection is not None and destination is not None:
                source = connection.self_address
                asyncio.get_running_loop().call_soon(
                    destination.on_link_acl_data, source, transport, data
                )
                return
        super().send_acl_data(sender_controller, destination_address, transport, data)


class _Sink:
    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def on_packet(self, packet: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(packet)


class _ControllerProtocol(asyncio.Protocol):
    def __init__(self, link: LocalLink, name: str, address: str) -> None:
        self.link, self.name, self.address = link, name, address
        self.controller: Controller | None = None
        self.source = StreamPacketSource()

    def connection_made(self, transport):  # type: ignore[override]
        self.controller = Controller(
            self.name,
            host_source=self.source,
            host_sink=_Sink(transport),
            link=self.link,
            public_address=self.address,
        )
        log.info("%s: host connected", self.name)

    def data_received(self, data: bytes) -> None:
        self.source.data_received(data)

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        c = self.controller
        if c is None:
            return
        log.info("%s: host gone, dropping its links", self.name)
        for connection in list(c.le_connections.values()):
            try:
                connection.send_ll_control_pdu(ll.TerminateInd(SUPERVISION_TIMEOUT))
            except core.InvalidArgumentError:
                pass
        c.le_connections.clear()
        if c in self.link.controllers:
            self.link.remove_controller(c)
        c.link = None  # its advertising timers now reach nobody
        c.host = None
        self.controller = None


def drop_all_links(link: LocalLink, reason: int = SUPERVISION_TIMEOUT) -> int:
    """Radio-level loss of every connection (both ends see a disconnection)."""
    dropped = 0
    for c in list(link.controllers):
        for connection in list(c.le_connections.values()):
            if connection.role != hci.Role.CENTRAL:
                continue  # the central's side tells the peripheral
            connection.send_ll_control_pdu(ll.TerminateInd(reason))
            c.on_le_disconnected(connection, reason)
            dropped += 1
    return dropped


def _read_commands(loop: asyncio.AbstractEventLoop, link: LocalLink) -> None:
    for line in sys.stdin:
        if line.strip() == "drop":
            fut = asyncio.run_coroutine_threadsafe(_drop(link), loop)
            print(f"DROPPED {fut.result()}", flush=True)


async def _drop(link: LocalLink) -> int:
    return drop_all_links(link)


async def serve(ports: list[int], ready=None) -> None:
    link = AddressFixLink()
    loop = asyncio.get_running_loop()
    servers = []
    for i, port in enumerate(ports):
        address = f"F0:00:00:00:00:{i + 1:02X}"
        name = f"vctrl{i}"
        servers.append(
            await loop.create_server(
                lambda n=name, a=address: _ControllerProtocol(link, n, a), "127.0.0.1", port
            )
        )
    if ready is not None:
        ready()
    # stdin "drop": cut every link, as if the devices went out of range
    threading.Thread(target=_read_commands, args=(loop, link), daemon=True).start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imuad.gateway.vlink", description=__doc__)
    parser.add_argument("--port", type=int, action="append", required=True,
                        help="TCP port of one virtual controller (repeat)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        stream=sys.stderr)

    def ready() -> None:
        print("VLINK READY " + " ".join(str(p) for p in args.port), flush=True)

    asyncio.run(serve(args.port, ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
