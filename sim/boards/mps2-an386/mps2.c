// Drivers for the QEMU mps2-an386 board (mps2.h) and the bare-metal port over them (bare_port.h).
#include "mps2.h"

#include <stdint.h>
#include <string.h>

#define REG32(addr) (*(volatile uint32_t*)(addr))

// ---------------------------------------------------------------- CMSDK UART0
#define UART0_BASE 0x40004000u
#define UART_DATA REG32(UART0_BASE + 0x00)
#define UART_STATE REG32(UART0_BASE + 0x04)
#define UART_CTRL REG32(UART0_BASE + 0x08)
#define UART_INTCLEAR REG32(UART0_BASE + 0x0C)  // write 1 to clear (INTSTATUS on read)
#define UART_BAUDDIV REG32(UART0_BASE + 0x10)
#define UART_STATE_TXFULL 0x1u
#define UART_STATE_RXFULL 0x2u
#define UART_CTRL_TXEN 0x1u
#define UART_CTRL_RXEN 0x2u
#define UART_CTRL_RXINTEN 0x8u
#define UART_INT_RX 0x2u
#define UART0_RX_IRQ 0u  // mps2-an385/386: UART0 RX = IRQ 0, TX = IRQ 1
#define NVIC_ISER0 REG32(0xE000E100u)
#define NVIC_ICPR0 REG32(0xE000E280u)

static void uart_init(void) {
  UART_BAUDDIV = 16;  // minimum legal divider; QEMU ignores the rate
  UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN;
  // The RX interrupt line is enabled in the NVIC but RXINTEN stays off outside
  // bare_console_wait(), so the interrupt only ever ends a WFI (PRIMASK set, no handler).
  NVIC_ISER0 = 1u << UART0_RX_IRQ;
  // A read of DATA makes QEMU pull the next byte from its chardev: bytes the host sent before RX
  // was enabled would otherwise wait in a muxed chardev's buffer for the next byte to arrive.
  (void)UART_DATA;
}

int mps2_uart_getc(void) {
  if (!(UART_STATE & UART_STATE_RXFULL)) return -1;
  return (int)(UART_DATA & 0xFFu);
}

size_t bare_console_read(uint8_t* buf, size_t cap) {
  size_t n = 0;
  while (n < cap) {
    int c = mps2_uart_getc();
    if (c < 0) break;
    buf[n++] = (uint8_t)c;
  }
  return n;
}

void bare_console_wait(void) {
  // Sleep until a byte arrives instead of polling: every register read takes QEMU's global
  // lock, and a poll loop starves the I/O thread that delivers the bytes. The RX interrupt
  // only wakes WFI; PRIMASK stays set, so no handler runs and no instruction is added to
  // the thread's counts. The SysTick wrap also wakes it, so this never blocks forever.
  __asm__ volatile("cpsid i" ::: "memory");
  UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXINTEN;
  if (!(UART_STATE & UART_STATE_RXFULL)) __asm__ volatile("wfi" ::: "memory");
  UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN;
  UART_INTCLEAR = UART_INT_RX;
  NVIC_ICPR0 = 1u << UART0_RX_IRQ;
  __asm__ volatile("cpsie i" ::: "memory");
}

void bare_console_write(const uint8_t* data, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    while (UART_STATE & UART_STATE_TXFULL) {
    }
    UART_DATA = data[i];
  }
}

// ---------------------------------------------------------------- SysTick
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_RELOAD 0x00FFFFFFu

static volatile uint32_t g_systick_wraps;

void SysTick_Handler(void) { g_systick_wraps++; }

static void systick_start(void) {
  SYST_RVR = SYST_RELOAD;
  SYST_CVR = 0;
  SYST_CSR = 0x7u;  // CLKSOURCE = CPU clock, TICKINT, ENABLE
  // The counter starts at 0 and loads RELOAD on the first tick; wait for that so the first
  // reading is not mistaken for a full period.
  while (SYST_CVR == 0) {
  }
}

uint64_t mps2_ticks(void) {
  uint32_t wraps, cvr;
  do {  // re-read if the counter wrapped between the two loads
    wraps = g_systick_wraps;
    cvr = SYST_CVR;
  } while (wraps != g_systick_wraps);
  return ((uint64_t)wraps << 24) + (uint64_t)(SYST_RELOAD - cvr);
}

// ---------------------------------------------------------------- semihosting
static inline int semihost_call(int op, void* arg) {
  register int r0 __asm__("r0") = op;
  register void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void bare_log_write(const char* text) { semihost_call(0x04 /* SYS_WRITE0 */, (void*)text); }

static int semihost_cmdline(char* buf, size_t cap) {
  uint32_t block[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)cap};
  if (semihost_call(0x15 /* SYS_GET_CMDLINE */, block) != 0) return -1;
  return (int)block[1];
}

int bare_host_open_read(const char* path) {
  size_t n = 0;
  while (path[n]) ++n;
  uint32_t block[3] = {(uint32_t)(uintptr_t)path, 1u /* "rb" */, (uint32_t)n};
  return semihost_call(0x01 /* SYS_OPEN */, block);
}

int bare_host_read(int handle, uint8_t* buf, size_t len) {
  uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, (uint32_t)len};
  int not_read = semihost_call(0x06 /* SYS_READ */, block);  // returns bytes NOT read
  if (not_read < 0 || (size_t)not_read > len) return -1;
  return (int)(len - (size_t)not_read);
}

void bare_exit(int code) {
  // SYS_EXIT_EXTENDED carries the exit code on 32-bit ARM (plain SYS_EXIT only says 0/1).
  uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
  semihost_call(0x20 /* SYS_EXIT_EXTENDED */, block);
  for (;;) {
  }
}

// ---------------------------------------------------------------- the rest of the port
void bare_init(void) {
  static int done;
  if (done) return;
  done = 1;
  uart_init();
  systick_start();
}

// QEMU's command line: "<kernel> <-append text>", split at spaces once.
const char* bare_arg(const char* key) {
  static char cmd[256];
  static int len = -2;
  if (len == -2) {
    len = semihost_cmdline(cmd, sizeof cmd - 1);
    if (len < 0) len = 0;
    cmd[len] = 0;
    for (int i = 0; i < len; ++i) {
      if (cmd[i] == ' ') cmd[i] = 0;
    }
  }
  const size_t k = strlen(key);
  for (int i = 0; i < len; i += (int)strlen(cmd + i) + 1) {
    if (strncmp(cmd + i, key, k) == 0 && cmd[i + k] == '=') return cmd + i + k + 1;
  }
  return NULL;
}

void bare_idle(void) { __asm__ volatile("wfi" ::: "memory"); }  // SysTick wakes it
