// imuad::Board for the QEMU mps2-an386 machine: the bare-metal QEMU board (bare_board.h) on
// UART0, with the SysTick clock (1 tick = 40 instructions under -icount shift=0).
#pragma once

#include <cstdint>

#include "bare_board.h"

namespace imuad_sim {

class QemuBoard final : public BareQemuBoard {
 public:
  // target: DEVICE_INFO.target ("qemu" or "qemu-nn"); hang_after_bytes: see BareQemuBoard.
  explicit QemuBoard(const char* target, uint32_t hang_after_bytes = 0) : BareQemuBoard(target, hang_after_bytes) {}

  uint32_t micros() override;  // SysTick ticks (40 instructions each), as C7 specifies for QEMU
  uint32_t millis() override;  // emulated milliseconds (25 000 ticks)
};

}  // namespace imuad_sim
