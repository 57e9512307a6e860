"""BLE gateway: a central that collects imuad anomaly events (contract C8) from
devices, stores them in SQLite (contract C9) and optionally forwards them to MQTT.

No TensorFlow here: `pip install imuad[gateway]` is enough on a Raspberry Pi.
"""
