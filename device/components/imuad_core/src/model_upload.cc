#include "imuad/model_upload.h"

#include <cstdio>
#include <cstring>

#include "imuad/codec.h"
#include "imuad/decision.h"
#include "imuad/ops.h"
#include "imuad/preprocess.h"

namespace imuad {
namespace {

bool fail(char* why, size_t why_len, const char* text) {
  if (why != nullptr && why_len > 0) snprintf(why, why_len, "%s", text);
  return false;
}

}  // namespace

bool parse_model_begin(const uint8_t* p, size_t len, ModelHeader* out, char* why, size_t why_len) {
  if (len != kModelBeginLen) return fail(why, why_len, "MODEL_BEGIN payload length");
  ModelHeader h;
  ModelSpec& s = h.spec;
  h.size = get_u32(p); p += 4;
  std::memcpy(s.sha256, p, 32); p += 32;
  std::memcpy(h.name, p, kModelNameMax); p += kModelNameMax;
  h.name[kModelNameMax] = 0;
  s.window = get_u16(p); p += 2;
  s.hop = get_u16(p); p += 2;
  s.channels = *p++;
  s.n_outputs = get_u16(p); p += 2;
  s.arena_bytes = get_u32(p); p += 4;
  for (int c = 0; c < kMaxChannels; ++c, p += 4) s.preprocess.offset[c] = get_i32(p);
  for (int c = 0; c < kMaxChannels; ++c, p += 4) s.preprocess.multiplier[c] = get_i32(p);
  s.preprocess.shift = get_i32(p); p += 4;
  s.preprocess.input_zero_point = get_i32(p); p += 4;
  const uint8_t kind = *p++;
  s.score.kind = static_cast<ScoreKind>(kind);
  s.score.output_index = get_i32(p); p += 4;
  s.score.output_zero_point = get_i32(p); p += 4;
  s.score.in_mult = get_i32(p); p += 4;
  s.score.out_mult = get_i32(p); p += 4;
  s.score.shift = get_i32(p); p += 4;
  s.decision.threshold_on = get_i32(p); p += 4;
  s.decision.threshold_off = get_i32(p); p += 4;
  s.decision.k = *p++;
  s.decision.n = *p++;
  s.preprocess.kind = static_cast<PreprocessKind>(*p++);

  // Checks: what the card loader (imuad.contracts.card) guarantees for a compiled-in model.
  const size_t name_len = std::strlen(h.name);
  if (name_len == 0) return fail(why, why_len, "MODEL_BEGIN: empty model name (HELLO \"\" is the default model)");
  for (size_t i = 0; i < name_len; ++i) {
    if (h.name[i] < 0x21 || h.name[i] > 0x7e) return fail(why, why_len, "MODEL_BEGIN: model name not printable ASCII");
  }
  for (size_t i = name_len; i < kModelNameMax; ++i) {
    if (h.name[i] != 0) return fail(why, why_len, "MODEL_BEGIN: model name has bytes after its NUL");
  }
  if (h.size == 0) return fail(why, why_len, "MODEL_BEGIN: size 0");
  if (s.window == 0 || s.hop == 0 || s.channels == 0 || s.channels > kMaxChannels || s.n_outputs == 0) {
    return fail(why, why_len, "MODEL_BEGIN: window/hop/channels/n_outputs out of range");
  }
  for (int c = 0; c < kMaxChannels; ++c) {
    if (c < s.channels ? s.preprocess.multiplier[c] <= 0 : (s.preprocess.multiplier[c] != 0 || s.preprocess.offset[c] != 0)) {
      return fail(why, why_len, "MODEL_BEGIN: C3 multipliers must be > 0 (and 0 beyond the channels)");
    }
  }
  if (const char* bad = preprocess_invalid(s.preprocess, s.window, s.channels)) {
    if (why != nullptr && why_len > 0) snprintf(why, why_len, "MODEL_BEGIN: %s", bad);
    return false;
  }
  if (kind != static_cast<uint8_t>(ScoreKind::kClassProb) && kind != static_cast<uint8_t>(ScoreKind::kReconError)) {
    return fail(why, why_len, "MODEL_BEGIN: C4 score kind must be 1 (class_prob) or 2 (recon_error)");
  }
  if (s.score.output_zero_point < -128 || s.score.output_zero_point > 127 || s.score.shift < 0 ||
      s.score.shift > 62 || (s.score.kind == ScoreKind::kClassProb &&
                             (s.score.output_index < 0 || s.score.output_index >= s.n_outputs))) {
    return fail(why, why_len, "MODEL_BEGIN: C4 output index, output zero point or shift out of range");
  }
  if (!Decider::valid(s.decision)) {
    return fail(why, why_len, "MODEL_BEGIN: C5 decision needs 1 <= k <= n <= 32 and threshold_off <= threshold_on");
  }
  s.name = nullptr;  // the caller points it at its own copy of h.name
  s.tflite = nullptr;
  s.tflite_len = 0;
  s.register_ops = &register_runtime_ops;
  *out = h;
  return true;
}

void encode_model_begin(const ModelHeader& h, uint8_t* p) {
  const ModelSpec& s = h.spec;
  put_u32(p, h.size); p += 4;
  std::memcpy(p, s.sha256, 32); p += 32;
  std::memset(p, 0, kModelNameMax);
  for (size_t i = 0; i < kModelNameMax && h.name[i] != 0; ++i) p[i] = static_cast<uint8_t>(h.name[i]);
  p += kModelNameMax;
  put_u16(p, s.window); p += 2;
  put_u16(p, s.hop); p += 2;
  *p++ = s.channels;
  put_u16(p, s.n_outputs); p += 2;
  put_u32(p, static_cast<uint32_t>(s.arena_bytes)); p += 4;
  for (int c = 0; c < kMaxChannels; ++c, p += 4) put_i32(p, s.preprocess.offset[c]);
  for (int c = 0; c < kMaxChannels; ++c, p += 4) put_i32(p, s.preprocess.multiplier[c]);
  put_i32(p, s.preprocess.shift); p += 4;
  put_i32(p, s.preprocess.input_zero_point); p += 4;
  *p++ = static_cast<uint8_t>(s.score.kind);
  put_i32(p, s.score.output_index); p += 4;
  put_i32(p, s.score.output_zero_point); p += 4;
  put_i32(p, s.score.in_mult); p += 4;
  put_i32(p, s.score.out_mult); p += 4;
  put_i32(p, s.score.shift); p += 4;
  put_i32(p, s.decision.threshold_on); p += 4;
  put_i32(p, s.decision.threshold_off); p += 4;
  *p++ = s.decision.k;
  *p++ = s.decision.n;
  *p++ = static_cast<uint8_t>(s.preprocess.kind);
}

int register_runtime_ops(OpResolver& resolver, const ModelSpec& spec) {
  return register_flatbuffer_ops(resolver, spec);
}

}  // namespace imuad
