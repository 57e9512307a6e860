// What the firmware core needs to know about one model: the compiled-in flatbuffer and the
// constants of the model card (docs/contracts.md C3-C5). Generated per model by
// `imuad export` as models/<name>/model_config.h; nothing here is hand-edited.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tflite {
template <unsigned int tOpCount>
class MicroMutableOpResolver;
}

namespace imuad {

// Upper bound of distinct ops one model may register (one resolver type for every model).
inline constexpr unsigned int kMaxOps = 24;
inline constexpr int kMaxChannels = 8;
using OpResolver = tflite::MicroMutableOpResolver<kMaxOps>;

// C3 kinds. kAffine: q = clamp(zp + (((raw - offset) * multiplier + 2^(shift-1)) >> shift)).
// kWindowRms: each window and channel by its own mean and RMS (offset = the RMS floor in counts),
// see imuad/preprocess.h.
enum class PreprocessKind : uint8_t { kAffine = 0, kWindowRms = 1 };
inline constexpr int kWindowRmsMaxWindow = 1024;  // keeps sum(d^2) inside int64
inline constexpr int kWindowRmsMaxShift = 24;

struct PreprocessSpec {
  int32_t offset[kMaxChannels];
  int32_t multiplier[kMaxChannels];
  int32_t shift;
  int32_t input_zero_point;
  PreprocessKind kind = PreprocessKind::kAffine;
};

// C4
enum class ScoreKind : uint8_t { kClassProb = 1, kReconError = 2 };
struct ScoreSpec {
  ScoreKind kind;
  int32_t output_index;   // kClassProb
  int32_t output_zero_point;
  int32_t in_mult;        // kReconError
  int32_t out_mult;
  int32_t shift;
};

// C5
struct DecisionSpec {
  int32_t threshold_on;
  int32_t threshold_off;
  uint8_t k;
  uint8_t n;
};

struct ModelSpec {
  const char* name;
  const unsigned char* tflite;
  unsigned int tflite_len;
  uint8_t sha256[32];
  uint16_t window;
  uint16_t hop;
  uint8_t channels;
  uint16_t n_outputs;
  PreprocessSpec preprocess;
  ScoreSpec score;
  DecisionSpec decision;
  size_t arena_bytes;  // measured by TFLM + margin, 16-byte multiple
  // Registers this model's ops: exactly its own (generated op_resolver.h) for a compiled-in
  // model, imuad::register_flatbuffer_ops (imuad/ops.h) for one loaded at run time.
  int (*register_ops)(OpResolver& resolver, const ModelSpec& spec);  // returns TfLiteStatus (0 = ok)
};

}  // namespace imuad
