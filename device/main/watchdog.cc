#include "watchdog.h"

#include <atomic>

#include "esp_log.h"
#include "esp_timer.h"
#include "sdkconfig.h"

#if !CONFIG_IDF_TARGET_LINUX
#include "esp_task_wdt.h"
#endif

namespace imuad_app {
namespace {
[[maybe_unused]] const char* TAG = "wdt";  // only the linux software watchdog logs
constexpr int kSlots = 4;
struct Slot {
  const char* name = nullptr;
  std::atomic<int64_t> last_us{0};
  std::atomic<bool> starved{false};
};
Slot g_slots[kSlots];
std::atomic<int> g_used{0};
std::atomic<uint32_t> g_starvations{0};
uint32_t g_timeout_ms = 5000;

#if CONFIG_IDF_TARGET_LINUX
void check(void*) {
  const int64_t now = esp_timer_get_time();
  for (int i = 0; i < g_used.load(); ++i) {
    const int64_t late_ms = (now - g_slots[i].last_us.load()) / 1000;
    if (late_ms > g_timeout_ms && !g_slots[i].starved.exchange(true)) {
      g_starvations.fetch_add(1);
      ESP_LOGE(TAG, "task watchdog: '%s' has not fed for %lld ms", g_slots[i].name,
               static_cast<long long>(late_ms));
    }
  }
}
#endif
}  // namespace

void watchdog_start(uint32_t timeout_ms) {
  g_timeout_ms = timeout_ms;
#if CONFIG_IDF_TARGET_LINUX
  esp_timer_create_args_t args = {};
  args.callback = check;
  args.name = "soft_wdt";
  esp_timer_handle_t timer = nullptr;
  if (esp_timer_create(&args, &timer) == ESP_OK) {
    esp_timer_start_periodic(timer, static_cast<uint64_t>(timeout_ms) * 250);  // 4 checks/timeout
  }
#else
  // The TWDT is started by the startup code (CONFIG_ESP_TASK_WDT_INIT); reconfigure the timeout.
  esp_task_wdt_config_t cfg = {};
  cfg.timeout_ms = timeout_ms;
  cfg.idle_core_mask = 0;
  cfg.trigger_panic = true;
  if (esp_task_wdt_reconfigure(&cfg) == ESP_ERR_INVALID_STATE) esp_task_wdt_init(&cfg);
#endif
}

int watchdog_subscribe(const char* name) {
  const int slot = g_used.fetch_add(1);
  if (slot >= kSlots) return -1;
  g_slots[slot].name = name;
  g_slots[slot].last_us.store(esp_timer_get_time());
#if !CONFIG_IDF_TARGET_LINUX
  ESP_ERROR_CHECK(esp_task_wdt_add(nullptr));
#endif
  return slot;
}

void watchdog_feed(int slot) {
  if (slot >= 0 && slot < kSlots) {
    g_slots[slot].last_us.store(esp_timer_get_time());
    g_slots[slot].starved.store(false);
  }
#if !CONFIG_IDF_TARGET_LINUX
  esp_task_wdt_reset();
#endif
}

uint32_t watchdog_starvations() { return g_starvations.load(); }

}  // namespace imuad_app
