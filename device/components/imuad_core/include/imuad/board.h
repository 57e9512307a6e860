// The only thing a target implements: clock, byte I/O for serial frames, log, and a few
// optional probes. Host (POSIX), QEMU (mps2-an386), ESP-IDF and MicroPython each provide one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace imuad {

class Board {
 public:
  virtual ~Board() = default;

  // Monotonic time used for per-window inference cost (QEMU: SysTick ticks = 40 instructions).
  virtual uint32_t micros() = 0;
  virtual uint32_t millis() = 0;

  // Serial frame transport. read() returns up to cap bytes (0 = nothing yet, never blocks
  // forever on a dead line; the caller polls); a negative value means the line is closed.
  virtual int read(uint8_t* buf, size_t cap) = 0;
  virtual void write(const uint8_t* data, size_t len) = 0;

  // level: 0 error, 1 warn, 2 info, 3 debug
  virtual void log(int level, const char* message) = 0;

  // Short name put in DEVICE_INFO.target ("host", "qemu", "esp32", ...).
  virtual const char* target_name() const = 0;

  // Bytes of stack ever used (0 if unknown).
  virtual uint32_t stack_high_water() { return 0; }

  // Called after BYE has been answered (QEMU exits through semihosting here).
  virtual void on_bye() {}
};

}  // namespace imuad
