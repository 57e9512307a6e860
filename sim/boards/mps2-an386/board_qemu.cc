#include "board_qemu.h"

#include "mps2.h"

namespace imuad_sim {

uint32_t QemuBoard::micros() { return static_cast<uint32_t>(mps2_ticks()); }

uint32_t QemuBoard::millis() { return static_cast<uint32_t>(mps2_ticks() / (MPS2_SYSCLK_HZ / 1000u)); }

}  // namespace imuad_sim
