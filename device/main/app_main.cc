// imuad firmware for ESP-IDF (esp32 product, linux CI build).
//
// Tasks:  console  - console bytes -> ReplayApp (replay mode after a HELLO frame; C7 protocol,
//                    same core and answers as the host build and QEMU)
//         sampler  - MPU-6050 FIFO -> SampleRing (live mode; paused while replaying)
//         infer    - SampleRing -> Pipeline (preprocess, TFLM, score, decision) -> BLE alerts
// Every task feeds the task watchdog. On linux there is no I2C bus and no BLE: console only,
// stdin/stdout carry the frames, logs go to stderr, the process exits when stdin closes.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "app_logic.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "idf_board.h"
#include "imu/mpu6050.h"
#include "imuad/boot.h"
#include "imuad/calibration.h"
#include "imuad/compiled_models.h"
#include "imuad/pipeline.h"
#include "imuad/replay_app.h"
#include "nvs.h"
#include "nvs_flash.h"
#include "sdkconfig.h"
#include "watchdog.h"

#if IMUAD_HAVE_BLE_ALERTS
#include "ble_alerts.h"
#include "host/ble_hs.h"
#include "nimble/nimble_port.h"
#include "nimble/nimble_port_freertos.h"
#include "services/gap/ble_svc_gap.h"
#include "services/gatt/ble_svc_gatt.h"
extern "C" void ble_store_config_init(void);
#endif

using imuad_app::IdfBoard;

namespace {

const char* TAG = "imuad";

#if CONFIG_IDF_TARGET_LINUX
constexpr uint32_t kConsoleStack = 64 * 1024;  // POSIX port: pthread stacks, be generous
#else
constexpr uint32_t kConsoleStack = 12 * 1024;  // TFLM Invoke runs here in replay mode
#endif
constexpr uint32_t kInferStack = 10 * 1024;
constexpr uint32_t kSamplerStack = 4 * 1024;
constexpr size_t kLiveRingSamples = 512;         // ~5 s at 100 Hz between sampler and infer
constexpr uint32_t kWatchdogMs = 5000;

// The board layer owns the firmware's only globals: board, apps, buffers.
IdfBoard g_board;
imuad_app::ConsoleMode g_mode;
imuad::ReplayApp* g_app = nullptr;
imuad::Pipeline g_live;
// Commissioning on the device (C5b): a CALIBRATE from the gateway is handed to the infer task,
// which owns the live pipeline and these scores, through a one-slot queue (the latest request
// wins; the NimBLE task never writes a request the infer task is reading).
int32_t g_calib_scores[imuad::kCalibMaxWindows];
QueueHandle_t g_calib_req = nullptr;  // one imuad::CalibrationRequest
imuad_app::SampleRing g_ring;
std::atomic<bool> g_live_restart{false};
mpu6050_t g_imu;
uint32_t g_boots = 0;

#if CONFIG_IMUAD_IMU_ENABLE
constexpr bool kImuEnabled = true;
#else
constexpr bool kImuEnabled = false;  // still compiled: type-checks the live path on linux
#endif

void nvs_boot_count() {
  esp_err_t err = nvs_flash_init();
  if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
    ESP_ERROR_CHECK(nvs_flash_erase());
    err = nvs_flash_init();
  }
  if (err != ESP_OK) {
    ESP_LOGW(TAG, "NVS unavailable (%s): boot count not kept", esp_err_to_name(err));
    return;
  }
  nvs_handle_t h;
  if (nvs_open("imuad", NVS_READWRITE, &h) == ESP_OK) {
    nvs_get_u32(h, "boots", &g_boots);
    ++g_boots;
    nvs_set_u32(h, "boots", g_boots);
    nvs_commit(h);
    nvs_close(h);
  }
}

void on_mode_change() {
  const bool replay = g_mode.replay();
  g_board.set_frame_logs(replay);
  if (!replay) g_live_restart.store(true);  // samples from before the replay are stale
  ESP_LOGI(TAG, "mode: %s", replay ? "replay (host-fed samples)" : "live (IMU)");
}

void console_task(void*) {
  const int wdt = imuad_app::watchdog_subscribe("console");
  uint8_t buf[256];
  for (;;) {
    const int n = g_board.read(buf, sizeof buf);
    if (n < 0) break;
    const uint32_t now = g_board.millis();
    if (n > 0) {
#if CONFIG_IMUAD_REPLAY_CONSOLE
      if (g_mode.feed(buf, static_cast<size_t>(n), now)) on_mode_change();
      g_app->feed(buf, static_cast<size_t>(n));
#endif
    }
    if (g_mode.tick(now)) on_mode_change();
    imuad_app::watchdog_feed(wdt);
  }
  ESP_LOGI(TAG, "console closed: exiting");
  fflush(stdout);
  exit(0);  // linux only: on the chip read() never reports a closed line
}

#if IMUAD_HAVE_BLE_ALERTS
void ble_host_task(void*) {
  nimble_port_run();
  nimble_port_freertos_deinit();
}

void ble_notice(ble_alerts_notice_t notice, uint32_t value, void*) {
  if (notice == BLE_ALERTS_NOTICE_PASSKEY) {
    ESP_LOGW(TAG, "BLE pairing passkey: %06u", static_cast<unsigned>(value));
  } else {
    ESP_LOGI(TAG, "BLE notice %d (%u)", static_cast<int>(notice), static_cast<unsigned>(value));
  }
}

void ble_config(const ble_alerts_decision_t* d, void*) {
  imuad::DecisionSpec spec{d->threshold_on, d->threshold_off, d->k, d->n};
  g_live.configure(spec);
  ESP_LOGI(TAG, "decision from gateway: on=%ld off=%ld k=%u n=%u", static_cast<long>(d->threshold_on),
           static_cast<long>(d->threshold_off), d->k, d->n);
}

void ble_calibrate(const ble_alerts_calibrate_t* r, void*) {
  const imuad::CalibrationRequest req{r->windows, r->allowed, r->margin_permille, r->k, r->n, r->drift_block, r->refit};
  xQueueOverwrite(g_calib_req, &req);  // copied into the queue: a later CALIBRATE replaces it whole
  ESP_LOGI(TAG, "calibration from gateway: %u windows", static_cast<unsigned>(r->windows));
}

void start_ble(const imuad::ModelSpec& spec, const imuad::DecisionSpec& d) {
  if (nimble_port_init() != ESP_OK) {
    ESP_LOGE(TAG, "NimBLE init failed: BLE alerts off");
    return;
  }
  ble_svc_gap_init();
  ble_svc_gatt_init();
  ble_alerts_config_t cfg = {};
  cfg.device_name = CONFIG_IMUAD_BLE_NAME;
  cfg.passkey = CONFIG_IMUAD_BLE_PASSKEY;
  cfg.fw_version = imuad::kFirmwareVersion;
  cfg.model_id = static_cast<uint32_t>(spec.sha256[0]) | (static_cast<uint32_t>(spec.sha256[1]) << 8) |
                 (static_cast<uint32_t>(spec.sha256[2]) << 16) | (static_cast<uint32_t>(spec.sha256[3]) << 24);
  cfg.decision = {d.threshold_on, d.threshold_off, d.k, d.n};
  cfg.first_seq = (g_boots << 16) | 1;  // monotonic across reboots without a write per event
  cfg.on_config = ble_config;
  cfg.on_calibrate = ble_calibrate;
  cfg.on_notice = ble_notice;
  if (ble_alerts_init(&cfg) != 0) {
    ESP_LOGE(TAG, "ble_alerts_init failed: BLE alerts off");
    return;
  }
  ble_store_config_init();
  nimble_port_freertos_init(ble_host_task);
}
#endif

void sampler_task(void*) {
  const int wdt = imuad_app::watchdog_subscribe("sampler");
  const uint8_t c = g_imu.cfg.channels;
  static int16_t buf[64 * 6];
  uint32_t errors_in_row = 0;
  for (;;) {
    vTaskDelay(pdMS_TO_TICKS(CONFIG_IMUAD_POLL_MS));
    imuad_app::watchdog_feed(wdt);
    size_t n = 0;
    bool overflow = false;
    do {  // drain everything that is there, in bursts
      const esp_err_t err = mpu6050_read_fifo(&g_imu, buf, sizeof buf / (sizeof buf[0] * c), &n, &overflow);
      if (err != ESP_OK) {
        if (++errors_in_row % 50 == 1) ESP_LOGE(TAG, "IMU read failed: %s", esp_err_to_name(err));
        g_live_restart.store(true);
        break;
      }
      errors_in_row = 0;
      if (overflow) g_live_restart.store(true);  // samples lost: windows must restart
      if (g_mode.replay()) continue;              // replaying: keep the FIFO drained, discard
      for (size_t i = 0; i < n; ++i) {
        if (!g_ring.push(buf + i * c)) g_live_restart.store(true);
      }
    } while (n > 0);
  }
}

void infer_task(void*) {
  const int wdt = imuad_app::watchdog_subscribe("infer");
  int16_t sample[imuad::kMaxChannels];
  imuad::WindowResult r{};
  uint32_t last_drop_log = 0;
  for (;;) {
    imuad_app::watchdog_feed(wdt);
    if (g_live_restart.exchange(false)) {
      g_live.reset();
      g_ring.clear();
      if (g_ring.dropped() != last_drop_log) {
        last_drop_log = g_ring.dropped();
        ESP_LOGW(TAG, "live: samples lost (%u dropped so far), windows restarted", static_cast<unsigned>(last_drop_log));
      }
    }
    imuad::CalibrationRequest req;
    if (xQueueReceive(g_calib_req, &req, 0) == pdTRUE) {
      if (const char* why = imuad::calibration_request_invalid(req)) {
        ESP_LOGE(TAG, "%s", why);
      } else if (const char* refused = g_live.start_calibration(req, g_calib_scores)) {
        ESP_LOGE(TAG, "%s", refused);
      }
    }
    if (!g_ring.pop(sample)) {
      vTaskDelay(pdMS_TO_TICKS(5));
      continue;
    }
    if (!g_live.push(sample, &g_board, &r)) continue;
    if (r.n_out == 0) {
      ESP_LOGE(TAG, "window %u: inference failed", static_cast<unsigned>(r.window));
      continue;
    }
    if (r.event != imuad::kNoEvent) {
      ESP_LOGW(TAG, "window %u: %s (score %ld, %u us)", static_cast<unsigned>(r.window),
               r.event == imuad::kOnset ? "ANOMALY ONSET" : "anomaly cleared", static_cast<long>(r.score),
               static_cast<unsigned>(r.infer_us));
#if IMUAD_HAVE_BLE_ALERTS
      ble_alerts_push(static_cast<uint8_t>(r.event), static_cast<uint8_t>(r.state), r.score, g_board.millis());
#endif
    }
    if (r.calibration != nullptr) {
      if (!imuad::store_calibration(g_board, g_live.spec()->sha256, *r.calibration, g_live.shape_stats())) {
        ESP_LOGW(TAG, "calibration not saved to NVS");
      }
      const imuad::DecisionSpec& d = r.calibration->decision;
      ESP_LOGW(TAG, "calibrated on %u windows: on=%ld off=%ld k=%u n=%u (median score %ld)",
               static_cast<unsigned>(r.calibration->windows), static_cast<long>(d.threshold_on),
               static_cast<long>(d.threshold_off), d.k, d.n, static_cast<long>(r.calibration->median));
#if IMUAD_HAVE_BLE_ALERTS
      const ble_alerts_decision_t bd = {d.threshold_on, d.threshold_off, d.k, d.n};
      ble_alerts_set_decision(&bd);
#endif
    }
    if (r.aux != imuad::kNoAux) {
      ESP_LOGW(TAG, "window %u: %s (score %ld)", static_cast<unsigned>(r.window),
               r.aux == imuad::kDrift ? "DRIFT" : (r.aux == imuad::kDriftClear ? "drift cleared" : "calibrated"),
               static_cast<long>(r.aux_score));
#if IMUAD_HAVE_BLE_ALERTS
      ble_alerts_push(static_cast<uint8_t>(r.aux), static_cast<uint8_t>(r.state), r.aux_score, g_board.millis());
#endif
    }
#if IMUAD_HAVE_BLE_ALERTS
    ble_alerts_set_state(static_cast<uint8_t>(r.state));
#endif
  }
}

// Live mode: IMU on the configured pins -> ring -> pipeline. Returns false (and logs why) when
// the IMU or the model does not fit; replay mode keeps working either way.
bool start_live(const imuad::ModelSpec& spec, uint8_t* arena, size_t arena_size, int16_t* ring, size_t ring_len) {
  if (spec.channels != CONFIG_IMUAD_IMU_CHANNELS) {
    ESP_LOGE(TAG, "model '%s' wants %u channels, the IMU is configured for %d (menuconfig): live mode off",
             spec.name, spec.channels, CONFIG_IMUAD_IMU_CHANNELS);
    return false;
  }
  i2c_master_bus_handle_t bus = nullptr;
  i2c_master_dev_handle_t dev = nullptr;
  if (mpu6050_open_bus(CONFIG_IMUAD_I2C_PORT, CONFIG_IMUAD_I2C_SDA_GPIO, CONFIG_IMUAD_I2C_SCL_GPIO,
                       CONFIG_IMUAD_MPU6050_ADDR, CONFIG_IMUAD_I2C_FREQ_HZ, &bus, &dev) != ESP_OK) {
    return false;
  }
  mpu6050_config_t cfg = MPU6050_CONFIG_DEFAULT();
  cfg.sample_rate_hz = CONFIG_IMUAD_SAMPLE_RATE_HZ;
  cfg.channels = CONFIG_IMUAD_IMU_CHANNELS;
  cfg.accel_fs = CONFIG_IMUAD_ACCEL_FS;
  cfg.gyro_fs = CONFIG_IMUAD_GYRO_FS;
  cfg.dlpf_cfg = CONFIG_IMUAD_DLPF_CFG;
  if (mpu6050_init(&g_imu, dev, &cfg) != ESP_OK) return false;
  const imuad::Status st = g_live.init(spec, arena, arena_size, ring, ring_len);
  if (!st.ok()) {
    ESP_LOGE(TAG, "live pipeline: %s", st.message);
    return false;
  }
  imuad::DecisionSpec d = spec.decision;
#if CONFIG_IMUAD_DECISION_OVERRIDE
  d = imuad::DecisionSpec{CONFIG_IMUAD_THRESHOLD_ON, CONFIG_IMUAD_THRESHOLD_OFF, CONFIG_IMUAD_DEBOUNCE_K,
                          CONFIG_IMUAD_DEBOUNCE_N};
  g_live.configure(d);
#endif
  // A calibration this device made earlier for this model (NVS) replaces the card's decision.
  imuad::CalibrationResult stored;
  static imuad::ShapeStats stats;  // static: 520 bytes off the main task's stack
  if (imuad::load_calibration(g_board, spec.sha256, &stored, &stats)) {
    g_live.apply_calibration(stored, stats.n > 0 ? &stats : nullptr);
    d = stored.decision;
    ESP_LOGI(TAG, "live: decision from this device's calibration (%u windows)", static_cast<unsigned>(stored.windows));
  }
  static int16_t live_ring[kLiveRingSamples * imuad::kMaxChannels];
  g_ring.init(live_ring, kLiveRingSamples, spec.channels);
  g_calib_req = xQueueCreate(1, sizeof(imuad::CalibrationRequest));  // before BLE and infer use it
  if (g_calib_req == nullptr) {
    ESP_LOGE(TAG, "live: no memory for the calibration queue: live mode off");
    return false;
  }
#if IMUAD_HAVE_BLE_ALERTS
  start_ble(spec, d);
#endif
  xTaskCreate(infer_task, "infer", kInferStack, nullptr, 4, nullptr);
  xTaskCreate(sampler_task, "sampler", kSamplerStack, nullptr, 6, nullptr);
  ESP_LOGI(TAG, "live: model '%s', %lu Hz, decision on=%ld off=%ld k=%u n=%u", spec.name,
           static_cast<unsigned long>(g_imu.rate_hz), static_cast<long>(d.threshold_on),
           static_cast<long>(d.threshold_off), d.k, d.n);
  return true;
}

}  // namespace

extern "C" void app_main(void) {
  if (!g_board.begin(kConsoleStack)) ESP_LOGE(TAG, "console driver not installed");
  nvs_boot_count();
  const imuad::ModelRegistry models = imuad::compiled_models();
  const imuad::MemoryNeeds needs = imuad::memory_needs(models);
  ESP_LOGI(TAG, "%s on %s, boot #%lu, %u model(s), arena %u B", imuad::kFirmwareVersion, g_board.target_name(),
           static_cast<unsigned long>(g_boots), static_cast<unsigned>(models.count),
           static_cast<unsigned>(needs.arena_bytes));
  imuad_app::watchdog_start(kWatchdogMs);

  // Replay: its own arena and ring, so a HELLO never disturbs the live pipeline's memory.
  g_app = imuad::boot(g_board, models, malloc);
  if (g_app == nullptr) abort();  // boot() logged it
  // No begin() here: it would report a bad default model as an ERROR frame on the console before
  // any host asked; HELLO loads the requested model and answers errors to the one who asked.

  if (kImuEnabled && models.count > 0 && models.models[0] != nullptr) {
    imuad::FirmwareMemory live;
    if (!imuad::allocate_memory(needs, malloc, &live) ||
        !start_live(*models.models[0], live.arena, live.arena_size, live.ring, live.ring_len)) {
      ESP_LOGE(TAG, "live mode not started; replay mode still available on the console");
    }
  }
  xTaskCreate(console_task, "console", kConsoleStack, nullptr, 5, nullptr);
#if CONFIG_IDF_TARGET_LINUX
  // Never let the main task be deleted on linux: the FreeRTOS linux port cancels a deleted task's
  // pthread inside pthread_cond_wait, which leaves its event mutex locked, and the next tick's
  // event_clear() on it deadlocks the scheduler (about 1 boot in 500 under load, seen in CI).
  vTaskSuspend(nullptr);
#endif
}
