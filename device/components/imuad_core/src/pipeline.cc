#include "imuad/pipeline.h"

#include "imuad/preprocess.h"
#include "imuad/protocol.h"
#include "imuad/score.h"

namespace imuad {

Status Pipeline::init(const ModelSpec& spec, uint8_t* arena, size_t arena_size, int16_t* ring, size_t ring_len) {
  spec_ = nullptr;
  if (spec.channels == 0 || spec.channels > kMaxChannels || spec.window == 0 || spec.hop == 0) {
    return Status{kErrModel, "model spec: window/hop/channels out of range"};
  }
  if (const char* why = preprocess_invalid(spec.preprocess, spec.window, spec.channels)) {
    return Status{kErrModel, why};
  }
  if (!Decider::valid(spec.decision)) {
    return Status{kErrModel, "model spec: decision needs 1 <= k <= n <= 32 and threshold_off <= threshold_on"};
  }
  if (!windower_.init(ring, ring_len, spec.window, spec.hop, spec.channels)) {
    return Status{kErrArena, "sample ring buffer too small for window x channels"};
  }
  Status st = runner_.init(spec, arena, arena_size);
  if (!st.ok()) return st;
  spec_ = &spec;
  configure(spec.decision);  // no calibration, drift watch or refit score carried over
  reset();
  return Status{};
}

void Pipeline::reset() {
  windower_.reset();
  decider_.reset();
  invoke_ok_ = true;
}

void Pipeline::apply_calibration(const CalibrationResult& c, const ShapeStats* stats) {
  calibrator_.cancel();
  decider_.configure(c.decision);
  drift_.configure(c.median, c.decision.threshold_on, c.drift_block);
  shape_on_ = stats != nullptr && stats->n > 0 && stats->n == n_features();
  if (shape_on_) shape_ = *stats;
}

uint8_t Pipeline::n_features() const {
  if (spec_ == nullptr || spec_->score.kind != ScoreKind::kClassProb) return 0;
  const size_t after = runner_.output_len() - static_cast<size_t>(spec_->score.output_index) - 1;
  return after <= kMaxFeatures ? static_cast<uint8_t>(after) : 0;
}

const char* Pipeline::start_calibration(const CalibrationRequest& r, int32_t* buffer) {
  if (r.refit && n_features() == 0) {
    return "CALIBRATE: refit needs a model whose output carries shape features after its score (spectral_gauss)";
  }
  drift_.disable();
  calibrator_.begin(r, buffer, n_features());
  return nullptr;
}

bool Pipeline::push(const int16_t* sample, Board* clock, WindowResult* out) {
  if (spec_ == nullptr || !windower_.push(sample)) return false;
  const uint16_t w = spec_->window;
  const uint8_t c = spec_->channels;
  int8_t* in = runner_.input();
  invoke_ok_ = runner_.reset();
  const PreprocessSpec& p = spec_->preprocess;
  WindowGain gain;
  window_gain(p, w, c, [this](int t) { return windower_.sample(static_cast<uint16_t>(t)); }, &gain);
  for (uint16_t t = 0; t < w; ++t) {
    const int16_t* raw = windower_.sample(t);
    for (uint8_t ch = 0; ch < c; ++ch) in[t * c + ch] = preprocess_value(p, gain, w, raw[ch], ch);
  }
  const uint32_t t0 = clock ? clock->micros() : 0;
  invoke_ok_ = runner_.invoke() && invoke_ok_;
  const uint32_t t1 = clock ? clock->micros() : 0;
  out->window = windower_.window_index();
  out->infer_us = t1 - t0;
  out->aux = kNoAux;
  out->aux_score = 0;
  out->calibration = nullptr;
  if (!invoke_ok_) {
    out->score = 0;
    out->state = decider_.state();
    out->hot = false;
    out->event = kNoEvent;
    out->out = runner_.output();
    out->n_out = 0;
    return true;
  }
  if (spec_->score.kind == ScoreKind::kReconError) {
    // TFLM may reuse the input tensor's arena bytes for later tensors during Invoke(), so the
    // input is regenerated from the raw window (preprocessing is exact and cheap).
    ReconAccumulator acc(spec_->score, spec_->preprocess.input_zero_point);
    const int8_t* o = runner_.output();
    for (uint16_t t = 0; t < w; ++t) {
      const int16_t* raw = windower_.sample(t);
      for (uint8_t ch = 0; ch < c; ++ch, ++o) acc.add(*o, preprocess_value(p, gain, w, raw[ch], ch));
    }
    out->score = acc.finish();
  } else {
    out->score = compute_score(spec_->score, runner_.output(), runner_.output_len(), nullptr, 0,
                               spec_->preprocess.input_zero_point);
  }
  // class_prob models only (n_features() > 0): the shape features follow the score element
  const int8_t* features = runner_.output() + spec_->score.output_index + 1;
  if (shape_on_) out->score = shape_score(features, shape_);
  const Decider::Step s = decider_.step(out->score);
  out->state = decider_.state();
  out->hot = s.hot;
  out->event = s.event;
  // After the decision: the window that completes a calibration was still judged by the old one.
  out->aux = drift_.step(out->score, &out->aux_score);
  if (calibrator_.add(out->score, features, decider_.spec(), &calibration_)) {
    apply_calibration(calibration_, calibrator_.stats());
    out->aux = kCalibrated;
    out->aux_score = calibration_.decision.threshold_on;
    out->calibration = &calibration_;
  }
  out->out = runner_.output();
  out->n_out = static_cast<uint16_t>(runner_.output_len());
  return true;
}

}  // namespace imuad
