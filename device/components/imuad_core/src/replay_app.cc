#include "imuad/replay_app.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "imuad/sha256.h"

namespace imuad {

ReplayApp::ReplayApp(Board& board, ModelRegistry models, uint8_t* arena, size_t arena_size, int16_t* ring,
                     size_t ring_len)
    : board_(board), models_(models), arena_(arena), arena_size_(arena_size), ring_(ring), ring_len_(ring_len) {}

Status ReplayApp::load(const ModelSpec* spec) {
  loaded_ = false;
  if (spec == nullptr) return Status{kErrModel, "no model compiled in"};
  Status st = pipeline_.init(*spec, arena_, arena_size_, ring_, ring_len_);
  if (!st.ok()) {
    send_error(static_cast<uint8_t>(st.code), st.message);
    board_.log(0, st.message);
    return st;
  }
  loaded_ = true;
  return st;
}

Status ReplayApp::begin() {
  if (models_.count == 0) {
    send_error(kErrModel, "no model compiled in");
    return Status{kErrModel, "no model compiled in"};
  }
  return load(models_.models[0]);
}

bool ReplayApp::poll() {
  const int n = board_.read(rx_, sizeof(rx_));
  if (n < 0) return false;
  if (n > 0) feed(rx_, static_cast<size_t>(n));
  return true;
}

int ReplayApp::run() {
  while (poll()) {
  }
  return 0;
}

void ReplayApp::feed(const uint8_t* data, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (decoder_.push(data[i])) {
      const Frame& f = decoder_.frame();
      handle_frame(f.type, f.payload, f.len);
    }
  }
}

void ReplayApp::handle_frame(uint8_t type, const uint8_t* p, size_t len) {
  auto bad_length = [&](size_t want) {
    ++counters_.bad_length;
    char text[96];
    snprintf(text, sizeof(text), "type 0x%02x: payload %u bytes, expected %u", type, static_cast<unsigned>(len),
             static_cast<unsigned>(want));
    send_error(kErrBadLength, text);
  };
  switch (type) {
    case kHello:
      if (len > kHelloMaxName) return bad_length(kHelloMaxName);
      return on_hello(p, len);
    case kSamples:
      return on_samples(p, len);
    case kStatsReq:
      if (len != 0) return bad_length(0);
      return send_stats();
    case kBye:
      if (len != 0) return bad_length(0);
      send_stats();
      bye_ = true;
      replay_ = false;
      board_.on_bye();
      return;
    case kConfig:
      if (len != kConfigLen) return bad_length(kConfigLen);
      return on_config(p, len);
    case kModelBegin:
      if (len != kModelBeginLen) return bad_length(kModelBeginLen);
      return on_model_begin(p, len);
    case kModelChunk:
      if (len <= kModelChunkHeaderLen) return bad_length(kModelChunkHeaderLen + 1);
      return on_model_chunk(p, len);
    case kModelEnd:
      if (len != 0) return bad_length(0);
      return on_model_end();
    case kCalibrate:
      if (len != kCalibrateLen) return bad_length(kCalibrateLen);
      return on_calibrate(p, len);
    default: {
      ++counters_.unknown_type;
      char text[48];
      snprintf(text, sizeof(text), "unknown message type 0x%02x", type);
      send_error(kErrUnknownType, text);
    }
  }
}

const ModelSpec* ReplayApp::find_model(const char* name, size_t len) const {
  if (runtime_ok_ && len > 0 && std::strlen(runtime_name_) == len && std::memcmp(runtime_name_, name, len) == 0) {
    return &runtime_spec_;
  }
  return models_.find(name, len);
}

void ReplayApp::on_hello(const uint8_t* p, size_t len) {
  while (len > 0 && p[len - 1] == 0) --len;  // NUL padding
  const ModelSpec* spec = find_model(reinterpret_cast<const char*>(p), len);
  if (spec == nullptr) {
    char text[160];
    int o = snprintf(text, sizeof(text), "unknown model '%.*s'; compiled in:", static_cast<int>(len),
                     reinterpret_cast<const char*>(p));
    for (size_t i = 0; i < models_.count && o > 0 && static_cast<size_t>(o) < sizeof(text); ++i) {
      o += snprintf(text + o, sizeof(text) - static_cast<size_t>(o), " %s", models_.models[i]->name);
    }
    if (o > 0 && static_cast<size_t>(o) < sizeof(text)) {
      snprintf(text + o, sizeof(text) - static_cast<size_t>(o), "; loaded: %s",
               runtime_ok_ ? runtime_name_ : (board_.model_slot_capacity() > 0 ? "none" : "no model slot"));
    }
    replay_ = false;
    return send_error(kErrModel, text);
  }
  if (!loaded_ || pipeline_.spec() != spec) {
    if (!load(spec).ok()) {
      replay_ = false;
      return;
    }
  }
  select(spec);
}

void ReplayApp::select(const ModelSpec* spec) {
  pipeline_.configure(spec->decision);  // HELLO restores the card's decision (undoes CONFIG)
  pipeline_.reset();
  next_sample_ = 0;
  replay_ = true;
  bye_ = false;
  send_device_info();
}

// ---------------------------------------------------------------- model loaded at run time
void ReplayApp::send_ack(uint32_t next_offset) {
  uint8_t b[kModelAckLen];
  put_u32(b, next_offset);
  send(kModelAck, b, sizeof(b));
}

void ReplayApp::abort_upload(const char* fmt, ...) {
  uploading_ = false;
  char text[160];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof(text), fmt, args);
  va_end(args);
  send_error(kErrModel, text);
}

void ReplayApp::on_model_begin(const uint8_t* p, size_t len) {
  uploading_ = false;  // a new MODEL_BEGIN ends any upload in progress
  ModelHeader h;
  char why[112];
  if (!parse_model_begin(p, len, &h, why, sizeof(why))) return send_error(kErrModel, why);
  const size_t capacity = board_.model_slot_capacity();
  if (capacity == 0) {
    return send_error(kErrModel, "MODEL_BEGIN: this target has no model slot (it runs its compiled-in models only)");
  }
  if (h.size > capacity) {
    return abort_upload("MODEL_BEGIN: model '%s' has %lu bytes, the model slot holds %lu", h.name,
                        static_cast<unsigned long>(h.size), static_cast<unsigned long>(capacity));
  }
  const size_t ring = static_cast<size_t>(h.spec.window) * h.spec.channels;
  if (h.spec.arena_bytes > arena_size_ || ring > ring_len_) {
    char text[160];
    snprintf(text, sizeof(text), "MODEL_BEGIN: model '%s' needs a %lu-byte arena and %lu ring values; this target "
             "has %lu and %lu", h.name, static_cast<unsigned long>(h.spec.arena_bytes), static_cast<unsigned long>(ring),
             static_cast<unsigned long>(arena_size_), static_cast<unsigned long>(ring_len_));
    return send_error(kErrArena, text);
  }
  // The slot is about to be overwritten: the model it holds goes, and stops running.
  if (runtime_ok_) {
    runtime_ok_ = false;
    if (loaded_ && pipeline_.spec() == &runtime_spec_) {
      pipeline_.release();
      loaded_ = false;
      replay_ = false;
    }
  }
  if (!board_.model_slot_begin(h.size)) {
    return abort_upload("MODEL_BEGIN: the model slot cannot take %lu bytes (erase failed)",
                        static_cast<unsigned long>(h.size));
  }
  upload_ = h;
  upload_next_ = 0;
  uploading_ = true;
  send_ack(0);
}

void ReplayApp::on_model_chunk(const uint8_t* p, size_t len) {
  if (!uploading_) return send_error(kErrNotReady, "MODEL_CHUNK without MODEL_BEGIN");
  const uint32_t offset = get_u32(p);
  const size_t n = len - kModelChunkHeaderLen;
  if (offset != upload_next_) {
    return abort_upload("MODEL_CHUNK at offset %lu, expected %lu: upload aborted", static_cast<unsigned long>(offset),
                        static_cast<unsigned long>(upload_next_));
  }
  if (n > upload_.size - offset) {
    return abort_upload("MODEL_CHUNK runs past the %lu bytes MODEL_BEGIN announced: upload aborted",
                        static_cast<unsigned long>(upload_.size));
  }
  if (!board_.model_slot_write(offset, p + kModelChunkHeaderLen, n)) {
    return abort_upload("model slot: write of %lu bytes at offset %lu failed: upload aborted",
                        static_cast<unsigned long>(n), static_cast<unsigned long>(offset));
  }
  upload_next_ += static_cast<uint32_t>(n);
  send_ack(upload_next_);
}

void ReplayApp::on_model_end() {
  if (!uploading_) return send_error(kErrNotReady, "MODEL_END without MODEL_BEGIN");
  uploading_ = false;
  const ModelHeader& h = upload_;
  if (upload_next_ != h.size) {
    return abort_upload("model '%s' truncated: %lu of %lu bytes received", h.name,
                        static_cast<unsigned long>(upload_next_), static_cast<unsigned long>(h.size));
  }
  const uint8_t* data = board_.model_slot_map();
  if (data == nullptr) return abort_upload("model slot: cannot map the %lu bytes written", static_cast<unsigned long>(h.size));
  uint8_t digest[32];
  Sha256::digest(data, h.size, digest);
  if (std::memcmp(digest, h.spec.sha256, sizeof(digest)) != 0) {
    return abort_upload("model '%s': SHA-256 of the %lu bytes received is %02x%02x%02x%02x..., MODEL_BEGIN "
                        "announced %02x%02x%02x%02x...", h.name, static_cast<unsigned long>(h.size), digest[0],
                        digest[1], digest[2], digest[3], h.spec.sha256[0], h.spec.sha256[1], h.spec.sha256[2],
                        h.spec.sha256[3]);
  }
  std::memcpy(runtime_name_, h.name, sizeof(runtime_name_));
  runtime_spec_ = h.spec;
  runtime_spec_.name = runtime_name_;
  runtime_spec_.tflite = data;
  runtime_spec_.tflite_len = h.size;
  // Flatbuffer verifier, the core's structural checks, every op compiled in, arena, tensor
  // shapes and zero points against the spec (Runner::init); each failure is an ERROR frame.
  if (!load(&runtime_spec_).ok()) {
    replay_ = false;
    return;
  }
  runtime_ok_ = true;
  select(&runtime_spec_);
}

void ReplayApp::on_config(const uint8_t* p, size_t) {
  DecisionSpec d{get_i32(p), get_i32(p + 4), p[8], p[9]};
  if (!Decider::valid(d)) {
    return send_error(kErrModel, "CONFIG rejected: needs 1 <= k <= n <= 32 and threshold_off <= threshold_on");
  }
  if (!loaded_) return send_error(kErrNotReady, "CONFIG: no model loaded");
  pipeline_.configure(d);  // decision state back to NORMAL with the new constants
  send_device_info();
}

void ReplayApp::on_samples(const uint8_t* p, size_t len) {
  if (len < kSamplesHeaderLen) {
    ++counters_.bad_length;
    return send_error(kErrBadLength, "SAMPLES: payload shorter than its 6-byte header");
  }
  if (!loaded_ || !replay_) return send_error(kErrNotReady, "SAMPLES before HELLO (or no model loaded)");
  const uint32_t first = get_u32(p);
  const uint16_t count = get_u16(p + 4);
  const uint8_t c = pipeline_.spec()->channels;
  const size_t want = kSamplesHeaderLen + static_cast<size_t>(count) * c * 2;
  if (len != want) {
    ++counters_.bad_length;
    char text[96];
    snprintf(text, sizeof(text), "SAMPLES: %u samples x %u channels need %u payload bytes, got %u",
             static_cast<unsigned>(count), static_cast<unsigned>(c), static_cast<unsigned>(want),
             static_cast<unsigned>(len));
    return send_error(kErrBadLength, text);
  }
  if (first != next_sample_) {
    char text[80];
    snprintf(text, sizeof(text), "GAP: expected sample %lu, got %lu", static_cast<unsigned long>(next_sample_),
             static_cast<unsigned long>(first));
    send_error(kErrGap, text);
  }
  next_sample_ = first + count;
  int16_t sample[kMaxChannels];
  const uint8_t* q = p + kSamplesHeaderLen;
  WindowResult r;
  for (uint16_t i = 0; i < count; ++i) {
    for (uint8_t ch = 0; ch < c; ++ch, q += 2) sample[ch] = get_i16(q);
    if (!pipeline_.push(sample, &board_, &r)) continue;
    ++counters_.windows;
    if (!pipeline_.ok()) {
      char text[64];
      snprintf(text, sizeof(text), "Invoke failed on window %lu", static_cast<unsigned long>(r.window));
      send_error(kErrModel, text);
    }
    send_window(r);
    if (r.event != kNoEvent) send_event(r.window, r.event, r.score);
    if (r.calibration != nullptr) {
      if (!store_calibration(board_, pipeline_.spec()->sha256, *r.calibration, pipeline_.shape_stats())) {
        board_.log(3, "calibration not stored (the board's storage failed)");
      }
      uint8_t blob[kCalibrationLen];
      encode_calibration(*r.calibration, blob);
      send(kCalibration, blob, sizeof(blob));
    }
    if (r.aux != kNoAux) send_event(r.window, r.aux, r.aux_score);
  }
}

void ReplayApp::send_event(uint32_t window, uint8_t kind, int32_t score) {
  ++counters_.events;
  uint8_t ev[kEventLen];
  put_u32(ev, window);
  ev[4] = kind;
  put_i32(ev + 5, score);
  put_u32(ev + 9, board_.millis());
  send(kEvent, ev, sizeof(ev));
}

void ReplayApp::on_calibrate(const uint8_t* p, size_t) {
  if (!loaded_ || !replay_) return send_error(kErrNotReady, "CALIBRATE before HELLO (or no model loaded)");
  const CalibrationRequest r{get_u16(p), get_u16(p + 2), get_u16(p + 4), p[6], p[7], get_u16(p + 8), p[10]};
  const uint8_t* sha = pipeline_.spec()->sha256;
  if (r.windows == 0) {  // report the stored calibration of this model (the board keeps it)
    CalibrationResult stored;
    ShapeStats stats;
    if (load_calibration(board_, sha, &stored, &stats)) {
      uint8_t blob[kCalibrationLen];
      encode_calibration(stored, blob);  // the stored payload: every field round-trips
      return send(kCalibration, blob, sizeof(blob));
    }
    return send_error(kErrNotReady, "CALIBRATE: no calibration stored for this model");
  }
  if (const char* why = calibration_request_invalid(r)) return send_error(kErrModel, why);
  if (const char* why = pipeline_.start_calibration(r, calib_scores_)) return send_error(kErrModel, why);
}

void ReplayApp::send(uint8_t type, const uint8_t* payload, size_t len) {
  const size_t n = encode_frame(type, payload, len, tx_, sizeof(tx_));
  if (n > 0) board_.write(tx_, n);
}

void ReplayApp::send_error(uint8_t code, const char* text) {
  uint8_t buf[1 + 160];
  buf[0] = code;
  size_t n = std::strlen(text);
  if (n > sizeof(buf) - 1) n = sizeof(buf) - 1;
  std::memcpy(buf + 1, text, n);
  send(kError, buf, 1 + n);
}

static void put_str(uint8_t* dst, size_t width, const char* s) {
  std::memset(dst, 0, width);
  if (s == nullptr) return;
  size_t n = std::strlen(s);
  std::memcpy(dst, s, n < width ? n : width);
}

void ReplayApp::send_device_info() {
  const ModelSpec& s = *pipeline_.spec();
  uint8_t b[kDeviceInfoLen];
  uint8_t* q = b;
  put_str(q, 16, kFirmwareVersion); q += 16;
  std::memcpy(q, s.sha256, 32); q += 32;
  put_u16(q, s.window); q += 2;
  put_u16(q, s.hop); q += 2;
  *q++ = s.channels;
  put_u16(q, s.n_outputs); q += 2;
  put_u32(q, static_cast<uint32_t>(pipeline_.runner().arena_used())); q += 4;
  put_u32(q, static_cast<uint32_t>(arena_size_)); q += 4;
  put_str(q, 8, board_.target_name()); q += 8;
  put_str(q, 32, s.name); q += 32;
  put_u32(q, static_cast<uint32_t>(board_.model_slot_capacity()));
  send(kDeviceInfo, b, sizeof(b));
}

void ReplayApp::send_stats() {
  const DecoderCounters& d = decoder_.counters();
  const uint32_t v[12] = {d.frames_ok, d.cobs_error, d.too_short, d.oversized, d.crc_error, d.bad_version,
                          counters_.unknown_type, counters_.bad_length, counters_.windows, counters_.events,
                          board_.stack_high_water(),
                          static_cast<uint32_t>(loaded_ ? pipeline_.runner().arena_used() : 0)};
  uint8_t b[kStatsLen];
  for (int i = 0; i < 12; ++i) put_u32(b + 4 * i, v[i]);
  send(kStats, b, sizeof(b));
}

void ReplayApp::send_window(const WindowResult& r) {
  size_t n = r.n_out;
  if (n > kMaxPayload - kWindowResultHeaderLen) n = kMaxPayload - kWindowResultHeaderLen;
  uint8_t b[kWindowResultHeaderLen];
  put_u32(b, r.window);
  put_i32(b + 4, r.score);
  b[8] = r.state;
  b[9] = r.hot ? 1 : 0;
  put_u32(b + 10, r.infer_us);
  put_u16(b + 14, static_cast<uint16_t>(n));
  const size_t m = encode_frame(kWindowResult, b, sizeof(b), reinterpret_cast<const uint8_t*>(r.out), n, tx_,
                                sizeof(tx_));
  if (m > 0) board_.write(tx_, m);
}

}  // namespace imuad
