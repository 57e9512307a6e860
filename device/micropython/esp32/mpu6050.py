# MPU-6050 accelerometer over machine.I2C with the on-chip FIFO (registers as in
# device/components/imu/include/imu/mpu6050_regs.h). Only readfrom_mem/writeto_mem are used, so
# any object offering those (a recording-backed fake on the unix port) can stand in for the bus.
import struct
import time

ADDR = 0x68
REG_SMPLRT_DIV = 0x19
REG_CONFIG = 0x1A
REG_ACCEL_CONFIG = 0x1C
REG_FIFO_EN = 0x23
REG_INT_STATUS = 0x3A
REG_USER_CTRL = 0x6A
REG_PWR_MGMT_1 = 0x6B
REG_FIFO_COUNT_H = 0x72
REG_FIFO_R_W = 0x74
REG_WHO_AM_I = 0x75
FIFO_EN_ACCEL = 0x08
USER_CTRL_FIFO_EN = 0x40
USER_CTRL_FIFO_RESET = 0x04
INT_FIFO_OFLOW = 0x10
FIFO_SIZE = 1024
FRAME = 6          # ax, ay, az big-endian int16
MAX_BURST = 1020   # whole frames per I2C transaction


class MPU6050:
    """Accel samples (counts) from the FIFO as little-endian interleaved int16 bytes."""

    def __init__(self, i2c, addr=ADDR, rate_hz=1000, accel_range=0):
        self.i2c = i2c
        self.addr = addr
        self.overflows = 0
        who = self._r(REG_WHO_AM_I, 1)[0]
        if who not in (0x68, 0x70, 0x72, 0x98):
            raise OSError("MPU-6050 not found at 0x%02x (WHO_AM_I=0x%02x)" % (addr, who))
        self._w(REG_PWR_MGMT_1, 0x80)                  # device reset
        time.sleep_ms(100)
        self._w(REG_PWR_MGMT_1, 0x01)                  # wake, PLL on gyro X
        self._w(REG_CONFIG, 0x01)                      # DLPF 184 Hz: 1 kHz internal rate
        div = max(0, min(255, 1000 // max(1, rate_hz) - 1))
        self.rate_hz = 1000 // (div + 1)
        self._w(REG_SMPLRT_DIV, div)
        self._w(REG_ACCEL_CONFIG, (accel_range & 3) << 3)
        self.restart_fifo()

    def _r(self, reg, n):
        return self.i2c.readfrom_mem(self.addr, reg, n)

    def _w(self, reg, value):
        self.i2c.writeto_mem(self.addr, reg, bytes((value,)))

    def restart_fifo(self):
        self._w(REG_FIFO_EN, 0)
        self._w(REG_USER_CTRL, USER_CTRL_FIFO_RESET)
        self._w(REG_USER_CTRL, USER_CTRL_FIFO_EN)
        self._w(REG_FIFO_EN, FIFO_EN_ACCEL)

    def read(self):
        """Whole frames waiting in the FIFO -> bytes of int16 LE (ax, ay, az)*; b'' if none."""
        if self._r(REG_INT_STATUS, 1)[0] & INT_FIFO_OFLOW:
            self.overflows += 1                        # samples were lost: start clean
            self.restart_fifo()
            return b""
        hi, lo = self._r(REG_FIFO_COUNT_H, 2)
        count = (hi << 8) | lo
        count -= count % FRAME
        if count == 0:
            return b""
        data = self._r(REG_FIFO_R_W, min(count, MAX_BURST))
        n = len(data) // 2
        return struct.pack("<%dh" % n, *struct.unpack(">%dh" % n, data))
