// imuad-calibration-echo: the core's C5b arithmetic on cases from stdin, for the Python <-> C++
// cross test (tests/contracts/test_calibration.py). One case per line:
//   windows allowed margin_permille k n drift_block refit old_on old_off old_k old_n count s_0 .. s_count-1
//   F x_0_0 .. x_count-1_F-1 (the raw int8 shape features of each window; F may be 0)
// answered with one line: the fit (on off k n windows median lowest_on onsets_before), then
// "|" and the events the pipeline's order gives on those scores after CALIBRATE from window 0
// (window kind score ...), then "|" and every window's reported score, as
// imuad.contracts.calibration.simulate.
#include <cstdio>
#include <vector>

#include "imuad/calibration.h"
#include "imuad/decision.h"

using namespace imuad;

int main() {
  for (;;) {
    unsigned w, allowed, margin, k, n, block, refit, ok_, on_;
    long old_on, old_off;
    size_t count, nf;
    if (scanf("%u %u %u %u %u %u %u %ld %ld %u %u %zu", &w, &allowed, &margin, &k, &n, &block, &refit, &old_on,
              &old_off, &ok_, &on_, &count) != 12) {
      break;
    }
    std::vector<int32_t> s(count);
    for (size_t i = 0; i < count; ++i) {
      long v;
      if (scanf("%ld", &v) != 1) return 1;
      s[i] = static_cast<int32_t>(v);
    }
    if (scanf("%zu", &nf) != 1 || nf > kMaxFeatures) return 1;
    std::vector<int8_t> x(count * nf + 1);
    for (size_t i = 0; i < count * nf; ++i) {
      int v;
      if (scanf("%d", &v) != 1) return 1;
      x[i] = static_cast<int8_t>(v);
    }
    const CalibrationRequest req{static_cast<uint16_t>(w),     static_cast<uint16_t>(allowed),
                                 static_cast<uint16_t>(margin), static_cast<uint8_t>(k),
                                 static_cast<uint8_t>(n),       static_cast<uint16_t>(block),
                                 static_cast<uint8_t>(refit)};
    if (const char* why = calibration_request_invalid(req)) {
      printf("invalid %s\n", why);
      continue;
    }
    // The pipeline's order per window (pipeline.cc): decision, drift, calibration.
    Decider decider;
    decider.configure(DecisionSpec{static_cast<int32_t>(old_on), static_cast<int32_t>(old_off),
                                   static_cast<uint8_t>(ok_), static_cast<uint8_t>(on_)});
    DriftMonitor drift;
    Calibrator cal;
    std::vector<int32_t> buf(req.windows);
    cal.begin(req, buf.data(), static_cast<uint8_t>(nf));
    CalibrationResult res{};
    ShapeStats shape{};
    bool done = false, shape_on = false;
    std::vector<long> events, reported;
    for (size_t i = 0; i < count; ++i) {
      const int8_t* f = x.data() + i * nf;
      const int32_t score = shape_on ? shape_score(f, shape) : s[i];
      reported.push_back(score);
      const Decider::Step st = decider.step(score);
      if (st.event != kNoEvent) events.insert(events.end(), {static_cast<long>(i), st.event, score});
      int32_t mean = 0;
      const AuxEventKind aux = drift.step(score, &mean);
      if (cal.add(score, f, decider.spec(), &res)) {
        done = true;
        decider.configure(res.decision);
        drift.configure(res.median, res.decision.threshold_on, res.drift_block);
        if (cal.stats() != nullptr) {
          shape = *cal.stats();
          shape_on = true;
        }
        events.insert(events.end(), {static_cast<long>(i), kCalibrated, res.decision.threshold_on});
      } else if (aux != kNoAux) {
        events.insert(events.end(), {static_cast<long>(i), aux, mean});
      }
    }
    if (done) {
      printf("%ld %ld %u %u %u %ld %ld %u", static_cast<long>(res.decision.threshold_on),
             static_cast<long>(res.decision.threshold_off), res.decision.k, res.decision.n, res.windows,
             static_cast<long>(res.median), static_cast<long>(res.lowest_on), res.onsets_before);
    } else {
      printf("none");
    }
    printf(" |");
    for (long v : events) printf(" %ld", v);
    printf(" |");
    for (long v : reported) printf(" %ld", v);
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
