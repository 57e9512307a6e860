// Unity runner for the linux target; exit code = number of failed tests (CI checks it).
#include <stdlib.h>

#include "Mocki2c_master.h"
#include "fake_mpu6050.h"
#include "unity.h"

void test_rate_divider(void);
void test_init_configures_registers(void);
void test_init_six_channels_enables_gyro_fifo(void);
void test_init_wrong_who_am_i(void);
void test_init_nack(void);
void test_init_rejects_bad_config(void);
void test_fifo_read_values_in_order(void);
void test_fifo_burst_reads_whole_frames(void);
void test_fifo_respects_max_samples(void);
void test_fifo_overflow_flag_resets_fifo(void);
void test_fifo_full_count_is_overflow(void);
void test_fifo_misaligned_count_resets(void);
void test_fifo_nack_during_burst(void);
void test_fifo_count_timeout(void);
void test_source_interface_reads_through_driver(void);
void test_open_bus_uses_pins_and_address(void);
void run_app_logic_tests(void);

void setUp(void) {
  Mocki2c_master_Init();
  fake_mpu6050_install();
}

void tearDown(void) {
  Mocki2c_master_Verify();
  Mocki2c_master_Destroy();
}

void app_main(void) {
  UNITY_BEGIN();
  RUN_TEST(test_rate_divider);
  RUN_TEST(test_init_configures_registers);
  RUN_TEST(test_init_six_channels_enables_gyro_fifo);
  RUN_TEST(test_init_wrong_who_am_i);
  RUN_TEST(test_init_nack);
  RUN_TEST(test_init_rejects_bad_config);
  RUN_TEST(test_fifo_read_values_in_order);
  RUN_TEST(test_fifo_burst_reads_whole_frames);
  RUN_TEST(test_fifo_respects_max_samples);
  RUN_TEST(test_fifo_overflow_flag_resets_fifo);
  RUN_TEST(test_fifo_full_count_is_overflow);
  RUN_TEST(test_fifo_misaligned_count_resets);
  RUN_TEST(test_fifo_nack_during_burst);
  RUN_TEST(test_fifo_count_timeout);
  RUN_TEST(test_source_interface_reads_through_driver);
  RUN_TEST(test_open_bus_uses_pins_and_address);
  run_app_logic_tests();
  exit(UNITY_END());
}
