# MicroPython make-based ports (unix): the imuad module over the core of a plain CMake build.
# `imuad build micropython` passes IMUAD_BUILD_MK, the fragment the host build writes
# (cmake/firmware.cmake): the core and TFLM libraries (linked, not recompiled), the TFLM headers
# and definitions, the generated imuad/compiled_ops.h and the warnings policy.
include $(IMUAD_BUILD_MK)
IMUAD_MOD_DIR := $(USERMOD_DIR)
IMUAD_REPO := $(abspath $(IMUAD_MOD_DIR)/../../..)

SRC_USERMOD_C += $(IMUAD_MOD_DIR)/modimuad.c
SRC_USERMOD_LIB_CXX += $(IMUAD_MOD_DIR)/detector.cpp

CFLAGS_USERMOD += -I$(IMUAD_MOD_DIR)
# TFLM headers as system headers: the warnings policy applies to our code only.
CXXFLAGS_USERMOD += -I$(IMUAD_MOD_DIR) -I$(IMUAD_REPO)/device/components/imuad_core/include \
	-I$(IMUAD_GENERATED_DIR) -isystem $(IMUAD_TFLM_DIR) \
	-isystem $(IMUAD_TFLM_DIR)/third_party/flatbuffers/include \
	-isystem $(IMUAD_TFLM_DIR)/third_party/gemmlowp -isystem $(IMUAD_TFLM_DIR)/third_party/ruy \
	-std=c++17 -fno-rtti -fno-exceptions -fno-threadsafe-statics $(IMUAD_WARNINGS) $(IMUAD_TFLM_DEFINES)

LIBS_USERMOD += $(IMUAD_CORE_LIB) $(IMUAD_TFLM_LIB) $(IMUAD_EXTRA_LIBS) -lstdc++ -lm
