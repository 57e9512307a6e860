// C++ side of the MicroPython `imuad` module: a ModelSpec built at runtime from the arguments,
// and imuad_core's Pipeline over it. The op resolver is filled from the flatbuffer's operator
// codes (models arrive as bytes), among the kernels this build compiled (IMUAD_OP_<NAME> defines,
// taken from the core's IMUAD_TFLM_OPS; IMUAD_MP_ALL_OPS when TFLM is complete, e.g. ESP32).
#include "detector.h"

#include <cstdio>
#include <cstring>
#include <new>

#include "imuad/model_spec.h"
#include "imuad/pipeline.h"
#include "imuad/protocol.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"

#ifdef IMUAD_MP_ALL_OPS
#define IMUAD_OP_CONV_2D 1
#define IMUAD_OP_DEPTHWISE_CONV_2D 1
#define IMUAD_OP_FULLY_CONNECTED 1
#define IMUAD_OP_MAX_POOL_2D 1
#define IMUAD_OP_AVERAGE_POOL_2D 1
#define IMUAD_OP_MEAN 1
#define IMUAD_OP_SUM 1
#define IMUAD_OP_RESHAPE 1
#define IMUAD_OP_EXPAND_DIMS 1
#define IMUAD_OP_SQUEEZE 1
#define IMUAD_OP_LOGISTIC 1
#define IMUAD_OP_SOFTMAX 1
#define IMUAD_OP_TANH 1
#define IMUAD_OP_RELU 1
#define IMUAD_OP_RELU6 1
#define IMUAD_OP_UNIDIRECTIONAL_SEQUENCE_LSTM 1
#define IMUAD_OP_ADD 1
#define IMUAD_OP_SUB 1
#define IMUAD_OP_MUL 1
#define IMUAD_OP_CONCATENATION 1
#define IMUAD_OP_STRIDED_SLICE 1
#define IMUAD_OP_SLICE 1
#define IMUAD_OP_SPLIT 1
#define IMUAD_OP_SPLIT_V 1
#define IMUAD_OP_QUANTIZE 1
#define IMUAD_OP_DEQUANTIZE 1
#define IMUAD_OP_TRANSPOSE 1
#define IMUAD_OP_BATCH_MATMUL 1
#define IMUAD_OP_PACK 1
#define IMUAD_OP_UNPACK 1
#define IMUAD_OP_GATHER 1
#define IMUAD_OP_PAD 1
#define IMUAD_OP_LEAKY_RELU 1
#define IMUAD_OP_HARD_SWISH 1
#endif

static_assert(IMUAD_MP_MAX_CHANNELS == imuad::kMaxChannels, "channel bound differs from the core");
static_assert(IMUAD_MP_OK == 0 && IMUAD_MP_ERR_MODEL == imuad::kErrModel && IMUAD_MP_ERR_ARENA == imuad::kErrArena,
              "status codes differ from the core");

namespace {

using tflite::BuiltinOperator;

// Adds one builtin op; kTfLiteError if this build has no kernel for it. The cases mirror the
// op -> kernel table of cmake/tflm.cmake: a kernel not compiled there must not be referenced.
TfLiteStatus add_op(imuad::OpResolver& r, BuiltinOperator op) {
  switch (op) {
#ifdef IMUAD_OP_CONV_2D
    case tflite::BuiltinOperator_CONV_2D: return r.AddConv2D();
#endif
#ifdef IMUAD_OP_DEPTHWISE_CONV_2D
    case tflite::BuiltinOperator_DEPTHWISE_CONV_2D: return r.AddDepthwiseConv2D();
#endif
#ifdef IMUAD_OP_FULLY_CONNECTED
    case tflite::BuiltinOperator_FULLY_CONNECTED: return r.AddFullyConnected();
#endif
#ifdef IMUAD_OP_MAX_POOL_2D
    case tflite::BuiltinOperator_MAX_POOL_2D: return r.AddMaxPool2D();
#endif
#ifdef IMUAD_OP_AVERAGE_POOL_2D
    case tflite::BuiltinOperator_AVERAGE_POOL_2D: return r.AddAveragePool2D();
#endif
#ifdef IMUAD_OP_MEAN
    case tflite::BuiltinOperator_MEAN: return r.AddMean();
#endif
#ifdef IMUAD_OP_SUM
    case tflite::BuiltinOperator_SUM: return r.AddSum();
#endif
#ifdef IMUAD_OP_RESHAPE
    case tflite::BuiltinOperator_RESHAPE: return r.AddReshape();
#endif
#ifdef IMUAD_OP_EXPAND_DIMS
    case tflite::BuiltinOperator_EXPAND_DIMS: return r.AddExpandDims();
#endif
#ifdef IMUAD_OP_SQUEEZE
    case tflite::BuiltinOperator_SQUEEZE: return r.AddSqueeze();
#endif
#ifdef IMUAD_OP_LOGISTIC
    case tflite::BuiltinOperator_LOGISTIC: return r.AddLogistic();
#endif
#ifdef IMUAD_OP_SOFTMAX
    case tflite::BuiltinOperator_SOFTMAX: return r.AddSoftmax();
#endif
#ifdef IMUAD_OP_TANH
    case tflite::BuiltinOperator_TANH: return r.AddTanh();
#endif
#ifdef IMUAD_OP_RELU
    case tflite::BuiltinOperator_RELU: return r.AddRelu();
#endif
#ifdef IMUAD_OP_RELU6
    case tflite::BuiltinOperator_RELU6: return r.AddRelu6();
#endif
#ifdef IMUAD_OP_UNIDIRECTIONAL_SEQUENCE_LSTM
    case tflite::BuiltinOperator_UNIDIRECTIONAL_SEQUENCE_LSTM: return r.AddUnidirectionalSequenceLSTM();
#endif
#ifdef IMUAD_OP_ADD
    case tflite::BuiltinOperator_ADD: return r.AddAdd();
#endif
#ifdef IMUAD_OP_SUB
    case tflite::BuiltinOperator_SUB: return r.AddSub();
#endif
#ifdef IMUAD_OP_MUL
    case tflite::BuiltinOperator_MUL: return r.AddMul();
#endif
#ifdef IMUAD_OP_CONCATENATION
    case tflite::BuiltinOperator_CONCATENATION: return r.AddConcatenation();
#endif
#ifdef IMUAD_OP_STRIDED_SLICE
    case tflite::BuiltinOperator_STRIDED_SLICE: return r.AddStridedSlice();
#endif
#ifdef IMUAD_OP_SLICE
    case tflite::BuiltinOperator_SLICE: return r.AddSlice();
#endif
#ifdef IMUAD_OP_SPLIT
    case tflite::BuiltinOperator_SPLIT: return r.AddSplit();
#endif
#ifdef IMUAD_OP_SPLIT_V
    case tflite::BuiltinOperator_SPLIT_V: return r.AddSplitV();
#endif
#ifdef IMUAD_OP_QUANTIZE
    case tflite::BuiltinOperator_QUANTIZE: return r.AddQuantize();
#endif
#ifdef IMUAD_OP_DEQUANTIZE
    case tflite::BuiltinOperator_DEQUANTIZE: return r.AddDequantize();
#endif
#ifdef IMUAD_OP_TRANSPOSE
    case tflite::BuiltinOperator_TRANSPOSE: return r.AddTranspose();
#endif
#ifdef IMUAD_OP_BATCH_MATMUL
    case tflite::BuiltinOperator_BATCH_MATMUL: return r.AddBatchMatMul();
#endif
#ifdef IMUAD_OP_PACK
    case tflite::BuiltinOperator_PACK: return r.AddPack();
#endif
#ifdef IMUAD_OP_UNPACK
    case tflite::BuiltinOperator_UNPACK: return r.AddUnpack();
#endif
#ifdef IMUAD_OP_GATHER
    case tflite::BuiltinOperator_GATHER: return r.AddGather();
#endif
#ifdef IMUAD_OP_PAD
    case tflite::BuiltinOperator_PAD: return r.AddPad();
#endif
#ifdef IMUAD_OP_LEAKY_RELU
    case tflite::BuiltinOperator_LEAKY_RELU: return r.AddLeakyRelu();
#endif
#ifdef IMUAD_OP_HARD_SWISH
    case tflite::BuiltinOperator_HARD_SWISH: return r.AddHardSwish();
#endif
    default: return kTfLiteError;
  }
}

// True if add_op knows the op (same table, without touching a resolver).
bool op_supported(BuiltinOperator op) {
  // Same list as add_op (checked before anything is allocated, for a clear error message).
  switch (op) {
#define IMUAD_CASE(name) case tflite::BuiltinOperator_##name: return true;
#ifdef IMUAD_OP_CONV_2D
    IMUAD_CASE(CONV_2D)
#endif
#ifdef IMUAD_OP_DEPTHWISE_CONV_2D
    IMUAD_CASE(DEPTHWISE_CONV_2D)
#endif
#ifdef IMUAD_OP_FULLY_CONNECTED
    IMUAD_CASE(FULLY_CONNECTED)
#endif
#ifdef IMUAD_OP_MAX_POOL_2D
    IMUAD_CASE(MAX_POOL_2D)
#endif
#ifdef IMUAD_OP_AVERAGE_POOL_2D
    IMUAD_CASE(AVERAGE_POOL_2D)
#endif
#ifdef IMUAD_OP_MEAN
    IMUAD_CASE(MEAN)
#endif
#ifdef IMUAD_OP_SUM
    IMUAD_CASE(SUM)
#endif
#ifdef IMUAD_OP_RESHAPE
    IMUAD_CASE(RESHAPE)
#endif
#ifdef IMUAD_OP_EXPAND_DIMS
    IMUAD_CASE(EXPAND_DIMS)
#endif
#ifdef IMUAD_OP_SQUEEZE
    IMUAD_CASE(SQUEEZE)
#endif
#ifdef IMUAD_OP_LOGISTIC
    IMUAD_CASE(LOGISTIC)
#endif
#ifdef IMUAD_OP_SOFTMAX
    IMUAD_CASE(SOFTMAX)
#endif
#ifdef IMUAD_OP_TANH
    IMUAD_CASE(TANH)
#endif
#ifdef IMUAD_OP_RELU
    IMUAD_CASE(RELU)
#endif
#ifdef IMUAD_OP_RELU6
    IMUAD_CASE(RELU6)
#endif
#ifdef IMUAD_OP_UNIDIRECTIONAL_SEQUENCE_LSTM
    IMUAD_CASE(UNIDIRECTIONAL_SEQUENCE_LSTM)
#endif
#ifdef IMUAD_OP_ADD
    IMUAD_CASE(ADD)
#endif
#ifdef IMUAD_OP_SUB
    IMUAD_CASE(SUB)
#endif
#ifdef IMUAD_OP_MUL
    IMUAD_CASE(MUL)
#endif
#ifdef IMUAD_OP_CONCATENATION
    IMUAD_CASE(CONCATENATION)
#endif
#ifdef IMUAD_OP_STRIDED_SLICE
    IMUAD_CASE(STRIDED_SLICE)
#endif
#ifdef IMUAD_OP_SLICE
    IMUAD_CASE(SLICE)
#endif
#ifdef IMUAD_OP_SPLIT
    IMUAD_CASE(SPLIT)
#endif
#ifdef IMUAD_OP_SPLIT_V
    IMUAD_CASE(SPLIT_V)
#endif
#ifdef IMUAD_OP_QUANTIZE
    IMUAD_CASE(QUANTIZE)
#endif
#ifdef IMUAD_OP_DEQUANTIZE
    IMUAD_CASE(DEQUANTIZE)
#endif
#ifdef IMUAD_OP_TRANSPOSE
    IMUAD_CASE(TRANSPOSE)
#endif
#ifdef IMUAD_OP_BATCH_MATMUL
    IMUAD_CASE(BATCH_MATMUL)
#endif
#ifdef IMUAD_OP_PACK
    IMUAD_CASE(PACK)
#endif
#ifdef IMUAD_OP_UNPACK
    IMUAD_CASE(UNPACK)
#endif
#ifdef IMUAD_OP_GATHER
    IMUAD_CASE(GATHER)
#endif
#ifdef IMUAD_OP_PAD
    IMUAD_CASE(PAD)
#endif
#ifdef IMUAD_OP_LEAKY_RELU
    IMUAD_CASE(LEAKY_RELU)
#endif
#ifdef IMUAD_OP_HARD_SWISH
    IMUAD_CASE(HARD_SWISH)
#endif
#undef IMUAD_CASE
    default: return false;
  }
}

// ModelSpec::register_ops is a plain function pointer without a context argument, so the model
// being initialised is handed over here for the duration of one Pipeline::init (MicroPython runs
// module code under the GIL / single-threaded: no concurrent init).
const tflite::Model* g_registering_model = nullptr;

int register_model_ops(imuad::OpResolver& r) {
  const tflite::Model* model = g_registering_model;
  if (model == nullptr || model->operator_codes() == nullptr) return kTfLiteError;
  const auto* codes = model->operator_codes();
  for (flatbuffers::uoffset_t i = 0; i < codes->size(); ++i) {
    const BuiltinOperator op = tflite::GetBuiltinCode(codes->Get(i));
    bool seen = false;
    for (flatbuffers::uoffset_t j = 0; j < i && !seen; ++j) seen = tflite::GetBuiltinCode(codes->Get(j)) == op;
    if (seen) continue;
    if (add_op(r, op) != kTfLiteOk) return kTfLiteError;
  }
  return kTfLiteOk;
}

struct Impl {
  imuad::ModelSpec spec;
  imuad::Pipeline pipeline;
  imuad::WindowResult last;
};

size_t element_count(const tflite::Tensor* t) {
  if (t->shape() == nullptr) return 1;
  size_t n = 1;
  for (flatbuffers::uoffset_t i = 0; i < t->shape()->size(); ++i) {
    const int d = t->shape()->Get(i);
    if (d <= 0) return 0;
    n *= static_cast<size_t>(d);
  }
  return n;
}

int fail(char* msg, size_t msg_len, int code, const char* text) {
  if (msg != nullptr && msg_len > 0) snprintf(msg, msg_len, "%s", text);
  return code;
}

}  // namespace

extern "C" {

int imuad_mp_probe(const uint8_t* model, size_t len, imuad_mp_probe_t* probe, char* msg, size_t msg_len) {
  std::memset(probe, 0, sizeof(*probe));
  if (model == nullptr || len < 16 || !flatbuffers::BufferHasIdentifier(model, tflite::ModelIdentifier())) {
    return fail(msg, msg_len, IMUAD_MP_ERR_MODEL, "model bytes are not a TFLite flatbuffer (no TFL3 identifier)");
  }
  flatbuffers::Verifier verifier(model, len);
  if (!tflite::VerifyModelBuffer(verifier)) {
    return fail(msg, msg_len, IMUAD_MP_ERR_MODEL, "model flatbuffer verification failed (corrupt or truncated)");
  }
  const tflite::Model* m = tflite::GetModel(model);
  if (m->subgraphs() == nullptr || m->subgraphs()->size() != 1 || m->operator_codes() == nullptr) {
    return fail(msg, msg_len, IMUAD_MP_ERR_MODEL, "model must have exactly one subgraph");
  }
  const tflite::SubGraph* g = m->subgraphs()->Get(0);
  if (g->outputs() == nullptr || g->outputs()->size() != 1 || g->tensors() == nullptr) {
    return fail(msg, msg_len, IMUAD_MP_ERR_MODEL, "model must have exactly one output tensor");
  }
  const int32_t out_idx = g->outputs()->Get(0);
  if (out_idx < 0 || static_cast<flatbuffers::uoffset_t>(out_idx) >= g->tensors()->size()) {
    return fail(msg, msg_len, IMUAD_MP_ERR_MODEL, "model output index out of range");
  }
  const tflite::Tensor* out = g->tensors()->Get(out_idx);
  probe->n_outputs = element_count(out);
  if (probe->n_outputs == 0 || probe->n_outputs > 65535) {
    return fail(msg, msg_len, IMUAD_MP_ERR_MODEL, "model output shape is empty or too large");
  }
  const auto* q = out->quantization();
  probe->output_zero_point = (q != nullptr && q->zero_point() != nullptr && q->zero_point()->size() > 0)
                                 ? static_cast<int32_t>(q->zero_point()->Get(0))
                                 : 0;
  const auto* codes = m->operator_codes();
  for (flatbuffers::uoffset_t i = 0; i < codes->size(); ++i) {
    const BuiltinOperator op = tflite::GetBuiltinCode(codes->Get(i));
    const char* name = tflite::EnumNameBuiltinOperator(op);
    if (name == nullptr || name[0] == '\0') name = "UNKNOWN";
    if (!op_supported(op)) {
      if (msg != nullptr && msg_len > 0) {
        snprintf(msg, msg_len, "model uses TFLite op %s (code %d), which this build does not include", name,
                 static_cast<int>(op));
      }
      return IMUAD_MP_ERR_MODEL;
    }
    bool seen = false;
    for (size_t j = 0; j < probe->n_ops && !seen; ++j) seen = std::strcmp(probe->ops[j], name) == 0;
    if (!seen) {
      if (probe->n_ops >= IMUAD_MP_MAX_MODEL_OPS || probe->n_ops >= imuad::kMaxOps) {
        return fail(msg, msg_len, IMUAD_MP_ERR_MODEL, "model uses more distinct ops than imuad::kMaxOps");
      }
      probe->ops[probe->n_ops++] = name;
    }
  }
  return IMUAD_MP_OK;
}

size_t imuad_mp_impl_size(void) { return sizeof(Impl); }

int imuad_mp_impl_init(void* impl_mem, const imuad_mp_params_t* p, const uint8_t* model, size_t model_len,
                       size_t n_outputs, uint8_t* arena, size_t arena_size, int16_t* ring, size_t ring_len,
                       char* msg, size_t msg_len) {
  Impl* impl = new (impl_mem) Impl();
  imuad::ModelSpec& s = impl->spec;
  s.name = "mpy";
  s.tflite = model;
  s.tflite_len = static_cast<unsigned int>(model_len);
  std::memset(s.sha256, 0, sizeof(s.sha256));
  s.window = p->window;
  s.hop = p->hop;
  s.channels = p->channels;
  s.n_outputs = static_cast<uint16_t>(n_outputs);
  for (int c = 0; c < imuad::kMaxChannels; ++c) {
    s.preprocess.offset[c] = p->offset[c];
    s.preprocess.multiplier[c] = p->multiplier[c];
  }
  s.preprocess.shift = p->shift;
  s.preprocess.input_zero_point = p->input_zero_point;
  s.score.kind = p->score_kind == 2 ? imuad::ScoreKind::kReconError : imuad::ScoreKind::kClassProb;
  s.score.output_index = p->output_index;
  s.score.output_zero_point = p->output_zero_point;
  s.score.in_mult = p->in_mult;
  s.score.out_mult = p->out_mult;
  s.score.shift = p->score_shift;
  s.decision.threshold_on = p->threshold_on;
  s.decision.threshold_off = p->threshold_off;
  s.decision.k = static_cast<uint8_t>(p->k);
  s.decision.n = static_cast<uint8_t>(p->n);
  s.arena_bytes = arena_size;
  s.register_ops = &register_model_ops;

  g_registering_model = tflite::GetModel(model);
  const imuad::Status st = impl->pipeline.init(s, arena, arena_size, ring, ring_len);
  g_registering_model = nullptr;
  if (!st.ok()) {
    const int code = st.code == imuad::kErrArena ? IMUAD_MP_ERR_ARENA : IMUAD_MP_ERR_MODEL;
    fail(msg, msg_len, code, st.message);
    impl->~Impl();
    return code;
  }
  return IMUAD_MP_OK;
}

void imuad_mp_impl_deinit(void* impl) { static_cast<Impl*>(impl)->~Impl(); }

void imuad_mp_impl_reset(void* impl) { static_cast<Impl*>(impl)->pipeline.reset(); }

void imuad_mp_impl_configure(void* impl, int32_t threshold_on, int32_t threshold_off, int k, int n) {
  imuad::DecisionSpec d{threshold_on, threshold_off, static_cast<uint8_t>(k), static_cast<uint8_t>(n)};
  static_cast<Impl*>(impl)->spec.decision = d;
  static_cast<Impl*>(impl)->pipeline.configure(d);
}

int imuad_mp_impl_push(void* impl_mem, const int16_t* sample, imuad_mp_result_t* r) {
  Impl* impl = static_cast<Impl*>(impl_mem);
  imuad::WindowResult& w = impl->last;
  if (!impl->pipeline.push(sample, nullptr, &w)) return 0;
  r->window = w.window;
  r->score = w.score;
  r->state = static_cast<uint8_t>(w.state);
  r->hot = w.hot ? 1 : 0;
  r->event = static_cast<uint8_t>(w.event);
  r->out = w.out;
  r->n_out = w.n_out;
  return impl->pipeline.ok() ? 1 : -1;
}

size_t imuad_mp_impl_arena_used(const void* impl) {
  return static_cast<const Impl*>(impl)->pipeline.runner().arena_used();
}

size_t imuad_mp_impl_n_outputs(const void* impl) { return static_cast<const Impl*>(impl)->spec.n_outputs; }

}  // extern "C"
