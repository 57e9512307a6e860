#include "imuad/calibration.h"

#include <algorithm>

#include "imuad/board.h"
#include "imuad/codec.h"
#include "imuad/preprocess.h"

namespace imuad {

namespace {

constexpr int64_t kI32Min = -2147483648LL;
constexpr int64_t kI32Max = 2147483647LL;

int32_t clamp32(int64_t v) { return static_cast<int32_t>(v < kI32Min ? kI32Min : (v > kI32Max ? kI32Max : v)); }

// floor(a / b) and ceil(a / b) for b > 0, as Python's // (C++ division truncates toward zero).
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }
int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

// threshold_off for `on`, keeping old's relative on/off gap.
int32_t off_for(int64_t on, const DecisionSpec& old) {
  const int64_t g = static_cast<int64_t>(old.threshold_on) - old.threshold_off;
  if (g <= 0) return clamp32(on);
  const int64_t den = std::max<int64_t>(1, abs64(old.threshold_on));
  // |on| * g fits int64: both factors < 2^32.
  return clamp32(on - std::max<int64_t>(1, ceil_div(abs64(on) * g, den)));
}

DecisionSpec decision_for(int64_t on, const DecisionSpec& old, uint8_t k, uint8_t n) {
  const int32_t on32 = clamp32(on);
  return DecisionSpec{on32, off_for(on32, old), k, n};
}

uint32_t count_onsets(const DecisionSpec& d, const int32_t* s, size_t count) {
  Decider dec;
  dec.configure(d);
  uint32_t onsets = 0;
  for (size_t i = 0; i < count; ++i) {
    if (dec.step(s[i]).event == kOnset) ++onsets;
  }
  return onsets;
}

}  // namespace

void encode_calibration(const CalibrationResult& c, uint8_t* b) {
  put_i32(b, c.decision.threshold_on);
  put_i32(b + 4, c.decision.threshold_off);
  b[8] = c.decision.k;
  b[9] = c.decision.n;
  put_u16(b + 10, c.windows);
  put_i32(b + 12, c.median);
  put_i32(b + 16, c.lowest_on);
  put_u16(b + 20, c.onsets_before);
  put_u16(b + 22, c.drift_block);
}

bool decode_calibration(const uint8_t* b, CalibrationResult* c) {
  c->decision = DecisionSpec{get_i32(b), get_i32(b + 4), b[8], b[9]};
  c->windows = get_u16(b + 10);
  c->median = get_i32(b + 12);
  c->lowest_on = get_i32(b + 16);
  c->onsets_before = get_u16(b + 20);
  c->drift_block = get_u16(b + 22);
  return Decider::valid(c->decision) && c->windows >= kCalibMinWindows && c->windows <= kCalibMaxWindows;
}

const char* calibration_request_invalid(const CalibrationRequest& r) {
  if (r.windows < kCalibMinWindows || r.windows > kCalibMaxWindows) return "CALIBRATE: windows must be in 16..4096";
  if (r.allowed > kCalibMaxAllowed) return "CALIBRATE: allowed must be in 0..1000";
  if (r.margin_permille > kCalibMaxMargin) return "CALIBRATE: margin_permille must be in 0..10000";
  if ((r.k == 0) != (r.n == 0)) return "CALIBRATE: give both k and n, or both 0 to keep the model's";
  if (r.k > r.n || r.n > 32) return "CALIBRATE: needs 1 <= k <= n <= 32 (or k = n = 0)";
  if (r.refit > 1) return "CALIBRATE: refit must be 0 or 1";
  return nullptr;
}

CalibrationResult fit_calibration(const int32_t* s, size_t count, const DecisionSpec& old, const CalibrationRequest& r) {
  const uint8_t k = r.k ? r.k : old.k;
  const uint8_t n = r.k ? r.n : old.n;
  CalibrationResult out{};
  out.windows = static_cast<uint16_t>(count);
  out.drift_block = r.drift_block;
  const uint32_t before = count_onsets(old, s, count);
  out.onsets_before = static_cast<uint16_t>(before > 0xFFFF ? 0xFFFF : before);
  // The lower median, sorted(s)[(count - 1) / 2], by bisection on values: s keeps its order.
  int64_t lo = *std::min_element(s, s + count);
  int64_t hi = *std::max_element(s, s + count);
  const int32_t max_score = static_cast<int32_t>(hi);
  const size_t rank = (count - 1) / 2 + 1;
  while (lo < hi) {
    const int64_t mid = floor_div(lo + hi, 2);
    size_t at_most = 0;
    for (size_t i = 0; i < count; ++i) at_most += s[i] <= mid ? 1 : 0;
    if (at_most >= rank) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const int64_t median = lo;
  lo = median + 1;
  hi = static_cast<int64_t>(max_score) + 1;
  while (lo < hi) {  // the lowest threshold_on above the median with at most `allowed` onsets
    const int64_t mid = floor_div(lo + hi, 2);
    if (count_onsets(decision_for(mid, old, k, n), s, count) <= r.allowed) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const int64_t rise = lo > median ? lo - median : 0;
  out.median = static_cast<int32_t>(median);
  out.lowest_on = clamp32(lo);
  out.decision = decision_for(lo + ceil_div(static_cast<int64_t>(r.margin_permille) * rise, 1000), old, k, n);
  return out;
}

void DriftMonitor::configure(int32_t median, int32_t threshold_on, uint16_t block) {
  block_ = block;
  const int64_t d = std::max<int64_t>(1, static_cast<int64_t>(threshold_on) - median);
  raise_at_ = median + ceil_div(d, 2);
  clear_below_ = median + ceil_div(d, 4);
  sum_ = 0;
  count_ = 0;
  drifting_ = false;
}

AuxEventKind DriftMonitor::step(int32_t score, int32_t* mean) {
  if (block_ == 0) return kNoAux;
  sum_ += score;
  if (++count_ < block_) return kNoAux;
  const int64_t m = floor_div(sum_, block_);
  sum_ = 0;
  count_ = 0;
  *mean = static_cast<int32_t>(m);  // a mean of int32 values is an int32
  if (!drifting_ && m >= raise_at_) {
    drifting_ = true;
    return kDrift;
  }
  if (drifting_ && m < clear_below_) {
    drifting_ = false;
    return kDriftClear;
  }
  return kNoAux;
}

bool Calibrator::add(int32_t score, const int8_t* features, const DecisionSpec& old, CalibrationResult* out) {
  if (!active_) return false;
  if (req_.refit && !stats_ready_) {
    acc_.add(features);
    if (acc_.count() == req_.windows) {
      acc_.finish(&stats_);
      stats_ready_ = true;
    }
    return false;
  }
  buf_[count_++] = req_.refit ? shape_score(features, stats_) : score;
  if (count_ < req_.windows) return false;
  active_ = false;
  *out = fit_calibration(buf_, count_, old, req_);
  return true;
}

int32_t shape_score(const int8_t* x, const ShapeStats& s) {
  int64_t total = 0;
  for (uint8_t i = 0; i < s.n; ++i) {
    const int64_t d = abs64(16 * static_cast<int64_t>(x[i]) - s.mean_q4[i]);
    const int64_t z = std::min<int64_t>(384, d * 64 / s.std_q4[i]);  // both >= 0: truncation is floor
    total += z * z;
  }
  return static_cast<int32_t>(total / s.n);
}

void StatsAccumulator::reset(uint8_t n) {
  n_ = n;
  count_ = 0;
  for (int i = 0; i < kMaxFeatures; ++i) s1_[i] = s2_[i] = 0;
}

void StatsAccumulator::add(const int8_t* x) {
  for (uint8_t i = 0; i < n_; ++i) {
    s1_[i] += x[i];
    s2_[i] += static_cast<int64_t>(x[i]) * x[i];
  }
  ++count_;
}

void StatsAccumulator::finish(ShapeStats* out) const {
  const int64_t n = count_;
  out->n = n_;
  int32_t sorted[kMaxFeatures];
  for (uint8_t i = 0; i < n_; ++i) {
    out->mean_q4[i] = static_cast<int32_t>(floor_div(16 * s1_[i], n));
    // n * s2 >= s1^2 (Cauchy-Schwarz): the variance is never negative
    const int64_t var_q8 = floor_div(256 * (n * s2_[i] - s1_[i] * s1_[i]), n * n);
    out->std_q4[i] = static_cast<int32_t>(isqrt_u64(static_cast<uint64_t>(var_q8)));
    sorted[i] = out->std_q4[i];
  }
  std::sort(sorted, sorted + n_);
  const int32_t floor_std = std::max<int32_t>(16, n_ > 0 ? sorted[(n_ - 1) / 2] / 10 : 16);
  for (uint8_t i = 0; i < n_; ++i) out->std_q4[i] = std::max(out->std_q4[i], floor_std);
}

void encode_calibration_store(const CalibrationResult& c, const ShapeStats* stats, uint8_t* b) {
  for (size_t i = 0; i < kCalibrationStoreLen; ++i) b[i] = 0;
  encode_calibration(c, b);
  if (stats == nullptr) return;
  b[24] = stats->n;
  for (uint8_t i = 0; i < stats->n; ++i) {
    put_i32(b + 25 + 8 * i, stats->mean_q4[i]);
    put_i32(b + 29 + 8 * i, stats->std_q4[i]);
  }
}

bool decode_calibration_store(const uint8_t* b, CalibrationResult* c, ShapeStats* stats) {
  if (!decode_calibration(b, c)) return false;
  stats->n = b[24];
  if (stats->n > kMaxFeatures) return false;
  for (uint8_t i = 0; i < stats->n; ++i) {
    stats->mean_q4[i] = get_i32(b + 25 + 8 * i);
    stats->std_q4[i] = get_i32(b + 29 + 8 * i);
    if (stats->std_q4[i] < 16) return false;  // never divide by a damaged std
  }
  return true;
}

bool store_calibration(Board& board, const uint8_t* model_sha256, const CalibrationResult& c, const ShapeStats* stats) {
  uint8_t blob[kCalibrationStoreLen];
  encode_calibration_store(c, stats, blob);
  return board.save_calibration(model_sha256, blob, sizeof(blob));
}

bool load_calibration(Board& board, const uint8_t* model_sha256, CalibrationResult* c, ShapeStats* stats) {
  uint8_t blob[kCalibrationStoreLen];
  return board.load_calibration(model_sha256, blob, sizeof(blob)) && decode_calibration_store(blob, c, stats);
}

}  // namespace imuad
