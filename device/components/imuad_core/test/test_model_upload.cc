// Models loaded at run time (C7 MODEL_BEGIN / MODEL_CHUNK / MODEL_ACK / MODEL_END) through the
// ReplayApp and a FakeBoard slot, plus the core's SHA-256.
#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "fake_board.h"
#include "imuad/compiled_models.h"
#include "imuad/model_upload.h"
#include "imuad/protocol.h"
#include "imuad/replay_app.h"
#include "imuad/sha256.h"

using namespace imuad;

namespace {

std::string hex(const uint8_t* d, size_t n) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += k[d[i] >> 4];
    s += k[d[i] & 15];
  }
  return s;
}

std::string sha_hex(const std::string& text) {
  uint8_t d[32];
  Sha256::digest(reinterpret_cast<const uint8_t*>(text.data()), text.size(), d);
  return hex(d, 32);
}

struct Rig {
  FakeBoard board;
  std::vector<uint8_t> arena;
  std::vector<int16_t> ring;
  std::unique_ptr<ReplayApp> app;
  Rig(size_t slot, size_t arena_size = 65536) : arena(arena_size), ring(4096) {
    board.slot_capacity = slot;
    app.reset(new ReplayApp(board, compiled_models(), arena.data(), arena.size(), ring.data(), ring.size()));
  }
  std::vector<OutFrame> send(uint8_t type, const std::vector<uint8_t>& payload) {
    auto w = wire(type, payload);
    app->feed(w.data(), w.size());
    return board.take();
  }
  // The whole upload; returns the frames of MODEL_END (or of the first step that failed).
  std::vector<OutFrame> upload(const ModelSpec& spec, const char* name, const uint8_t* data, size_t len,
                               size_t chunk = 700) {
    uint8_t sha[32];
    Sha256::digest(data, len, sha);
    auto f = send(kModelBegin, model_begin_payload(spec, name, static_cast<uint32_t>(len), sha));
    if (f.size() != 1 || f[0].type != kModelAck || get_u32(f[0].payload.data()) != 0) return f;
    for (size_t off = 0; off < len; off += chunk) {
      const size_t n = len - off < chunk ? len - off : chunk;
      f = send(kModelChunk, model_chunk_payload(static_cast<uint32_t>(off), data + off, n));
      if (f.size() != 1 || f[0].type != kModelAck || get_u32(f[0].payload.data()) != off + n) return f;
    }
    return send(kModelEnd, {});
  }
  std::vector<int32_t> scores(const std::vector<int16_t>& s, int c) {
    std::vector<int32_t> out;
    for (const auto& fr : send(kSamples, samples_payload(0, s, c))) {
      if (fr.type == kWindowResult) out.push_back(get_i32(fr.payload.data() + 4));
    }
    return out;
  }
};

std::vector<uint8_t> str(const char* s) { return std::vector<uint8_t>(s, s + std::strlen(s)); }

std::vector<int16_t> stream(int n, int c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0, 1500);
  std::vector<int16_t> v(static_cast<size_t>(n) * c);
  for (auto& x : v) x = static_cast<int16_t>(std::max(-32768.0, std::min(32767.0, nd(rng))));
  return v;
}

bool is_error(const std::vector<OutFrame>& f, uint8_t code, const char* text = "") {
  const bool ok = f.size() == 1 && f[0].type == kError && f[0].payload[0] == code &&
                  f[0].text().find(text) != std::string::npos;
  if (!ok) {
    std::fprintf(stderr, "expected ERROR %u containing '%s', got %zu frame(s)", code, text, f.size());
    if (!f.empty()) std::fprintf(stderr, ": type %u '%s'", f[0].type, f[0].text().c_str());
    std::fprintf(stderr, "\n");
  }
  return ok;
}

}  // namespace

int main() {
  // SHA-256: FIPS 180-4 examples, and a split update equals one update.
  CHECK(sha_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  {
    std::string a(1000000, 'a');
    CHECK(sha_hex(a) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    uint8_t d1[32], d2[32];
    Sha256 h;
    for (size_t i = 0, step = 1; i < a.size(); i += step, step = step * 3 % 97 + 1) {
      h.update(reinterpret_cast<const uint8_t*>(a.data()) + i, std::min(step, a.size() - i));
    }
    h.finish(d1);
    Sha256::digest(reinterpret_cast<const uint8_t*>(a.data()), a.size(), d2);
    CHECK(std::memcmp(d1, d2, 32) == 0);
  }

  const ModelRegistry reg = compiled_models();
  const ModelSpec* cnn = reg.find("fixture_cnn", 11);
  const ModelSpec* ae = reg.find("fixture_ae", 10);
  CHECK(cnn != nullptr && ae != nullptr);
  if (!cnn || !ae) TEST_MAIN_END();

  // MODEL_BEGIN round trip and field checks.
  {
    auto p = model_begin_payload(*cnn, "x", cnn->tflite_len, cnn->sha256);
    ModelHeader h;
    char why[128];
    CHECK(parse_model_begin(p.data(), p.size(), &h, why, sizeof why));
    CHECK(std::strcmp(h.name, "x") == 0 && h.size == cnn->tflite_len && h.spec.window == cnn->window &&
          h.spec.hop == cnn->hop && h.spec.channels == cnn->channels && h.spec.arena_bytes == cnn->arena_bytes &&
          std::memcmp(h.spec.preprocess.offset, cnn->preprocess.offset, sizeof cnn->preprocess.offset) == 0 &&
          std::memcmp(h.spec.preprocess.multiplier, cnn->preprocess.multiplier, sizeof cnn->preprocess.multiplier) == 0 &&
          h.spec.preprocess.shift == cnn->preprocess.shift && h.spec.preprocess.kind == cnn->preprocess.kind &&
          h.spec.preprocess.input_zero_point == cnn->preprocess.input_zero_point &&
          h.spec.decision.k == cnn->decision.k && h.spec.score.kind == cnn->score.kind);
    std::vector<uint8_t> q(kModelBeginLen);
    encode_model_begin(h, q.data());
    CHECK(p == q);
    auto bad = [&](size_t at, uint8_t v) {
      auto b = p;
      b[at] = v;
      return !parse_model_begin(b.data(), b.size(), &h, why, sizeof why);
    };
    CHECK(bad(36, 0));             // empty name
    CHECK(bad(37, 0x01));          // not printable
    CHECK(bad(68 + 4, 0));         // channels 0
    CHECK(bad(68 + 4, 9));         // channels > 8
    CHECK(bad(180, 0));            // k 0
    CHECK(bad(151, 7));            // score kind
    CHECK(bad(182, 2));            // C3 preprocessing kind
    {  // window_int: RMS floors >= 1 and shift <= 24
      auto b = p;
      b[182] = 1;
      bool want = cnn->preprocess.shift <= kWindowRmsMaxShift && cnn->window <= kWindowRmsMaxWindow;
      for (int c = 0; c < cnn->channels; ++c) {
        want = want && cnn->preprocess.offset[c] >= 1 && cnn->preprocess.offset[c] <= 65535;
      }
      CHECK(parse_model_begin(b.data(), b.size(), &h, why, sizeof why) == want);
    }
    CHECK(!parse_model_begin(p.data(), p.size() - 1, &h, why, sizeof why));
  }

  // A board without a slot says so; nothing changes.
  {
    Rig none(0);
    CHECK(none.app->begin().ok());
    CHECK(is_error(none.upload(*cnn, "up", cnn->tflite, cnn->tflite_len), kErrModel, "no model slot"));
    auto f = none.send(kHello, str("fixture_cnn"));
    CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
    if (f.size() == 1) CHECK_EQ(get_u32(f[0].payload.data() + 103), 0);
  }

  Rig rig(64 * 1024);
  CHECK(rig.app->begin().ok());
  const auto s = stream(32 + 16 * 10, 3, 2);  // one SAMPLES frame
  auto f = rig.send(kHello, str("fixture_cnn"));
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
  if (f.size() == 1) CHECK_EQ(get_u32(f[0].payload.data() + 103), 64 * 1024);
  const auto want = rig.scores(s, 3);
  CHECK_EQ(want.size(), 11);

  // Upload fixture_cnn's flatbuffer as 'up_cnn': DEVICE_INFO selects it, same scores.
  f = rig.upload(*cnn, "up_cnn", cnn->tflite, cnn->tflite_len);
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
  if (f.size() == 1 && f[0].type == kDeviceInfo) {
    CHECK(std::strncmp(reinterpret_cast<const char*>(f[0].payload.data() + 71), "up_cnn", 32) == 0);
    CHECK(std::memcmp(f[0].payload.data() + 16, cnn->sha256, 32) == 0);
  }
  CHECK(rig.app->runtime_model() != nullptr);
  CHECK(rig.scores(s, 3) == want);
  f = rig.send(kHello, {});  // empty HELLO: the compiled-in default
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo &&
        std::strncmp(reinterpret_cast<const char*>(f[0].payload.data() + 71), reg.models[0]->name, 32) == 0);
  f = rig.send(kHello, str("up_cnn"));
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
  CHECK(rig.scores(s, 3) == want);

  // A loaded model shadows a compiled-in one of the same name (fixture_ae's bytes as "fixture_cnn").
  f = rig.upload(*ae, "fixture_cnn", ae->tflite, ae->tflite_len, 2040);
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
  f = rig.send(kHello, str("fixture_cnn"));
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo && f[0].payload.size() == kDeviceInfoLen);
  if (f.size() == 1 && f[0].payload.size() == kDeviceInfoLen) CHECK_EQ(get_u16(f[0].payload.data() + 53), 32);
  f = rig.send(kHello, str("up_cnn"));  // overwritten by the last upload
  CHECK(is_error(f, kErrModel, "unknown model 'up_cnn'"));

  // Upload errors: each answered with the right ERROR, the firmware keeps working.
  std::vector<uint8_t> bytes(cnn->tflite, cnn->tflite + cnn->tflite_len);
  uint8_t sha[32];
  Sha256::digest(bytes.data(), bytes.size(), sha);
  auto begin_as = [&](uint32_t size, const uint8_t* digest, const ModelSpec& spec) {
    return rig.send(kModelBegin, model_begin_payload(spec, "bad", size, digest));
  };
  auto begin = [&](uint32_t size, const uint8_t* digest) { return begin_as(size, digest, *cnn); };
  auto chunk = [&](uint32_t off, size_t n) { return rig.send(kModelChunk, model_chunk_payload(off, bytes.data() + off, n)); };
  // too big for the slot
  CHECK(is_error(begin(64 * 1024 + 1, sha), kErrModel, "the model slot holds 65536"));
  // arena larger than this target has
  {
    ModelSpec big = *cnn;
    big.arena_bytes = 1 << 20;
    CHECK(is_error(begin_as(cnn->tflite_len, sha, big), kErrArena, "arena"));
  }
  // chunk / end without begin
  CHECK(is_error(chunk(0, 10), kErrNotReady, "MODEL_CHUNK without MODEL_BEGIN"));
  CHECK(is_error(rig.send(kModelEnd, {}), kErrNotReady, "MODEL_END without MODEL_BEGIN"));
  // out of order
  f = begin(cnn->tflite_len, sha);
  CHECK(f.size() == 1 && f[0].type == kModelAck);
  CHECK(is_error(chunk(100, 10), kErrModel, "offset 100, expected 0"));
  CHECK(is_error(rig.send(kModelEnd, {}), kErrNotReady));  // aborted
  // truncated
  begin(cnn->tflite_len, sha);
  chunk(0, 1000);
  CHECK(is_error(rig.send(kModelEnd, {}), kErrModel, "truncated: 1000 of"));
  // past the announced size
  begin(1000, sha);
  CHECK(is_error(chunk(0, 1001), kErrModel, "runs past"));
  // SHA-256 mismatch
  {
    uint8_t wrong[32];
    std::memcpy(wrong, sha, 32);
    wrong[0] ^= 1;
    begin(cnn->tflite_len, wrong);
    for (uint32_t off = 0; off < bytes.size(); off += 1000) chunk(off, std::min<size_t>(1000, bytes.size() - off));
    CHECK(is_error(rig.send(kModelEnd, {}), kErrModel, "SHA-256"));
  }
  // corrupt but correctly signed: the verifier / structural checks refuse it
  {
    std::vector<uint8_t> junk = bytes;
    junk.resize(junk.size() / 2);
    CHECK(is_error(rig.upload(*cnn, "bad", junk.data(), junk.size()), kErrModel, "bad"));
    junk = bytes;
    std::memcpy(junk.data() + 4, "XXXX", 4);  // identifier
    CHECK(is_error(rig.upload(*cnn, "bad", junk.data(), junk.size()), kErrModel, "not a TFLite flatbuffer"));
  }
  // spec that does not match the flatbuffer (window) -> MODEL
  {
    ModelSpec w = *cnn;
    w.window = 31;
    CHECK(is_error(rig.upload(w, "bad", bytes.data(), bytes.size()), kErrModel, "input must be"));
  }
  // a slot that fails
  rig.board.fail_slot = true;
  CHECK(is_error(begin(cnn->tflite_len, sha), kErrModel, "erase failed"));
  rig.board.fail_slot = false;
  // still working: the compiled-in model and a fresh upload
  f = rig.send(kHello, str("fixture_cnn"));  // the shadowing upload was overwritten: compiled-in again
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
  CHECK(rig.scores(s, 3) == want);
  f = rig.upload(*cnn, "again", cnn->tflite, cnn->tflite_len, 2040);
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
  CHECK(rig.scores(s, 3) == want);
  // MODEL_BEGIN while the loaded model runs unloads it: SAMPLES need a HELLO again
  f = begin(cnn->tflite_len, sha);
  CHECK(f.size() == 1 && f[0].type == kModelAck);
  CHECK(is_error(rig.send(kSamples, samples_payload(0, stream(4, 3, 1), 3)), kErrNotReady));
  // bad lengths
  CHECK(is_error(rig.send(kModelBegin, {1, 2, 3}), kErrBadLength));
  CHECK(is_error(rig.send(kModelChunk, {0, 0, 0, 0}), kErrBadLength));
  CHECK(is_error(rig.send(kModelEnd, {0}), kErrBadLength));
  TEST_MAIN_END();
}
