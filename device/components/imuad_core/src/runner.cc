#include "imuad/runner.h"

#include <cstdarg>
#include <cstdio>

#include "imuad/ops.h"
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

// Structural checks the flatbuffer Verifier cannot make (it checks offsets, not meaning): TFLM
// trusts indices, shapes and constant-buffer sizes, so a model with a few flipped bytes that
// still verifies would read out of bounds. Returns nullptr when sane, else what is wrong.
static const char* check_model_structure(const tflite::Model* model) {
  const auto* subgraphs = model->subgraphs();
  const auto* buffers = model->buffers();
  const auto* codes = model->operator_codes();
  if (subgraphs == nullptr || subgraphs->size() != 1) return "needs exactly one subgraph";
  if (buffers == nullptr || codes == nullptr) return "no buffers or operator codes";
  const tflite::SubGraph* g = subgraphs->Get(0);
  const auto* tensors = g->tensors();
  const auto* ops = g->operators();
  if (tensors == nullptr || ops == nullptr || g->inputs() == nullptr || g->outputs() == nullptr) {
    return "subgraph lacks tensors, operators, inputs or outputs";
  }
  const int32_t n_tensors = static_cast<int32_t>(tensors->size());
  auto index_ok = [n_tensors](int32_t i, bool optional) {
    return (i >= 0 && i < n_tensors) || (optional && i == -1);
  };
  for (int32_t i : *g->inputs()) if (!index_ok(i, false)) return "subgraph input index out of range";
  for (int32_t i : *g->outputs()) if (!index_ok(i, false)) return "subgraph output index out of range";
  for (const tflite::Tensor* t : *tensors) {
    if (t == nullptr || t->shape() == nullptr) return "tensor without a shape";
    if (t->buffer() >= buffers->size()) return "tensor buffer index out of range";
    uint64_t elements = 1;
    for (int32_t d : *t->shape()) {
      if (d < 0 || d > 65536) return "tensor dimension out of range";
      elements *= static_cast<uint64_t>(d);
      if (elements > (1u << 24)) return "tensor too large";
    }
    size_t elem_size = 0;
    switch (t->type()) {
      case tflite::TensorType_INT8: case tflite::TensorType_UINT8: case tflite::TensorType_BOOL: elem_size = 1; break;
      case tflite::TensorType_INT16: elem_size = 2; break;
      case tflite::TensorType_INT32: case tflite::TensorType_FLOAT32: elem_size = 4; break;
      case tflite::TensorType_INT64: elem_size = 8; break;
      default: return "tensor type not supported";
    }
    const tflite::Buffer* b = buffers->Get(t->buffer());
    if (b != nullptr && b->data() != nullptr && b->data()->size() != 0 &&
        b->data()->size() != elements * elem_size) {
      return "constant tensor size does not match its shape";
    }
    const tflite::QuantizationParameters* q = t->quantization();
    if (q != nullptr && q->scale() != nullptr && q->scale()->size() > 1) {
      const int32_t qd = q->quantized_dimension();
      if (q->zero_point() == nullptr || q->zero_point()->size() != q->scale()->size() || qd < 0 ||
          qd >= static_cast<int32_t>(t->shape()->size()) ||
          static_cast<int32_t>(q->scale()->size()) != t->shape()->Get(qd)) {
        return "per-channel quantization does not match the tensor shape";
      }
    }
  }
  for (const tflite::Operator* op : *ops) {
    if (op == nullptr || op->inputs() == nullptr || op->outputs() == nullptr) return "operator without inputs/outputs";
    if (op->opcode_index() >= codes->size()) return "operator code index out of range";
    for (int32_t i : *op->inputs()) if (!index_ok(i, true)) return "operator input index out of range";
    for (int32_t i : *op->outputs()) if (!index_ok(i, false)) return "operator output index out of range";
  }
  return nullptr;
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
  if (const char* why = check_model_structure(model)) {
    return fail(kErrModel, "model '%s': corrupt model: %s", spec.name, why);
  }
  tflite::BuiltinOperator missing;
  if (first_missing_op(model, &missing)) {
    const char* op = tflite::EnumNameBuiltinOperator(missing);
    return fail(kErrModel, "model '%s': op %s (builtin code %d) is not compiled into this firmware image",
                spec.name, (op != nullptr && op[0] != 0) ? op : "?", static_cast<int>(missing));
  }
  // TFLM puts its own allocator in the arena and dereferences it unchecked.
  if (arena == nullptr || arena_size < spec.arena_bytes || arena_size < 1024) {
    return fail(kErrArena, "model '%s': arena %u bytes, the card needs %u", spec.name,
                static_cast<unsigned>(arena_size), static_cast<unsigned>(spec.arena_bytes));
  }
  resolver_ = new (resolver_storage_) OpResolver();
  if (spec.register_ops == nullptr || spec.register_ops(*resolver_, spec) != 0) {
    return fail(kErrModel, "model '%s': op registration failed (more than %u distinct ops?)", spec.name,
                kMaxOps);
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
