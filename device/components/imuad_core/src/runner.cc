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

// Shape relations of the ops TFLM does not check itself: its kernels size their loops from the
// declared shapes of inputs, outputs and weights, so a model whose shapes disagree (a flipped byte
// in a shape, correctly re-signed) would read or write out of bounds. Called after
// check_model_structure (indices, buffer sizes are sane). Returns nullptr when consistent.
namespace shapes {

using Dims = flatbuffers::Vector<int32_t>;

const Dims* dims(const tflite::SubGraph* g, int32_t i) { return g->tensors()->Get(i)->shape(); }

uint64_t elements(const Dims* d) {
  uint64_t n = 1;
  for (int32_t v : *d) n *= static_cast<uint64_t>(v);
  return n;
}

bool same(const Dims* a, const Dims* b) {
  if (a->size() != b->size()) return false;
  for (flatbuffers::uoffset_t i = 0; i < a->size(); ++i) if (a->Get(i) != b->Get(i)) return false;
  return true;
}

int32_t dim(const Dims* d, int i) { return d->Get(static_cast<flatbuffers::uoffset_t>(i)); }

// TFLM's ComputeOutSize: SAME ceil(in/stride); VALID (in - ((f-1)*dilation+1) + stride) / stride.
int64_t out_size(tflite::Padding padding, int64_t in, int64_t filter, int64_t stride, int64_t dilation) {
  if (stride <= 0 || dilation <= 0 || filter <= 0) return -1;
  const int64_t effective = (filter - 1) * dilation + 1;
  if (padding == tflite::Padding_SAME) return (in + stride - 1) / stride;
  return in >= effective ? (in - effective + stride) / stride : -1;
}

// numpy broadcasting of a and b equals out (TFLM's elementwise kernels, up to 6 dims).
bool broadcasts_to(const Dims* a, const Dims* b, const Dims* out) {
  const int n = static_cast<int>(out->size());
  if (n > 6 || static_cast<int>(a->size()) > n || static_cast<int>(b->size()) > n) return false;
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - static_cast<int>(a->size())), ib = i - (n - static_cast<int>(b->size()));
    const int32_t da = ia >= 0 ? dim(a, ia) : 1, db = ib >= 0 ? dim(b, ib) : 1;
    if (da != db && da != 1 && db != 1) return false;
    if (dim(out, i) != (da == 1 ? db : da)) return false;
  }
  return true;
}

bool activation_ok(tflite::ActivationFunctionType a) {
  return !flatbuffers::IsOutRange(a, tflite::ActivationFunctionType_MIN, tflite::ActivationFunctionType_MAX);
}

bool padding_ok(tflite::Padding p) { return !flatbuffers::IsOutRange(p, tflite::Padding_MIN, tflite::Padding_MAX); }

bool bias_type_ok(tflite::TensorType t) {  // unset (FLOAT32), INT32 or INT64
  return t == tflite::TensorType_FLOAT32 || t == tflite::TensorType_INT32 || t == tflite::TensorType_INT64;
}

// Enum fields of the options TFLM kernels switch on: out-of-range values would index jump tables.
const char* check_options(tflite::BuiltinOperator code, const tflite::Operator* op) {
  switch (code) {
    case tflite::BuiltinOperator_FULLY_CONNECTED: {
      const auto* o = op->builtin_options_as_FullyConnectedOptions();
      if (o == nullptr) return "fully connected: no FullyConnectedOptions";
      if (!activation_ok(o->fused_activation_function()) || !bias_type_ok(o->quantized_bias_type()) ||
          o->weights_format() != tflite::FullyConnectedOptionsWeightsFormat_DEFAULT) {
        return "fully connected: options out of range";
      }
      return nullptr;
    }
    case tflite::BuiltinOperator_CONV_2D: {
      const auto* o = op->builtin_options_as_Conv2DOptions();
      if (o == nullptr) return "convolution: no Conv2DOptions";
      if (!activation_ok(o->fused_activation_function()) || !padding_ok(o->padding()) ||
          !bias_type_ok(o->quantized_bias_type())) {
        return "convolution: options out of range";
      }
      return nullptr;
    }
    case tflite::BuiltinOperator_DEPTHWISE_CONV_2D: {
      const auto* o = op->builtin_options_as_DepthwiseConv2DOptions();
      if (o == nullptr) return "depthwise convolution: no DepthwiseConv2DOptions";
      if (!activation_ok(o->fused_activation_function()) || !padding_ok(o->padding())) {
        return "depthwise convolution: options out of range";
      }
      return nullptr;
    }
    case tflite::BuiltinOperator_MAX_POOL_2D: case tflite::BuiltinOperator_AVERAGE_POOL_2D: {
      const auto* o = op->builtin_options_as_Pool2DOptions();
      if (o == nullptr) return "pooling: no Pool2DOptions";
      if (!activation_ok(o->fused_activation_function()) || !padding_ok(o->padding())) {
        return "pooling: options out of range";
      }
      return nullptr;
    }
    case tflite::BuiltinOperator_ADD: {
      const auto* o = op->builtin_options_as_AddOptions();
      return o != nullptr && !activation_ok(o->fused_activation_function()) ? "add: options out of range" : nullptr;
    }
    case tflite::BuiltinOperator_SUB: {
      const auto* o = op->builtin_options_as_SubOptions();
      return o != nullptr && !activation_ok(o->fused_activation_function()) ? "sub: options out of range" : nullptr;
    }
    case tflite::BuiltinOperator_MUL: {
      const auto* o = op->builtin_options_as_MulOptions();
      return o != nullptr && !activation_ok(o->fused_activation_function()) ? "mul: options out of range" : nullptr;
    }
    default:
      return nullptr;
  }
}

const char* check_op(const tflite::Model* model, const tflite::SubGraph* g, const tflite::Operator* op) {
  const tflite::BuiltinOperator code = tflite::GetBuiltinCode(model->operator_codes()->Get(op->opcode_index()));
  const auto* in = op->inputs();
  const auto* out = op->outputs();
  auto input = [&](flatbuffers::uoffset_t k) -> const Dims* {
    return k < in->size() && in->Get(k) >= 0 ? dims(g, in->Get(k)) : nullptr;
  };
  const Dims* i0 = input(0);
  const Dims* o0 = out->size() > 0 ? dims(g, out->Get(0)) : nullptr;
  if (const char* why = check_options(code, op)) return why;
  switch (code) {
    case tflite::BuiltinOperator_LOGISTIC: case tflite::BuiltinOperator_TANH: case tflite::BuiltinOperator_RELU:
    case tflite::BuiltinOperator_RELU6: case tflite::BuiltinOperator_LEAKY_RELU:
    case tflite::BuiltinOperator_HARD_SWISH: case tflite::BuiltinOperator_QUANTIZE:
    case tflite::BuiltinOperator_DEQUANTIZE: case tflite::BuiltinOperator_SOFTMAX:
      if (i0 == nullptr || o0 == nullptr || !same(i0, o0)) return "elementwise op: output shape differs from input";
      return nullptr;
    case tflite::BuiltinOperator_RESHAPE: case tflite::BuiltinOperator_EXPAND_DIMS:
    case tflite::BuiltinOperator_SQUEEZE:
      if (i0 == nullptr || o0 == nullptr || elements(i0) != elements(o0)) return "reshape: element counts differ";
      return nullptr;
    case tflite::BuiltinOperator_ADD: case tflite::BuiltinOperator_SUB: case tflite::BuiltinOperator_MUL: {
      const Dims* i1 = input(1);
      if (i0 == nullptr || i1 == nullptr || o0 == nullptr || !broadcasts_to(i0, i1, o0)) {
        return "binary op: output shape is not the broadcast of the inputs";
      }
      return nullptr;
    }
    case tflite::BuiltinOperator_FULLY_CONNECTED: {
      const Dims* f = input(1);
      const Dims* bias = input(2);
      if (i0 == nullptr || f == nullptr || o0 == nullptr || f->size() != 2 || o0->size() < 1) {
        return "fully connected: needs input, 2-D weights and output";
      }
      const uint64_t units = static_cast<uint64_t>(dim(f, 0)), depth = static_cast<uint64_t>(dim(f, 1));
      const uint64_t out_depth = static_cast<uint64_t>(dim(o0, static_cast<int>(o0->size()) - 1));
      if (depth == 0 || units == 0 || out_depth != units || elements(i0) % depth != 0 ||
          elements(o0) != elements(i0) / depth * units || (bias != nullptr && elements(bias) != units)) {
        return "fully connected: input, weights, bias and output shapes disagree";
      }
      return nullptr;
    }
    case tflite::BuiltinOperator_CONV_2D: case tflite::BuiltinOperator_DEPTHWISE_CONV_2D: {
      const Dims* f = input(1);
      const Dims* bias = input(2);
      if (i0 == nullptr || f == nullptr || o0 == nullptr || i0->size() != 4 || f->size() != 4 || o0->size() != 4) {
        return "convolution: input, filter and output must be 4-D";
      }
      tflite::Padding padding;
      int32_t sh, sw, dh, dw;
      int64_t out_c;
      if (code == tflite::BuiltinOperator_CONV_2D) {
        const auto* o = op->builtin_options_as_Conv2DOptions();
        if (o == nullptr) return "convolution: no Conv2DOptions";
        padding = o->padding(); sh = o->stride_h(); sw = o->stride_w(); dh = o->dilation_h_factor(); dw = o->dilation_w_factor();
        out_c = dim(f, 0);
        if (dim(f, 3) <= 0 || dim(i0, 3) % dim(f, 3) != 0) return "convolution: input channels do not match the filter";
      } else {
        const auto* o = op->builtin_options_as_DepthwiseConv2DOptions();
        if (o == nullptr) return "depthwise convolution: no DepthwiseConv2DOptions";
        padding = o->padding(); sh = o->stride_h(); sw = o->stride_w(); dh = o->dilation_h_factor(); dw = o->dilation_w_factor();
        out_c = dim(f, 3);
        if (dim(f, 0) != 1 || static_cast<int64_t>(dim(i0, 3)) * o->depth_multiplier() != out_c) {
          return "depthwise convolution: channels do not match the filter";
        }
      }
      if (dim(o0, 0) != dim(i0, 0) || dim(o0, 3) != out_c ||
          dim(o0, 1) != out_size(padding, dim(i0, 1), dim(f, 1), sh, dh) ||
          dim(o0, 2) != out_size(padding, dim(i0, 2), dim(f, 2), sw, dw) ||
          (bias != nullptr && elements(bias) != static_cast<uint64_t>(out_c))) {
        return "convolution: output shape disagrees with input, filter and options";
      }
      return nullptr;
    }
    case tflite::BuiltinOperator_MAX_POOL_2D: case tflite::BuiltinOperator_AVERAGE_POOL_2D: {
      const auto* o = op->builtin_options_as_Pool2DOptions();
      if (i0 == nullptr || o0 == nullptr || o == nullptr || i0->size() != 4 || o0->size() != 4) {
        return "pooling: 4-D input and output and Pool2DOptions needed";
      }
      if (dim(o0, 0) != dim(i0, 0) || dim(o0, 3) != dim(i0, 3) ||
          dim(o0, 1) != out_size(o->padding(), dim(i0, 1), o->filter_height(), o->stride_h(), 1) ||
          dim(o0, 2) != out_size(o->padding(), dim(i0, 2), o->filter_width(), o->stride_w(), 1)) {
        return "pooling: output shape disagrees with input and options";
      }
      return nullptr;
    }
    case tflite::BuiltinOperator_MEAN: case tflite::BuiltinOperator_SUM: {
      // axes: a constant int32 tensor; output elements = input elements / reduced extent
      const int32_t ai = in->size() > 1 ? in->Get(1) : -1;
      if (i0 == nullptr || o0 == nullptr || ai < 0) return "reduction: needs input, axes and output";
      const tflite::Tensor* at = g->tensors()->Get(ai);
      const tflite::Buffer* b = model->buffers()->Get(at->buffer());
      if (at->type() != tflite::TensorType_INT32 || b == nullptr || b->data() == nullptr) {
        return "reduction: axes must be a constant int32 tensor";
      }
      const int rank = static_cast<int>(i0->size());
      bool reduced[8] = {};
      if (rank > 8) return "reduction: input rank above 8";
      for (flatbuffers::uoffset_t k = 0; k + 4 <= b->data()->size(); k += 4) {
        const uint8_t* p = b->data()->data() + k;
        int32_t axis = static_cast<int32_t>(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
                                            (uint32_t(p[3]) << 24));
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank) return "reduction: axis out of range";
        reduced[axis] = true;
      }
      uint64_t extent = 1;
      for (int a = 0; a < rank; ++a) if (reduced[a]) extent *= static_cast<uint64_t>(dim(i0, a));
      if (extent == 0 || elements(o0) * extent != elements(i0)) return "reduction: output shape disagrees with the axes";
      return nullptr;
    }
    default:
      return nullptr;  // left to the kernel's own Prepare checks
  }
}

}  // namespace shapes

static size_t element_count(const TfLiteTensor* t) {
  size_t n = 1;
  for (int i = 0; i < t->dims->size; ++i) n *= static_cast<size_t>(t->dims->data[i]);
  return n;
}

// Bytes TFLM allocates from the arena's tail before and while it parses the ops: its allocator,
// per tensor an eval tensor (and dims), per op a node/registration and its parameters. Generous
// bounds: test_arena_sizes tries every size of every compiled-in model against it.
size_t Runner::arena_floor(const tflite::SubGraph* graph) {
  const size_t tensors = graph->tensors() != nullptr ? graph->tensors()->size() : 0;
  const size_t ops = graph->operators() != nullptr ? graph->operators()->size() : 0;
  return 1024 + 64 * tensors + 192 * ops;
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
  const tflite::SubGraph* graph = model->subgraphs()->Get(0);
  for (const tflite::Operator* op : *graph->operators()) {
    if (const char* why = shapes::check_op(model, graph, op)) {
      return fail(kErrModel, "model '%s': corrupt model: %s", spec.name, why);
    }
  }
  tflite::BuiltinOperator missing;
  if (first_missing_op(model, &missing)) {
    const char* op = tflite::EnumNameBuiltinOperator(missing);
    return fail(kErrModel, "model '%s': op %s (builtin code %d) is not compiled into this firmware image",
                spec.name, (op != nullptr && op[0] != 0) ? op : "?", static_cast<int>(missing));
  }
  // TFLM puts its own allocator in the arena and dereferences it unchecked; later it placement-news
  // each op's parameters into the arena's tail without checking the allocation either (a crash
  // when the tail runs out exactly there). Below this floor, both can happen: refuse it.
  const size_t min_arena = arena_floor(graph);
  const size_t needed = spec.arena_bytes > min_arena ? spec.arena_bytes : min_arena;
  if (arena == nullptr || arena_size < needed) {
    return fail(kErrArena, "model '%s': arena %u bytes, the model needs at least %u", spec.name,
                static_cast<unsigned>(arena_size), static_cast<unsigned>(needed));
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
