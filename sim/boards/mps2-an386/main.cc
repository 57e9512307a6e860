// imuad firmware for QEMU mps2-an386: the shared ReplayApp driven by QemuBoard (UART0 frames).
#include "board_qemu.h"

#ifndef IMUAD_QEMU_TARGET
#define IMUAD_QEMU_TARGET "qemu"
#endif
#ifndef IMUAD_QEMU_HANG_AFTER_BYTES
#define IMUAD_QEMU_HANG_AFTER_BYTES 0
#endif

int main() {
  static imuad_sim::QemuBoard board(IMUAD_QEMU_TARGET, IMUAD_QEMU_HANG_AFTER_BYTES);
  return imuad_sim::run_firmware(board);
}
