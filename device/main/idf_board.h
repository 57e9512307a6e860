// imuad::Board for ESP-IDF: esp_timer clock, console transport (UART / USB-Serial-JTAG on the
// chip, stdin/stdout on linux), esp_log, FreeRTOS stack high-water mark.
#pragma once

#include <cstddef>
#include <cstdint>

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

 private:
  void raw_write(const uint8_t* data, size_t len);

  SemaphoreHandle_t tx_lock_ = nullptr;
  bool need_delimiter_ = true;  // text may precede the first frame: end it with 0x00
  uint32_t stack_bytes_ = 0;
};

}  // namespace imuad_app
