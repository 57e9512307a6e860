// A register-level MPU-6050 behind the mocked driver/i2c_master.h (CMock stubs): register file,
// auto-increment reads, a FIFO with overflow flag, and injectable bus errors.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"

#define FAKE_DEV ((i2c_master_dev_handle_t)0x5a5a)

// Register addresses from the datasheet (RM-MPU-6000A-00), deliberately NOT the driver's
// header: a wrong address in imu/mpu6050_regs.h must make these tests fail.
#define FAKE_REG_SMPLRT_DIV 0x19
#define FAKE_REG_CONFIG 0x1A
#define FAKE_REG_GYRO_CONFIG 0x1B
#define FAKE_REG_ACCEL_CONFIG 0x1C
#define FAKE_REG_FIFO_EN 0x23
#define FAKE_REG_INT_ENABLE 0x38
#define FAKE_REG_INT_STATUS 0x3A
#define FAKE_REG_USER_CTRL 0x6A
#define FAKE_REG_PWR_MGMT_1 0x6B
#define FAKE_REG_FIFO_COUNT_H 0x72
#define FAKE_REG_FIFO_R_W 0x74
#define FAKE_REG_WHO_AM_I 0x75

typedef struct {
  uint8_t regs[128];
  uint8_t fifo[2048];
  size_t fifo_len;
  int fifo_resets;
  int reads, writes;            // transactions seen
  int fail_reg;                 // register whose access fails (-1 = none)
  esp_err_t fail_err;           // ESP_ERR_INVALID_RESPONSE (NACK) / ESP_ERR_TIMEOUT
  int fail_after;               // accesses of fail_reg that still succeed first
  int last_timeout_ms;
} fake_mpu6050_t;

extern fake_mpu6050_t g_fake;

void fake_mpu6050_install(void);          // reset state + hook CMock stubs
void fake_mpu6050_push_sample(const int16_t* values, int channels);
