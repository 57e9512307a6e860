"""Optional forwarding of stored events to an MQTT broker (topic imuad/<device_id>/events).

Events are published after they are committed to SQLite, with QoS 1; the store stays the
source of truth (a broker outage never blocks acknowledgements to the device).
"""
from __future__ import annotations

import json
import logging
from typing import Any

from ..errors import ImuadError

log = logging.getLogger("imuad.gateway.mqtt")


def topic_for(device_id: str, prefix: str = "imuad") -> str:
    # MQTT topic levels must not contain wildcards; ':' in BLE addresses is fine.
    safe = device_id.replace("+", "_").replace("#", "_").replace("/", "_")
    return f"{prefix}/{safe}/events"


class MqttForwarder:
    def __init__(self, url: str, prefix: str = "imuad", client_id: str = "imuad-gateway"):
        try:
            import paho.mqtt.client as mqtt
        except ModuleNotFoundError as exc:
            raise ImuadError("--mqtt needs paho-mqtt: pip install 'imuad[gateway]'") from exc
        host, _, port = url.removeprefix("mqtt://").partition(":")
        if not host:
            raise ImuadError(f"--mqtt {url!r}: expected HOST[:PORT]")
        self.prefix = prefix
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        try:
            self.client.connect(host, int(port or 1883), keepalive=30)
        except (OSError, ValueError) as exc:
            raise ImuadError(f"cannot reach MQTT broker {url}: {exc}") from exc
        self.client.loop_start()
        self.published = 0
        self._pending: list[Any] = []

    def forward(self, device_id: str, event: dict[str, Any]) -> None:
        body = {"device_id": device_id, **event}
        info = self.client.publish(topic_for(device_id, self.prefix), json.dumps(body), qos=1)
        if info.rc != 0:
            log.warning("MQTT publish failed (rc=%s); the event stays in the store", info.rc)
        else:
            self.published += 1
            self._pending = [i for i in self._pending if not i.is_published()] + [info]

    def close(self, timeout: float = 5.0) -> None:
        for info in self._pending:  # QoS 1: wait for the broker's PUBACKs
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                break
        self.client.loop_stop()
        self.client.disconnect()
