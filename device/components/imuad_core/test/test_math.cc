// Preprocessing (C3), score (C4) and decision (C5) against hand-computed vectors.
#include <vector>

#include "check.h"
#include "imuad/decision.h"
#include "imuad/preprocess.h"
#include "imuad/score.h"

using namespace imuad;

int main() {
  // C3: acc = (raw - o) * m + 2^(s-1); q = clamp(zp + (acc >> s)) with a floor shift.
  CHECK_EQ(preprocess_one(100, 0, 1 << 15, 16, 0), 50);       // 100/2 exactly
  CHECK_EQ(preprocess_one(1, 0, 1 << 15, 16, 0), 1);          // 0.5 rounds half up
  CHECK_EQ(preprocess_one(-1, 0, 1 << 15, 16, 0), 0);         // -0.5 rounds up to 0
  CHECK_EQ(preprocess_one(-3, 0, 1 << 15, 16, 0), -1);        // -1.5 -> -1
  CHECK_EQ(preprocess_one(-32768, 100, 1 << 20, 16, 5), -128);  // clamp low
  CHECK_EQ(preprocess_one(32767, -32768, 2147483647, 1, 0), 127);  // int64 path, clamp high
  CHECK_EQ(preprocess_one(100, 10, 3000, 12, -3), -3 + ((90 * 3000 + 2048) >> 12));
  {
    PreprocessSpec p{{1, -2}, {1 << 16, 3 << 15}, 16, 4, };
    const int16_t raw[4] = {3, 0, -5, 10};
    int8_t out[4];
    preprocess_window(p, raw, 2, 2, out);
    CHECK_EQ(out[0], 4 + 2);
    CHECK_EQ(out[1], 4 + 3);  // 2*1.5 = 3
    CHECK_EQ(out[2], 4 - 6);
    CHECK_EQ(out[3], 4 + 18);
  }

  // C3 window_int: d = W*raw - S, R = max(isqrt(sum d^2 / W), W*floor), q = zp + floor((d*m + R*2^(s-1)) / (R*2^s))
  CHECK_EQ(isqrt_u64(0), 0u);
  CHECK_EQ(isqrt_u64(3), 1u);
  CHECK_EQ(isqrt_u64(4), 2u);
  CHECK(isqrt_u64(0xFFFFFFFE00000001ull) == 0xFFFFFFFFull);      // (2^32-1)^2
  CHECK(isqrt_u64(0xFFFFFFFE00000000ull) == 0xFFFFFFFEull);      // one below it
  CHECK(isqrt_u64(0xFFFFFFFFFFFFFFFFull) == 0xFFFFFFFFull);
  {
    PreprocessSpec p{{1, 3}, {1 << 16, 1 << 16}, 16, 2, PreprocessKind::kWindowRms};
    const int16_t raw[4] = {1, 5, 3, 5};  // ch0 1, 3 (mean 2, RMS 1); ch1 constant
    int8_t out[4];
    preprocess_window(p, raw, 2, 2, out);
    CHECK_EQ(out[0], 2 - 1);  // (1 - 2) / RMS 1
    CHECK_EQ(out[2], 2 + 1);
    CHECK_EQ(out[1], 2);      // constant: R = W * floor, d = 0
    CHECK_EQ(out[3], 2);
    const int16_t loud[4] = {-30000, 0, 30000, 0};  // ch0 +-30000 around 0: RMS 30000 -> +-1
    preprocess_window(p, loud, 2, 2, out);
    CHECK_EQ(out[0], 2 - 1);
    CHECK_EQ(out[2], 2 + 1);
    CHECK(preprocess_invalid(p, 2, 2) == nullptr);
    CHECK(preprocess_invalid(p, 1025, 2) != nullptr);
    p.offset[1] = 0;
    CHECK(preprocess_invalid(p, 2, 2) != nullptr);
  }

  // C4 class_prob
  {
    ScoreSpec s{ScoreKind::kClassProb, 1, -128, 0, 0, 0};
    const int8_t out[2] = {5, 100};
    CHECK_EQ(compute_score(s, out, 2, nullptr, 0, 0), 228);
  }
  // C4 recon_error: e = sum((o-ozp)*mo - (i-izp)*mi)^2 >> s, saturated to INT32_MAX
  {
    ScoreSpec s{ScoreKind::kReconError, 0, 3, 2, 5, 2};
    const int8_t out[3] = {4, 3, -10};
    const int8_t in[3] = {1, -1, 7};
    const long long d0 = (4 - 3) * 5 - (1 + 1) * 2, d1 = 0 * 5 - 0 * 2, d2 = (-13) * 5 - 8 * 2;
    CHECK_EQ(compute_score(s, out, 3, in, 3, -1), (d0 * d0 + d1 * d1 + d2 * d2) >> 2);
    ScoreSpec big{ScoreKind::kReconError, 0, 0, 1 << 20, 1 << 20, 0};
    const int8_t o2[2] = {127, 127};
    const int8_t i2[2] = {-128, -128};
    CHECK_EQ(compute_score(big, o2, 2, i2, 2, 0), 2147483647);
  }

  // C5 decision: hysteresis + k-of-n debounce, one event per window at most.
  {
    Decider d;
    d.configure(DecisionSpec{10, 5, 2, 3});
    struct Step { int score; int hot; int state; int event; };
    const Step steps[] = {
        {12, 1, 0, 0},  // 1 hot of 3
        {3, 0, 0, 0},   // history 1,0
        {11, 1, 1, 1},  // 2 hot -> ONSET
        {6, 1, 1, 0},   // in ANOMALY, off threshold 5: hot
        {4, 0, 1, 0},   // history 1,1,0 -> cold 1 < 2
        {4, 0, 0, 2},   // history 1,0,0 -> cold 2 -> CLEAR
        {9, 0, 0, 0},   // NORMAL again: 9 < 10 is cold (hysteresis)
        {10, 1, 0, 0},
        {10, 1, 1, 1},
    };
    for (const Step& s : steps) {
      const Decider::Step r = d.step(s.score);
      CHECK_EQ(r.hot, s.hot);
      CHECK_EQ(d.state(), s.state);
      CHECK_EQ(r.event, s.event);
    }
    d.reset();
    CHECK_EQ(d.state(), 0);
    // n = 32 uses the full history word; k = n needs n consecutive hot windows
    d.configure(DecisionSpec{1, 1, 32, 32});
    for (int i = 0; i < 31; ++i) CHECK_EQ(d.step(5).event, 0);
    CHECK_EQ(d.step(5).event, 1);
    for (int i = 0; i < 31; ++i) CHECK_EQ(d.step(0).event, 0);
    CHECK_EQ(d.step(0).event, 2);
    CHECK(!Decider::valid(DecisionSpec{1, 2, 1, 1}));
    CHECK(!Decider::valid(DecisionSpec{1, 1, 0, 1}));
    CHECK(!Decider::valid(DecisionSpec{1, 1, 3, 2}));
    CHECK(!Decider::valid(DecisionSpec{1, 1, 1, 33}));
    CHECK(Decider::valid(DecisionSpec{1, 1, 1, 32}));
  }
  TEST_MAIN_END();
}
