#pragma once
#include <stdint.h>
typedef struct esp_timer *esp_timer_handle_t;
int64_t esp_timer_get_time(void);
