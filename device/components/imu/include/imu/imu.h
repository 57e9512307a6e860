// IMU sample source interface: whatever delivers int16 counts, channel-interleaved, in order.
// The MPU-6050 driver (imu/mpu6050.h) implements it; tests and replay can provide others.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t samples;        // samples delivered
  uint32_t overflows;      // FIFO overflows detected (samples were lost, FIFO was reset)
  uint32_t misaligned;     // FIFO count not a multiple of the frame size (FIFO was reset)
  uint32_t i2c_errors;     // failed bus transactions (NACK, timeout, ...)
} imu_stats_t;

typedef struct imu_source {
  void* ctx;
  uint8_t channels;        // values per sample
  uint32_t rate_hz;        // actual output data rate
  // Reads up to max_samples whole samples (channels int16 each) into out. *n = samples read.
  // *overflowed = true when samples were lost since the previous call (the caller must restart
  // its windows). Returns ESP_OK, or the bus error (NACK, timeout) after counting it.
  esp_err_t (*read)(struct imu_source* self, int16_t* out, size_t max_samples, size_t* n,
                    bool* overflowed);
} imu_source_t;

#ifdef __cplusplus
}
#endif
