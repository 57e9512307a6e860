// The detector: windower -> preprocess -> TFLM -> score -> decision, one sample at a time.
// Shared by ReplayApp (serial frames) and live targets (IMU driver, MicroPython).
#pragma once

#include <cstddef>
#include <cstdint>

#include "imuad/board.h"
#include "imuad/calibration.h"
#include "imuad/decision.h"
#include "imuad/model_spec.h"
#include "imuad/runner.h"
#include "imuad/status.h"
#include "imuad/windower.h"

namespace imuad {

struct WindowResult {
  uint32_t window;
  int32_t score;
  State state;
  bool hot;
  EventKind event;
  uint32_t infer_us;
  const int8_t* out;  // raw output tensor, valid until the next window
  uint16_t n_out;
  AuxEventKind aux;   // drift / drift cleared / calibrated on this window (kNoAux if none)
  int32_t aux_score;  // block mean (drift) or the new threshold_on (calibrated)
  const CalibrationResult* calibration;  // set on the window that completed a calibration
};

class Pipeline {
 public:
  // ring: window * channels int16 (kMaxRing covers every model here).
  Status init(const ModelSpec& spec, uint8_t* arena, size_t arena_size, int16_t* ring, size_t ring_len);
  // Window index 0, decision NORMAL (a live sample gap); calibration and drift watch go on.
  void reset();
  // Unloads the model (its flatbuffer may go away afterwards); init() loads one again.
  void release() {
    runner_.release();
    spec_ = nullptr;
  }
  // A new decision (CONFIG, HELLO): state NORMAL, calibration in progress, drift watch and a
  // refit score stop (the card's score again).
  void configure(const DecisionSpec& d) {
    decider_.configure(d);
    calibrator_.cancel();
    drift_.disable();
    shape_on_ = false;
  }
  // Shape features after the score in this model's output (0: no refit possible).
  uint8_t n_features() const;
  // Scores the next r.windows windows into `buffer` (r.windows int32, the caller's until done),
  // detecting with the current decision meanwhile; the window that completes it switches to the
  // fitted decision (state NORMAL) and starts the drift watch (C5b). With r.refit the shape
  // statistics of r.windows windows come first, and the refit score replaces the card's from
  // then on. nullptr if started, else why not (r must be in range already).
  const char* start_calibration(const CalibrationRequest& r, int32_t* buffer);
  // A calibration stored earlier for this model (stats: its refit, or nullptr), applied as if it
  // had just completed.
  void apply_calibration(const CalibrationResult& c, const ShapeStats* stats);
  const ShapeStats* shape_stats() const { return shape_on_ ? &shape_ : nullptr; }
  bool calibrating() const { return calibrator_.active(); }
  // Feeds one sample (channels int16). Returns true when a window completed; *out filled.
  // On a kernel error returns true with out->n_out = 0 and ok() false.
  bool push(const int16_t* sample, Board* clock, WindowResult* out);
  bool ok() const { return invoke_ok_; }

  const ModelSpec* spec() const { return spec_; }
  const Runner& runner() const { return runner_; }
  const Decider& decider() const { return decider_; }

 private:
  const ModelSpec* spec_ = nullptr;
  Runner runner_;
  Windower windower_;
  Decider decider_;
  Calibrator calibrator_;
  DriftMonitor drift_;
  CalibrationResult calibration_{};
  ShapeStats shape_{};
  bool shape_on_ = false;
  bool invoke_ok_ = true;
};

}  // namespace imuad
