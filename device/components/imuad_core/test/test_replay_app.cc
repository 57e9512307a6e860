// ReplayApp end to end with the fixture models compiled in (tests/firmware/fixtures/models).
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "check.h"
#include "fake_board.h"
#include "imuad/compiled_models.h"
#include "imuad/preprocess.h"
#include "imuad/protocol.h"
#include "imuad/score.h"
#include "imuad/replay_app.h"

using namespace imuad;

namespace {

struct Rig {
  FakeBoard board;
  std::vector<uint8_t> arena;
  std::vector<int16_t> ring;
  std::unique_ptr<ReplayApp> app;
  Rig(ModelRegistry reg, size_t arena_size = 32768) : arena(arena_size), ring(4096) {
    app.reset(new ReplayApp(board, reg, arena.data(), arena.size(), ring.data(), ring.size()));
  }
  std::vector<OutFrame> send(uint8_t type, const std::vector<uint8_t>& payload) {
    auto w = wire(type, payload);
    app->feed(w.data(), w.size());
    return board.take();
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

const ModelSpec* find(const char* name) {
  ModelRegistry r = compiled_models();
  return r.find(name, std::strlen(name));
}

}  // namespace

int main() {
  const ModelSpec* cnn = find("fixture_cnn");
  const ModelSpec* ae = find("fixture_ae");
  CHECK(cnn != nullptr && ae != nullptr);
  if (!cnn || !ae) TEST_MAIN_END();

  Rig rig(compiled_models());
  CHECK(rig.app->begin().ok());
  CHECK(rig.board.take().empty());

  // Before HELLO: STATS works, SAMPLES is refused.
  auto f = rig.send(kStatsReq, {});
  CHECK(f.size() == 1 && f[0].type == kStats && f[0].payload.size() == kStatsLen);
  f = rig.send(kSamples, samples_payload(0, stream(4, 3, 1), 3));
  CHECK(f.size() == 1 && f[0].type == kError && f[0].payload[0] == kErrNotReady);

  // Unknown model -> ERROR(MODEL) naming what is compiled in.
  f = rig.send(kHello, str("nope"));
  CHECK(f.size() == 1 && f[0].type == kError && f[0].payload[0] == kErrModel);
  CHECK(f.size() == 1 && f[0].text().find("fixture_cnn") != std::string::npos);

  // HELLO fixture_cnn -> DEVICE_INFO
  f = rig.send(kHello, str("fixture_cnn"));
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo && f[0].payload.size() == kDeviceInfoLen);
  if (f.size() == 1 && f[0].payload.size() == kDeviceInfoLen) {
    const uint8_t* p = f[0].payload.data();
    CHECK(std::strncmp(reinterpret_cast<const char*>(p), kFirmwareVersion, 16) == 0);
    CHECK(std::memcmp(p + 16, cnn->sha256, 32) == 0);
    CHECK_EQ(get_u16(p + 48), 32);
    CHECK_EQ(get_u16(p + 50), 16);
    CHECK_EQ(p[52], 3);
    CHECK_EQ(get_u16(p + 53), 1);
    CHECK(get_u32(p + 55) > 0 && get_u32(p + 55) <= get_u32(p + 59));
    CHECK(std::strncmp(reinterpret_cast<const char*>(p + 63), "test", 8) == 0);
    CHECK(std::strncmp(reinterpret_cast<const char*>(p + 71), "fixture_cnn", 32) == 0);
  }

  // 32 + 16*9 samples in uneven chunks -> windows 0..9 in order, WINDOW_RESULT then EVENT.
  const int n = 32 + 16 * 9;
  auto s = stream(n, 3, 2);
  std::vector<int32_t> scores1;
  int sent = 0;
  const int chunks[] = {1, 30, 50, 7, 88};
  for (int c : chunks) {
    std::vector<int16_t> part(s.begin() + sent * 3, s.begin() + (sent + c) * 3);
    for (const auto& fr : rig.send(kSamples, samples_payload(static_cast<uint32_t>(sent), part, 3))) {
      CHECK(fr.type == kWindowResult || fr.type == kEvent);
      if (fr.type == kWindowResult) {
        CHECK_EQ(get_u32(fr.payload.data()), scores1.size());
        CHECK_EQ(get_u16(fr.payload.data() + 14), 1);
        CHECK_EQ(fr.payload.size(), kWindowResultHeaderLen + 1);
        scores1.push_back(get_i32(fr.payload.data() + 4));
      }
    }
    sent += c;
  }
  CHECK_EQ(sent, n);
  CHECK_EQ(scores1.size(), 10);

  // HELLO again resets the window index; the same stream gives the same scores.
  f = rig.send(kHello, {});  // empty = default model (first compiled in)
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
  rig.send(kHello, str("fixture_cnn"));
  std::vector<int32_t> scores2;
  for (const auto& fr : rig.send(kSamples, samples_payload(0, s, 3))) {
    if (fr.type == kWindowResult) scores2.push_back(get_i32(fr.payload.data() + 4));
  }
  CHECK(scores1 == scores2);

  // GAP: reported, samples still used.
  f = rig.send(kSamples, samples_payload(12345, stream(16, 3, 3), 3));
  CHECK(f.size() >= 2 && f[0].type == kError && f[0].payload[0] == kErrGap && f[1].type == kWindowResult);

  // Bad lengths and unknown types are counted and answered with ERROR.
  auto bad = samples_payload(0, stream(4, 3, 4), 3);
  bad.pop_back();
  f = rig.send(kSamples, bad);
  CHECK(f.size() == 1 && f[0].payload[0] == kErrBadLength);
  f = rig.send(kStatsReq, {1});
  CHECK(f.size() == 1 && f[0].payload[0] == kErrBadLength);
  f = rig.send(kHello, std::vector<uint8_t>(33, 'a'));
  CHECK(f.size() == 1 && f[0].payload[0] == kErrBadLength);
  f = rig.send(kSamples, {1, 2});
  CHECK(f.size() == 1 && f[0].payload[0] == kErrBadLength);
  f = rig.send(0x55, {});
  CHECK(f.size() == 1 && f[0].payload[0] == kErrUnknownType);
  f = rig.send(kDeviceInfo, {});  // device->host type sent to the device
  CHECK(f.size() == 1 && f[0].payload[0] == kErrUnknownType);
  CHECK_EQ(rig.app->app_counters().bad_length, 4);
  CHECK_EQ(rig.app->app_counters().unknown_type, 2);

  // CONFIG: valid -> DEVICE_INFO, invalid -> ERROR.
  std::vector<uint8_t> cfg(kConfigLen);
  put_i32(cfg.data(), 0);
  put_i32(cfg.data() + 4, 0);
  cfg[8] = 1;
  cfg[9] = 1;
  f = rig.send(kConfig, cfg);
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
  f = rig.send(kSamples, samples_payload(12345 + 16, stream(16, 3, 5), 3));
  CHECK(f.size() == 2 && f[0].type == kWindowResult && f[1].type == kEvent);  // threshold 0 -> onset
  if (f.size() == 2) CHECK_EQ(f[1].payload[4], kOnset);
  cfg[8] = 3;  // k > n
  f = rig.send(kConfig, cfg);
  CHECK(f.size() == 1 && f[0].type == kError);

  // Autoencoder model: output has the input's shape, score is recon error.
  f = rig.send(kHello, str("fixture_ae"));
  CHECK(f.size() == 1 && f[0].type == kDeviceInfo);
  {
    const auto raw = stream(16, 2, 6);
    f = rig.send(kSamples, samples_payload(0, raw, 2));
    CHECK(f.size() >= 1 && f[0].type == kWindowResult && f[0].payload.size() == kWindowResultHeaderLen + 32);
    if (f.size() >= 1 && f[0].payload.size() == kWindowResultHeaderLen + 32) {
      // The score uses the window's input as preprocessed, not the input tensor after Invoke()
      // (TFLM may reuse its arena bytes): recompute it here from the raw samples.
      int8_t in_q[32];
      preprocess_window(ae->preprocess, raw.data(), 16, 2, in_q);
      const int8_t* out_q = reinterpret_cast<const int8_t*>(f[0].payload.data() + kWindowResultHeaderLen);
      CHECK_EQ(get_i32(f[0].payload.data() + 4),
               compute_score(ae->score, out_q, 32, in_q, 32, ae->preprocess.input_zero_point));
    }
  }

  // BYE -> STATS, board told; counters add up.
  f = rig.send(kBye, {});
  CHECK(f.size() == 1 && f[0].type == kStats);
  CHECK_EQ(rig.board.byes, 1);
  if (f.size() == 1) {
    CHECK_EQ(get_u32(f[0].payload.data() + 24), 2);        // unknown_type
    CHECK_EQ(get_u32(f[0].payload.data() + 28), 4);        // bad_length
    CHECK_EQ(get_u32(f[0].payload.data() + 32), 10 + 10 + 1 + 1 + 1);  // windows
  }

  // Too-small arena -> ARENA error; corrupt / truncated flatbuffer -> MODEL error (no crash).
  {
    Rig small(compiled_models(), 256);
    Status st = small.app->begin();
    CHECK_EQ(st.code, kErrArena);
    auto e = small.board.take();
    CHECK(e.size() == 1 && e[0].type == kError && e[0].payload[0] == kErrArena);
    ModelSpec spec = *cnn;
    spec.arena_bytes = 64;  // the card lies: AllocateTensors must fail cleanly
    const ModelSpec* one[] = {&spec};
    Rig liar(ModelRegistry{one, 1}, 512);
    CHECK_EQ(liar.app->begin().code, kErrArena);
  }
  {
    std::vector<unsigned char> junk(cnn->tflite, cnn->tflite + cnn->tflite_len);
    std::mt19937 rng(9);
    ModelSpec spec = *cnn;
    const ModelSpec* one[] = {&spec};
    spec.tflite_len = cnn->tflite_len / 2;  // truncated
    Rig r1(ModelRegistry{one, 1});
    CHECK_EQ(r1.app->begin().code, kErrModel);
    for (int i = 0; i < 200; ++i) junk[rng() % junk.size()] ^= static_cast<unsigned char>(1 + rng() % 255);
    spec.tflite = junk.data();
    spec.tflite_len = static_cast<unsigned int>(junk.size());
    Rig r2(ModelRegistry{one, 1});
    CHECK_EQ(r2.app->begin().code, kErrModel);
    spec = *cnn;
    spec.window = 31;  // shape mismatch with the tensor
    Rig r3(ModelRegistry{one, 1});
    CHECK_EQ(r3.app->begin().code, kErrModel);
    spec = *cnn;
    spec.preprocess.input_zero_point += 1;
    Rig r4(ModelRegistry{one, 1});
    CHECK_EQ(r4.app->begin().code, kErrModel);
  }
  {
    Rig none(ModelRegistry{nullptr, 0});
    CHECK_EQ(none.app->begin().code, kErrModel);
  }
  TEST_MAIN_END();
}
