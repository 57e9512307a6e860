#include "imuad/score.h"

namespace imuad {

int32_t compute_score(const ScoreSpec& spec, const int8_t* out_q, size_t n_out, const int8_t* in_q,
                      size_t n_in, int32_t in_zero_point) {
  if (spec.kind == ScoreKind::kClassProb) {
    if (spec.output_index < 0 || static_cast<size_t>(spec.output_index) >= n_out) return 0;
    return static_cast<int32_t>(out_q[spec.output_index]) - spec.output_zero_point;
  }
  // Recon error. The sum wraps like numpy int64 (unsigned arithmetic: defined behaviour).
  const size_t n = n_out < n_in ? n_out : n_in;
  uint64_t e = 0;
  for (size_t k = 0; k < n; ++k) {
    const int64_t d = static_cast<int64_t>(out_q[k] - spec.output_zero_point) * spec.out_mult -
                      static_cast<int64_t>(in_q[k] - in_zero_point) * spec.in_mult;
    const uint64_t ud = static_cast<uint64_t>(d);
    e += ud * ud;
  }
  const int64_t shifted = static_cast<int64_t>(e) >> spec.shift;
  const int64_t clipped = shifted > INT32_MAX ? INT32_MAX : shifted;
  return static_cast<int32_t>(clipped);
}

}  // namespace imuad
