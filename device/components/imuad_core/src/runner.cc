#include "imuad/runner.h"

#include <cstdarg>
#include <cstdio>

#include "imuad/protocol.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace imuad {

Status Runner::fail(int code, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(message_, sizeof(message_), fmt, args);
  va_end(args);
  release();
  return Status{code, message_};
}

void Runner::release() {
  if (interpreter_ != nullptr) {
    interpreter_->~MicroInterpreter();
    interpreter_ = nullptr;
  }
  if (resolver_ != nullptr) {
    resolver_->~OpResolver();
    resolver_ = nullptr;
  }
  input_ = nullptr;
  output_ = nullptr;
  input_len_ = output_len_ = 0;
}

static size_t element_count(const TfLiteTensor* t) {
  size_t n = 1;
  for (int i = 0; i < t->dims->size; ++i) n *= static_cast<size_t>(t->dims->data[i]);
  return n;
}

Status Runner::init(const ModelSpec& spec, uint8_t* arena, size_t arena_size) {
  release();
  if (spec.tflite == nullptr || spec.tflite_len < 16) {
    return fail(kErrModel, "model '%s': no flatbuffer", spec.name);
  }
  // A TFLite flatbuffer carries the identifier "TFL3" at bytes 4..7.
  if (!flatbuffers::BufferHasIdentifier(spec.tflite, tflite::ModelIdentifier())) {
    return fail(kErrModel, "model '%s': not a TFLite flatbuffer (identifier)", spec.name);
  }
  flatbuffers::Verifier verifier(spec.tflite, spec.tflite_len);
  if (!tflite::VerifyModelBuffer(verifier)) {
    return fail(kErrModel, "model '%s': flatbuffer verification failed", spec.name);
  }
  const tflite::Model* model = tflite::GetModel(spec.tflite);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    return fail(kErrModel, "model '%s': schema version %u, expected %d", spec.name,
                static_cast<unsigned>(model->version()), TFLITE_SCHEMA_VERSION);
  }
  if (arena == nullptr || arena_size < spec.arena_bytes) {
    return fail(kErrArena, "model '%s': arena %u bytes, the card needs %u", spec.name,
                static_cast<unsigned>(arena_size), static_cast<unsigned>(spec.arena_bytes));
  }
  resolver_ = new (resolver_storage_) OpResolver();
  if (spec.register_ops == nullptr || spec.register_ops(*resolver_) != 0) {
    return fail(kErrModel, "model '%s': op registration failed", spec.name);
  }
  interpreter_ = new (interp_storage_) tflite::MicroInterpreter(model, *resolver_, arena, arena_size);
  if (interpreter_->AllocateTensors() != kTfLiteOk) {
    return fail(kErrArena, "model '%s': AllocateTensors failed (arena %u bytes too small, or an op "
                "is missing)", spec.name, static_cast<unsigned>(arena_size));
  }
  if (interpreter_->inputs_size() != 1 || interpreter_->outputs_size() != 1) {
    return fail(kErrModel, "model '%s': needs 1 input and 1 output, has %u and %u", spec.name,
                static_cast<unsigned>(interpreter_->inputs_size()),
                static_cast<unsigned>(interpreter_->outputs_size()));
  }
  TfLiteTensor* in = interpreter_->input(0);
  TfLiteTensor* out = interpreter_->output(0);
  const size_t want_in = static_cast<size_t>(spec.window) * spec.channels;
  if (in->type != kTfLiteInt8 || element_count(in) != want_in) {
    return fail(kErrModel, "model '%s': input must be int8 [1,%u,%u] (type %d, %u elements)", spec.name,
                static_cast<unsigned>(spec.window), static_cast<unsigned>(spec.channels),
                static_cast<int>(in->type), static_cast<unsigned>(element_count(in)));
  }
  if (out->type != kTfLiteInt8 || element_count(out) != spec.n_outputs) {
    return fail(kErrModel, "model '%s': output must be int8 with %u elements (type %d, %u elements)",
                spec.name, static_cast<unsigned>(spec.n_outputs), static_cast<int>(out->type),
                static_cast<unsigned>(element_count(out)));
  }
  if (in->params.zero_point != spec.preprocess.input_zero_point ||
      out->params.zero_point != spec.score.output_zero_point) {
    return fail(kErrModel, "model '%s': zero points (in %d, out %d) differ from the card (%d, %d)",
                spec.name, static_cast<int>(in->params.zero_point), static_cast<int>(out->params.zero_point),
                static_cast<int>(spec.preprocess.input_zero_point),
                static_cast<int>(spec.score.output_zero_point));
  }
  if (spec.score.kind == ScoreKind::kReconError && spec.n_outputs != want_in) {
    return fail(kErrModel, "model '%s': recon_error needs output shape == input shape", spec.name);
  }
  if (spec.score.kind == ScoreKind::kClassProb &&
      (spec.score.output_index < 0 || spec.score.output_index >= static_cast<int32_t>(spec.n_outputs))) {
    return fail(kErrModel, "model '%s': score output_index %d out of range", spec.name,
                static_cast<int>(spec.score.output_index));
  }
  input_ = in->data.int8;
  output_ = out->data.int8;
  input_len_ = want_in;
  output_len_ = spec.n_outputs;
  input_zp_ = in->params.zero_point;
  output_zp_ = out->params.zero_point;
  return Status{};
}

bool Runner::reset() { return interpreter_ != nullptr && interpreter_->Reset() == kTfLiteOk; }

bool Runner::invoke() { return interpreter_ != nullptr && interpreter_->Invoke() == kTfLiteOk; }

}  // namespace imuad
