// imuad::Board for the QEMU mps2-an386 machine: UART0 frames, SysTick clock (1 tick = 40
// instructions under -icount shift=0), painted-stack high-water mark, semihosting exit on BYE.
// Optional fast RX: with `-append rx=PATH` the host->device bytes are read from PATH (a FIFO)
// through semihosting instead of UART0 (whose 1-byte QEMU model caps input at ~10 KB/s);
// device->host frames always go out on UART0.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ram_model_slot.h"

namespace imuad_sim {

class QemuBoard final : public QemuSlotBoard {
 public:
  // target: DEVICE_INFO.target ("qemu" or "qemu-nn"). hang_after_bytes > 0 is a test-only
  // fault: the board stops answering (spins forever) once that many bytes were received.
  explicit QemuBoard(const char* target, uint32_t hang_after_bytes = 0);

  uint32_t micros() override;  // SysTick ticks (40 instructions each), as C7 specifies for QEMU
  uint32_t millis() override;  // emulated milliseconds (25 000 ticks)
  int read(uint8_t* buf, size_t cap) override;
  void write(const uint8_t* data, size_t len) override;
  void log(int level, const char* message) override;
  const char* target_name() const override { return target_; }
  uint32_t stack_high_water() override;
  void on_bye() override;
  // model slot and runtime budget: QemuSlotBoard (sim/boards/common/ram_model_slot.h)

 private:
  const char* target_;
  uint32_t hang_after_bytes_;
  uint32_t bytes_in_ = 0;
  int rx_handle_ = -1;  // >= 0: frames come from a host file/FIFO via semihosting, not UART0
};

}  // namespace imuad_sim
