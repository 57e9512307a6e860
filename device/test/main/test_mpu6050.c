// MPU-6050 driver against the register-level fake behind the CMock i2c_master mock.
#include <string.h>

#include "Mocki2c_master.h"
#include "fake_mpu6050.h"
#include "imu/mpu6050.h"
#include "unity.h"

static mpu6050_t dev;

static mpu6050_config_t config(uint8_t channels) {
  mpu6050_config_t cfg = MPU6050_CONFIG_DEFAULT();
  cfg.channels = channels;
  return cfg;
}

static void init_ok(uint8_t channels) {
  mpu6050_config_t cfg = config(channels);
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_init(&dev, FAKE_DEV, &cfg));
}

void test_rate_divider(void) {
  uint32_t hz = 0;
  TEST_ASSERT_EQUAL_UINT8(9, mpu6050_rate_divider(100, 3, &hz));
  TEST_ASSERT_EQUAL_UINT32(100, hz);
  TEST_ASSERT_EQUAL_UINT8(0, mpu6050_rate_divider(1000, 1, &hz));
  TEST_ASSERT_EQUAL_UINT32(1000, hz);
  TEST_ASSERT_EQUAL_UINT8(7, mpu6050_rate_divider(1000, 0, &hz));  // DLPF off: 8 kHz base
  TEST_ASSERT_EQUAL_UINT32(1000, hz);
  TEST_ASSERT_EQUAL_UINT8(2, mpu6050_rate_divider(333, 3, &hz));
  TEST_ASSERT_EQUAL_UINT32(333, hz);
  TEST_ASSERT_EQUAL_UINT8(255, mpu6050_rate_divider(1, 3, &hz));   // clamped to 1000/256
  TEST_ASSERT_EQUAL_UINT32(3, hz);
}

void test_init_configures_registers(void) {
  mpu6050_config_t cfg = config(3);
  cfg.sample_rate_hz = 200;
  cfg.accel_fs = 2;
  cfg.gyro_fs = 1;
  cfg.timeout_ms = 33;
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_init(&dev, FAKE_DEV, &cfg));
  TEST_ASSERT_EQUAL_HEX8(MPU6050_PWR_CLKSEL_PLL_XGYRO, g_fake.regs[FAKE_REG_PWR_MGMT_1]);
  TEST_ASSERT_EQUAL_HEX8(4, g_fake.regs[FAKE_REG_SMPLRT_DIV]);  // 1000 / (1 + 4) = 200 Hz
  TEST_ASSERT_EQUAL_UINT32(200, dev.rate_hz);
  TEST_ASSERT_EQUAL_UINT32(200, dev.source.rate_hz);
  TEST_ASSERT_EQUAL_HEX8(3, g_fake.regs[FAKE_REG_CONFIG]);
  TEST_ASSERT_EQUAL_HEX8(0x10, g_fake.regs[FAKE_REG_ACCEL_CONFIG]);
  TEST_ASSERT_EQUAL_HEX8(0x08, g_fake.regs[FAKE_REG_GYRO_CONFIG]);
  TEST_ASSERT_EQUAL_HEX8(MPU6050_FIFO_EN_ACCEL, g_fake.regs[FAKE_REG_FIFO_EN]);
  TEST_ASSERT_EQUAL_HEX8(MPU6050_INT_FIFO_OFLOW, g_fake.regs[FAKE_REG_INT_ENABLE]);
  TEST_ASSERT_EQUAL_HEX8(MPU6050_USER_CTRL_FIFO_EN, g_fake.regs[FAKE_REG_USER_CTRL]);
  TEST_ASSERT_EQUAL_INT(1, g_fake.fifo_resets);
  TEST_ASSERT_EQUAL_INT(33, g_fake.last_timeout_ms);
  TEST_ASSERT_EQUAL_UINT8(6, dev.frame_bytes);
}

void test_init_six_channels_enables_gyro_fifo(void) {
  init_ok(6);
  TEST_ASSERT_EQUAL_HEX8(0x78, g_fake.regs[FAKE_REG_FIFO_EN]);
  TEST_ASSERT_EQUAL_UINT8(12, dev.frame_bytes);
}

void test_init_wrong_who_am_i(void) {
  g_fake.regs[FAKE_REG_WHO_AM_I] = 0x70;  // MPU-6500
  mpu6050_config_t cfg = config(3);
  TEST_ASSERT_EQUAL(ESP_ERR_NOT_FOUND, mpu6050_init(&dev, FAKE_DEV, &cfg));
  TEST_ASSERT_EQUAL_INT(0, g_fake.writes);  // nothing written to an unknown chip
}

void test_init_nack(void) {
  g_fake.fail_reg = FAKE_REG_WHO_AM_I;
  g_fake.fail_err = ESP_ERR_INVALID_RESPONSE;  // what i2c_master returns on NACK
  mpu6050_config_t cfg = config(3);
  TEST_ASSERT_EQUAL(ESP_ERR_INVALID_RESPONSE, mpu6050_init(&dev, FAKE_DEV, &cfg));
  TEST_ASSERT_EQUAL_UINT32(1, dev.stats.i2c_errors);
  TEST_ASSERT_EQUAL_INT(0, g_fake.writes);
}

void test_init_rejects_bad_config(void) {
  mpu6050_config_t cfg = config(4);
  TEST_ASSERT_EQUAL(ESP_ERR_INVALID_ARG, mpu6050_init(&dev, FAKE_DEV, &cfg));
  TEST_ASSERT_EQUAL_INT(0, g_fake.reads + g_fake.writes);
}

void test_fifo_read_values_in_order(void) {
  init_ok(3);
  const int16_t s[5][3] = {{1, -2, 3}, {32767, -32768, 0}, {-1, 256, -256}, {100, 200, 300},
                           {0x1234, -0x1234, 7}};
  for (int i = 0; i < 5; ++i) fake_mpu6050_push_sample(s[i], 3);
  int16_t out[64 * 3];
  size_t n = 99;
  bool ovf = true;
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, out, 64, &n, &ovf));
  TEST_ASSERT_EQUAL_UINT(5, n);
  TEST_ASSERT_FALSE(ovf);
  TEST_ASSERT_EQUAL_INT16_ARRAY(&s[0][0], out, 15);
  TEST_ASSERT_EQUAL_UINT(0, g_fake.fifo_len);
  TEST_ASSERT_EQUAL_UINT32(5, dev.stats.samples);
  // empty FIFO: nothing, no error
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, out, 64, &n, &ovf));
  TEST_ASSERT_EQUAL_UINT(0, n);
}

void test_fifo_burst_reads_whole_frames(void) {
  init_ok(6);
  int16_t expect[150 * 6];
  for (int i = 0; i < 150; ++i) {  // 1800 bytes would overflow; push 80 (960 bytes)
    for (int c = 0; c < 6; ++c) expect[i * 6 + c] = (int16_t)(i * 10 + c - 300);
  }
  for (int i = 0; i < 80; ++i) fake_mpu6050_push_sample(&expect[i * 6], 6);
  int16_t out[150 * 6];
  size_t n = 0;
  bool ovf = false;
  const int reads_before = g_fake.reads;
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, out, 150, &n, &ovf));
  TEST_ASSERT_EQUAL_UINT(80, n);
  TEST_ASSERT_EQUAL_INT16_ARRAY(expect, out, 80 * 6);
  // INT_STATUS + FIFO_COUNT + ceil(960 / 240) bursts
  TEST_ASSERT_EQUAL_INT(2 + 4, g_fake.reads - reads_before);
}

void test_fifo_respects_max_samples(void) {
  init_ok(3);
  for (int16_t i = 0; i < 10; ++i) {
    const int16_t v[3] = {i, (int16_t)(i + 1), (int16_t)(i + 2)};
    fake_mpu6050_push_sample(v, 3);
  }
  int16_t out[4 * 3];
  size_t n = 0;
  bool ovf = false;
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, out, 4, &n, &ovf));
  TEST_ASSERT_EQUAL_UINT(4, n);
  TEST_ASSERT_EQUAL_INT16(3, out[9]);
  TEST_ASSERT_EQUAL_UINT(6 * 6, g_fake.fifo_len);  // the rest waits, nothing lost
  int16_t rest[10 * 3];
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, rest, 10, &n, &ovf));
  TEST_ASSERT_EQUAL_UINT(6, n);
  TEST_ASSERT_EQUAL_INT16(4, rest[0]);
  TEST_ASSERT_EQUAL_INT16(11, rest[17]);
}

void test_fifo_overflow_flag_resets_fifo(void) {
  init_ok(3);
  const int16_t v[3] = {1, 2, 3};
  for (int i = 0; i < 200; ++i) fake_mpu6050_push_sample(v, 3);  // 1200 bytes > 1024
  int16_t out[256 * 3];
  size_t n = 7;
  bool ovf = false;
  const int resets = g_fake.fifo_resets;
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, out, 256, &n, &ovf));
  TEST_ASSERT_TRUE(ovf);
  TEST_ASSERT_EQUAL_UINT(0, n);
  TEST_ASSERT_EQUAL_UINT32(1, dev.stats.overflows);
  TEST_ASSERT_EQUAL_INT(resets + 1, g_fake.fifo_resets);
  TEST_ASSERT_EQUAL_HEX8(MPU6050_USER_CTRL_FIFO_EN, g_fake.regs[FAKE_REG_USER_CTRL]);
  // after the reset, reading resumes normally
  fake_mpu6050_push_sample(v, 3);
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, out, 256, &n, &ovf));
  TEST_ASSERT_FALSE(ovf);
  TEST_ASSERT_EQUAL_UINT(1, n);
}

void test_fifo_full_count_is_overflow(void) {
  init_ok(3);
  g_fake.fifo_len = MPU6050_FIFO_SIZE;  // full without the flag (flag cleared by a read)
  int16_t out[8 * 3];
  size_t n = 0;
  bool ovf = false;
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, out, 8, &n, &ovf));
  TEST_ASSERT_TRUE(ovf);
  TEST_ASSERT_EQUAL_UINT32(1, dev.stats.overflows);
  TEST_ASSERT_EQUAL_UINT(0, g_fake.fifo_len);
}

void test_fifo_misaligned_count_resets(void) {
  init_ok(3);
  const int16_t v[3] = {1, 2, 3};
  fake_mpu6050_push_sample(v, 3);
  g_fake.fifo[g_fake.fifo_len++] = 0xAB;  // partial frame
  int16_t out[8 * 3];
  size_t n = 0;
  bool ovf = false;
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, out, 8, &n, &ovf));
  TEST_ASSERT_TRUE(ovf);
  TEST_ASSERT_EQUAL_UINT(0, n);
  TEST_ASSERT_EQUAL_UINT32(1, dev.stats.misaligned);
  TEST_ASSERT_EQUAL_UINT(0, g_fake.fifo_len);
}

// A FIFO read whose I2C transfer of register `reg` fails with `err`: nothing read, one error counted.
static void read_fifo_fails_at(int reg, esp_err_t err, bool *ovf) {
  g_fake.fail_reg = reg;
  g_fake.fail_err = err;
  int16_t out[8 * 3];
  size_t n = 0;
  TEST_ASSERT_EQUAL(err, mpu6050_read_fifo(&dev, out, 8, &n, ovf));
  TEST_ASSERT_EQUAL_UINT(0, n);
  TEST_ASSERT_EQUAL_UINT32(1, dev.stats.i2c_errors);
}

void test_fifo_nack_during_burst(void) {
  init_ok(3);
  const int16_t v[3] = {5, 6, 7};
  for (int i = 0; i < 3; ++i) fake_mpu6050_push_sample(v, 3);
  bool ovf = false;
  read_fifo_fails_at(FAKE_REG_FIFO_R_W, ESP_ERR_INVALID_RESPONSE, &ovf);
  TEST_ASSERT_EQUAL_UINT(18, g_fake.fifo_len);  // data still there for the retry
  g_fake.fail_reg = -1;
  int16_t out[8 * 3];
  size_t n = 0;
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_read_fifo(&dev, out, 8, &n, &ovf));
  TEST_ASSERT_EQUAL_UINT(3, n);
}

void test_fifo_count_timeout(void) {
  init_ok(3);
  bool ovf = false;
  read_fifo_fails_at(FAKE_REG_FIFO_COUNT_H, ESP_ERR_TIMEOUT, &ovf);
  TEST_ASSERT_FALSE(ovf);
}

void test_source_interface_reads_through_driver(void) {
  init_ok(3);
  const int16_t v[3] = {-7, 8, -9};
  fake_mpu6050_push_sample(v, 3);
  imu_source_t* src = &dev.source;
  TEST_ASSERT_EQUAL_UINT8(3, src->channels);
  int16_t out[3];
  size_t n = 0;
  bool ovf = false;
  TEST_ASSERT_EQUAL(ESP_OK, src->read(src, out, 1, &n, &ovf));
  TEST_ASSERT_EQUAL_UINT(1, n);
  TEST_ASSERT_EQUAL_INT16_ARRAY(v, out, 3);
}

void test_open_bus_uses_pins_and_address(void) {
  i2c_master_bus_handle_t bus = NULL;
  i2c_master_dev_handle_t d = NULL;
  i2c_new_master_bus_ExpectAnyArgsAndReturn(ESP_OK);
  i2c_master_bus_add_device_ExpectAnyArgsAndReturn(ESP_OK);
  TEST_ASSERT_EQUAL(ESP_OK, mpu6050_open_bus(0, 21, 22, 0x68, 400000, &bus, &d));
  i2c_new_master_bus_ExpectAnyArgsAndReturn(ESP_ERR_NOT_FOUND);
  TEST_ASSERT_EQUAL(ESP_ERR_NOT_FOUND, mpu6050_open_bus(0, 21, 22, 0x68, 400000, &bus, &d));
}
