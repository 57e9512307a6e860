# Stand-in for MicroPython's `bluetooth` module on the unix port (no radio): enough for
# device/micropython/esp32/ble_alert.py to build its GATT service (tests/gateway/test_c8_vectors.py).
class UUID:
    def __init__(self, value):
        self.value = value
