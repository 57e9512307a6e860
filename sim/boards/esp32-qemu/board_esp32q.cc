#include "board_esp32q.h"

#include <cstring>

#include "esp32q.h"

extern "C" {
extern uint8_t __model_slot_start[];  // linker: the MODELSLOT region
extern uint8_t __model_slot_end[];
}

namespace imuad_sim {

namespace {
// Console poll interval while no byte is waiting (virtual ns; with sleep=on the host sleeps
// about as long). QEMU refills its 16-byte console buffer from the socket in the meantime.
// Measured with imuad-qemu-xt-uart-sink on 2 busy cores: busy polling ~180 KB/s (it starves
// QEMU's I/O thread), 1-5 us naps 250-500 KB/s, 20 us ~100-180 KB/s, 100 us 75 KB/s.
constexpr uint32_t kNapNs = 2000;
uint32_t g_nap_ns = kNapNs;  // -semihosting-config ...,arg=nap=NS (0 = busy poll)
}  // namespace

Esp32QemuBoard::Esp32QemuBoard(const char* target, uint32_t hang_after_bytes, bool tick_is_instruction)
    : QemuSlotBoard(__model_slot_start, __model_slot_end),
      target_(target),
      hang_after_bytes_(hang_after_bytes),
      tick_is_instruction_(tick_is_instruction) {
  (void)esp32q_ticks();
  for (int i = 0; esp32q_arg(i) != nullptr; ++i) {
    const char* a = esp32q_arg(i);
    if (std::strncmp(a, "nap=", 4) == 0) {
      uint32_t v = 0;
      for (const char* p = a + 4; *p >= '0' && *p <= '9'; ++p) v = v * 10u + static_cast<uint32_t>(*p - '0');
      g_nap_ns = v;
    }
    if (std::strncmp(a, "rx=", 3) == 0) {
      rx_fd_ = esp32q_host_open(a + 3, 0 /* O_RDONLY */);
      if (rx_fd_ < 0) {
        esp32q_log_write("imuad-qemu-xt: FATAL cannot open semihosting rx file\n");
        esp32q_exit(ESP32Q_EXIT_ABORT);
      }
    }
  }
}

uint32_t Esp32QemuBoard::micros() {
  if (tick_is_instruction_) return static_cast<uint32_t>(esp32q_instructions());
  return esp32q_ticks();
}

uint32_t Esp32QemuBoard::millis() { return esp32q_millis(); }

int Esp32QemuBoard::read(uint8_t* buf, size_t cap) {
  size_t n;
  if (rx_fd_ >= 0) {
    // Blocks in QEMU until the host writes (no virtual time passes); 0 = host closed it.
    const int r = esp32q_host_read(rx_fd_, buf, cap);
    if (r <= 0) return -1;
    n = static_cast<size_t>(r);
  } else {
    n = esp32q_console_read(buf, cap);
    if (n == 0 && g_nap_ns != 0) esp32q_nap(g_nap_ns);
  }
  bytes_in_ += static_cast<uint32_t>(n);
  if (hang_after_bytes_ != 0 && bytes_in_ >= hang_after_bytes_) {
    for (;;) {  // test-only: a firmware that stops responding mid-stream
      esp32q_nap(1000000);
    }
  }
  return static_cast<int>(n);
}

void Esp32QemuBoard::write(const uint8_t* data, size_t len) { esp32q_console_write(data, len); }

void Esp32QemuBoard::log(int level, const char* message) {
  // Board-level log goes to QEMU's stderr, never into the console's binary frame stream; the
  // core sends protocol LOG frames itself.
  static const char* const kLevel[] = {"E ", "W ", "I ", "D "};
  esp32q_log_write(kLevel[(level < 0 || level > 3) ? 3 : level]);
  esp32q_log_write(message);
  esp32q_log_write("\n");
}

uint32_t Esp32QemuBoard::stack_high_water() { return esp32q_stack_high_water(); }

void Esp32QemuBoard::on_bye() { esp32q_exit(ESP32Q_EXIT_OK); }

}  // namespace imuad_sim
