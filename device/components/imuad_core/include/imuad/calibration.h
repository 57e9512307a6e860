// C5b: commissioning from the device's own normal windows, and drift. Integer arithmetic only;
// mirrors imuad.contracts.calibration (fit, DriftMonitor) bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "imuad/decision.h"
#include "imuad/model_spec.h"

namespace imuad {

class Board;  // imuad/board.h

inline constexpr uint16_t kCalibMinWindows = 16;
inline constexpr uint16_t kCalibMaxWindows = 4096;  // one int32 per window: 16 KiB
inline constexpr uint16_t kCalibMaxAllowed = 1000;
inline constexpr uint16_t kCalibMaxMargin = 10000;  // permille
inline constexpr uint8_t kMaxFeatures = 64;         // shape features a refit standardises

// Event kinds beyond onset/clear (decision.h) and C8's heartbeat (3): one numbering for C7 and C8.
enum AuxEventKind : uint8_t { kNoAux = 0, kDrift = 4, kDriftClear = 5, kCalibrated = 6 };

struct CalibrationRequest {
  uint16_t windows;
  uint16_t allowed;          // onsets the new decision may raise on these windows
  uint16_t margin_permille;  // headroom above the lowest quiet threshold, per mille of (it - median)
  uint8_t k, n;              // 0, 0: keep the model's
  uint16_t drift_block;      // windows per drift block; 0 = no drift watch
  uint8_t refit;             // 1: first refit the shape statistics on `windows` windows (C5b refit)
};

// Per-feature mean and std (in 1/16 of an int8 step) of the shape features a model outputs after
// its score (spectral_gauss), fitted on the device's own windows.
struct ShapeStats {
  uint8_t n;  // features
  int32_t mean_q4[kMaxFeatures];
  int32_t std_q4[kMaxFeatures];
};

// Refit score of one window: sum of min(384, |16 x_i - mean_i| * 64 / std_i)^2, divided by n.
int32_t shape_score(const int8_t* x, const ShapeStats& s);

// Sums of the features over the statistics windows.
class StatsAccumulator {
 public:
  void reset(uint8_t n);
  void add(const int8_t* x);
  void finish(ShapeStats* out) const;  // count() >= 1
  uint32_t count() const { return count_; }

 private:
  uint8_t n_ = 0;
  uint32_t count_ = 0;
  int64_t s1_[kMaxFeatures] = {};
  int64_t s2_[kMaxFeatures] = {};
};

// nullptr if valid, else why not (same ranges as imuad.contracts.calibration.check_request).
const char* calibration_request_invalid(const CalibrationRequest& r);

struct CalibrationResult {
  DecisionSpec decision;
  uint16_t windows;
  int32_t median;
  int32_t lowest_on;
  uint16_t onsets_before;  // onsets `old` raised on these windows
  uint16_t drift_block;
};

// The CALIBRATION frame payload (C7 0x11, 24 bytes).
void encode_calibration(const CalibrationResult& c, uint8_t* out);
// false if the bytes do not hold a valid result (a damaged store is ignored, never applied).
bool decode_calibration(const uint8_t* in, CalibrationResult* out);

// What boards persist: the CALIBRATION payload, then n:u8 and n x (mean_q4, std_q4) as i32
// (n = 0 without a refit), zero-filled to kCalibrationStoreLen.
inline constexpr size_t kCalibrationStoreLen = 24 + 1 + 8 * kMaxFeatures;
void encode_calibration_store(const CalibrationResult& c, const ShapeStats* stats, uint8_t* out);
bool decode_calibration_store(const uint8_t* in, CalibrationResult* c, ShapeStats* stats);

// The one place a calibration is stored and read back (ReplayApp, the ESP32 live pipeline):
// encode_calibration_store + Board::save_calibration, Board::load_calibration +
// decode_calibration_store. store: false if the board could not keep it. load: false if the
// board holds none for this model or the bytes do not decode (a damaged store is never applied).
bool store_calibration(Board& board, const uint8_t* model_sha256, const CalibrationResult& c, const ShapeStats* stats);
bool load_calibration(Board& board, const uint8_t* model_sha256, CalibrationResult* c, ShapeStats* stats);

// Fits the decision on scores[0..count) (count >= 1); O(count x log(score range)), no extra memory.
CalibrationResult fit_calibration(const int32_t* scores, size_t count, const DecisionSpec& old,
                                  const CalibrationRequest& r);

// Block means of scores after a calibration against its median.
class DriftMonitor {
 public:
  void configure(int32_t median, int32_t threshold_on, uint16_t block);
  void disable() { block_ = 0; }
  // One window's score; returns kDrift / kDriftClear when a block ends with a change (*mean set).
  AuxEventKind step(int32_t score, int32_t* mean);

 private:
  uint16_t block_ = 0;
  int64_t raise_at_ = 0, clear_below_ = 0, sum_ = 0;
  uint16_t count_ = 0;
  bool drifting_ = false;
};

// Collects the scores of the next `windows` windows, then fits (Pipeline owns one). With a
// refit, the shape statistics of the first `windows` windows come first and the scores collected
// are the refit scores of the next `windows`.
class Calibrator {
 public:
  void begin(const CalibrationRequest& r, int32_t* buffer, uint8_t n_features) {
    req_ = r;
    buf_ = buffer;
    count_ = 0;
    active_ = true;
    stats_ready_ = false;
    acc_.reset(n_features);
  }
  void cancel() { active_ = false; }
  bool active() const { return active_; }
  // true when this window completed the calibration: *out is the fit against `old`, and
  // stats() the refit statistics (with a refit).
  bool add(int32_t score, const int8_t* features, const DecisionSpec& old, CalibrationResult* out);
  const ShapeStats* stats() const { return req_.refit && stats_ready_ ? &stats_ : nullptr; }

 private:
  CalibrationRequest req_{};
  int32_t* buf_ = nullptr;
  uint16_t count_ = 0;
  bool active_ = false;
  bool stats_ready_ = false;
  StatsAccumulator acc_;
  ShapeStats stats_{};
};

}  // namespace imuad
