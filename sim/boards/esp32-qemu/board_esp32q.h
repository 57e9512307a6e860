// imuad::Board for the esp32 core on QEMU's `sim` machine: frames over the SIMCALL console
// (QEMU's serial_hd(0), a socket chardev), CCOUNT clock (1 tick = 40 instructions under
// -icount shift=0, as C7 specifies for QEMU), painted-stack high-water mark, semihosting exit
// on BYE. Optional fast RX: with `-semihosting-config ...,arg=rx=PATH` the host->device bytes
// are read from PATH (a FIFO) with a blocking SIMCALL read instead of the console (whose
// 16-byte QEMU buffer is refilled once per pass of QEMU's I/O loop); device->host frames
// always go out on the console.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ram_model_slot.h"

namespace imuad_sim {

class Esp32QemuBoard final : public QemuSlotBoard {
 public:
  // target: DEVICE_INFO.target ("qemu-xt" or "qemu-xnn"). hang_after_bytes > 0 is a test-only
  // fault: the board stops answering (spins forever) once that many bytes were received.
  // tick_is_instruction: micros() counts single instructions instead of C7's 40-instruction
  // ticks (firmware variant imuad-fw-qemu-xt-icount: exact instructions per inference).
  explicit Esp32QemuBoard(const char* target, uint32_t hang_after_bytes = 0, bool tick_is_instruction = false);

  uint32_t micros() override;  // 40-instruction ticks (or instructions, see above)
  uint32_t millis() override;  // 10^6 instructions
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
  bool tick_is_instruction_;
  uint32_t bytes_in_ = 0;
  int rx_fd_ = -1;  // >= 0: frames come from a host FIFO via SIMCALL, not the console
};

}  // namespace imuad_sim
