"""Loopback TCP ports for the local servers imuad starts (emulator consoles, virtual radios,
dashboards in tests and benchmarks)."""
from __future__ import annotations

import socket


def free_ports(n: int = 1) -> list[int]:
    """n distinct ports free right now on 127.0.0.1 (held open together, so never the same one)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]
