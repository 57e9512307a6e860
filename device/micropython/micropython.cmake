# USER_C_MODULES entry point for CMake-based MicroPython ports (esp32, rp2, ...):
#   imuad build micropython-esp32   (the build table passes -DUSER_C_MODULES=<this file>)
include(${CMAKE_CURRENT_LIST_DIR}/imuad/micropython.cmake)
