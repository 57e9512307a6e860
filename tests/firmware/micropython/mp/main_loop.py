# Unix-port run of the ESP32 app loop (device/micropython/esp32/main.py + imuad_app + mpu6050):
# the I2C bus is a fake that serves the MPU-6050 registers and FIFO from a recording (big-endian
# frames, as the chip sends them), with bursty FIFO counts; alerts go to a list.
# argv: esp32_dir model card counts_be_file out_json seed
import json
import random
import sys

sys.path.insert(0, sys.argv[1])
import main  # noqa: E402  (device/micropython/esp32/main.py)
from mpu6050 import MPU6050  # noqa: E402

random.seed(int(sys.argv[6]))


class RecordingI2C:
    """readfrom_mem/writeto_mem of an MPU-6050 whose FIFO fills from a file."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.left = 0
        self.writes = []
        self.eof = False

    def writeto_mem(self, addr, reg, data):
        self.writes.append((reg, data[0]))

    def readfrom_mem(self, addr, reg, n):
        if reg == 0x75:
            return b"\x68"
        if reg == 0x3A:
            return b"\x00"
        if reg == 0x72:
            # New bytes "arrive" between polls; sometimes not a whole frame yet.
            self.left += random.choice([0, 3, 6, 60, 61, 600, 1020])
            self.left = min(self.left, 1024)
            return bytes((self.left >> 8, self.left & 255))
        if reg == 0x74:
            data = self.f.read(n)
            self.left -= n
            if len(data) < n:
                self.eof = True
            return data
        raise OSError("unexpected register 0x%02x" % reg)


class ListAlert:
    def __init__(self):
        self.payloads = []

    def send(self, payload):
        self.payloads.append(payload)


det, card = main.load_detector(sys.argv[2], sys.argv[3])
bus = RecordingI2C(sys.argv[4])
alert = ListAlert()
ticks = [0]


def clock():
    ticks[0] += 1
    return ticks[0]


app = main.make_app(source=MPU6050(bus, rate_hz=1000), alert=alert, detector=det, card=card, clock_ms=clock)
app.heartbeat_ms = 0
while not bus.eof:
    app.step()
app.run(max_idle_polls=20)
with open(sys.argv[5], "w") as f:
    json.dump({"payloads": ["".join("%02x" % b for b in p) for p in alert.payloads], "windows": app.windows,
               "fifo_writes": bus.writes[:12], "bytes": app.samples_bytes}, f)
print("OK", app.windows, len(alert.payloads))
