#include "board_esp32q.h"

#include "esp32q.h"

namespace imuad_sim {

uint32_t Esp32QemuBoard::micros() {
  if (tick_is_instruction_) return static_cast<uint32_t>(esp32q_instructions());
  return esp32q_ticks();
}

uint32_t Esp32QemuBoard::millis() { return esp32q_millis(); }

}  // namespace imuad_sim
