// Console throughput probe (as sim/boards/mps2-an386/uart_sink.c): reads a u32 little-endian
// byte count, then that many bytes as fast as the board can (napping while empty, as the
// firmware does), and answers "sink <n> <fnv1a32>\n". No TFLM, no frames.
#include <stdint.h>
#include <stdio.h>

#include "esp32q.h"

static uint32_t g_nap_ns = 2000;   // -semihosting-config ...,arg=nap=NS (0 = busy poll)

static uint32_t read_some(uint8_t* buf, size_t cap) {
  size_t n;
  while ((n = esp32q_console_read(buf, cap)) == 0) {
    if (g_nap_ns) esp32q_nap(g_nap_ns);
  }
  return (uint32_t)n;
}

static void parse_args(void) {
  for (int i = 0; esp32q_arg(i) != NULL; ++i) {
    const char* a = esp32q_arg(i);
    if (a[0] == 'n' && a[1] == 'a' && a[2] == 'p' && a[3] == '=') {
      uint32_t v = 0;
      for (const char* p = a + 4; *p >= '0' && *p <= '9'; ++p) v = v * 10u + (uint32_t)(*p - '0');
      g_nap_ns = v;
    }
  }
}

int main(void) {
  parse_args();
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
  esp32q_console_write((const uint8_t*)msg, (size_t)len);
  esp32q_exit(ESP32Q_EXIT_OK);
}
