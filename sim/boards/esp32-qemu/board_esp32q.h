// imuad::Board for the esp32 core on QEMU's `sim` machine: the bare-metal QEMU board
// (bare_board.h) on the SIMCALL console (QEMU's serial_hd(0), a socket chardev), with the CCOUNT
// clock (1 tick = 40 instructions under -icount shift=0, as C7 specifies for QEMU). With
// `-semihosting-config ...,arg=rx=PATH` the host->device bytes come from PATH (a FIFO) instead of
// the console, whose 16-byte QEMU buffer is refilled once per pass of QEMU's I/O loop.
#pragma once

#include <cstdint>

#include "bare_board.h"

namespace imuad_sim {

class Esp32QemuBoard final : public BareQemuBoard {
 public:
  // target: DEVICE_INFO.target ("qemu-xt" or "qemu-xnn"); hang_after_bytes: see BareQemuBoard.
  // tick_is_instruction: micros() counts single instructions instead of C7's 40-instruction
  // ticks (firmware variant imuad-fw-qemu-xt-icount: exact instructions per inference).
  explicit Esp32QemuBoard(const char* target, uint32_t hang_after_bytes = 0, bool tick_is_instruction = false)
      : BareQemuBoard(target, hang_after_bytes), tick_is_instruction_(tick_is_instruction) {}

  uint32_t micros() override;  // 40-instruction ticks (or instructions, see above)
  uint32_t millis() override;  // 10^6 instructions

 private:
  bool tick_is_instruction_;
};

}  // namespace imuad_sim
