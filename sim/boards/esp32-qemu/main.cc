// imuad firmware for the esp32 core on QEMU's `sim` machine: the shared ReplayApp driven by
// Esp32QemuBoard (SIMCALL console frames).
#include "board_esp32q.h"

#ifndef IMUAD_QEMU_TARGET
#define IMUAD_QEMU_TARGET "qemu-xt"
#endif
#ifndef IMUAD_QEMU_HANG_AFTER_BYTES
#define IMUAD_QEMU_HANG_AFTER_BYTES 0
#endif
#ifndef IMUAD_QEMU_XT_TICK_IS_INSTRUCTION
#define IMUAD_QEMU_XT_TICK_IS_INSTRUCTION 0
#endif

int main() {
  static imuad_sim::Esp32QemuBoard board(IMUAD_QEMU_TARGET, IMUAD_QEMU_HANG_AFTER_BYTES,
                                         IMUAD_QEMU_XT_TICK_IS_INSTRUCTION != 0);
  return imuad_sim::run_firmware(board);
}
