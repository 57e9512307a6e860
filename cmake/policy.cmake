# Build policy shared by every firmware build (plain CMake boards, ESP-IDF components, the
# MicroPython module through the make fragment the plain CMake build writes):
#   our code        -Wall -Wextra -Werror             imuad_our_code(<target> [INTERFACE])
#   third-party     -w (TFLM, CMSIS-NN, NimBLE, ...)  imuad_third_party_code(<target>)
# Kernel selection (reference / cmsis_nn / esp_nn) is per target in the build table
# (host/imuad/build/table.py) and applied by cmake/tflm.cmake.
function(imuad_warning_flags out)
  set(${out} -Wall -Wextra -Werror PARENT_SCOPE)
endfunction()

function(imuad_our_code target)
  set(scope PRIVATE)
  if(ARGC GREATER 1)
    set(scope ${ARGV1})
  endif()
  imuad_warning_flags(flags)
  target_compile_options(${target} ${scope} ${flags})
endfunction()

function(imuad_third_party_code target)
  target_compile_options(${target} PRIVATE -w)
endfunction()
