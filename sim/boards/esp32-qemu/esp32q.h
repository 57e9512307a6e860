// Bare-metal drivers for the esp32 core on QEMU's `sim` machine: SIMCALL console (the byte
// channel), CCOUNT instruction clock, semihosting exit/log/argv, stack guard. They implement the
// bare-metal port (sim/boards/common/bare_port.h); what is esp32-only is declared here. C
// linkage so the reset code (C) and the board layer (C++) share them.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bare_port.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- Console = QEMU's serial_hd(0) (`-serial chardev:uart0`, a socket): the sim machine has
// no UART, but its SIMCALL read(0)/write(1) go to that chardev (bare_console_read/write; QEMU
// buffers 16 received bytes, a read takes what is there and never blocks). bare_console_wait()
// naps (below) for `arg=nap=NS` (default 2000; 0 = busy poll).
//
// Sleep (WAITI) until the CCOMPARE0 timer fires `ns` of virtual time later (under
// `-icount ...,sleep=on` idle virtual time follows the host clock): the console raises no
// interrupt, so waiting for input is a poll with a nap in between. No instruction of a
// measured interval runs here.
void esp32q_nap(uint32_t ns);

// ---- Clock. The imported core runs at 1 GHz (build-qemu-esp32.sh): under `-icount shift=0`
// (1 instruction = 1 ns of virtual time) CCOUNT advances once per instruction, exactly
// repeatable. Extended to 64 bits in software (call at least every 2^32 instructions).
uint64_t esp32q_instructions(void);
// C7's QEMU clock: 1 tick = 40 instructions (as mps2-an386's 25 MHz SysTick), 32-bit, wraps.
#define ESP32Q_INSTR_PER_TICK 40u
uint32_t esp32q_ticks(void);
uint32_t esp32q_millis(void);  // 1 ms = 25 000 ticks = 10^6 instructions

// ---- Semihosting (QEMU -semihosting-config enable=on,target=native): bare_log_write goes to
// QEMU's stderr through a host fd (fds 1/2 are the console chardev: binary frames only).
// -semihosting-config ...,arg=A,arg=B: argument i (0 = the first arg=) or NULL.
const char* esp32q_arg(int i);

// Filled by vectors.S before esp32q_fault_report() runs.
struct esp32q_fault_info {
  uint32_t kind, sp, exccause, epc1, excvaddr, debugcause, epc6, depc;
};
extern struct esp32q_fault_info esp32q_fault;

#ifdef __cplusplus
}
#endif
