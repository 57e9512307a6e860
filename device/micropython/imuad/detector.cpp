// C++ side of the MicroPython `imuad` module: a ModelSpec built at runtime from the arguments,
// and imuad_core's Pipeline over it. Models arrive as bytes, so their ops are registered from the
// flatbuffer's operator codes among the kernels this build compiled (imuad/ops.h: the core's op
// table restricted to the build's imuad/compiled_ops.h).
#include "detector.h"

#include <cstdio>
#include <cstring>
#include <new>

#include "imuad/calibration.h"
#include "imuad/model_spec.h"
#include "imuad/ops.h"
#include "imuad/pipeline.h"
#include "imuad/protocol.h"
#include "imuad/replay_app.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"

static_assert(IMUAD_MP_MAX_CHANNELS == imuad::kMaxChannels, "channel bound differs from the core");
static_assert(IMUAD_MP_OK == 0 && IMUAD_MP_ERR_MODEL == imuad::kErrModel && IMUAD_MP_ERR_ARENA == imuad::kErrArena,
              "status codes differ from the core");

namespace {

using tflite::BuiltinOperator;

struct Impl {
  imuad::ModelSpec spec;
  imuad::Pipeline pipeline;
  imuad::WindowResult last;
  imuad::CalibrationResult calibration;
  bool calibrated = false;
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
    if (!imuad::op_compiled(op)) {
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
  s.preprocess.kind = p->preprocess_kind == 1 ? imuad::PreprocessKind::kWindowRms : imuad::PreprocessKind::kAffine;
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
  s.register_ops = &imuad::register_flatbuffer_ops;

  const imuad::Status st = impl->pipeline.init(s, arena, arena_size, ring, ring_len);
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
  r->aux = static_cast<uint8_t>(w.aux);
  r->aux_score = w.aux_score;
  if (w.calibration != nullptr) {
    impl->calibration = *w.calibration;
    impl->calibrated = true;
    impl->spec.decision = w.calibration->decision;
  }
  r->out = w.out;
  r->n_out = w.n_out;
  return impl->pipeline.ok() ? 1 : -1;
}

const char* imuad_mp_impl_calibrate(void* impl, const imuad_mp_calib_request_t* q, int32_t* scores) {
  const imuad::CalibrationRequest r{q->windows, q->allowed, q->margin_permille, q->k, q->n, q->drift_block, q->refit};
  if (const char* why = imuad::calibration_request_invalid(r)) return why;
  return static_cast<Impl*>(impl)->pipeline.start_calibration(r, scores);
}

int imuad_mp_impl_calibration(const void* impl_mem, imuad_mp_calib_result_t* out) {
  const Impl* impl = static_cast<const Impl*>(impl_mem);
  if (!impl->calibrated) return 0;
  const imuad::CalibrationResult& c = impl->calibration;
  *out = imuad_mp_calib_result_t{c.decision.threshold_on, c.decision.threshold_off, c.decision.k, c.decision.n,
                                 c.windows, c.median, c.lowest_on, c.onsets_before, c.drift_block};
  return 1;
}

size_t imuad_mp_impl_arena_floor(const void* impl) {
  const tflite::Model* m = tflite::GetModel(static_cast<const Impl*>(impl)->spec.tflite);
  return imuad::Runner::arena_floor(m->subgraphs()->Get(0));  // verified by init()
}

size_t imuad_mp_impl_arena_used(const void* impl) {
  return static_cast<const Impl*>(impl)->pipeline.runner().arena_used();
}

size_t imuad_mp_impl_n_outputs(const void* impl) { return static_cast<const Impl*>(impl)->spec.n_outputs; }

// ------------------------------------------------------------------ C7 replay server
namespace {

class MpBoard : public imuad::Board {
 public:
  MpBoard(imuad_mp_write_fn write, void* ctx, uint32_t (*micros)(), uint8_t* slot, size_t slot_capacity)
      : write_(write), ctx_(ctx), micros_(micros), slot_(slot), capacity_(slot != nullptr ? slot_capacity : 0) {}
  uint32_t micros() override { return micros_(); }
  uint32_t millis() override { return micros_() / 1000; }
  int read(uint8_t*, size_t) override { return 0; }  // bytes arrive through imuad_mp_server_feed
  void write(const uint8_t* data, size_t len) override { write_(ctx_, data, len); }
  void log(int, const char*) override {}
  const char* target_name() const override { return "mpy"; }
  // Model slot: a block of the MicroPython heap that serve() owns (models loaded at run time).
  size_t model_slot_capacity() override { return capacity_; }
  bool model_slot_begin(size_t size) override {
    if (size > capacity_) return false;
    std::memset(slot_, 0xFF, size);
    size_ = size;
    return true;
  }
  bool model_slot_write(size_t offset, const uint8_t* data, size_t len) override {
    if (offset > size_ || len > size_ - offset) return false;
    std::memcpy(slot_ + offset, data, len);
    return true;
  }
  const uint8_t* model_slot_map() override { return slot_; }

 private:
  imuad_mp_write_fn write_;
  void* ctx_;
  uint32_t (*micros_)();
  uint8_t* slot_;
  size_t capacity_;
  size_t size_ = 0;
};

struct Server {
  Server(imuad_mp_write_fn write, void* ctx, uint32_t (*micros)(), uint8_t* slot, size_t slot_capacity)
      : board(write, ctx, micros, slot, slot_capacity) {}
  MpBoard board;
  const imuad::ModelSpec* specs[IMUAD_MP_MAX_SERVED] = {};
  imuad::ReplayApp* app = nullptr;
  alignas(imuad::ReplayApp) unsigned char app_mem[sizeof(imuad::ReplayApp)];
};

}  // namespace

size_t imuad_mp_server_size(void) { return sizeof(Server); }

void imuad_mp_server_init(void* mem, void* const* impls, const char* const* names, const uint8_t* const* sha256s,
                          size_t n, uint8_t* arena, size_t arena_size, int16_t* ring, size_t ring_len,
                          uint8_t* slot, size_t slot_capacity, imuad_mp_write_fn write, void* ctx,
                          uint32_t (*micros)(void)) {
  Server* s = new (mem) Server(write, ctx, micros, slot, slot_capacity);
  if (n > IMUAD_MP_MAX_SERVED) n = IMUAD_MP_MAX_SERVED;
  for (size_t i = 0; i < n; ++i) {
    imuad::ModelSpec& spec = static_cast<Impl*>(impls[i])->spec;
    spec.name = names[i];
    std::memcpy(spec.sha256, sha256s[i], sizeof(spec.sha256));
    s->specs[i] = &spec;
  }
  s->app = new (s->app_mem) imuad::ReplayApp(s->board, imuad::ModelRegistry{s->specs, n}, arena, arena_size, ring,
                                             ring_len);
}

void imuad_mp_server_feed(void* server, const uint8_t* data, size_t len) { static_cast<Server*>(server)->app->feed(data, len); }

void imuad_mp_server_deinit(void* server) {
  Server* s = static_cast<Server*>(server);
  if (s->app != nullptr) s->app->~ReplayApp();
  s->~Server();
}

}  // extern "C"
