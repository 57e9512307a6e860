// newlib's system calls and the stack high-water mark, the same on both bare-metal QEMU boards
// (bare_port.h). The linker scripts give the heap and the thread stack bounds.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bare_port.h"

extern uint8_t __heap_start[], __heap_end[];
extern uint32_t __stack_bottom[], __stack_top[];

// newlib calls these; declared here because its headers declare them on some targets only.
void _exit(int code);
void* _sbrk(ptrdiff_t incr);
int _write(int fd, const void* buf, size_t len);

void _exit(int code) { bare_exit(code == 0 ? BARE_EXIT_MAIN_RETURNED : BARE_EXIT_ABORT); }

void* _sbrk(ptrdiff_t incr) {
  static uint8_t* brk = __heap_start;
  if (incr < 0 || brk + incr > __heap_end) {
    errno = ENOMEM;
    return (void*)-1;
  }
  uint8_t* prev = brk;
  brk += incr;
  return prev;
}

// printf/puts go to QEMU's stderr, never to the console (which carries binary frames).
int _write(int fd, const void* buf, size_t len) {
  (void)fd;
  char chunk[65];
  const char* p = (const char*)buf;
  for (size_t done = 0; done < len;) {
    const size_t k = len - done > 64 ? 64 : len - done;
    memcpy(chunk, p + done, k);
    chunk[k] = 0;
    bare_log_write(chunk);
    done += k;
  }
  return (int)len;
}

uint32_t bare_stack_size(void) { return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom); }

uint32_t bare_stack_high_water(void) {
  const uint32_t* p = __stack_bottom;
  while (p < __stack_top && *p == BARE_STACK_PAINT) ++p;
  return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}
