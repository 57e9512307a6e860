# imuad on MicroPython/ESP32: MPU-6050 FIFO -> imuad.Detector -> BLE alerts (C8).
# Files on the board's filesystem: main.py, imuad_app.py, mpu6050.py, ble_alert.py, model.tflite,
# model_card.json (from models/<name>/). The loop itself lives in imuad_app.App so that the unix-port
# test drives it with a recording instead of the I2C bus (make_app(source=..., alert=...)).
import json
import time

import imuad
from imuad_app import App

I2C_SCL, I2C_SDA, I2C_FREQ = 22, 21, 400_000


def load_detector(model_path="model.tflite", card_path="model_card.json"):
    with open(model_path, "rb") as f:
        model = f.read()
    with open(card_path) as f:
        card = json.load(f)
    return imuad.Detector.from_card(model, card), card


def make_app(source=None, alert=None, detector=None, card=None, clock_ms=None):
    """Wire the loop; every part can be injected (tests pass a recording source and a list sink)."""
    if detector is None:
        detector, card = load_detector()
    if source is None:
        from machine import I2C, Pin
        from mpu6050 import MPU6050
        rate = int(card.get("sample_rate_hz") or 1000)
        if rate > 1000:
            # The MPU-6050 accelerometer samples at most 1 kHz: a model trained at a higher rate
            # sees a different signal here (choose a model whose card says <= 1000 Hz).
            print("imuad: warning: model expects %d Hz, MPU-6050 accel gives at most 1000 Hz" % rate)
        source = MPU6050(I2C(0, scl=Pin(I2C_SCL), sda=Pin(I2C_SDA), freq=I2C_FREQ), rate_hz=rate)
    if alert is None:
        from ble_alert import BleAlert
        alert = BleAlert(detector)
        d = card["decision"]
        alert.decision = (d["threshold_on"], d["threshold_off"], d["k"], d["n"])
    return App(detector, source, alert, clock_ms or time.ticks_ms, heartbeat_ms=60_000)


def main():
    import asyncio
    app = make_app()

    async def sensor_task():
        while True:
            if not app.step():
                await asyncio.sleep_ms(5)  # FIFO holds 1024 B = 170 samples: poll well before it fills

    async def run():
        tasks = [asyncio.create_task(sensor_task())]
        if hasattr(app.alert, "advertise_task"):
            tasks += [asyncio.create_task(app.alert.advertise_task()),
                      asyncio.create_task(app.alert.control_task())]
        await asyncio.gather(*tasks)

    asyncio.run(run())


if __name__ == "__main__":
    main()
