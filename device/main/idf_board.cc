#include "idf_board.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "esp_log.h"
#include "esp_timer.h"
#include "nvs.h"
#include "freertos/task.h"
#include "imuad/calibration_index.h"
#include "imuad/codec.h"
#include "imuad/protocol.h"
#include "sdkconfig.h"

#if CONFIG_IDF_TARGET_LINUX
#include <poll.h>
#include <unistd.h>

#include "esp_private/partition_linux.h"
#elif CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
#include "driver/usb_serial_jtag.h"
#else
#include "driver/uart.h"
#endif

namespace imuad_app {
namespace {
[[maybe_unused]] const char* TAG = "board";

#if !CONFIG_IDF_TARGET_LINUX && !CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
constexpr uart_port_t kConsoleUart = static_cast<uart_port_t>(CONFIG_ESP_CONSOLE_UART_NUM);
#endif

#if CONFIG_IDF_TARGET_LINUX
int log_to_stderr(const char* fmt, va_list args) { return vfprintf(stderr, fmt, args); }
#else
IdfBoard* g_log_board = nullptr;  // the board that receives esp_log output as LOG frames

// esp_log -> LOG frame. Drops lines logged while a frame is being written (no recursion).
int log_to_frames(const char* fmt, va_list args) {
  static std::atomic<bool> busy{false};
  IdfBoard* b = g_log_board;
  if (b == nullptr || busy.exchange(true)) return 0;
  char text[200];
  int n = vsnprintf(text, sizeof text, fmt, args);
  // "\033[0;32mI (123) tag: msg\033[0m\n" -> level from the letter, colour codes kept out.
  const char* p = text;
  if (p[0] == '\033') {
    const char* m = strchr(p, 'm');
    if (m) p = m + 1;
  }
  int level = 2;
  if (*p == 'E') level = 0;
  else if (*p == 'W') level = 1;
  else if (*p == 'D' || *p == 'V') level = 3;
  char* end = text + strlen(text);
  while (end > p && (end[-1] == '\n' || end[-1] == '\r')) *--end = 0;
  char* esc = strstr(const_cast<char*>(p), "\033[0m");
  if (esc) *esc = 0;
  if (*p) b->send_log_frame(level, p);
  busy.store(false);
  return n;
}
#endif
}  // namespace

bool IdfBoard::begin(uint32_t stack_bytes) {
  stack_bytes_ = stack_bytes;
  tx_lock_ = xSemaphoreCreateMutex();
  calib_lock_ = xSemaphoreCreateMutex();
#if CONFIG_IDF_TARGET_LINUX
  // IMUAD_FLASH_FILE=PATH keeps the emulated flash (NVS: calibrations, boot count; the models
  // partition) across runs, as a chip keeps its flash: an existing file is used as the flash.
  const char* keep = getenv("IMUAD_FLASH_FILE");
  const bool reuse = keep != nullptr && keep[0] != 0 && access(keep, R_OK | W_OK) == 0;
  if (reuse) snprintf(esp_partition_get_file_mmap_ctrl_input()->flash_file_name, PATH_MAX, "%s", keep);
#endif
  models_ = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_ANY, "models");
  if (models_ == nullptr) ESP_LOGW(TAG, "no `models` partition: models cannot be loaded at run time");
#if CONFIG_IDF_TARGET_LINUX
  // Otherwise ESP-IDF emulates the flash in a temporary file (the whole 3 MiB table, 0xFF-filled)
  // and never deletes it: renamed to IMUAD_FLASH_FILE for the next run, or unlinked now (the
  // mapping stays valid for this process and nothing is left in /tmp).
  if (!reuse) {
    const char* flash_file = esp_partition_get_file_mmap_ctrl_act()->flash_file_name;
    if (flash_file[0] != 0 && (keep == nullptr || keep[0] == 0 || rename(flash_file, keep) != 0)) {
      if (keep != nullptr && keep[0] != 0) ESP_LOGW(TAG, "IMUAD_FLASH_FILE %s: cannot keep the flash there", keep);
      unlink(flash_file);
    }
  }
#endif
#if CONFIG_IDF_TARGET_LINUX
  esp_log_set_vprintf(log_to_stderr);  // stdout carries frames only
  return tx_lock_ != nullptr;
#elif CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
  usb_serial_jtag_driver_config_t cfg = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
  cfg.rx_buffer_size = 4096;
  cfg.tx_buffer_size = 4096;
  return tx_lock_ != nullptr && usb_serial_jtag_driver_install(&cfg) == ESP_OK;
#else
  if (uart_is_driver_installed(kConsoleUart)) return tx_lock_ != nullptr;
  return tx_lock_ != nullptr &&
         uart_driver_install(kConsoleUart, 4096, 4096, 0, nullptr, 0) == ESP_OK;
#endif
}

uint32_t IdfBoard::micros() { return static_cast<uint32_t>(esp_timer_get_time()); }
uint32_t IdfBoard::millis() { return static_cast<uint32_t>(esp_timer_get_time() / 1000); }

int IdfBoard::read(uint8_t* buf, size_t cap) {
#if CONFIG_IDF_TARGET_LINUX
  // Never block inside a FreeRTOS task: poll, then let other tasks run for a tick.
  struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
  const int r = poll(&pfd, 1, 0);
  if (r > 0 && (pfd.revents & (POLLIN | POLLHUP))) {
    const ssize_t n = ::read(STDIN_FILENO, buf, cap);
    if (n > 0) return static_cast<int>(n);
    if (n == 0) return -1;  // EOF: the host closed the line
  }
  if (r > 0 && (pfd.revents & (POLLERR | POLLNVAL))) return -1;
  vTaskDelay(1);
  return 0;
#elif CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
  const int n = usb_serial_jtag_read_bytes(buf, cap, pdMS_TO_TICKS(10));
  return n < 0 ? 0 : n;
#else
  const int n = uart_read_bytes(kConsoleUart, buf, cap, pdMS_TO_TICKS(10));
  return n < 0 ? 0 : n;
#endif
}

void IdfBoard::write(const uint8_t* data, size_t len) {
  xSemaphoreTake(tx_lock_, portMAX_DELAY);  // one frame at a time from any task
  if (need_delimiter_) {  // boot/text logs may have left a partial "frame" on the host side
    need_delimiter_ = false;
    static const uint8_t kDelimiter = 0;
    raw_write(&kDelimiter, 1);
  }
  raw_write(data, len);
  xSemaphoreGive(tx_lock_);
}

void IdfBoard::raw_write(const uint8_t* data, size_t len) {
#if CONFIG_IDF_TARGET_LINUX
  while (len > 0) {
    const ssize_t n = ::write(STDOUT_FILENO, data, len);
    if (n <= 0) break;  // host gone: nothing sensible left to do with the bytes
    data += n;
    len -= static_cast<size_t>(n);
  }
#elif CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
  while (len > 0) {
    const int n = usb_serial_jtag_write_bytes(data, len, pdMS_TO_TICKS(100));
    if (n <= 0) break;
    data += n;
    len -= static_cast<size_t>(n);
  }
#else
  uart_write_bytes(kConsoleUart, data, len);
#endif
}

void IdfBoard::log(int level, const char* message) {
  switch (level) {
    case 0: ESP_LOGE("imuad", "%s", message); break;
    case 1: ESP_LOGW("imuad", "%s", message); break;
    case 2: ESP_LOGI("imuad", "%s", message); break;
    default: ESP_LOGD("imuad", "%s", message); break;
  }
}

const char* IdfBoard::target_name() const {
#if CONFIG_IDF_TARGET_LINUX
  return "idflinux";
#else
  return "esp32";
#endif
}

uint32_t IdfBoard::stack_high_water() {
  // ESP-IDF's FreeRTOS counts stack in bytes; the high-water mark is what was never used.
  const UBaseType_t free_bytes = uxTaskGetStackHighWaterMark(nullptr);
  return free_bytes < stack_bytes_ ? stack_bytes_ - static_cast<uint32_t>(free_bytes) : 0;
}

// ---- model slot (the `models` partition)
#if CONFIG_IDF_TARGET_LINUX
size_t IdfBoard::runtime_arena_bytes() const { return 1u << 20; }
size_t IdfBoard::runtime_ring_values() const { return 1u << 16; }
#else
size_t IdfBoard::runtime_arena_bytes() const { return 64u * 1024u; }  // internal DRAM, beside BLE
size_t IdfBoard::runtime_ring_values() const { return 4096u; }
#endif

void IdfBoard::unmap_slot() {
  if (map_ != nullptr) esp_partition_munmap(map_handle_);
  map_ = nullptr;
}

bool IdfBoard::model_slot_begin(size_t size) {
  unmap_slot();
  slot_size_ = 0;
  slot_erased_ = 0;
  if (models_ == nullptr || size > models_->size) return false;
  slot_size_ = size;
  return true;
}

bool IdfBoard::model_slot_write(size_t offset, const uint8_t* data, size_t len) {
  if (models_ == nullptr || offset > slot_size_ || len > slot_size_ - offset) return false;
  const size_t sector = models_->erase_size;
  while (slot_erased_ < offset + len) {  // erase just ahead of the data (~45 ms per 4 KiB sector)
    if (esp_partition_erase_range(models_, slot_erased_, sector) != ESP_OK) return false;
    slot_erased_ += sector;
  }
  return esp_partition_write(models_, offset, data, len) == ESP_OK;
}

const uint8_t* IdfBoard::model_slot_map() {
  unmap_slot();
  if (models_ == nullptr || slot_size_ == 0) return nullptr;
  if (esp_partition_mmap(models_, 0, slot_size_, ESP_PARTITION_MMAP_DATA, &map_, &map_handle_) != ESP_OK) {
    map_ = nullptr;
  }
  return static_cast<const uint8_t*>(map_);
}

void IdfBoard::send_log_frame(int level, const char* text) {
  uint8_t payload[1 + 190];
  const size_t n = strnlen(text, sizeof payload - 1);
  payload[0] = static_cast<uint8_t>(level);
  memcpy(payload + 1, text, n);
  uint8_t wire[sizeof payload + sizeof payload / 254 + 8];
  const size_t len = imuad::encode_frame(imuad::kLog, payload, n + 1, wire, sizeof wire);
  if (len) write(wire, len);
}

void IdfBoard::set_frame_logs(bool on) {
#if CONFIG_IDF_TARGET_LINUX
  (void)on;  // stderr already
#else
  if (on) need_delimiter_ = true;
  g_log_board = on ? this : nullptr;
  esp_log_set_vprintf(on ? log_to_frames : vprintf);
  ESP_LOGI(TAG, "console: %s", on ? "replay mode (logs as LOG frames)" : "live mode (text logs)");
#endif
}

namespace {

constexpr char kCalNamespace[] = "imuad_cal";
constexpr char kCalIndexKey[] = "index";  // imuad::CalibrationIndex: which calibrations are kept

void calibration_key(const uint8_t* sha, char key[14]) {
  key[0] = 'c';
  imuad::calibration_key_hex(sha, key + 1);
}

// The calibrations the namespace holds (their keys), at most `cap` of them.
size_t stored_calibrations(nvs_handle_t h, uint8_t (*keys)[imuad::kCalibrationKeyBytes], size_t cap) {
  size_t n = 0;
  nvs_iterator_t it = nullptr;
  for (esp_err_t e = nvs_entry_find_in_handle(h, NVS_TYPE_BLOB, &it); e == ESP_OK && n < cap; e = nvs_entry_next(&it)) {
    nvs_entry_info_t info;
    if (nvs_entry_info(it, &info) == ESP_OK && info.key[0] == 'c' && std::strlen(info.key) == 13 &&
        imuad::calibration_key_from_hex(info.key + 1, keys[n])) {
      ++n;
    }
  }
  nvs_release_iterator(it);
  return n;
}

}  // namespace

bool IdfBoard::save_calibration(const uint8_t* sha, const uint8_t* blob, size_t len) {
  // Memory first (the Board default: the last one, until a reboot), so a calibration NVS fails
  // to take is still reported; the console and infer tasks both save, hence the lock (held for
  // the NVS update too: two saves must not interleave their index updates).
  xSemaphoreTake(calib_lock_, portMAX_DELAY);
  imuad::Board::save_calibration(sha, blob, len);
  nvs_handle_t h;
  if (nvs_open(kCalNamespace, NVS_READWRITE, &h) != ESP_OK) {
    xSemaphoreGive(calib_lock_);
    return false;
  }
  // Keep the calibrations of the kCalibrationsKept models calibrated last, erase the rest (an
  // index that is missing or damaged is rebuilt from what is stored), then write this one.
  constexpr size_t kScan = 4 * imuad::kCalibrationsKept;
  uint8_t stored[kScan][imuad::kCalibrationKeyBytes];
  const size_t n_stored = stored_calibrations(h, stored, kScan);
  uint8_t raw[imuad::kCalibrationIndexLen];
  size_t got = sizeof raw;
  imuad::CalibrationIndex index;
  if (nvs_get_blob(h, kCalIndexKey, raw, &got) != ESP_OK || !index.decode(raw, got)) {
    for (size_t i = 0; i < n_stored; ++i) index.add_oldest(stored[i]);
  }
  index.touch(sha);
  char key[14];
  for (size_t i = 0; i < n_stored; ++i) {
    if (index.contains(stored[i])) continue;
    calibration_key(stored[i], key);
    nvs_erase_key(h, key);
  }
  calibration_key(sha, key);
  index.encode(raw);
  const bool ok = nvs_set_blob(h, key, blob, len) == ESP_OK && nvs_set_blob(h, kCalIndexKey, raw, sizeof raw) == ESP_OK &&
                  nvs_commit(h) == ESP_OK;
  nvs_close(h);
  xSemaphoreGive(calib_lock_);
  return ok;
}

bool IdfBoard::load_calibration(const uint8_t* sha, uint8_t* blob, size_t len) {
  xSemaphoreTake(calib_lock_, portMAX_DELAY);
  const bool kept = imuad::Board::load_calibration(sha, blob, len);  // saved since this boot
  xSemaphoreGive(calib_lock_);
  if (kept) return true;
  nvs_handle_t h;
  if (nvs_open(kCalNamespace, NVS_READONLY, &h) != ESP_OK) return false;
  char key[14];
  calibration_key(sha, key);
  size_t got = len;
  const bool ok = nvs_get_blob(h, key, blob, &got) == ESP_OK && got == len;
  nvs_close(h);
  return ok;
}

}  // namespace imuad_app
