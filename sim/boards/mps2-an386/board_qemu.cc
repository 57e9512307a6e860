#include "board_qemu.h"

#include <cstring>

#include "mps2.h"

extern "C" {
extern uint8_t __model_slot_start[];  // linker: the MODELSLOT region
extern uint8_t __model_slot_end[];
}

namespace imuad_sim {

QemuBoard::QemuBoard(const char* target, uint32_t hang_after_bytes)
    : QemuSlotBoard(__model_slot_start, __model_slot_end), target_(target), hang_after_bytes_(hang_after_bytes) {
  mps2_uart_init();
  mps2_systick_start();
  char cmd[256];
  const int n = mps2_semihost_cmdline(cmd, sizeof cmd - 1);
  if (n > 0) {
    cmd[n] = 0;
    for (int i = 0; i + 3 <= n; ++i) {
      if ((i == 0 || cmd[i - 1] == ' ') && cmd[i] == 'r' && cmd[i + 1] == 'x' && cmd[i + 2] == '=') {
        char* path = cmd + i + 3;
        char* end = path;
        while (*end && *end != ' ') ++end;
        *end = 0;
        rx_handle_ = mps2_semihost_open(path, 1 /* "rb" */);
        if (rx_handle_ < 0) {
          mps2_semihost_write0("imuad-qemu: FATAL cannot open semihosting rx file\n");
          mps2_semihost_exit(MPS2_EXIT_ABORT);
        }
        break;
      }
    }
  }
}

uint32_t QemuBoard::micros() { return static_cast<uint32_t>(mps2_ticks()); }

uint32_t QemuBoard::millis() {
  return static_cast<uint32_t>(mps2_ticks() / (MPS2_SYSCLK_HZ / 1000u));
}

int QemuBoard::read(uint8_t* buf, size_t cap) {
  size_t n;
  if (rx_handle_ >= 0) {
    // Blocks in QEMU until the host writes (no virtual time passes); 0 = host closed it.
    const int r = mps2_semihost_read(rx_handle_, buf, cap);
    if (r <= 0) return -1;
    n = static_cast<size_t>(r);
  } else {
    n = mps2_uart_read(buf, cap);
    // Nothing yet: sleep instead of polling (a poll loop takes QEMU's global lock on every
    // register read and starves the I/O thread that delivers the bytes).
    if (n == 0) mps2_uart_wait_rx();
  }
  bytes_in_ += static_cast<uint32_t>(n);
  if (hang_after_bytes_ != 0 && bytes_in_ >= hang_after_bytes_) {
    for (;;) {  // test-only: a firmware that stops responding mid-stream
      __asm__ volatile("nop");
    }
  }
  return static_cast<int>(n);
}

void QemuBoard::write(const uint8_t* data, size_t len) { mps2_uart_write(data, len); }

void QemuBoard::log(int level, const char* message) {
  // Board-level log goes to the semihosting console (QEMU's stderr), never into UART0's
  // binary frame stream; the core sends protocol LOG frames itself.
  static const char* const kLevel[] = {"E ", "W ", "I ", "D "};
  mps2_semihost_write0(kLevel[(level < 0 || level > 3) ? 3 : level]);
  mps2_semihost_write0(message);
  mps2_semihost_write0("\n");
}

uint32_t QemuBoard::stack_high_water() { return mps2_stack_high_water(); }

void QemuBoard::on_bye() { mps2_semihost_exit(MPS2_EXIT_OK); }

}  // namespace imuad_sim
