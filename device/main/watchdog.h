// Task watchdog: ESP-IDF's TWDT on the chip (esp_task_wdt.h); on linux, where esp_system has no
// TWDT, a software one on esp_timer that logs a task that stopped feeding (same calls).
#pragma once

#include <cstdint>

namespace imuad_app {

void watchdog_start(uint32_t timeout_ms);
// Subscribes the calling task; returns a slot id for watchdog_feed.
int watchdog_subscribe(const char* name);
void watchdog_feed(int slot);
uint32_t watchdog_starvations();  // linux soft watchdog: times a task missed its deadline

}  // namespace imuad_app
