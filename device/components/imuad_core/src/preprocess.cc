#include "imuad/preprocess.h"

namespace imuad {

const char* preprocess_invalid(const PreprocessSpec& p, int window, int channels) {
  if (p.input_zero_point < -128 || p.input_zero_point > 127) return "C3 input zero point must be int8";
  for (int c = 0; c < channels; ++c) {
    if (p.multiplier[c] <= 0) return "C3 multipliers must be > 0";
  }
  if (p.kind == PreprocessKind::kAffine) {
    return p.shift < 1 || p.shift > 40 ? "C3 shift must be 1..40" : nullptr;
  }
  if (p.kind != PreprocessKind::kWindowRms) return "C3 preprocessing kind must be 0 (affine_int) or 1 (window_int)";
  if (p.shift < 1 || p.shift > kWindowRmsMaxShift) return "C3 window_int shift must be 1..24";
  if (window > kWindowRmsMaxWindow) return "C3 window_int takes windows of at most 1024 samples";
  for (int c = 0; c < channels; ++c) {
    if (p.offset[c] < 1 || p.offset[c] > 65535) return "C3 window_int RMS floors must be 1..65535 counts";
  }
  return nullptr;
}

uint64_t isqrt_u64(uint64_t n) {
  // Digit-by-digit (base 4): exact for every uint64, no floating point, same on every target.
  uint64_t root = 0;
  uint64_t bit = static_cast<uint64_t>(1) << 62;
  while (bit > n) bit >>= 2;
  while (bit != 0) {
    if (n >= root + bit) {
      n -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
    bit >>= 2;
  }
  return root;
}

void preprocess_window(const PreprocessSpec& p, const int16_t* raw, int window, int channels, int8_t* out) {
  WindowGain g;
  window_gain(p, window, channels, [&](int t) { return raw + t * channels; }, &g);
  for (int t = 0; t < window; ++t) {
    for (int c = 0; c < channels; ++c) {
      out[t * channels + c] = preprocess_value(p, g, window, raw[t * channels + c], c);
    }
  }
}

}  // namespace imuad
