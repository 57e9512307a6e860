// MPU-6050 over the ESP-IDF I2C master driver (driver/i2c_master.h, ESP-IDF >= 5.2):
// configured output data rate, accel (+ optional gyro) into the 1024-byte FIFO, burst reads of
// whole frames so no sample is lost, overflow/misalignment detection, WHO_AM_I check.
#pragma once

#include "driver/i2c_master.h"
#include "imu/imu.h"
#include "imu/mpu6050_regs.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t sample_rate_hz;  // requested output data rate (4..1000 Hz with the DLPF on)
  uint8_t channels;         // 3 = accel x,y,z; 6 = accel x,y,z + gyro x,y,z
  uint8_t accel_fs;         // 0..3 = +-2, 4, 8, 16 g
  uint8_t gyro_fs;          // 0..3 = +-250, 500, 1000, 2000 deg/s
  uint8_t dlpf_cfg;         // 1..6 (DLPF on: 1 kHz internal rate); 0 = off (8 kHz gyro rate)
  int timeout_ms;           // per I2C transaction
} mpu6050_config_t;

#define MPU6050_CONFIG_DEFAULT()                                                        \
  {                                                                                     \
    .sample_rate_hz = 100, .channels = 3, .accel_fs = 0, .gyro_fs = 0, .dlpf_cfg = 3,   \
    .timeout_ms = 50                                                                    \
  }

// Largest FIFO burst read in one transaction (bytes, rounded down to whole frames).
#define MPU6050_MAX_BURST_BYTES 240

typedef struct {
  i2c_master_dev_handle_t i2c;
  mpu6050_config_t cfg;
  uint8_t smplrt_div;       // SMPLRT_DIV value written
  uint32_t rate_hz;         // actual rate = internal rate / (1 + smplrt_div)
  uint8_t frame_bytes;      // bytes per sample in the FIFO (2 * channels)
  imu_stats_t stats;
  imu_source_t source;      // interface view of this device
} mpu6050_t;

// SMPLRT_DIV for a requested rate; *actual_hz gets the rate the chip will really produce.
uint8_t mpu6050_rate_divider(uint32_t requested_hz, uint8_t dlpf_cfg, uint32_t* actual_hz);

// Opens the bus and adds the device (real pins on ESP32; on linux the mocked driver).
esp_err_t mpu6050_open_bus(int port, int sda_gpio, int scl_gpio, uint16_t address, uint32_t scl_hz,
                           i2c_master_bus_handle_t* bus, i2c_master_dev_handle_t* dev);

// Checks WHO_AM_I (logs what was found), resets, configures rate/ranges/FIFO and starts the FIFO.
esp_err_t mpu6050_init(mpu6050_t* dev, i2c_master_dev_handle_t i2c, const mpu6050_config_t* cfg);

// Drains whole frames from the FIFO (see imu_source_t.read).
esp_err_t mpu6050_read_fifo(mpu6050_t* dev, int16_t* out, size_t max_samples, size_t* n,
                            bool* overflowed);

// Empties the FIFO and restarts it (after an overflow or misalignment).
esp_err_t mpu6050_reset_fifo(mpu6050_t* dev);

esp_err_t mpu6050_read_reg(mpu6050_t* dev, uint8_t reg, uint8_t* data, size_t len);
esp_err_t mpu6050_write_reg(mpu6050_t* dev, uint8_t reg, uint8_t value);

#ifdef __cplusplus
}
#endif
