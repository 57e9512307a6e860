// What a bare-metal QEMU board (mps2-an386, esp32-qemu) gives the code both share: the Board
// over it (bare_board.*), newlib's _exit/_sbrk/_write and the stack high-water mark
// (bare_runtime.c), the firmware's main (bare_main.cc) and the console throughput probe
// (uart_sink.c). Each board implements these in its driver file over its own hardware: a
// UART or a SIMCALL console, semihosting in ARM's or Xtensa's form.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Exit codes of the QEMU process (tests and `imuad sim` map them to messages).
enum {
  BARE_EXIT_OK = 0,
  BARE_EXIT_MAIN_RETURNED = 2,
  BARE_EXIT_FAULT = 3,
  BARE_EXIT_STACK_OVERFLOW = 4,
  BARE_EXIT_ABORT = 5,
};

// Written over the thread stack at reset; the bytes no longer holding it are the high-water mark.
#define BARE_STACK_PAINT 0xA5A5A5A5u

// Drivers up and the command line read (idempotent).
void bare_init(void);
// The value of `key=VALUE` on the command line (QEMU -append / -semihosting-config arg=), or NULL.
const char* bare_arg(const char* key);

// The byte channel the frames travel on (UART0, the SIMCALL console). read never blocks (0 =
// nothing waiting); wait idles until a byte may have arrived, without holding QEMU's lock.
size_t bare_console_read(uint8_t* buf, size_t cap);
void bare_console_wait(void);
void bare_console_write(const uint8_t* data, size_t len);

// Semihosting: QEMU's stderr (never the console, which carries binary frames), a host file
// opened for reading (handle or -1) and read (bytes, 0 at EOF, -1 on error; blocks in QEMU
// with no virtual time passing), and the exit code of the QEMU process.
void bare_log_write(const char* text);
int bare_host_open_read(const char* path);
int bare_host_read(int handle, uint8_t* buf, size_t len);
__attribute__((noreturn)) void bare_exit(int code);

// Idles for a long while without spinning QEMU's lock (the test-only "hang" firmware).
void bare_idle(void);

// bare_runtime.c: bytes of the thread stack ever used, and its size.
uint32_t bare_stack_high_water(void);
uint32_t bare_stack_size(void);

#ifdef __cplusplus
}
#endif
