// Bare-metal smoke test: UART0 echo banner, SysTick, FPU, stack paint, semihosting exit.
#include <stdint.h>
#include <stdio.h>

#include "mps2.h"

static volatile float g_f = 1.5f;

int main(void) {
  bare_init();
  uint64_t t0 = mps2_ticks();
  volatile uint32_t acc = 0;
  for (uint32_t i = 0; i < 100000u; ++i) acc += i;
  uint64_t t1 = mps2_ticks();
  float f = g_f * 3.0f;  // VFP instruction: faults if the FPU were off
  char msg[96];
  int n = snprintf(msg, sizeof msg, "hello mps2-an386 ticks=%lu fpu=%d stack_hwm=%lu\n",
                   (unsigned long)(t1 - t0), (int)f, (unsigned long)bare_stack_high_water());
  bare_console_write((const uint8_t*)msg, (size_t)n);
  // Echo one line of input back (RX polling), then exit through semihosting.
  for (;;) {
    int c = mps2_uart_getc();
    if (c < 0) continue;
    uint8_t b = (uint8_t)c;
    bare_console_write(&b, 1);
    if (c == '\n') break;
  }
  bare_exit(BARE_EXIT_OK);
}
