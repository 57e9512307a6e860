# TensorFlow Lite Micro as a plain CMake static library `imuad_tflm`, built from the pinned
# esp-tflite-micro tree (../shared/vendor/esp-tflite-micro, or upstream v1.4.0 via FetchContent).
#
# Only the kernels named in IMUAD_TFLM_OPS are compiled (the whole library costs ~10 min on 2
# cores). Reusable for cross builds (toolchain file decides the compiler) and for optimized kernels:
#   IMUAD_TFLM_KERNEL_VARIANT   reference (default) | any name, e.g. cmsis_nn
#   IMUAD_TFLM_KERNEL_OVERRIDE_DIR  directory whose <kernel>.cc files replace the reference
#                               file of the same name (e.g. tflite-micro/.../kernels/cmsis_nn)
#   IMUAD_TFLM_EXTRA_LIBS / IMUAD_TFLM_EXTRA_DEFINITIONS / IMUAD_TFLM_EXTRA_INCLUDES
#                               linked / defined / included PUBLIC (e.g. the CMSIS-NN library)
include_guard(GLOBAL)
include(FetchContent)

set(_imuad_vendor_tflm "${CMAKE_CURRENT_LIST_DIR}/../../shared/vendor/esp-tflite-micro")
get_filename_component(_imuad_vendor_tflm "${_imuad_vendor_tflm}" ABSOLUTE)
if(NOT FETCHCONTENT_SOURCE_DIR_ESP_TFLITE_MICRO AND EXISTS "${_imuad_vendor_tflm}/tensorflow")
  set(FETCHCONTENT_SOURCE_DIR_ESP_TFLITE_MICRO "${_imuad_vendor_tflm}" CACHE PATH
      "Local esp-tflite-micro tree (pinned v1.4.0)")
endif()
FetchContent_Declare(esp_tflite_micro
  GIT_REPOSITORY https://github.com/espressif/esp-tflite-micro
  GIT_TAG v1.4.0
  GIT_SHALLOW TRUE)
# Populate only: its own CMakeLists.txt is an ESP-IDF component.
FetchContent_GetProperties(esp_tflite_micro)
if(NOT esp_tflite_micro_POPULATED)
  FetchContent_Populate(esp_tflite_micro)
endif()
set(IMUAD_TFLM_DIR "${esp_tflite_micro_SOURCE_DIR}" CACHE INTERNAL "")

# Every op the model zoo can produce (card `ops` names, TFLite builtin spelling).
# Default: the ops of the committed models and the zoo's device architectures (cnn, cnn_lstm);
# every other op with a mapping below is one -DIMUAD_TFLM_OPS=... away (configure names it).
set(IMUAD_TFLM_OPS
  CONV_2D DEPTHWISE_CONV_2D FULLY_CONNECTED MAX_POOL_2D AVERAGE_POOL_2D MEAN
  RESHAPE EXPAND_DIMS SQUEEZE LOGISTIC SOFTMAX TANH UNIDIRECTIONAL_SEQUENCE_LSTM
  STRIDED_SLICE ADD MUL QUANTIZE DEQUANTIZE
  CACHE STRING "TFLite builtin ops whose TFLM kernels are compiled")
set(IMUAD_TFLM_KERNEL_VARIANT "reference" CACHE STRING "TFLM kernel variant (reference | cmsis_nn | ...)")
set(IMUAD_TFLM_KERNEL_OVERRIDE_DIR "" CACHE PATH "Directory of optimized kernel .cc replacing reference ones")
set(IMUAD_TFLM_EXTRA_LIBS "" CACHE STRING "Libraries linked PUBLIC into imuad_tflm")
set(IMUAD_TFLM_EXTRA_DEFINITIONS "" CACHE STRING "Definitions added PUBLIC to imuad_tflm")
set(IMUAD_TFLM_EXTRA_INCLUDES "" CACHE STRING "Include dirs added PUBLIC to imuad_tflm")
set(IMUAD_TFLM_FLAGS "" CACHE STRING "Extra compile flags for TFLM only (e.g. -O1 in sanitizer builds)")
option(IMUAD_TFLM_DEBUG_LOG "Compile TFLM's debug_log.cc (stderr); OFF = the board defines DebugLog" ON)

# op -> kernel sources (relative to tensorflow/lite/micro/kernels)
set(_k_CONV_2D conv.cc conv_common.cc)
set(_k_DEPTHWISE_CONV_2D depthwise_conv.cc depthwise_conv_common.cc)
set(_k_FULLY_CONNECTED fully_connected.cc fully_connected_common.cc)
set(_k_MAX_POOL_2D pooling.cc pooling_common.cc)
set(_k_AVERAGE_POOL_2D pooling.cc pooling_common.cc)
set(_k_MEAN reduce.cc reduce_common.cc)
set(_k_SUM reduce.cc reduce_common.cc)
set(_k_RESHAPE reshape.cc reshape_common.cc)
set(_k_EXPAND_DIMS expand_dims.cc)
set(_k_SQUEEZE squeeze.cc)
set(_k_LOGISTIC logistic.cc logistic_common.cc)
set(_k_SOFTMAX softmax.cc softmax_common.cc)
set(_k_TANH tanh.cc)
set(_k_RELU activations.cc activations_common.cc)
set(_k_RELU6 activations.cc activations_common.cc)
set(_k_UNIDIRECTIONAL_SEQUENCE_LSTM unidirectional_sequence_lstm.cc lstm_eval.cc lstm_eval_common.cc)
set(_k_ADD add.cc add_common.cc)
set(_k_SUB sub.cc sub_common.cc)
set(_k_MUL mul.cc mul_common.cc)
set(_k_CONCATENATION concatenation.cc)
set(_k_STRIDED_SLICE strided_slice.cc strided_slice_common.cc)
set(_k_SLICE slice.cc)
set(_k_SPLIT split.cc)
set(_k_SPLIT_V split_v.cc)
set(_k_QUANTIZE quantize.cc quantize_common.cc)
set(_k_DEQUANTIZE dequantize.cc dequantize_common.cc)
set(_k_TRANSPOSE transpose.cc transpose_common.cc)
set(_k_BATCH_MATMUL batch_matmul.cc batch_matmul_common.cc)
set(_k_PACK pack.cc)
set(_k_UNPACK unpack.cc)
set(_k_GATHER gather.cc)
set(_k_PAD pad.cc pad_common.cc)
set(_k_LEAKY_RELU leaky_relu.cc leaky_relu_common.cc)
set(_k_HARD_SWISH hard_swish.cc hard_swish_common.cc)

# Fails configure with a clear message if a model needs an op we do not compile.
function(imuad_tflm_check_ops what)
  foreach(op IN LISTS ARGN)
    if(NOT op IN_LIST IMUAD_TFLM_OPS)
      message(FATAL_ERROR "imuad: ${what} uses TFLite op '${op}', which is not in IMUAD_TFLM_OPS "
        "(cmake/tflm.cmake). Add it there with its kernel files, or change the model.")
    endif()
    if(NOT DEFINED _k_${op})
      message(FATAL_ERROR "imuad: op '${op}' (${what}) has no kernel file mapping in cmake/tflm.cmake")
    endif()
  endforeach()
endfunction()
imuad_tflm_check_ops("IMUAD_TFLM_OPS" ${IMUAD_TFLM_OPS})

set(_tf "${IMUAD_TFLM_DIR}/tensorflow/lite")
set(_kdir "${_tf}/micro/kernels")
set(_kernel_files kernel_util.cc micro_tensor_utils.cc)
foreach(op IN LISTS IMUAD_TFLM_OPS)
  list(APPEND _kernel_files ${_k_${op}})
endforeach()
list(REMOVE_DUPLICATES _kernel_files)
set(_kernel_srcs)
foreach(f IN LISTS _kernel_files)
  if(IMUAD_TFLM_KERNEL_OVERRIDE_DIR AND EXISTS "${IMUAD_TFLM_KERNEL_OVERRIDE_DIR}/${f}")
    list(APPEND _kernel_srcs "${IMUAD_TFLM_KERNEL_OVERRIDE_DIR}/${f}")
  else()
    list(APPEND _kernel_srcs "${_kdir}/${f}")
  endif()
endforeach()

set(_micro_srcs
  debug_log.cc flatbuffer_utils.cc memory_helpers.cc micro_allocation_info.cc micro_allocator.cc
  micro_context.cc micro_interpreter_context.cc micro_interpreter_graph.cc micro_interpreter.cc
  micro_log.cc micro_op_resolver.cc micro_profiler.cc micro_resource_variable.cc micro_time.cc
  micro_utils.cc recording_micro_allocator.cc system_setup.cc
  memory_planner/greedy_memory_planner.cc memory_planner/linear_memory_planner.cc
  arena_allocator/non_persistent_arena_buffer_allocator.cc
  arena_allocator/persistent_arena_buffer_allocator.cc
  arena_allocator/recording_single_arena_buffer_allocator.cc
  arena_allocator/single_arena_buffer_allocator.cc
  tflite_bridge/flatbuffer_conversions_bridge.cc tflite_bridge/micro_error_reporter.cc)
if(NOT IMUAD_TFLM_DEBUG_LOG)
  list(REMOVE_ITEM _micro_srcs debug_log.cc)
endif()
list(TRANSFORM _micro_srcs PREPEND "${_tf}/micro/")
set(_other_srcs
  "${_tf}/kernels/kernel_util.cc"
  "${_tf}/core/c/common.cc"
  "${_tf}/core/api/flatbuffer_conversions.cc"
  "${_tf}/core/api/tensor_utils.cc"
  "${_tf}/kernels/internal/common.cc"
  "${_tf}/kernels/internal/quantization_util.cc"
  "${_tf}/kernels/internal/portable_tensor_utils.cc"
  "${_tf}/kernels/internal/tensor_utils.cc"
  "${_tf}/kernels/internal/tensor_ctypes.cc"
  "${_tf}/kernels/internal/runtime_shape.cc"
  "${_tf}/kernels/internal/reference/portable_tensor_utils.cc"
  "${IMUAD_TFLM_DIR}/tensorflow/compiler/mlir/lite/core/api/error_reporter.cc"
  "${IMUAD_TFLM_DIR}/tensorflow/compiler/mlir/lite/schema/schema_utils.cc")
foreach(f IN LISTS _other_srcs)
  if(NOT EXISTS "${f}")
    list(REMOVE_ITEM _other_srcs "${f}")
  endif()
endforeach()

# IMUAD_TFLM_PREBUILT: reuse a libimuad_tflm.a built by another preset with the same compiler,
# kernels and definitions (host-asan links build/host's: TFLM stays uninstrumented anyway, and
# CI pays the TFLM compile once instead of twice).
set(IMUAD_TFLM_PREBUILT "" CACHE FILEPATH "Prebuilt libimuad_tflm.a to link instead of compiling TFLM")
if(IMUAD_TFLM_PREBUILT AND EXISTS "${IMUAD_TFLM_PREBUILT}")
  add_library(imuad_tflm STATIC IMPORTED GLOBAL)
  set_target_properties(imuad_tflm PROPERTIES IMPORTED_LOCATION "${IMUAD_TFLM_PREBUILT}")
  set(_tflm_scope INTERFACE)
  message(STATUS "imuad: linking prebuilt TFLM ${IMUAD_TFLM_PREBUILT}")
else()
  if(IMUAD_TFLM_PREBUILT)
    message(STATUS "imuad: ${IMUAD_TFLM_PREBUILT} not built yet; compiling TFLM here")
  endif()
  add_library(imuad_tflm STATIC ${_micro_srcs} ${_kernel_srcs} ${_other_srcs})
  set(_tflm_scope PUBLIC)
  target_compile_options(imuad_tflm PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-fno-rtti -fno-exceptions -fno-threadsafe-statics>
    -ffunction-sections -fdata-sections -w ${IMUAD_TFLM_FLAGS})
  set_target_properties(imuad_tflm PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON
    POSITION_INDEPENDENT_CODE ON)
endif()
target_include_directories(imuad_tflm SYSTEM ${_tflm_scope}
  "${IMUAD_TFLM_DIR}"
  "${IMUAD_TFLM_DIR}/third_party/gemmlowp"
  "${IMUAD_TFLM_DIR}/third_party/flatbuffers/include"
  "${IMUAD_TFLM_DIR}/third_party/ruy"
  ${IMUAD_TFLM_EXTRA_INCLUDES})
# TF_LITE_STATIC_MEMORY changes TfLiteTensor's layout: library and users must agree (PUBLIC).
target_compile_definitions(imuad_tflm ${_tflm_scope} TF_LITE_STATIC_MEMORY TF_LITE_DISABLE_X86_NEON
  ${IMUAD_TFLM_EXTRA_DEFINITIONS})
if(IMUAD_TFLM_EXTRA_LIBS)
  target_link_libraries(imuad_tflm ${_tflm_scope} ${IMUAD_TFLM_EXTRA_LIBS})
endif()
list(LENGTH _kernel_srcs _nk)
message(STATUS "imuad: TFLM (${IMUAD_TFLM_KERNEL_VARIANT} kernels) from ${IMUAD_TFLM_DIR}: ${_nk} kernel files")
