#include "fake_mpu6050.h"

#include <string.h>

#include "Mocki2c_master.h"
#include "imu/mpu6050_regs.h"
#include "unity.h"

fake_mpu6050_t g_fake;

static bool should_fail(uint8_t reg) {
  if (g_fake.fail_reg != reg) return false;
  if (g_fake.fail_after > 0) {
    g_fake.fail_after--;
    return false;
  }
  return true;
}

static uint8_t read_byte(uint8_t reg) {
  if (reg == FAKE_REG_FIFO_R_W) {  // FIFO_R_W does not auto-increment: it pops
    if (g_fake.fifo_len == 0) return 0xFF;
    uint8_t b = g_fake.fifo[0];
    memmove(g_fake.fifo, g_fake.fifo + 1, --g_fake.fifo_len);
    return b;
  }
  if (reg == FAKE_REG_FIFO_COUNT_H) return (uint8_t)(g_fake.fifo_len >> 8);
  if (reg == FAKE_REG_FIFO_COUNT_H + 1) return (uint8_t)(g_fake.fifo_len & 0xFF);
  uint8_t v = g_fake.regs[reg & 0x7F];
  if (reg == FAKE_REG_INT_STATUS) g_fake.regs[reg] = 0;  // cleared on read
  return v;
}

static esp_err_t fake_transmit_receive(i2c_master_dev_handle_t dev, const uint8_t* wr, size_t wlen,
                                       uint8_t* rd, size_t rlen, int timeout, int calls) {
  (void)calls;
  TEST_ASSERT_EQUAL_PTR(FAKE_DEV, dev);
  TEST_ASSERT_EQUAL_UINT(1, wlen);
  g_fake.reads++;
  g_fake.last_timeout_ms = timeout;
  uint8_t reg = wr[0];
  if (should_fail(reg)) return g_fake.fail_err;
  for (size_t i = 0; i < rlen; ++i) {
    rd[i] = read_byte(reg);
    if (reg != FAKE_REG_FIFO_R_W) reg++;  // burst reads auto-increment
  }
  return ESP_OK;
}

static esp_err_t fake_transmit(i2c_master_dev_handle_t dev, const uint8_t* wr, size_t wlen,
                               int timeout, int calls) {
  (void)calls;
  TEST_ASSERT_EQUAL_PTR(FAKE_DEV, dev);
  TEST_ASSERT_EQUAL_UINT(2, wlen);
  g_fake.writes++;
  g_fake.last_timeout_ms = timeout;
  const uint8_t reg = wr[0], val = wr[1];
  if (should_fail(reg)) return g_fake.fail_err;
  if (reg == FAKE_REG_PWR_MGMT_1 && (val & MPU6050_PWR_DEVICE_RESET)) {
    memset(g_fake.regs, 0, sizeof g_fake.regs);  // power-on values
    g_fake.regs[FAKE_REG_WHO_AM_I] = MPU6050_WHO_AM_I_VALUE;
    g_fake.regs[FAKE_REG_PWR_MGMT_1] = 0x40;   // SLEEP
    g_fake.fifo_len = 0;
    return ESP_OK;
  }
  if (reg == FAKE_REG_USER_CTRL && (val & MPU6050_USER_CTRL_FIFO_RESET)) {
    g_fake.fifo_len = 0;
    g_fake.fifo_resets++;
    g_fake.regs[FAKE_REG_INT_STATUS] &= (uint8_t)~MPU6050_INT_FIFO_OFLOW;
    g_fake.regs[reg] = (uint8_t)(val & ~MPU6050_USER_CTRL_FIFO_RESET);  // self-clearing bit
    return ESP_OK;
  }
  g_fake.regs[reg & 0x7F] = val;
  return ESP_OK;
}

void fake_mpu6050_install(void) {
  memset(&g_fake, 0, sizeof g_fake);
  g_fake.regs[FAKE_REG_WHO_AM_I] = MPU6050_WHO_AM_I_VALUE;
  g_fake.regs[FAKE_REG_PWR_MGMT_1] = 0x40;
  g_fake.fail_reg = -1;
  i2c_master_transmit_receive_Stub(fake_transmit_receive);
  i2c_master_transmit_Stub(fake_transmit);
}

void fake_mpu6050_push_sample(const int16_t* values, int channels) {
  for (int c = 0; c < channels; ++c) {
    if (g_fake.fifo_len + 2 > MPU6050_FIFO_SIZE) {  // the chip drops data and flags overflow
      g_fake.regs[FAKE_REG_INT_STATUS] |= MPU6050_INT_FIFO_OFLOW;
      return;
    }
    g_fake.fifo[g_fake.fifo_len++] = (uint8_t)((uint16_t)values[c] >> 8);
    g_fake.fifo[g_fake.fifo_len++] = (uint8_t)((uint16_t)values[c] & 0xFF);
  }
}
