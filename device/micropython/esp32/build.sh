#!/usr/bin/env bash
# Build MicroPython for ESP32 with the imuad module (NOT runnable on the project's CI machines:
# no Xtensa toolchain is available there; see ../README.md). Needs an ESP-IDF (v5.x) environment
# (`. $IDF_PATH/export.sh`) and the pinned vendor trees beside the checkout (../shared/vendor).
#
#   device/micropython/esp32/build.sh [BOARD]      # default ESP32_GENERIC
#   then: idf.py -B build/micropython/esp32 -p /dev/ttyUSB0 flash
#         mpremote cp device/micropython/esp32/{main,imuad_app,mpu6050,ble_alert}.py \
#                     models/<name>/model.tflite models/<name>/model_card.json :
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../../.." && pwd)"
VENDOR="${IMUAD_VENDOR:-$(cd "$REPO/../shared/vendor" && pwd)}"
BOARD="${1:-ESP32_GENERIC}"
OUT="$REPO/build/micropython/esp32-$BOARD"
: "${IDF_PATH:?source ESP-IDF export.sh first}"

# The port's sources are read-only: build out of tree. esp-tflite-micro and imuad_core come from
# our pinned copies; the ESP-IDF component manager must stay ON and online: MicroPython's esp32
# port pulls espressif/mdns (and tinyusb on S2/S3) from the registry, and esp-tflite-micro's
# idf_component.yml pulls espressif/esp-nn (>= 1.1.1).
cd "$VENDOR/micropython/ports/esp32"
idf.py -B "$OUT" \
  -D MICROPY_BOARD="$BOARD" \
  -D MICROPY_BOARD_DIR="$VENDOR/micropython/ports/esp32/boards/$BOARD" \
  -D USER_C_MODULES="$REPO/device/micropython/micropython.cmake" \
  -D "EXTRA_COMPONENT_DIRS=$VENDOR/esp-tflite-micro;$REPO/device/components/imuad_core" \
  -D SDKCONFIG_DEFAULTS="$VENDOR/micropython/ports/esp32/boards/sdkconfig.base;$VENDOR/micropython/ports/esp32/boards/sdkconfig.ble;$REPO/device/micropython/esp32/sdkconfig.imuad" \
  build
echo "firmware: $OUT/micropython.bin"
