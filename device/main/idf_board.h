// imuad::Board for ESP-IDF: esp_timer clock, console transport (UART / USB-Serial-JTAG on the
// chip, stdin/stdout on linux), esp_log, FreeRTOS stack high-water mark.
#pragma once

#include <cstddef>
#include <cstdint>

#include "esp_partition.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "imuad/board.h"

namespace imuad_app {

class IdfBoard : public imuad::Board {
 public:
  // Installs the console driver. stack_bytes: stack size of the task that runs the ReplayApp.
  bool begin(uint32_t stack_bytes);
  uint32_t micros() override;
  uint32_t millis() override;
  int read(uint8_t* buf, size_t cap) override;
  void write(const uint8_t* data, size_t len) override;
  void log(int level, const char* message) override;
  const char* target_name() const override;
  uint32_t stack_high_water() override;

  // Replay mode on a shared console: esp_log lines become LOG frames so that text never
  // corrupts the binary stream (on linux logs always go to stderr instead).
  void set_frame_logs(bool on);
  void send_log_frame(int level, const char* text);

  // Model slot: the `models` data partition (partitions.csv). A model update is written there
  // (erased sector by sector as the chunks arrive: no long erase blocks the console task) and
  // memory-mapped for TFLM; the app partition is never touched. On linux ESP-IDF emulates the
  // flash in a file, so the same code runs in CI.
  size_t model_slot_capacity() override { return models_ != nullptr ? models_->size : 0; }
  bool model_slot_begin(size_t size) override;
  bool model_slot_write(size_t offset, const uint8_t* data, size_t len) override;
  const uint8_t* model_slot_map() override;
  size_t runtime_arena_bytes() const override;
  size_t runtime_ring_values() const override;

  // Calibration store: NVS namespace "imuad_cal", one blob per model (key "c" + the first 12 hex
  // digits of its SHA-256), so a device keeps its commissioning across reboots and model updates;
  // the blob "index" (imuad::CalibrationIndex) names the kCalibrationsKept models calibrated last,
  // and a save erases the others. The last one saved is also kept in memory (the Board default)
  // until a reboot.
  bool save_calibration(const uint8_t* model_sha256, const uint8_t* blob, size_t len) override;
  bool load_calibration(const uint8_t* model_sha256, uint8_t* blob, size_t len) override;

 private:
  void raw_write(const uint8_t* data, size_t len);
  void unmap_slot();

  const esp_partition_t* models_ = nullptr;
  esp_partition_mmap_handle_t map_handle_ = 0;
  const void* map_ = nullptr;
  size_t slot_size_ = 0;
  size_t slot_erased_ = 0;

  SemaphoreHandle_t tx_lock_ = nullptr;
  SemaphoreHandle_t calib_lock_ = nullptr;  // the in-memory calibration (console and infer tasks)
  bool need_delimiter_ = true;  // text may precede the first frame: end it with 0x00
  uint32_t stack_bytes_ = 0;
};

}  // namespace imuad_app
