/* Type-check stub of the ESP-IDF FreeRTOS header: just the types the esp-nimble
 * FreeRTOS NPL headers name. Never linked; see sim/boards/nimble-linux/CMakeLists.txt. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
typedef uint32_t TickType_t;
typedef int BaseType_t;
typedef unsigned int UBaseType_t;
typedef void *QueueHandle_t;
typedef void *SemaphoreHandle_t;
typedef void *TimerHandle_t;
typedef void *TaskHandle_t;
typedef struct { uint32_t owner; uint32_t count; } portMUX_TYPE;
#define portMAX_DELAY ((TickType_t)0xffffffffUL)
#define portTICK_PERIOD_MS 1
#define configTICK_RATE_HZ 1000
#define pdTRUE 1
#define pdFALSE 0
#define pdPASS 1
#define pdMS_TO_TICKS(ms) ((TickType_t)(ms))
