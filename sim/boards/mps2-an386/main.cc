// imuad firmware for QEMU mps2-an386: the shared ReplayApp driven by QemuBoard (UART0 frames).
// The tensor arena is taken once from the heap (the rest of the 320 KiB RAM budget), sized
// for the largest compiled-in model and the board's budget for a model loaded at run time into
// its model slot (imuad::boot); nothing is allocated afterwards.
#include <cstdint>
#include <cstdlib>

#include "board_qemu.h"
#include "imuad/boot.h"
#include "imuad/compiled_models.h"
#include "mps2.h"

#ifndef IMUAD_QEMU_TARGET
#define IMUAD_QEMU_TARGET "qemu"
#endif
#ifndef IMUAD_QEMU_HANG_AFTER_BYTES
#define IMUAD_QEMU_HANG_AFTER_BYTES 0
#endif

int main() {
  static imuad_sim::QemuBoard board(IMUAD_QEMU_TARGET, IMUAD_QEMU_HANG_AFTER_BYTES);
  // malloc, not new: -fno-exceptions new would abort; boot() reports instead.
  imuad::ReplayApp* app = imuad::boot(board, imuad::compiled_models(), std::malloc);
  if (app == nullptr) mps2_semihost_exit(MPS2_EXIT_ABORT);  // does not fit the 320 KiB RAM budget
  app->begin();
  return app->run();
}
