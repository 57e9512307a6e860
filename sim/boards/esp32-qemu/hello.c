// Bare-metal smoke test: console banner, CCOUNT instruction clock, FPU, 64-bit multiply
// (MULL/MULSH), stack paint, echo one line, semihosting exit.
#include <stdint.h>
#include <stdio.h>

#include "esp32q.h"

static volatile float g_f = 1.5f;
static volatile int32_t g_a = -123456789, g_b = 987654321;

int main(void) {
  const uint64_t t0 = esp32q_instructions();
  volatile uint32_t acc = 0;
  for (uint32_t i = 0; i < 100000u; ++i) acc += i;
  const uint64_t t1 = esp32q_instructions();
  const float f = g_f * 3.0f;                  // FPU (CP0): faults if CPENABLE were 0
  const int64_t p = (int64_t)g_a * g_b;        // MULL + MULSH
  char msg[160];
  const int n = snprintf(msg, sizeof msg, "hello esp32-qemu instr=%lu fpu=%d mul=%ld:%lu stack_hwm=%lu\n",
                         (unsigned long)(t1 - t0), (int)f, (long)(p >> 32), (unsigned long)(uint32_t)p,
                         (unsigned long)bare_stack_high_water());
  bare_console_write((const uint8_t*)msg, (size_t)n);
  printf("hello on stderr, arg0=%s\n", esp32q_arg(0) ? esp32q_arg(0) : "(none)");
  for (;;) {
    uint8_t c;
    if (bare_console_read(&c, 1) == 0) {
      esp32q_nap(2000);
      continue;
    }
    bare_console_write(&c, 1);
    if (c == '\n') break;
  }
  bare_exit(BARE_EXIT_OK);
}
