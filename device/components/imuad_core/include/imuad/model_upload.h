// A model loaded at run time (docs/contracts.md C7 MODEL_BEGIN / MODEL_CHUNK / MODEL_ACK /
// MODEL_END): the MODEL_BEGIN payload <-> the ModelSpec it describes. The flatbuffer itself goes
// into the board's model slot (imuad/board.h); ReplayApp drives the upload.
#pragma once

#include <cstddef>
#include <cstdint>

#include "imuad/model_spec.h"
#include "imuad/protocol.h"

namespace imuad {

struct ModelHeader {
  uint32_t size = 0;                  // flatbuffer bytes
  char name[kModelNameMax + 1] = {};  // NUL-terminated
  ModelSpec spec{};                   // sha256, W/H/C, n_outputs, arena, C3-C5; no flatbuffer yet
};

// Decodes a MODEL_BEGIN payload (kModelBeginLen bytes) and checks every field's range (C2-C5,
// kMaxChannels, a non-empty printable name). false with the reason in `why` otherwise.
bool parse_model_begin(const uint8_t* payload, size_t len, ModelHeader* out, char* why, size_t why_len);

// The MODEL_BEGIN payload of `h` (kModelBeginLen bytes) — tests and the codec cross check.
void encode_model_begin(const ModelHeader& h, uint8_t* out);

// ModelSpec::register_ops of a model loaded at run time: the ops its flatbuffer names, each
// from the kernels compiled into this image (imuad/ops.h).
int register_runtime_ops(OpResolver& resolver, const ModelSpec& spec);

}  // namespace imuad
