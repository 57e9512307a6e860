// Bare-metal drivers for the QEMU mps2-an386 board (Cortex-M4F): CMSDK UART0 as the console,
// SysTick instruction counter, semihosting exit/console/cmdline/file read. They implement the
// bare-metal port (sim/boards/common/bare_port.h); what is mps2-only is declared here. C linkage
// so the startup code (C) and the board layer (C++) share them.
//
// UART0 (0x40004000): QEMU's model has a 1-byte RX holding register and applies back-pressure to
// the chardev, so no byte is lost while we poll. bare_console_wait() sleeps (WFI) until a byte
// arrives or the SysTick wraps; the RX interrupt only wakes WFI, no handler runs.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bare_port.h"

#ifdef __cplusplus
extern "C" {
#endif

int mps2_uart_getc(void);  // -1 if no byte waiting (never blocks)

// ---- SysTick on the 25 MHz CPU clock. Under `-icount shift=0` one instruction is 1 ns of
// virtual time, so one tick = 40 instructions, exactly repeatable run to run.
#define MPS2_SYSCLK_HZ 25000000u
#define MPS2_INSTR_PER_TICK 40u
uint64_t mps2_ticks(void);  // monotonic, 64-bit (wraps extended in the ISR); after bare_init()

#ifdef __cplusplus
}
#endif
