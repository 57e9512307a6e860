// Console throughput probe of a bare-metal QEMU board (benchmarks/qemu_uart.py): reads a u32
// little-endian byte count, then that many bytes as fast as the board can (idling while empty,
// as the firmware does), and answers "sink <n> <fnv1a32>\n" (FNV-1a: order-sensitive, so a
// lost, doubled or swapped byte shows). No TFLM, no frames: the ceiling of QEMU's console path.
#include <stdint.h>
#include <stdio.h>

#include "bare_port.h"

static uint32_t read_some(uint8_t* buf, size_t cap) {
  size_t n;
  while ((n = bare_console_read(buf, cap)) == 0) bare_console_wait();
  return (uint32_t)n;
}

int main(void) {
  bare_init();
  uint8_t buf[256];
  uint32_t want = 0;
  for (uint32_t got = 0; got < 4;) {
    uint32_t k = read_some(buf, 4 - got);
    for (uint32_t i = 0; i < k; ++i) want |= (uint32_t)buf[i] << (8u * (got + i));
    got += k;
  }
  uint32_t n = 0, hash = 2166136261u;
  while (n < want) {
    const uint32_t left = want - n;
    const uint32_t k = read_some(buf, left < sizeof buf ? left : sizeof buf);
    for (uint32_t i = 0; i < k; ++i) hash = (hash ^ buf[i]) * 16777619u;
    n += k;
  }
  char msg[48];
  const int len = snprintf(msg, sizeof msg, "sink %lu %lu\n", (unsigned long)n, (unsigned long)hash);
  bare_console_write((const uint8_t*)msg, (size_t)len);
  bare_exit(BARE_EXIT_OK);
}
