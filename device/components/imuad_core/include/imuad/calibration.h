// C5b: commissioning from the device's own normal windows, and drift. Integer arithmetic only;
// mirrors imuad.contracts.calibration (fit, DriftMonitor) bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "imuad/decision.h"
#include "imuad/model_spec.h"

namespace imuad {

inline constexpr uint16_t kCalibMinWindows = 16;
inline constexpr uint16_t kCalibMaxWindows = 4096;  // one int32 per window: 16 KiB
inline constexpr uint16_t kCalibMaxAllowed = 1000;
inline constexpr uint16_t kCalibMaxMargin = 10000;  // permille

// Event kinds beyond onset/clear (decision.h) and C8's heartbeat (3): one numbering for C7 and C8.
enum AuxEventKind : uint8_t { kNoAux = 0, kDrift = 4, kDriftClear = 5, kCalibrated = 6 };

struct CalibrationRequest {
  uint16_t windows;
  uint16_t allowed;          // onsets the new decision may raise on these windows
  uint16_t margin_permille;  // headroom above the lowest quiet threshold, per mille of (it - median)
  uint8_t k, n;              // 0, 0: keep the model's
  uint16_t drift_block;      // windows per drift block; 0 = no drift watch
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

// The CALIBRATION frame payload (C7 0x11, 24 bytes), also what boards persist.
void encode_calibration(const CalibrationResult& c, uint8_t* out);
// false if the bytes do not hold a valid result (a damaged store is ignored, never applied).
bool decode_calibration(const uint8_t* in, CalibrationResult* out);

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

// Collects the scores of the next `windows` windows, then fits (Pipeline owns one).
class Calibrator {
 public:
  void begin(const CalibrationRequest& r, int32_t* buffer) { req_ = r; buf_ = buffer; count_ = 0; active_ = true; }
  void cancel() { active_ = false; }
  bool active() const { return active_; }
  // true when this score completed the calibration: *out is the fit against `old`.
  bool add(int32_t score, const DecisionSpec& old, CalibrationResult* out);

 private:
  CalibrationRequest req_{};
  int32_t* buf_ = nullptr;
  uint16_t count_ = 0;
  bool active_ = false;
};

}  // namespace imuad
