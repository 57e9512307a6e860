// Drivers, the bare-metal port over them (bare_port.h), reset (C part), fault report and the
// rest of newlib's system calls for the esp32 core on QEMU's `sim` machine; see esp32q.h and
// vectors.S.
#include "esp32q.h"

#include <errno.h>
#include <reent.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "esp32q_defs.h"

// ---------------------------------------------------------------- SIMCALL (QEMU xtensa-semi.c)
#define SYS_EXIT 1
#define SYS_READ 3
#define SYS_WRITE 4
#define SYS_OPEN 5
#define SYS_ARGC 1000
#define SYS_ARGV_SZ 1001
#define SYS_ARGV 1002
#define HOST_EAGAIN 11  // QEMU's TARGET_EAGAIN

// a2 = call number, a3..a5 = arguments; returns a2, *err = a3 (errno, QEMU's numbering).
static inline int simcall(int nr, int a, int b, int c, int* err) {
  register int a2 __asm__("a2") = nr;
  register int a3 __asm__("a3") = a;
  register int a4 __asm__("a4") = b;
  register int a5 __asm__("a5") = c;
  __asm__ volatile("simcall" : "+r"(a2), "+r"(a3) : "r"(a4), "r"(a5) : "memory");
  if (err) *err = a3;
  return a2;
}

void bare_exit(int code) {
  simcall(SYS_EXIT, code, 0, 0, NULL);
  for (;;) {
  }
}

// ---------------------------------------------------------------- console (serial_hd(0))
size_t bare_console_read(uint8_t* buf, size_t cap) {
  int err = 0;
  const int n = simcall(SYS_READ, 0, (int)(uintptr_t)buf, (int)cap, &err);
  return n > 0 ? (size_t)n : 0;  // -1 + EAGAIN: nothing buffered yet
}

void bare_console_write(const uint8_t* data, size_t len) {
  while (len > 0) {  // QEMU writes it all (qemu_chr_fe_write_all); loop for safety
    const int n = simcall(SYS_WRITE, 1, (int)(uintptr_t)data, (int)len, NULL);
    if (n <= 0) return;
    data += n;
    len -= (size_t)n;
  }
}

// ---------------------------------------------------------------- clock
static inline uint32_t rsr_ccount(void) {
  uint32_t c;
  __asm__ volatile("rsr.ccount %0" : "=a"(c));
  return c;
}

static uint32_t g_last_ccount;
static uint64_t g_instr_hi;  // multiples of 2^32
static uint32_t g_ticks, g_tick_rem;
static uint64_t g_ticks64;

uint64_t esp32q_instructions(void) {
  const uint32_t c = rsr_ccount();
  if (c < g_last_ccount) g_instr_hi += (uint64_t)1 << 32;
  g_last_ccount = c;
  return g_instr_hi | c;
}

// 32-bit arithmetic only (QUOU/REMU): the reading taken at the start of a measured interval
// is followed by the same few instructions as the one at its end, so nothing is skewed.
uint32_t esp32q_ticks(void) {
  static uint32_t last;
  const uint32_t c = rsr_ccount();
  const uint32_t d = c - last;
  last = c;
  const uint32_t q = d / ESP32Q_INSTR_PER_TICK;
  g_tick_rem += d - q * ESP32Q_INSTR_PER_TICK;
  uint32_t t = q;
  if (g_tick_rem >= ESP32Q_INSTR_PER_TICK) {
    g_tick_rem -= ESP32Q_INSTR_PER_TICK;
    ++t;
  }
  g_ticks += t;
  g_ticks64 += t;
  (void)esp32q_instructions();  // keep the 64-bit extension current
  return g_ticks;
}

uint32_t esp32q_millis(void) {
  (void)esp32q_ticks();
  return (uint32_t)(g_ticks64 / 25000u);
}

void esp32q_nap(uint32_t ns) {
  // INTLEVEL 1 while arming, so a timer that fires early is taken by WAITI (which lowers
  // INTLEVEL to 0 and then waits), never before it (a lost wake-up).
  uint32_t ps;
  __asm__ volatile("rsil %0, 1" : "=a"(ps)::"memory");
  const uint32_t when = rsr_ccount() + ns;  // 1 GHz: 1 count = 1 ns
  const uint32_t timer0 = 1u << 6;          // XCHAL_TIMER0_INTERRUPT
  __asm__ volatile(
      "wsr.ccompare0 %0\n"
      "wsr.intenable %1\n"
      "rsync\n"
      "waiti 0\n" ::"a"(when),
      "a"(timer0)
      : "memory");
  // The level-1 handler (vectors.S) disabled and cleared the timer; restore PS.INTLEVEL.
  __asm__ volatile("wsr.ps %0\n rsync" ::"a"(ps) : "memory");
  (void)esp32q_ticks();
}

// ---------------------------------------------------------------- semihosting
static int g_log_fd = -2;

static int host_open(const char* path, int flags) {
  int err = 0;
  const int fd = simcall(SYS_OPEN, (int)(uintptr_t)path, flags, 0644, &err);
  return fd >= 0 ? fd : -1;
}

int bare_host_read(int fd, uint8_t* buf, size_t len) {
  int err = 0;
  const int n = simcall(SYS_READ, fd, (int)(uintptr_t)buf, (int)len, &err);
  return n >= 0 ? n : -1;
}

void bare_log_write(const char* text) {
  if (g_log_fd == -2) g_log_fd = host_open("/dev/stderr", 1 /* O_WRONLY */);
  if (g_log_fd < 0) return;
  simcall(SYS_WRITE, g_log_fd, (int)(uintptr_t)text, (int)strlen(text), NULL);
}

static char g_argv_buf[512] __attribute__((aligned(4)));
static int g_argc = -1;

const char* esp32q_arg(int i) {
  if (g_argc < 0) {
    g_argc = 0;
    const int argc = simcall(SYS_ARGC, 0, 0, 0, NULL);
    const int sz = simcall(SYS_ARGV_SZ, 0, 0, 0, NULL);
    if (argc > 0 && sz > 0 && (size_t)sz <= sizeof g_argv_buf) {
      simcall(SYS_ARGV, (int)(uintptr_t)g_argv_buf, 0, 0, NULL);
      g_argc = argc;
    }
  }
  if (i < 0 || i >= g_argc) return NULL;
  return ((const char* const*)g_argv_buf)[i];
}

// ---------------------------------------------------------------- the rest of the port
// Console poll interval while no byte is waiting (virtual ns; with sleep=on the host sleeps
// about as long). QEMU refills its 16-byte console buffer from the socket in the meantime.
// Measured with imuad-qemu-xt-uart-sink on 2 busy cores: busy polling ~180 KB/s (it starves
// QEMU's I/O thread), 1-5 us naps 250-500 KB/s, 20 us ~100-180 KB/s, 100 us 75 KB/s.
static uint32_t g_nap_ns = 2000;  // -semihosting-config ...,arg=nap=NS (0 = busy poll)

const char* bare_arg(const char* key) {
  const size_t k = strlen(key);
  for (int i = 0; esp32q_arg(i) != NULL; ++i) {
    const char* a = esp32q_arg(i);
    if (strncmp(a, key, k) == 0 && a[k] == '=') return a + k + 1;
  }
  return NULL;
}

void bare_init(void) {
  (void)esp32q_ticks();
  const char* nap = bare_arg("nap");
  if (nap != NULL) {
    uint32_t v = 0;
    for (const char* p = nap; *p >= '0' && *p <= '9'; ++p) v = v * 10u + (uint32_t)(*p - '0');
    g_nap_ns = v;
  }
}

int bare_host_open_read(const char* path) { return host_open(path, 0 /* O_RDONLY */); }

void bare_console_wait(void) {
  if (g_nap_ns != 0) esp32q_nap(g_nap_ns);
}

void bare_idle(void) { esp32q_nap(1000000); }

// ---------------------------------------------------------------- stack guard
extern uint32_t __stack_bottom[], __stack_top[];
extern uint32_t __bss_start[], __bss_end[];

// DBREAK0 on stores to the lowest 64 bytes of the thread stack (DBREAKC: SB, mask bits 0 =
// 64-byte range), as ESP-IDF's end-of-stack watchpoint: the first store beyond the stack (a
// frame, a spill) raises a debug exception. Loads are not watched (the high-water scan reads
// the painted words).
static void stack_guard_arm(void) {
  const uint32_t a = (uint32_t)(uintptr_t)__stack_bottom;
  const uint32_t c = 1u << 31;
  __asm__ volatile("wsr.dbreaka0 %0\n wsr.dbreakc0 %1\n isync" ::"a"(a), "a"(c) : "memory");
}

// ---------------------------------------------------------------- reset (after vectors.S)
extern void __libc_init_array(void);
extern int main(void);

__attribute__((noreturn, used)) void esp32q_reset_c(void) {
  for (uint32_t* p = __bss_start; p < __bss_end;) *p++ = 0;
  // Paint the stack below the current frame (this function's frame sits at its top).
  uint32_t* sp;
  __asm__ volatile("mov %0, a1" : "=a"(sp));
  for (uint32_t* p = __stack_bottom; p < sp - 16;) *p++ = BARE_STACK_PAINT;
  stack_guard_arm();
  (void)esp32q_ticks();
  __libc_init_array();
  const int rc = main();
  bare_exit(rc == 0 ? BARE_EXIT_MAIN_RETURNED : rc);
}

// ---------------------------------------------------------------- fault report
struct esp32q_fault_info esp32q_fault;

static void put_hex(char* line, size_t* n, const char* label, uint32_t v) {
  static const char hex[] = "0123456789abcdef";
  for (const char* s = label; *s; ++s) line[(*n)++] = *s;
  for (int i = 7; i >= 0; --i) line[(*n)++] = hex[(v >> (4 * i)) & 0xF];
}

__attribute__((noreturn, used)) void esp32q_fault_report(const struct esp32q_fault_info* f) {
  const uint32_t bottom = (uint32_t)(uintptr_t)__stack_bottom;
  // The guard (debug cause DBREAK, bit 2) or a stack pointer at/below the stack bottom.
  const int overflow = (f->kind == ESP32Q_FAULT_DEBUG && (f->debugcause & 0x4u)) ||
                       (f->sp >= bottom - 4096u && f->sp < bottom + 64u);
  static const char* const kKind[] = {"?", "user exception", "kernel exception", "double exception",
                                      "debug exception", "interrupt"};
  char line[200];
  size_t n = 0;
  const char* head = overflow ? "imuad-qemu-xt: FATAL stack overflow (" : "imuad-qemu-xt: FATAL ";
  for (const char* s = head; *s; ++s) line[n++] = *s;
  for (const char* s = kKind[f->kind <= 5 ? f->kind : 0]; *s; ++s) line[n++] = *s;
  if (overflow) line[n++] = ')';
  put_hex(line, &n, " exccause=0x", f->exccause);
  put_hex(line, &n, " epc1=0x", f->epc1);
  put_hex(line, &n, " excvaddr=0x", f->excvaddr);
  put_hex(line, &n, " sp=0x", f->sp);
  if (f->kind == ESP32Q_FAULT_DEBUG) {
    put_hex(line, &n, " debugcause=0x", f->debugcause);
    put_hex(line, &n, " epc6=0x", f->epc6);
  }
  if (f->kind == ESP32Q_FAULT_DOUBLE) put_hex(line, &n, " depc=0x", f->depc);
  line[n++] = '\n';
  line[n] = 0;
  bare_log_write(line);
  bare_exit(overflow ? BARE_EXIT_STACK_OVERFLOW : BARE_EXIT_FAULT);
}

// ---------------------------------------------------------------- newlib (Espressif's) syscalls
struct _reent* __getreent(void) { return _impure_ptr; }

// _exit, _sbrk, _write: sim/boards/common/bare_runtime.c.
int _read(int fd, void* buf, size_t len) {
  (void)fd;
  (void)buf;
  (void)len;
  errno = ENOSYS;
  return -1;
}

int _close(int fd) {
  (void)fd;
  errno = ENOSYS;
  return -1;
}

off_t _lseek(int fd, off_t off, int whence) {
  (void)fd;
  (void)off;
  (void)whence;
  errno = ENOSYS;
  return -1;
}

int _fstat(int fd, struct stat* st) {
  (void)fd;
  memset(st, 0, sizeof *st);
  st->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int fd) {
  (void)fd;
  return 1;
}

int _getpid(void) { return 1; }

int _kill(int pid, int sig) {
  (void)pid;
  (void)sig;
  errno = ENOSYS;
  return -1;
}

// ---------------------------------------------------------------- ESP-IDF shim (idf_shim/)
// esp_timer_get_time() for esp-tflite-micro's esp_nn glue: microseconds since reset at the
// nominal 240 MHz of the chip, 1 instruction per cycle (only feeds the glue's profiling sums).
int64_t esp_timer_get_time(void);
int64_t esp_timer_get_time(void) { return (int64_t)(esp32q_instructions() / 240u); }
