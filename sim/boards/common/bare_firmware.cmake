# The build shared by the bare-metal QEMU boards (mps2-an386, esp32-qemu), included by their
# CMakeLists.txt once the toolchain is checked: the core + TFLM (kernels from the build table),
# the board library (the board's own drivers + the shared board code of this folder) and one
# function per ELF.
set(_bare_common "${CMAKE_CURRENT_LIST_DIR}")

enable_language(ASM)
imuad_firmware(KERNELS ${IMUAD_KERNELS})
# Bare metal: no PIC (GOT indirections cost instructions and need a loader).
if(NOT IMUAD_TFLM_PREBUILT)
  set_target_properties(imuad_tflm PROPERTIES POSITION_INDEPENDENT_CODE OFF)
endif()

# imuad_bare_board(<lib> LD <linker script> TARGET <DEVICE_INFO.target> SOURCES <drivers...>):
# the board library every ELF of this board links; LD and TARGET are kept for
# imuad_bare_firmware.
function(imuad_bare_board lib)
  cmake_parse_arguments(B "" "LD;TARGET" "SOURCES" ${ARGN})
  add_library(${lib} STATIC ${B_SOURCES} "${_bare_common}/bare_board.cc")
  target_include_directories(${lib} PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}" "${_bare_common}")
  target_link_libraries(${lib} PUBLIC imuad_core)
  # newlib's system calls, linked into every ELF as objects (imuad_bare_firmware): only libc,
  # linked after the board library, asks for them, so archive members would not be taken and
  # nosys.specs' stubs would be (a malloc that always fails).
  add_library(${lib}_runtime OBJECT "${_bare_common}/bare_runtime.c")
  target_include_directories(${lib}_runtime PRIVATE "${_bare_common}")
  imuad_warning_flags(_warn)
  foreach(t ${lib} ${lib}_runtime)
    target_compile_options(${t} PRIVATE $<$<NOT:$<COMPILE_LANGUAGE:ASM>>:${_warn}>)
  endforeach()
  set_target_properties(${lib} PROPERTIES IMUAD_LD "${B_LD}" IMUAD_DEVICE_TARGET "${B_TARGET}")
endfunction()

# imuad_bare_firmware(<name> BOARD <lib> SOURCES ... [LIBS ...] [DEFINES ...] [LINK_OPTIONS ...]):
# one ELF, linked with the board's script (the link fails beyond its flash/RAM budget), with a
# .map and a .size.txt beside it. IMUAD_QEMU_TARGET is the board's DEVICE_INFO.target.
function(imuad_bare_firmware name)
  cmake_parse_arguments(F "" "BOARD" "DEFINES;LINK_OPTIONS;SOURCES;LIBS" ${ARGN})
  get_target_property(_ld ${F_BOARD} IMUAD_LD)
  get_target_property(_device_target ${F_BOARD} IMUAD_DEVICE_TARGET)
  add_executable(${name} ${F_SOURCES})
  set_target_properties(${name} PROPERTIES SUFFIX ".elf" LINK_DEPENDS "${_ld}")
  target_link_libraries(${name} PRIVATE ${F_BOARD} ${F_BOARD}_runtime ${F_LIBS})
  target_compile_definitions(${name} PRIVATE IMUAD_QEMU_TARGET="${_device_target}" ${F_DEFINES})
  imuad_our_code(${name})
  target_link_options(${name} PRIVATE -T "${_ld}" "-Wl,-Map=$<TARGET_FILE_DIR:${name}>/${name}.map"
    -Wl,--print-memory-usage ${F_LINK_OPTIONS})
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND "${CMAKE_SIZE}" -A "$<TARGET_FILE:${name}>" > "$<TARGET_FILE_DIR:${name}>/${name}.size.txt"
    VERBATIM)
endfunction()
