# Cross toolchain for the QEMU mps2-an386 board (Cortex-M4F, bare metal, newlib-nano).
# Used by the build-table targets qemu and qemu-nn (CMake presets of the same names).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_CROSSCOMPILING ON)

find_program(_IMUAD_ARM_GCC arm-none-eabi-gcc)
if(NOT _IMUAD_ARM_GCC)
  message(FATAL_ERROR "arm-none-eabi-gcc not found: apt-get install gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib")
endif()
get_filename_component(_IMUAD_ARM_BIN "${_IMUAD_ARM_GCC}" DIRECTORY)

set(CMAKE_C_COMPILER   "${_IMUAD_ARM_BIN}/arm-none-eabi-gcc")
set(CMAKE_CXX_COMPILER "${_IMUAD_ARM_BIN}/arm-none-eabi-g++")
set(CMAKE_ASM_COMPILER "${_IMUAD_ARM_BIN}/arm-none-eabi-gcc")
set(CMAKE_OBJCOPY      "${_IMUAD_ARM_BIN}/arm-none-eabi-objcopy" CACHE FILEPATH "")
set(CMAKE_SIZE         "${_IMUAD_ARM_BIN}/arm-none-eabi-size" CACHE FILEPATH "")

# try_compile cannot link a bare-metal executable without our startup/linker script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(IMUAD_ARM_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT   "${IMUAD_ARM_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${IMUAD_ARM_CPU_FLAGS} -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
set(CMAKE_ASM_FLAGS_INIT "${IMUAD_ARM_CPU_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${IMUAD_ARM_CPU_FLAGS} --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
