// ESP-IDF's esp_timer.h as far as esp-tflite-micro's kernels/esp_nn/ glue uses it (per-op
// time accumulators): microseconds since reset. Implemented by the esp32-qemu board.
#pragma once
#include <stdint.h>

#include "sdkconfig.h"

#ifdef __cplusplus
extern "C" {
#endif
int64_t esp_timer_get_time(void);
#ifdef __cplusplus
}
#endif
