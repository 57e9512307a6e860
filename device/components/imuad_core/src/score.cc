#include "imuad/score.h"

namespace imuad {

int32_t compute_score(const ScoreSpec& spec, const int8_t* out_q, size_t n_out, const int8_t* in_q,
                      size_t n_in, int32_t in_zero_point) {
  if (spec.kind == ScoreKind::kClassProb) {
    if (spec.output_index < 0 || static_cast<size_t>(spec.output_index) >= n_out) return 0;
    return static_cast<int32_t>(out_q[spec.output_index]) - spec.output_zero_point;
  }
  const size_t n = n_out < n_in ? n_out : n_in;
  ReconAccumulator acc(spec, in_zero_point);
  for (size_t k = 0; k < n; ++k) acc.add(out_q[k], in_q[k]);
  return acc.finish();
}

}  // namespace imuad
