// MPU-6050 driver over driver/i2c_master.h. Every register access is one I2C transaction so
// the Unity tests can check each against a mocked bus (device/test, CMock).
#include "imu/mpu6050.h"

#include <string.h>

#include "esp_check.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "sdkconfig.h"

static const char* TAG = "mpu6050";

esp_err_t mpu6050_read_reg(mpu6050_t* dev, uint8_t reg, uint8_t* data, size_t len) {
  esp_err_t err = i2c_master_transmit_receive(dev->i2c, &reg, 1, data, len, dev->cfg.timeout_ms);
  if (err != ESP_OK) {
    dev->stats.i2c_errors++;
    ESP_LOGW(TAG, "read reg 0x%02x (%u bytes) failed: %s", reg, (unsigned)len,
             esp_err_to_name(err));
  }
  return err;
}

esp_err_t mpu6050_write_reg(mpu6050_t* dev, uint8_t reg, uint8_t value) {
  const uint8_t buf[2] = {reg, value};
  esp_err_t err = i2c_master_transmit(dev->i2c, buf, sizeof buf, dev->cfg.timeout_ms);
  if (err != ESP_OK) {
    dev->stats.i2c_errors++;
    ESP_LOGW(TAG, "write reg 0x%02x = 0x%02x failed: %s", reg, value, esp_err_to_name(err));
  }
  return err;
}

uint8_t mpu6050_rate_divider(uint32_t requested_hz, uint8_t dlpf_cfg, uint32_t* actual_hz) {
  // Internal sample rate: 8 kHz with the DLPF off (cfg 0 or 7), 1 kHz with it on.
  const uint32_t base = (dlpf_cfg == 0 || dlpf_cfg == 7) ? 8000u : 1000u;
  if (requested_hz == 0) requested_hz = 1;
  uint32_t div = (base + requested_hz / 2) / requested_hz;  // nearest rate
  if (div < 1) div = 1;
  if (div > 256) div = 256;
  if (actual_hz) *actual_hz = base / div;
  return (uint8_t)(div - 1);
}

esp_err_t mpu6050_open_bus(int port, int sda_gpio, int scl_gpio, uint16_t address, uint32_t scl_hz,
                           i2c_master_bus_handle_t* bus, i2c_master_dev_handle_t* dev) {
  i2c_master_bus_config_t bus_cfg;
  memset(&bus_cfg, 0, sizeof bus_cfg);
  bus_cfg.i2c_port = port;
  bus_cfg.sda_io_num = (gpio_num_t)sda_gpio;
  bus_cfg.scl_io_num = (gpio_num_t)scl_gpio;
#if !CONFIG_IDF_TARGET_LINUX  // linux has no I2C clock tree (mocked bus)
  bus_cfg.clk_source = I2C_CLK_SRC_DEFAULT;
#endif
  bus_cfg.glitch_ignore_cnt = 7;
  bus_cfg.flags.enable_internal_pullup = 1;
  ESP_RETURN_ON_ERROR(i2c_new_master_bus(&bus_cfg, bus), TAG, "I2C bus on SDA=%d SCL=%d",
                      sda_gpio, scl_gpio);

  i2c_device_config_t dev_cfg;
  memset(&dev_cfg, 0, sizeof dev_cfg);
  dev_cfg.dev_addr_length = I2C_ADDR_BIT_LEN_7;
  dev_cfg.device_address = address;
  dev_cfg.scl_speed_hz = scl_hz;
  ESP_RETURN_ON_ERROR(i2c_master_bus_add_device(*bus, &dev_cfg, dev), TAG,
                      "add I2C device 0x%02x", address);
  return ESP_OK;
}

static esp_err_t read_source(imu_source_t* self, int16_t* out, size_t max_samples, size_t* n,
                             bool* overflowed) {
  return mpu6050_read_fifo((mpu6050_t*)self->ctx, out, max_samples, n, overflowed);
}

esp_err_t mpu6050_reset_fifo(mpu6050_t* dev) {
  ESP_RETURN_ON_ERROR(mpu6050_write_reg(dev, MPU6050_REG_USER_CTRL, MPU6050_USER_CTRL_FIFO_RESET),
                      TAG, "FIFO reset");
  return mpu6050_write_reg(dev, MPU6050_REG_USER_CTRL, MPU6050_USER_CTRL_FIFO_EN);
}

esp_err_t mpu6050_init(mpu6050_t* dev, i2c_master_dev_handle_t i2c, const mpu6050_config_t* cfg) {
  ESP_RETURN_ON_FALSE(dev && cfg && (cfg->channels == 3 || cfg->channels == 6) &&
                          cfg->accel_fs < 4 && cfg->gyro_fs < 4 && cfg->dlpf_cfg < 8,
                      ESP_ERR_INVALID_ARG, TAG, "bad MPU-6050 configuration");
  memset(dev, 0, sizeof *dev);
  dev->i2c = i2c;
  dev->cfg = *cfg;
  dev->frame_bytes = (uint8_t)(2 * cfg->channels);

  uint8_t who = 0;
  esp_err_t err = mpu6050_read_reg(dev, MPU6050_REG_WHO_AM_I, &who, 1);
  if (err != ESP_OK) {
    ESP_LOGE(TAG, "no answer from the MPU-6050 (WHO_AM_I read: %s) - check wiring, pull-ups, "
                  "address (AD0 low = 0x68, high = 0x69)", esp_err_to_name(err));
    return err;
  }
  if (who != MPU6050_WHO_AM_I_VALUE) {
    ESP_LOGE(TAG, "WHO_AM_I = 0x%02x, expected 0x%02x: not an MPU-6050 (MPU-6500/9250 answer "
                  "0x70/0x71)", who, MPU6050_WHO_AM_I_VALUE);
    return ESP_ERR_NOT_FOUND;
  }
  ESP_LOGI(TAG, "MPU-6050 found (WHO_AM_I = 0x%02x)", who);

  ESP_RETURN_ON_ERROR(mpu6050_write_reg(dev, MPU6050_REG_PWR_MGMT_1, MPU6050_PWR_DEVICE_RESET),
                      TAG, "device reset");
  vTaskDelay(pdMS_TO_TICKS(100));  // register reset takes up to 100 ms
  ESP_RETURN_ON_ERROR(
      mpu6050_write_reg(dev, MPU6050_REG_PWR_MGMT_1, MPU6050_PWR_CLKSEL_PLL_XGYRO), TAG, "wake");
  dev->smplrt_div = mpu6050_rate_divider(cfg->sample_rate_hz, cfg->dlpf_cfg, &dev->rate_hz);
  ESP_RETURN_ON_ERROR(mpu6050_write_reg(dev, MPU6050_REG_CONFIG, cfg->dlpf_cfg), TAG, "DLPF");
  ESP_RETURN_ON_ERROR(mpu6050_write_reg(dev, MPU6050_REG_SMPLRT_DIV, dev->smplrt_div), TAG,
                      "rate");
  ESP_RETURN_ON_ERROR(
      mpu6050_write_reg(dev, MPU6050_REG_GYRO_CONFIG, (uint8_t)(cfg->gyro_fs << 3)), TAG, "gyro");
  ESP_RETURN_ON_ERROR(
      mpu6050_write_reg(dev, MPU6050_REG_ACCEL_CONFIG, (uint8_t)(cfg->accel_fs << 3)), TAG,
      "accel");
  uint8_t fifo_en = MPU6050_FIFO_EN_ACCEL;
  if (cfg->channels == 6) fifo_en |= MPU6050_FIFO_EN_XG | MPU6050_FIFO_EN_YG | MPU6050_FIFO_EN_ZG;
  ESP_RETURN_ON_ERROR(mpu6050_write_reg(dev, MPU6050_REG_FIFO_EN, fifo_en), TAG, "FIFO_EN");
  ESP_RETURN_ON_ERROR(mpu6050_write_reg(dev, MPU6050_REG_INT_ENABLE, MPU6050_INT_FIFO_OFLOW), TAG,
                      "INT_ENABLE");
  ESP_RETURN_ON_ERROR(mpu6050_reset_fifo(dev), TAG, "FIFO start");

  dev->source.ctx = dev;
  dev->source.channels = cfg->channels;
  dev->source.rate_hz = dev->rate_hz;
  dev->source.read = read_source;
  ESP_LOGI(TAG, "%u Hz requested -> %u Hz (SMPLRT_DIV=%u, DLPF=%u), %u channels, FIFO on",
           (unsigned)cfg->sample_rate_hz, (unsigned)dev->rate_hz, dev->smplrt_div, cfg->dlpf_cfg,
           cfg->channels);
  return ESP_OK;
}

esp_err_t mpu6050_read_fifo(mpu6050_t* dev, int16_t* out, size_t max_samples, size_t* n,
                            bool* overflowed) {
  *n = 0;
  *overflowed = false;
  uint8_t status = 0;
  ESP_RETURN_ON_ERROR(mpu6050_read_reg(dev, MPU6050_REG_INT_STATUS, &status, 1), TAG,
                      "INT_STATUS");
  uint8_t cnt[2];
  ESP_RETURN_ON_ERROR(mpu6050_read_reg(dev, MPU6050_REG_FIFO_COUNT_H, cnt, 2), TAG, "FIFO_COUNT");
  const size_t count = ((size_t)cnt[0] << 8) | cnt[1];
  // Overflow: the oldest bytes were overwritten, so frame boundaries are lost too. The only safe
  // recovery is to empty the FIFO and tell the caller that samples are missing.
  if ((status & MPU6050_INT_FIFO_OFLOW) || count >= MPU6050_FIFO_SIZE) {
    dev->stats.overflows++;
    *overflowed = true;
    ESP_LOGW(TAG, "FIFO overflow (%u bytes): samples lost, FIFO reset", (unsigned)count);
    return mpu6050_reset_fifo(dev);
  }
  if (count % dev->frame_bytes != 0) {
    dev->stats.misaligned++;
    *overflowed = true;
    ESP_LOGW(TAG, "FIFO count %u is not a multiple of %u: FIFO reset", (unsigned)count,
             dev->frame_bytes);
    return mpu6050_reset_fifo(dev);
  }
  size_t frames = count / dev->frame_bytes;
  if (frames > max_samples) frames = max_samples;  // the rest stays for the next call
  const size_t burst_frames = MPU6050_MAX_BURST_BYTES / dev->frame_bytes;
  uint8_t buf[MPU6050_MAX_BURST_BYTES];
  const size_t ch = dev->cfg.channels;
  while (*n < frames) {
    size_t todo = frames - *n;
    if (todo > burst_frames) todo = burst_frames;
    ESP_RETURN_ON_ERROR(
        mpu6050_read_reg(dev, MPU6050_REG_FIFO_R_W, buf, todo * dev->frame_bytes), TAG, "FIFO");
    for (size_t i = 0; i < todo * ch; ++i) {  // big-endian int16 in register order
      out[*n * ch + i] = (int16_t)(((uint16_t)buf[2 * i] << 8) | buf[2 * i + 1]);
    }
    *n += todo;
    dev->stats.samples += (uint32_t)todo;
  }
  return ESP_OK;
}
