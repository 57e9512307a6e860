// Bare-metal drivers for the esp32 core on QEMU's `sim` machine: SIMCALL console (the byte
// channel), CCOUNT instruction clock, semihosting exit/log/argv, stack painting and guard.
// C linkage so the reset code (C) and the board layer (C++) share them.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- Console = QEMU's serial_hd(0) (`-serial chardev:uart0`, a socket): the sim machine has
// no UART, but its SIMCALL read(0)/write(1) go to that chardev. QEMU buffers 16 received
// bytes; a read takes what is there and never blocks.
size_t esp32q_console_read(uint8_t* buf, size_t cap);  // 0 = nothing waiting
void esp32q_console_write(const uint8_t* data, size_t len);
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

// ---- Semihosting (QEMU -semihosting-config enable=on,target=native).
// QEMU's stderr through a host fd (fds 1/2 are the console chardev: binary frames only).
void esp32q_log_write(const char* text);
// -semihosting-config ...,arg=A,arg=B: argument i (0 = the first arg=) or NULL.
const char* esp32q_arg(int i);
int esp32q_host_open(const char* path, int flags);                // host fd or -1
int esp32q_host_read(int fd, uint8_t* buf, size_t len);          // bytes, 0 at EOF, -1 error
__attribute__((noreturn)) void esp32q_exit(int code);

// Exit codes of the QEMU process (as sim/boards/mps2-an386).
enum {
  ESP32Q_EXIT_OK = 0,
  ESP32Q_EXIT_MAIN_RETURNED = 2,
  ESP32Q_EXIT_FAULT = 3,
  ESP32Q_EXIT_STACK_OVERFLOW = 4,
  ESP32Q_EXIT_ABORT = 5,
};

// ---- Thread stack painted at reset; bytes ever used = high-water mark.
uint32_t esp32q_stack_high_water(void);
uint32_t esp32q_stack_size(void);

// Filled by vectors.S before esp32q_fault_report() runs.
struct esp32q_fault_info {
  uint32_t kind, sp, exccause, epc1, excvaddr, debugcause, epc6, depc;
};
extern struct esp32q_fault_info esp32q_fault;

#ifdef __cplusplus
}
#endif
