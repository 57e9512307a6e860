# TensorFlow Lite Micro as a plain CMake static library `imuad_tflm`, built from the pinned
# esp-tflite-micro tree (../shared/vendor/esp-tflite-micro, or upstream v1.4.0 via FetchContent),
# with only the kernels of the ops given (the whole library costs ~10 min on 2 cores).
#
#   imuad_add_tflm(OPS <op>... KERNELS reference|cmsis_nn|esp_nn [PREBUILT <libimuad_tflm.a>])
#
# KERNELS is the kernel-selection policy's input (the build table, host/imuad/build/table.py,
# names it per target): `reference` = TFLM's portable kernels; `cmsis_nn` = Arm's CMSIS-NN with
# TFLM's kernels/cmsis_nn glue for the ops it covers (reference for the rest); `esp_nn` =
# Espressif's ESP-NN with esp-tflite-micro's kernels/esp_nn glue (add conv depthwise_conv
# fully_connected mul pooling softmax; reference for the rest), -DESP_NN. Inside ESP-IDF (device/)
# esp-nn is a component (its Kconfig gives CONFIG_NN_*) that device/components/esp-tflite-micro
# links; in a plain CMake build (sim/boards/esp32-qemu) the same sources are compiled here, as that
# component compiles them for the esp32, and the board provides esp_timer_get_time().
# PREBUILT links a libimuad_tflm.a that another build compiled with the same compiler, kernels
# and ops (host-asan links host's); the ops file beside it must list every op asked for.
include(FetchContent)
include("${CMAKE_CURRENT_LIST_DIR}/models.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/policy.cmake")

function(_imuad_vendor_source name git tag out_dir)
  get_filename_component(vendor "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../../shared/vendor" ABSOLUTE)
  string(TOUPPER "${name}" up)
  string(REPLACE "-" "_" up "${up}")
  if(NOT FETCHCONTENT_SOURCE_DIR_${up} AND EXISTS "${vendor}/${name}")
    set(FETCHCONTENT_SOURCE_DIR_${up} "${vendor}/${name}" CACHE PATH "Local ${name} tree (pinned)")
  endif()
  string(TOLOWER "${up}" lower)
  FetchContent_Declare(${lower} GIT_REPOSITORY "${git}" GIT_TAG "${tag}")
  FetchContent_GetProperties(${lower})
  if(NOT ${lower}_POPULATED)
    FetchContent_Populate(${lower})  # populate only: we compile the files we need ourselves
  endif()
  set(${out_dir} "${${lower}_SOURCE_DIR}" PARENT_SCOPE)
endfunction()

# Arm's CMSIS-NN (int8/int16 kernels only) and TFLM's glue for the kernels it replaces.
set(IMUAD_CMSIS_NN_KERNELS add conv depthwise_conv fully_connected mul pooling softmax svdf
    unidirectional_sequence_lstm)
function(_imuad_cmsis_nn out_glue_dir)
  _imuad_vendor_source(CMSIS-NN https://github.com/ARM-software/CMSIS-NN 99f736a6 nn_dir)
  _imuad_vendor_source(CMSIS_6 https://github.com/ARM-software/CMSIS_6 7f62ddc8 core_dir)
  _imuad_vendor_source(tflite-micro https://github.com/tensorflow/tflite-micro 90b983c2b tflm_upstream)
  set(glue "${CMAKE_BINARY_DIR}/cmsis_nn_glue")
  foreach(k IN LISTS IMUAD_CMSIS_NN_KERNELS)
    configure_file("${tflm_upstream}/tensorflow/lite/micro/kernels/cmsis_nn/${k}.cc" "${glue}/${k}.cc" COPYONLY)
  endforeach()
  file(GLOB srcs "${nn_dir}/Source/*Functions/*.c")
  list(FILTER srcs EXCLUDE REGEX "_f(16|32)\\.c$|_flt\\.c$|_f(16|32)_")  # float kernels unused
  add_library(imuad_cmsis_nn STATIC ${srcs})
  target_include_directories(imuad_cmsis_nn SYSTEM PUBLIC "${nn_dir}" "${nn_dir}/Include"
                             "${core_dir}/CMSIS/Core/Include")
  imuad_third_party_code(imuad_cmsis_nn)
  message(STATUS "imuad: CMSIS-NN from ${nn_dir}; TFLM glue (${IMUAD_CMSIS_NN_KERNELS}) from ${tflm_upstream}")
  set(${out_glue_dir} "${glue}" PARENT_SCOPE)
endfunction()

# Espressif's ESP-NN and esp-tflite-micro's glue for the kernels it replaces. As the ESP-IDF build
# of this project selects them (device/sdkconfig.defaults: CONFIG_NN_OPTIMIZED=y,
# CONFIG_NN_SKIP_NUDGE=n, target esp32): the glue sees sdkconfig.h through esp_timer.h
# (cmake/esp_nn_shim), so esp_nn.h maps the kernels to esp_nn_generic_opt.h (conv, depthwise,
# softmax: *_opt.c; the rest *_ansi.c; ESP-NN has assembly for ESP32-S3/P4 only), requantization
# is the bit-exact esp_nn_multiply_by_quantized_mult. ESP-NN itself at -O2 as its component.
set(IMUAD_ESP_NN_KERNELS add conv depthwise_conv fully_connected mul pooling softmax)
# IMUAD_ESP_NN_SKIP_NUDGE (experiments only): ESP-NN's fast requantization, which rounds exact ties
# of negative products unlike TFLM; the project keeps CONFIG_NN_SKIP_NUDGE=n.
option(IMUAD_ESP_NN_SKIP_NUDGE "ESP-NN fast requantization (SKIP_NUDGE; not bit-exact by construction)" OFF)
function(_imuad_esp_nn out_glue_dir tflm_dir)
  _imuad_vendor_source(esp-nn https://github.com/espressif/esp-nn d45b843c nn_dir)
  set(glue "${CMAKE_BINARY_DIR}/esp_nn_glue")
  foreach(k IN LISTS IMUAD_ESP_NN_KERNELS)
    configure_file("${tflm_dir}/tensorflow/lite/micro/kernels/esp_nn/${k}.cc" "${glue}/${k}.cc" COPYONLY)
  endforeach()
  set(s "${nn_dir}/src")
  add_library(imuad_esp_nn STATIC  # esp-nn's CMakeLists c_srcs (what it builds for esp32)
    "${s}/activation_functions/esp_nn_relu_ansi.c" "${s}/activation_functions/esp_nn_hard_swish_ansi.c"
    "${s}/common/esp_nn_mean_ansi.c" "${s}/basic_math/esp_nn_add_ansi.c" "${s}/basic_math/esp_nn_mul_ansi.c"
    "${s}/convolution/esp_nn_conv_ansi.c" "${s}/convolution/esp_nn_conv_opt.c"
    "${s}/convolution/esp_nn_depthwise_conv_ansi.c" "${s}/convolution/esp_nn_depthwise_conv_opt.c"
    "${s}/fully_connected/esp_nn_fully_connected_ansi.c" "${s}/softmax/esp_nn_softmax_ansi.c"
    "${s}/softmax/esp_nn_softmax_opt.c" "${s}/logistic/esp_nn_logistic_ansi.c"
    "${s}/pooling/esp_nn_avg_pool_ansi.c" "${s}/pooling/esp_nn_max_pool_ansi.c")
  target_include_directories(imuad_esp_nn SYSTEM PUBLIC "${nn_dir}/include" PRIVATE "${s}/common")
  target_compile_options(imuad_esp_nn PRIVATE -O2 -Wno-unused-function)
  if(IMUAD_ESP_NN_SKIP_NUDGE)
    target_compile_definitions(imuad_esp_nn PRIVATE SKIP_NUDGE)
  endif()
  imuad_third_party_code(imuad_esp_nn)
  message(STATUS "imuad: ESP-NN from ${nn_dir}; TFLM glue (${IMUAD_ESP_NN_KERNELS}) from ${tflm_dir}")
  set(${out_glue_dir} "${glue}" PARENT_SCOPE)
endfunction()

function(imuad_add_tflm)
  cmake_parse_arguments(A "" "KERNELS;PREBUILT" "OPS" ${ARGN})
  _imuad_vendor_source(esp-tflite-micro https://github.com/espressif/esp-tflite-micro v1.4.0 tflm)
  set(IMUAD_TFLM_DIR "${tflm}" CACHE INTERNAL "")
  set(tf "${tflm}/tensorflow/lite")
  set(extra_defs)
  set(extra_libs)
  set(extra_includes)
  set(override_dir "")
  if(A_KERNELS STREQUAL "cmsis_nn")
    _imuad_cmsis_nn(override_dir)
    set(extra_defs CMSIS_NN)
    set(extra_libs imuad_cmsis_nn)
  elseif(A_KERNELS STREQUAL "esp_nn")
    set(extra_defs ESP_NN=1)  # esp-tflite-micro's component passes -DESP_NN to all of TFLM
    if(ESP_PLATFORM)
      set(override_dir "${tf}/micro/kernels/esp_nn")
    else()
      _imuad_esp_nn(override_dir "${tflm}")
      set(extra_libs imuad_esp_nn)
      set(extra_includes "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/esp_nn_shim")
    endif()
  elseif(NOT A_KERNELS STREQUAL "reference")
    message(FATAL_ERROR "imuad: TFLM kernels '${A_KERNELS}' unknown here (reference | cmsis_nn | esp_nn)")
  endif()

  imuad_kernel_files(kernel_files ${A_OPS})
  set(kernel_srcs)
  foreach(f IN LISTS kernel_files)
    if(override_dir AND EXISTS "${override_dir}/${f}")
      list(APPEND kernel_srcs "${override_dir}/${f}")
    else()
      list(APPEND kernel_srcs "${tf}/micro/kernels/${f}")
    endif()
  endforeach()
  set(micro_srcs
    flatbuffer_utils.cc memory_helpers.cc micro_allocation_info.cc micro_allocator.cc
    micro_context.cc micro_interpreter_context.cc micro_interpreter_graph.cc micro_interpreter.cc
    micro_log.cc micro_op_resolver.cc micro_profiler.cc micro_resource_variable.cc micro_time.cc
    micro_utils.cc recording_micro_allocator.cc system_setup.cc
    memory_planner/greedy_memory_planner.cc memory_planner/linear_memory_planner.cc
    arena_allocator/non_persistent_arena_buffer_allocator.cc
    arena_allocator/persistent_arena_buffer_allocator.cc
    arena_allocator/recording_single_arena_buffer_allocator.cc
    arena_allocator/single_arena_buffer_allocator.cc
    tflite_bridge/flatbuffer_conversions_bridge.cc tflite_bridge/micro_error_reporter.cc debug_log.cc)
  list(TRANSFORM micro_srcs PREPEND "${tf}/micro/")
  set(other_srcs
    "${tf}/kernels/kernel_util.cc" "${tf}/core/c/common.cc" "${tf}/core/api/flatbuffer_conversions.cc"
    "${tf}/core/api/tensor_utils.cc" "${tf}/kernels/internal/common.cc"
    "${tf}/kernels/internal/quantization_util.cc" "${tf}/kernels/internal/portable_tensor_utils.cc"
    "${tf}/kernels/internal/tensor_utils.cc" "${tf}/kernels/internal/tensor_ctypes.cc"
    "${tf}/kernels/internal/runtime_shape.cc" "${tf}/kernels/internal/reference/portable_tensor_utils.cc"
    "${tflm}/tensorflow/compiler/mlir/lite/core/api/error_reporter.cc"
    "${tflm}/tensorflow/compiler/mlir/lite/schema/schema_utils.cc")

  set(ops_file_name "imuad_tflm_ops.txt")  # beside libimuad_tflm.a: what it was compiled with
  if(A_PREBUILT AND EXISTS "${A_PREBUILT}")
    get_filename_component(pre_dir "${A_PREBUILT}" DIRECTORY)
    set(pre_ops)
    if(EXISTS "${pre_dir}/${ops_file_name}")
      file(STRINGS "${pre_dir}/${ops_file_name}" pre_ops)
    endif()
    foreach(op IN LISTS A_OPS)
      if(NOT op IN_LIST pre_ops)
        message(FATAL_ERROR "imuad: prebuilt ${A_PREBUILT} lacks op ${op} (compiled with: ${pre_ops}); "
          "build it with this model or drop IMUAD_TFLM_PREBUILT")
      endif()
    endforeach()
    add_library(imuad_tflm STATIC IMPORTED GLOBAL)
    set_target_properties(imuad_tflm PROPERTIES IMPORTED_LOCATION "${A_PREBUILT}")
    set(scope INTERFACE)
    message(STATUS "imuad: linking prebuilt TFLM ${A_PREBUILT}")
  else()
    add_library(imuad_tflm STATIC ${micro_srcs} ${kernel_srcs} ${other_srcs})
    set(scope PUBLIC)
    target_compile_options(imuad_tflm PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-fno-rtti -fno-exceptions -fno-threadsafe-statics>
      -ffunction-sections -fdata-sections ${IMUAD_TFLM_FLAGS})
    imuad_third_party_code(imuad_tflm)
    set_target_properties(imuad_tflm PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON
      POSITION_INDEPENDENT_CODE ON)
    string(REPLACE ";" "\n" ops_lines "${A_OPS}")
    file(GENERATE OUTPUT "$<TARGET_FILE_DIR:imuad_tflm>/${ops_file_name}" CONTENT "${ops_lines}\n")
  endif()
  target_include_directories(imuad_tflm SYSTEM ${scope} "${tflm}" "${tflm}/third_party/gemmlowp"
    "${tflm}/third_party/flatbuffers/include" "${tflm}/third_party/ruy" ${extra_includes})
  # TF_LITE_STATIC_MEMORY changes TfLiteTensor's layout: library and users must agree (PUBLIC).
  target_compile_definitions(imuad_tflm ${scope} TF_LITE_STATIC_MEMORY TF_LITE_DISABLE_X86_NEON ${extra_defs})
  if(extra_libs)
    target_link_libraries(imuad_tflm ${scope} ${extra_libs})
  endif()
  list(LENGTH kernel_srcs nk)
  string(REPLACE ";" " " ops_txt "${A_OPS}")
  message(STATUS "imuad: TFLM (${A_KERNELS} kernels, ${nk} kernel files) for ops ${ops_txt}")
endfunction()
