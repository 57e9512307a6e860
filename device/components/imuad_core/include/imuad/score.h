// C4: int32 score from the int8 output tensor. Mirrors imuad.contracts.score.Score.
#pragma once

#include <cstddef>
#include <cstdint>

#include "imuad/model_spec.h"

namespace imuad {

// C4 recon_error term by term; the sum wraps like numpy int64 (unsigned arithmetic, defined).
class ReconAccumulator {
 public:
  ReconAccumulator(const ScoreSpec& spec, int32_t in_zero_point) : spec_(spec), in_zp_(in_zero_point) {}
  void add(int8_t out_q, int8_t in_q) {
    const int64_t d = static_cast<int64_t>(out_q - spec_.output_zero_point) * spec_.out_mult -
                      static_cast<int64_t>(in_q - in_zp_) * spec_.in_mult;
    const uint64_t ud = static_cast<uint64_t>(d);
    e_ += ud * ud;
  }
  int32_t finish() const {
    const int64_t shifted = static_cast<int64_t>(e_) >> spec_.shift;
    return static_cast<int32_t>(shifted > INT32_MAX ? INT32_MAX : shifted);
  }

 private:
  const ScoreSpec& spec_;
  int32_t in_zp_;
  uint64_t e_ = 0;
};

// in_q / in_zero_point are only used by kReconError (output has the input's shape).
int32_t compute_score(const ScoreSpec& spec, const int8_t* out_q, size_t n_out, const int8_t* in_q,
                      size_t n_in, int32_t in_zero_point);

}  // namespace imuad
