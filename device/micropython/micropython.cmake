# USER_C_MODULES entry point for CMake-based MicroPython ports (esp32, rp2, ...):
#   idf.py ... -D USER_C_MODULES=<repo>/device/micropython/micropython.cmake
# See esp32/README.md and esp32/build.sh.
include(${CMAKE_CURRENT_LIST_DIR}/imuad/micropython.cmake)
