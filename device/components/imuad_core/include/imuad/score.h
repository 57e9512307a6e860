// C4: int32 score from the int8 output tensor. Mirrors imuad.reference.Score.
#pragma once

#include <cstddef>
#include <cstdint>

#include "imuad/model_spec.h"

namespace imuad {

// in_q / in_zero_point are only used by kReconError (output has the input's shape).
int32_t compute_score(const ScoreSpec& spec, const int8_t* out_q, size_t n_out, const int8_t* in_q,
                      size_t n_in, int32_t in_zero_point);

}  // namespace imuad
