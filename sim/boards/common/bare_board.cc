#include "bare_board.h"

#include <cstdlib>

#include "bare_port.h"
#include "imuad/boot.h"
#include "imuad/compiled_models.h"

extern "C" {
extern uint8_t __model_slot_start[];  // linker: the MODELSLOT region
extern uint8_t __model_slot_end[];
}

namespace imuad_sim {

BareQemuBoard::BareQemuBoard(const char* target, uint32_t hang_after_bytes)
    : target_(target),
      hang_after_bytes_(hang_after_bytes),
      slot_(__model_slot_start, static_cast<size_t>(__model_slot_end - __model_slot_start)) {
  bare_init();
  if (const char* path = bare_arg("rx")) {
    rx_handle_ = bare_host_open_read(path);
    if (rx_handle_ < 0) {
      bare_log_write("imuad-qemu: FATAL cannot open semihosting rx file ");
      bare_log_write(path);
      bare_log_write("\n");
      bare_exit(BARE_EXIT_ABORT);
    }
  }
}

int BareQemuBoard::read(uint8_t* buf, size_t cap) {
  size_t n;
  if (rx_handle_ >= 0) {
    // Blocks in QEMU until the host writes (no virtual time passes); 0 = host closed it.
    const int r = bare_host_read(rx_handle_, buf, cap);
    if (r <= 0) return -1;
    n = static_cast<size_t>(r);
  } else {
    n = bare_console_read(buf, cap);
    // Nothing yet: idle instead of polling (a poll loop takes QEMU's global lock on every
    // register read and starves the I/O thread that delivers the bytes).
    if (n == 0) bare_console_wait();
  }
  bytes_in_ += static_cast<uint32_t>(n);
  if (hang_after_bytes_ != 0 && bytes_in_ >= hang_after_bytes_) {
    for (;;) bare_idle();  // test-only: a firmware that stops responding mid-stream
  }
  return static_cast<int>(n);
}

void BareQemuBoard::write(const uint8_t* data, size_t len) { bare_console_write(data, len); }

void BareQemuBoard::log(int level, const char* message) {
  // The core sends protocol LOG frames itself; this is the board's own log, on QEMU's stderr.
  static const char* const kLevel[] = {"E ", "W ", "I ", "D "};
  bare_log_write(kLevel[(level < 0 || level > 3) ? 3 : level]);
  bare_log_write(message);
  bare_log_write("\n");
}

uint32_t BareQemuBoard::stack_high_water() { return bare_stack_high_water(); }

void BareQemuBoard::on_bye() { bare_exit(BARE_EXIT_OK); }

int run_firmware(imuad::Board& board) {
  // malloc, not new: -fno-exceptions new would abort; boot() reports instead.
  imuad::ReplayApp* app = imuad::boot(board, imuad::compiled_models(), std::malloc);
  if (app == nullptr) bare_exit(BARE_EXIT_ABORT);  // does not fit the 320 KiB RAM budget
  app->begin();
  return app->run();
}

}  // namespace imuad_sim
