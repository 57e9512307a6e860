// The few ESP-IDF sdkconfig.h settings that esp-nn / esp-tflite-micro read, as ESP-IDF
// generates them for this project's esp32 build (device/sdkconfig.defaults).
#pragma once
#define CONFIG_IDF_TARGET_ESP32 1
#define CONFIG_IDF_TARGET_ARCH_XTENSA 1
#define CONFIG_NN_OPTIMIZED 1
#define CONFIG_NN_OPTIMIZATIONS 1
// CONFIG_NN_SKIP_NUDGE is not set: bit-exact requantization
