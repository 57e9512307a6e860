# Cross toolchain for the ESP32 (Xtensa LX6) bare metal: xtensa-esp32-elf GCC 12.2 + newlib,
# built from source with Espressif's xtensa_esp32 core configuration (../shared/toolchains).
# Used by the build-table targets qemu-xt and qemu-xt-nn (CMake presets of the same names).
#
# Found, in order: -DIMUAD_XTENSA_TOOLCHAIN=<dir>, $IMUAD_XTENSA_TOOLCHAIN, the unpacked cache
# ~/.cache/imuad/toolchains/xtensa-esp32-elf, then xtensa-esp32-elf-gcc on PATH.
# The core configuration is baked into the compiler (windowed ABI, 64 AR, MAC16, MUL32_HIGH,
# DIV32, single-precision FPU, ...): there is no -mcpu to pass.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR xtensa)
set(CMAKE_CROSSCOMPILING ON)

set(IMUAD_XTENSA_TOOLCHAIN "$ENV{IMUAD_XTENSA_TOOLCHAIN}" CACHE PATH "xtensa-esp32-elf toolchain root (has bin/)")
set(_xt_hints)
if(IMUAD_XTENSA_TOOLCHAIN)
  list(APPEND _xt_hints "${IMUAD_XTENSA_TOOLCHAIN}/bin")
endif()
list(APPEND _xt_hints "$ENV{HOME}/.cache/imuad/toolchains/xtensa-esp32-elf/bin")
find_program(_IMUAD_XT_GCC xtensa-esp32-elf-gcc HINTS ${_xt_hints})
if(NOT _IMUAD_XT_GCC)
  message(FATAL_ERROR "xtensa-esp32-elf-gcc not found: unpack ../shared/toolchains/xtensa-esp32-elf-gcc12.2.0.tar.xz "
    "into ~/.cache/imuad/toolchains/ (or set IMUAD_XTENSA_TOOLCHAIN)")
endif()
get_filename_component(_IMUAD_XT_BIN "${_IMUAD_XT_GCC}" DIRECTORY)

set(CMAKE_C_COMPILER   "${_IMUAD_XT_BIN}/xtensa-esp32-elf-gcc")
set(CMAKE_CXX_COMPILER "${_IMUAD_XT_BIN}/xtensa-esp32-elf-g++")
set(CMAKE_ASM_COMPILER "${_IMUAD_XT_BIN}/xtensa-esp32-elf-gcc")
set(CMAKE_AR           "${_IMUAD_XT_BIN}/xtensa-esp32-elf-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB       "${_IMUAD_XT_BIN}/xtensa-esp32-elf-ranlib" CACHE FILEPATH "")
set(CMAKE_OBJCOPY      "${_IMUAD_XT_BIN}/xtensa-esp32-elf-objcopy" CACHE FILEPATH "")
set(CMAKE_OBJDUMP      "${_IMUAD_XT_BIN}/xtensa-esp32-elf-objdump" CACHE FILEPATH "")
set(CMAKE_SIZE         "${_IMUAD_XT_BIN}/xtensa-esp32-elf-size" CACHE FILEPATH "")

# try_compile cannot link a bare-metal executable without our startup/linker script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# As ESP-IDF compiles for esp32: long calls (the linker relaxes the ones in range back to
# call8), windowed ABI (the compiler's default for this configuration), one section per
# function/object for --gc-sections. No -mtext-section-literals: the linker script keeps each
# .literal next to its .text (L32R reaches 256 KiB backwards).
set(IMUAD_XTENSA_FLAGS "-mlongcalls -ffunction-sections -fdata-sections -fstrict-volatile-bitfields")
set(CMAKE_C_FLAGS_INIT   "${IMUAD_XTENSA_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT "${IMUAD_XTENSA_FLAGS} -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
set(CMAKE_ASM_FLAGS_INIT "-mlongcalls")
# The toolchain's specs link crti/crtbegin/crtend/crtn and -lc only (no simulator crt/libs):
# the board supplies reset, vectors, linker script and newlib's syscalls.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
