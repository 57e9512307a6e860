// Bare-metal drivers for the QEMU mps2-an386 board (Cortex-M4F): CMSDK UART0, SysTick
// instruction counter, semihosting exit/console, stack painting. C linkage so the
// startup code (C) and the board layer (C++) share them.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- CMSDK APB UART0 (0x40004000). QEMU's model has a 1-byte RX holding register and
// applies back-pressure to the chardev, so no byte is lost while we poll.
void mps2_uart_init(void);
int mps2_uart_getc(void);                 // -1 if no byte waiting (never blocks)
size_t mps2_uart_read(uint8_t* buf, size_t cap);  // never blocks
// Sleep (WFI) until a byte arrives or the SysTick wraps; the RX interrupt only wakes WFI,
// no handler runs.
void mps2_uart_wait_rx(void);
void mps2_uart_write(const uint8_t* data, size_t len);

// ---- SysTick on the 25 MHz CPU clock. Under `-icount shift=0` one instruction is 1 ns of
// virtual time, so one tick = 40 instructions, exactly repeatable run to run.
#define MPS2_SYSCLK_HZ 25000000u
#define MPS2_INSTR_PER_TICK 40u
void mps2_systick_start(void);
uint64_t mps2_ticks(void);                // monotonic, 64-bit (wraps extended in the ISR)


// ---- Semihosting (QEMU -semihosting-config enable=on,target=native).
void mps2_semihost_write0(const char* text);       // to QEMU's stderr/stdout console
// Command line (QEMU: "<kernel> <-append text>"); returns length or -1.
int mps2_semihost_cmdline(char* buf, size_t cap);
// Host file I/O (optional fast RX channel: QEMU's CMSDK UART moves only ~10 KB/s).
int mps2_semihost_open(const char* path, int mode);          // handle or -1 (mode 1 = "rb")
int mps2_semihost_read(int handle, uint8_t* buf, size_t len);  // bytes read, 0 at EOF, -1 error
__attribute__((noreturn)) void mps2_semihost_exit(int code);

// Exit codes of the QEMU process (tests and `imuad sim` map them to messages).
enum {
  MPS2_EXIT_OK = 0,
  MPS2_EXIT_MAIN_RETURNED = 2,
  MPS2_EXIT_HARDFAULT = 3,
  MPS2_EXIT_STACK_OVERFLOW = 4,
  MPS2_EXIT_ABORT = 5,
};

// ---- Thread stack (PSP) painted with a pattern at reset; bytes ever used = high-water mark.
uint32_t mps2_stack_high_water(void);
uint32_t mps2_stack_size(void);

#ifdef __cplusplus
}
#endif
