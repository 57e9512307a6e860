#include "imuad/decision.h"

namespace imuad {

bool Decider::valid(const DecisionSpec& s) {
  return s.k >= 1 && s.k <= s.n && s.n <= 32 && s.threshold_off <= s.threshold_on;
}

static int popcount32(uint32_t v) {
  int c = 0;
  while (v) {
    v &= v - 1;
    ++c;
  }
  return c;
}

Decider::Step Decider::step(int32_t score) {
  const bool hot = score >= (state_ == kNormal ? spec_.threshold_on : spec_.threshold_off);
  const uint32_t mask = spec_.n >= 32 ? 0xFFFFFFFFu : ((1u << spec_.n) - 1u);
  history_ = ((history_ << 1) | (hot ? 1u : 0u)) & mask;
  const int hot_count = popcount32(history_);
  EventKind ev = kNoEvent;
  if (state_ == kNormal && hot_count >= spec_.k) {
    state_ = kAnomaly;
    ev = kOnset;
  } else if (state_ == kAnomaly && (spec_.n - hot_count) >= spec_.k) {
    state_ = kNormal;
    ev = kClear;
  }
  return Step{hot, ev};
}

}  // namespace imuad
