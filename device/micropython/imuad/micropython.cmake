# The imuad module for CMake-based MicroPython ports (ESP32). imuad_core and esp-tflite-micro are
# ESP-IDF components (EXTRA_COMPONENT_DIRS, see ../esp32/build.sh): the module links their
# libraries; it compiles only its own two files. The full esp-tflite-micro kernel set (with ESP-NN)
# is available there, so every op of the table in detector.cpp is enabled (IMUAD_MP_ALL_OPS).
add_library(usermod_imuad INTERFACE)
target_sources(usermod_imuad INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modimuad.c
    ${CMAKE_CURRENT_LIST_DIR}/detector.cpp)
target_include_directories(usermod_imuad INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
    ${CMAKE_CURRENT_LIST_DIR}/../../components/imuad_core/include)
target_compile_definitions(usermod_imuad INTERFACE IMUAD_MP_ALL_OPS TF_LITE_STATIC_MEMORY)
if(COMMAND idf_component_get_property)
    # Headers and archives of the IDF components (registered through EXTRA_COMPONENT_DIRS).
    idf_component_get_property(_imuad_core_lib imuad_core COMPONENT_LIB)
    idf_component_get_property(_imuad_tflm_lib esp-tflite-micro COMPONENT_LIB)
    target_link_libraries(usermod_imuad INTERFACE ${_imuad_core_lib} ${_imuad_tflm_lib})
endif()
target_link_libraries(usermod INTERFACE usermod_imuad)
