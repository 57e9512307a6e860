// TFLM runner: one compiled-in model, arena from the caller, Reset() before every window so
// stateful ops (fused LSTM variable tensors) start every window from zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#include "imuad/model_spec.h"
#include "imuad/status.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

namespace imuad {

class Runner {
 public:
  Runner() = default;
  ~Runner() { release(); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Verifies the flatbuffer, registers the spec's ops, allocates tensors, checks the
  // input/output types and shapes against the spec. Errors: kErrModel or kErrArena.
  Status init(const ModelSpec& spec, uint8_t* arena, size_t arena_size);
  void release();
  bool ready() const { return interpreter_ != nullptr; }

  int8_t* input() { return input_; }
  size_t input_len() const { return input_len_; }
  const int8_t* output() const { return output_; }
  size_t output_len() const { return output_len_; }
  int32_t input_zero_point() const { return input_zp_; }
  int32_t output_zero_point() const { return output_zp_; }
  size_t arena_used() const { return interpreter_ ? interpreter_->arena_used_bytes() : 0; }

  // Zeroes variable tensors (LSTM state): call before filling the input of every window.
  bool reset();
  // Invoke(). false on a kernel error.
  bool invoke();
  // The smallest arena init() accepts for this graph (ERROR(ARENA) below it, see runner.cc).
  static size_t arena_floor(const tflite::SubGraph* graph);

 private:
  Status fail(int code, const char* fmt, ...);

  alignas(OpResolver) unsigned char resolver_storage_[sizeof(OpResolver)];
  alignas(tflite::MicroInterpreter) unsigned char interp_storage_[sizeof(tflite::MicroInterpreter)];
  OpResolver* resolver_ = nullptr;
  tflite::MicroInterpreter* interpreter_ = nullptr;
  int8_t* input_ = nullptr;
  const int8_t* output_ = nullptr;
  size_t input_len_ = 0, output_len_ = 0;
  int32_t input_zp_ = 0, output_zp_ = 0;
  char message_[160];
};

}  // namespace imuad
