# MicroPython make-based ports (unix): the imuad module over imuad_core.
# Driven by device/micropython/build.py, which passes the core's host build outputs:
#   IMUAD_CORE_LIB  path to libimuad_core.a      (core C++ compiled by the host CMake preset)
#   IMUAD_TFLM_LIB  path to libimuad_tflm.a      (the TFLM kernel subset: linked, not recompiled)
#   IMUAD_TFLM_DIR  esp-tflite-micro source tree (headers)
#   IMUAD_TFLM_OPS  ops compiled into IMUAD_TFLM_LIB (space separated, from the CMake cache)
IMUAD_MOD_DIR := $(USERMOD_DIR)
IMUAD_REPO := $(abspath $(IMUAD_MOD_DIR)/../../..)
IMUAD_TFLM_DIR ?= $(abspath $(IMUAD_REPO)/../shared/vendor/esp-tflite-micro)

SRC_USERMOD_C += $(IMUAD_MOD_DIR)/modimuad.c
SRC_USERMOD_LIB_CXX += $(IMUAD_MOD_DIR)/detector.cpp

CFLAGS_USERMOD += -I$(IMUAD_MOD_DIR)
# TFLM headers as system headers: MicroPython's -Werror warning set must not apply to them.
CXXFLAGS_USERMOD += -I$(IMUAD_MOD_DIR) -I$(IMUAD_REPO)/device/components/imuad_core/include \
	-isystem $(IMUAD_TFLM_DIR) -isystem $(IMUAD_TFLM_DIR)/third_party/flatbuffers/include \
	-isystem $(IMUAD_TFLM_DIR)/third_party/gemmlowp -isystem $(IMUAD_TFLM_DIR)/third_party/ruy \
	-std=c++17 -fno-rtti -fno-exceptions -fno-threadsafe-statics \
	-DTF_LITE_STATIC_MEMORY -DTF_LITE_DISABLE_X86_NEON \
	$(addprefix -DIMUAD_OP_,$(IMUAD_TFLM_OPS))

LIBS_USERMOD += $(IMUAD_CORE_LIB) $(IMUAD_TFLM_LIB) -lstdc++ -lm
