// C5: threshold with hysteresis + k-of-n debounce. Mirrors imuad.contracts.decision.Decider.
#pragma once

#include <cstdint>

#include "imuad/model_spec.h"

namespace imuad {

enum State : uint8_t { kNormal = 0, kAnomaly = 1 };
enum EventKind : uint8_t { kNoEvent = 0, kOnset = 1, kClear = 2 };

class Decider {
 public:
  // false if the spec is invalid (needs 1 <= k <= n <= 32, threshold_off <= threshold_on).
  static bool valid(const DecisionSpec& spec);
  void configure(const DecisionSpec& spec) { spec_ = spec; reset(); }
  void reset() { state_ = kNormal; history_ = 0; }

  struct Step {
    bool hot;
    EventKind event;
  };
  Step step(int32_t score);
  State state() const { return state_; }
  const DecisionSpec& spec() const { return spec_; }

 private:
  DecisionSpec spec_{0, 0, 1, 1};
  State state_ = kNormal;
  uint32_t history_ = 0;  // bit 0 = newest window
};

}  // namespace imuad
