// C3: int16 counts -> int8 input tensor, integer only. Mirrors imuad.contracts.preprocess.Preprocess.
#pragma once

#include <cstdint>

#include "imuad/model_spec.h"

namespace imuad {

inline int8_t clamp_int8(int64_t q) {
  if (q < -128) q = -128;
  if (q > 127) q = 127;
  return static_cast<int8_t>(q);
}

inline int8_t preprocess_one(int16_t raw, int32_t offset, int32_t multiplier, int32_t shift,
                             int32_t zero_point) {
  const int64_t acc = static_cast<int64_t>(static_cast<int32_t>(raw) - offset) * multiplier +
                      (static_cast<int64_t>(1) << (shift - 1));
  return clamp_int8(zero_point + (acc >> shift));  // arithmetic (floor) shift
}

// One sample of C channels (kAffine).
inline void preprocess_sample(const PreprocessSpec& p, const int16_t* raw, int channels, int8_t* out) {
  for (int c = 0; c < channels; ++c) {
    out[c] = preprocess_one(raw[c], p.offset[c], p.multiplier[c], p.shift, p.input_zero_point);
  }
}

// nullptr when the spec is valid for a window of `window` x `channels` samples, else why not.
const char* preprocess_invalid(const PreprocessSpec& p, int window, int channels);

// floor(sqrt(n)), exact.
uint64_t isqrt_u64(uint64_t n);

// kWindowRms: per channel the window's sum S and scale R = max(isqrt(sum(d^2) / W), W * offset[c])
// with d = W * raw - S (so d / R = (raw - mean) / max(RMS, offset[c])). kAffine: unused.
struct WindowGain {
  int64_t sum[kMaxChannels];
  int64_t r[kMaxChannels];
};

// sample(t) -> const int16_t* of the window's sample t (C channels), t = 0..window-1.
template <typename SampleFn>
void window_gain(const PreprocessSpec& p, int window, int channels, SampleFn sample, WindowGain* g) {
  if (p.kind != PreprocessKind::kWindowRms) return;
  for (int c = 0; c < channels; ++c) g->sum[c] = 0;
  for (int t = 0; t < window; ++t) {
    const int16_t* s = sample(t);
    for (int c = 0; c < channels; ++c) g->sum[c] += s[c];
  }
  uint64_t e[kMaxChannels] = {};
  for (int t = 0; t < window; ++t) {
    const int16_t* s = sample(t);
    for (int c = 0; c < channels; ++c) {
      const int64_t d = static_cast<int64_t>(window) * s[c] - g->sum[c];
      e[c] += static_cast<uint64_t>(d * d);
    }
  }
  for (int c = 0; c < channels; ++c) {
    const int64_t r = static_cast<int64_t>(isqrt_u64(e[c] / static_cast<uint64_t>(window)));
    const int64_t floor = static_cast<int64_t>(window) * (p.offset[c] > 0 ? p.offset[c] : 1);
    g->r[c] = r > floor ? r : floor;
  }
}

// One value of channel c of a window, either kind (g from window_gain for kWindowRms).
inline int8_t preprocess_value(const PreprocessSpec& p, const WindowGain& g, int window, int16_t raw, int c) {
  if (p.kind != PreprocessKind::kWindowRms) {
    return preprocess_one(raw, p.offset[c], p.multiplier[c], p.shift, p.input_zero_point);
  }
  const int64_t d = static_cast<int64_t>(window) * raw - g.sum[c];
  const int64_t den = g.r[c] << p.shift;
  const int64_t num = d * p.multiplier[c] + (g.r[c] << (p.shift - 1));
  int64_t q = num / den;
  if (num % den != 0 && num < 0) --q;  // floor division, as Python's //
  return clamp_int8(p.input_zero_point + q);
}

// A whole window [W][C] row-major, either kind.
void preprocess_window(const PreprocessSpec& p, const int16_t* raw, int window, int channels, int8_t* out);

}  // namespace imuad
