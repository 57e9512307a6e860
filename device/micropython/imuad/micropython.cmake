# The imuad module for CMake-based MicroPython ports (ESP32: build-table target micropython-esp32).
# imuad_core and esp-tflite-micro are ESP-IDF components (EXTRA_COMPONENT_DIRS): the module links
# their libraries and compiles only its own files. esp-tflite-micro compiles every kernel, so the
# generated imuad/compiled_ops.h lists every op of the op table (cmake/models.cmake, OPS all).
include(${CMAKE_CURRENT_LIST_DIR}/../../../cmake/models.cmake)
imuad_op_table(_imuad_all_ops)
imuad_write_compiled_ops("${CMAKE_BINARY_DIR}/imuad_generated" ${_imuad_all_ops})
add_library(usermod_imuad INTERFACE)
target_sources(usermod_imuad INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modimuad.c
    ${CMAKE_CURRENT_LIST_DIR}/detector.cpp)
target_include_directories(usermod_imuad INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
    ${CMAKE_CURRENT_LIST_DIR}/../../components/imuad_core/include
    "${CMAKE_BINARY_DIR}/imuad_generated")
target_compile_definitions(usermod_imuad INTERFACE TF_LITE_STATIC_MEMORY)
if(COMMAND idf_component_get_property)
    # Headers and archives of the IDF components (registered through EXTRA_COMPONENT_DIRS).
    idf_component_get_property(_imuad_core_lib imuad_core COMPONENT_LIB)
    idf_component_get_property(_imuad_tflm_lib esp-tflite-micro COMPONENT_LIB)
    target_link_libraries(usermod_imuad INTERFACE ${_imuad_core_lib} ${_imuad_tflm_lib})
endif()
target_link_libraries(usermod INTERFACE usermod_imuad)
