# CMSIS-NN (Arm's optimized int8/int16 kernels for Cortex-M) as a static library, plus the
# settings that make cmake/tflm.cmake compile TFLM's kernels/cmsis_nn/ glue in place of the
# reference kernels for conv, depthwise_conv, fully_connected, pooling, softmax, svdf,
# unidirectional_sequence_lstm, add, mul (the rest stay reference).
#
# It must run before cmake/tflm.cmake defines the TFLM library, so the
# `qemu-cortex-m4-cmsisnn` preset loads it through CMAKE_PROJECT_TOP_LEVEL_INCLUDES (before any
# language is enabled: it only populates sources and sets cache variables); sim/CMakeLists.txt
# then builds the `imuad_cmsis_nn` library from IMUAD_CMSIS_NN_DIR.
#
# Sources: ../shared/vendor/CMSIS-NN (pinned), CMSIS_6 core headers, and the glue from
# ../shared/vendor/tflite-micro (upstream TFLM; it compiles unchanged against the
# esp-tflite-micro 1.4.0 tree used for everything else).
include_guard(GLOBAL)
include(FetchContent)

get_filename_component(_imuad_vendor "${CMAKE_CURRENT_LIST_DIR}/../../shared/vendor" ABSOLUTE)
foreach(_dep CMSIS-NN CMSIS_6 tflite-micro)
  string(TOUPPER "${_dep}" _DEP)
  string(REPLACE "-" "_" _DEP "${_DEP}")
  if(NOT FETCHCONTENT_SOURCE_DIR_${_DEP} AND EXISTS "${_imuad_vendor}/${_dep}")
    set(FETCHCONTENT_SOURCE_DIR_${_DEP} "${_imuad_vendor}/${_dep}" CACHE PATH "Local ${_dep} tree (pinned)")
  endif()
endforeach()
FetchContent_Declare(cmsis_nn GIT_REPOSITORY https://github.com/ARM-software/CMSIS-NN GIT_TAG 99f736a6)
FetchContent_Declare(cmsis_6 GIT_REPOSITORY https://github.com/ARM-software/CMSIS_6 GIT_TAG 7f62ddc8)
FetchContent_Declare(tflite_micro GIT_REPOSITORY https://github.com/tensorflow/tflite-micro GIT_TAG 90b983c2b)
foreach(_dep cmsis_nn cmsis_6 tflite_micro)
  FetchContent_GetProperties(${_dep})
  if(NOT ${_dep}_POPULATED)
    FetchContent_Populate(${_dep})  # populate only: we compile the files we need ourselves
  endif()
endforeach()

set(IMUAD_CMSIS_NN_DIR "${cmsis_nn_SOURCE_DIR}" CACHE INTERNAL "")
set(IMUAD_CMSIS_CORE_INCLUDE "${cmsis_6_SOURCE_DIR}/CMSIS/Core/Include" CACHE INTERNAL "")

set(IMUAD_CMSIS_NN_KERNELS add conv depthwise_conv fully_connected mul pooling softmax svdf
    unidirectional_sequence_lstm)
set(_glue_dir "${CMAKE_BINARY_DIR}/cmsis_nn_glue")
foreach(_k IN LISTS IMUAD_CMSIS_NN_KERNELS)
  configure_file("${tflite_micro_SOURCE_DIR}/tensorflow/lite/micro/kernels/cmsis_nn/${_k}.cc"
                 "${_glue_dir}/${_k}.cc" COPYONLY)
endforeach()
set(IMUAD_TFLM_KERNEL_VARIANT "cmsis_nn" CACHE STRING "" FORCE)
set(IMUAD_TFLM_KERNEL_OVERRIDE_DIR "${_glue_dir}" CACHE PATH "" FORCE)
set(IMUAD_TFLM_EXTRA_LIBS imuad_cmsis_nn CACHE STRING "" FORCE)
set(IMUAD_TFLM_EXTRA_DEFINITIONS CMSIS_NN CACHE STRING "" FORCE)
message(STATUS "imuad: CMSIS-NN from ${cmsis_nn_SOURCE_DIR}; TFLM glue (${IMUAD_CMSIS_NN_KERNELS}) from ${tflite_micro_SOURCE_DIR}")
