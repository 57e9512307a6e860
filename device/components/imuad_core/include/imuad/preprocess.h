// C3: int16 counts -> int8 input tensor, integer only. Mirrors imuad.contracts.preprocess.Preprocess.
#pragma once

#include <cstdint>

#include "imuad/model_spec.h"

namespace imuad {

inline int8_t preprocess_one(int16_t raw, int32_t offset, int32_t multiplier, int32_t shift,
                             int32_t zero_point) {
  const int64_t acc = static_cast<int64_t>(static_cast<int32_t>(raw) - offset) * multiplier +
                      (static_cast<int64_t>(1) << (shift - 1));
  int64_t q = zero_point + (acc >> shift);  // arithmetic (floor) shift
  if (q < -128) q = -128;
  if (q > 127) q = 127;
  return static_cast<int8_t>(q);
}

// One sample of C channels.
inline void preprocess_sample(const PreprocessSpec& p, const int16_t* raw, int channels, int8_t* out) {
  for (int c = 0; c < channels; ++c) {
    out[c] = preprocess_one(raw[c], p.offset[c], p.multiplier[c], p.shift, p.input_zero_point);
  }
}

// A whole window [W][C] row-major.
void preprocess_window(const PreprocessSpec& p, const int16_t* raw, int window, int channels, int8_t* out);

}  // namespace imuad
