// imuad firmware for the esp32 core on QEMU's `sim` machine: the shared ReplayApp driven by
// Esp32QemuBoard (SIMCALL console frames). The tensor arena is taken once from the heap (the
// rest of the 320 KiB DRAM budget), sized for the largest compiled-in model (imuad::boot);
// nothing is allocated afterwards.
#include <cstdint>
#include <cstdlib>

#include "board_esp32q.h"
#include "esp32q.h"
#include "imuad/boot.h"
#include "imuad/compiled_models.h"

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
  // malloc, not new: -fno-exceptions new would abort; boot() reports instead.
  imuad::ReplayApp* app = imuad::boot(board, imuad::compiled_models(), std::malloc);
  if (app == nullptr) esp32q_exit(ESP32Q_EXIT_ABORT);  // does not fit the 320 KiB DRAM budget
  app->begin();
  return app->run();
}
