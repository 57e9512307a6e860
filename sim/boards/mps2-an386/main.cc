// imuad firmware for QEMU mps2-an386: the shared ReplayApp driven by QemuBoard (UART0 frames).
// The tensor arena is taken once from the heap (the rest of the 320 KiB RAM budget), sized
// for the largest compiled-in model; nothing is allocated afterwards.
#include <cstdint>
#include <cstdlib>
#include <new>

#include "board_qemu.h"
#include "imuad/compiled_models.h"
#include "imuad/replay_app.h"
#include "mps2.h"

#ifndef IMUAD_QEMU_TARGET
#define IMUAD_QEMU_TARGET "qemu"
#endif
#ifndef IMUAD_QEMU_HANG_AFTER_BYTES
#define IMUAD_QEMU_HANG_AFTER_BYTES 0
#endif

int main() {
  static imuad_sim::QemuBoard board(IMUAD_QEMU_TARGET, IMUAD_QEMU_HANG_AFTER_BYTES);
  const imuad::ModelRegistry models = imuad::compiled_models();
  size_t arena_size = 0, ring_len = 1;
  for (size_t i = 0; i < models.count; ++i) {
    const imuad::ModelSpec& s = *models.models[i];
    if (s.arena_bytes > arena_size) arena_size = s.arena_bytes;
    const size_t r = static_cast<size_t>(s.window) * s.channels;
    if (r > ring_len) ring_len = r;
  }
  // malloc, not new: -fno-exceptions new would abort; here we report instead.
  auto* arena_raw = static_cast<uint8_t*>(std::malloc(arena_size + 16));
  auto* ring = static_cast<int16_t*>(std::malloc(ring_len * sizeof(int16_t)));
  void* app_mem = std::malloc(sizeof(imuad::ReplayApp));
  if (arena_raw == nullptr || ring == nullptr || app_mem == nullptr) {
    board.log(0, "imuad-qemu: tensor arena does not fit the 320 KiB RAM budget");
    mps2_semihost_exit(MPS2_EXIT_ABORT);
  }
  auto* arena = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(arena_raw) + 15) & ~uintptr_t{15});
  // The app holds ~6 KB of frame buffers: on the heap, not on the 16 KB thread stack.
  auto* app = new (app_mem) imuad::ReplayApp(board, models, arena, arena_size, ring, ring_len);
  app->begin();
  return app->run();
}
