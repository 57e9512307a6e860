// Fuzz without libFuzzer: N random or mutated frames (valid frames of every type, bit flips,
// truncations, splices, raw garbage, oversized runs) through the ReplayApp with a real model.
// Passes when nothing crashes (ASan/UBSan in the host-asan preset), everything the app writes
// decodes cleanly, and the counters account for the input. Usage: imuad-fuzz-frames N SEED
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "check.h"
#include "fake_board.h"
#include "imuad/compiled_models.h"
#include "imuad/protocol.h"
#include "imuad/replay_app.h"
#include "imuad/sha256.h"

using namespace imuad;

int main(int argc, char** argv) {
  const long n_frames = argc > 1 ? std::atol(argv[1]) : 100000;
  const unsigned seed = argc > 2 ? static_cast<unsigned>(std::atol(argv[2])) : 1;
  std::mt19937 rng(seed);
  FakeBoard board;
  board.slot_capacity = 16384;  // fixture models fit; MODEL_BEGIN sizes beyond it are refused
  std::vector<uint8_t> arena(65536);
  std::vector<int16_t> ring(4096);
  std::unique_ptr<ReplayApp> app(new ReplayApp(board, compiled_models(), arena.data(), arena.size(), ring.data(),
                                               ring.size()));
  app->begin();
  const auto t0 = std::chrono::steady_clock::now();
  const char* names[] = {"", "fixture_cnn", "fixture_ae", "nope", "up"};
  const ModelRegistry reg = compiled_models();
  const ModelSpec* fixtures[] = {reg.find("fixture_cnn", 11), reg.find("fixture_ae", 10)};
  CHECK(fixtures[0] != nullptr && fixtures[1] != nullptr);
  if (fixtures[0] == nullptr || fixtures[1] == nullptr) TEST_MAIN_END();
  long valid_sent = 0, bytes = 0, uploads = 0, uploads_loaded = 0;
  uint32_t chunk_next = 0;
  std::vector<uint8_t> buf;
  auto feed_frame = [&](uint8_t t, const std::vector<uint8_t>& p) {
    const auto w = wire(t, p);
    bytes += static_cast<long>(w.size());
    app->feed(w.data(), w.size());
  };
  for (long i = 0; i < n_frames; ++i) {
    if (rng() % 200 == 0) {
      // A whole, well-framed upload of a fixture flatbuffer with a few bytes changed and the
      // SHA-256 of the changed bytes: the verifier, the structural checks and the op check must
      // refuse what TFLM cannot run safely; whatever loads then gets samples.
      const ModelSpec& m = *fixtures[rng() % 2];
      std::vector<uint8_t> model(m.tflite, m.tflite + m.tflite_len);
      for (int k = 0, nf = static_cast<int>(rng() % 4); k < nf; ++k) {
        model[rng() % model.size()] = static_cast<uint8_t>(rng());
      }
      if (rng() % 8 == 0) model.resize(rng() % model.size() + 1);
      uint8_t sha[32];
      Sha256::digest(model.data(), model.size(), sha);
      if (const char* dump = std::getenv("IMUAD_FUZZ_DUMP")) {  // the upload that crashed, for a repro
        if (FILE* f = std::fopen(dump, "wb")) {
          std::fwrite(model.data(), 1, model.size(), f);
          std::fclose(f);
        }
      }
      feed_frame(kModelBegin, model_begin_payload(m, "up", static_cast<uint32_t>(model.size()), sha));
      for (size_t off = 0; off < model.size(); off += 1500) {
        feed_frame(kModelChunk, model_chunk_payload(static_cast<uint32_t>(off), model.data() + off,
                                                    std::min<size_t>(1500, model.size() - off)));
      }
      feed_frame(kModelEnd, {});
      ++uploads;
      if (app->runtime_model() != nullptr) {
        ++uploads_loaded;
        std::vector<int16_t> s(static_cast<size_t>(m.window + m.hop) * m.channels);
        for (auto& x : s) x = static_cast<int16_t>(rng());
        feed_frame(kSamples, samples_payload(0, s, m.channels));
      }
      board.frames.clear();
      continue;
    }
    // A valid frame of a random type with a plausible or random payload.
    uint8_t type = static_cast<uint8_t>(rng() % 18);
    std::vector<uint8_t> payload;
    switch (type) {
      case kHello: {
        const char* nm = names[rng() % 5];
        payload.assign(nm, nm + std::strlen(nm));
        break;
      }
      case kModelBegin: {  // a plausible header, often with one field broken
        const ModelSpec& m = *fixtures[rng() % 2];
        uint8_t sha[32];
        std::memcpy(sha, m.sha256, 32);
        if (rng() % 4 == 0) sha[rng() % 32] ^= 1;
        uint32_t size = rng() % 4 ? m.tflite_len : static_cast<uint32_t>(rng() % 40000);
        payload = model_begin_payload(m, names[1 + rng() % 4], size, sha);
        if (rng() % 2) payload[rng() % payload.size()] = static_cast<uint8_t>(rng());
        chunk_next = 0;
        break;
      }
      case kModelChunk: {  // in order (real model bytes or noise) or at a random offset
        const ModelSpec& m = *fixtures[rng() % 2];
        const size_t n = 1 + rng() % 1500;
        payload.resize(4 + n);
        put_u32(payload.data(), rng() % 4 ? chunk_next : static_cast<uint32_t>(rng()));
        for (size_t k = 0; k < n; ++k) {
          payload[4 + k] = chunk_next + k < m.tflite_len && rng() % 2 ? m.tflite[chunk_next + k] : static_cast<uint8_t>(rng());
        }
        chunk_next += static_cast<uint32_t>(n);
        break;
      }
      case kModelEnd:
        if (rng() % 4 == 0) payload.resize(1 + rng() % 4);
        break;
      case kSamples: {
        const uint16_t count = static_cast<uint16_t>(rng() % 40);
        const int c = (rng() % 4 == 0) ? 2 : 3;
        payload.resize(6 + count * c * 2);
        put_u32(payload.data(), rng() % 8 ? static_cast<uint32_t>(i) : rng());
        put_u16(payload.data() + 4, count);
        for (size_t k = 6; k < payload.size(); ++k) payload[k] = static_cast<uint8_t>(rng());
        break;
      }
      case kConfig:
        payload.resize(kConfigLen);
        for (auto& b : payload) b = static_cast<uint8_t>(rng() % 40);
        break;
      default:
        payload.resize(rng() % 8 == 0 ? rng() % 3000 : rng() % 16);
        for (auto& b : payload) b = static_cast<uint8_t>(rng());
    }
    buf.resize(kMaxEncoded + 2);
    size_t m = encode_frame(type, payload.data(), payload.size(), buf.data(), buf.size());
    buf.resize(m);
    if (m == 0) {  // payload too large for a frame: send its raw bytes (an oversized run)
      buf.assign(payload.begin(), payload.end());
      for (auto& b : buf) b |= 1;
      buf.push_back(0);
    }
    switch (rng() % 6) {
      case 0:  // bit flips
        for (int k = 0, nf = 1 + static_cast<int>(rng() % 4); k < nf && !buf.empty(); ++k)
          buf[rng() % buf.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // truncation
        buf.resize(rng() % (buf.size() + 1));
        break;
      case 2: {  // raw garbage
        buf.resize(rng() % 64);
        for (auto& b : buf) b = static_cast<uint8_t>(rng());
        break;
      }
      case 3:  // splice: insert random bytes in the middle
        if (!buf.empty()) buf.insert(buf.begin() + static_cast<long>(rng() % buf.size()), static_cast<uint8_t>(rng()));
        break;
      default:
        if (m) ++valid_sent;  // unmodified valid frame
    }
    bytes += static_cast<long>(buf.size());
    app->feed(buf.data(), buf.size());
    board.frames.clear();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const DecoderCounters& d = app->decoder_counters();
  const AppCounters& a = app->app_counters();
  const DecoderCounters& out = board.decoder.counters();
  std::printf("fuzz: %ld frames (%ld unmodified valid), %ld bytes in %.2f s; %ld mutated model uploads, %ld loaded\n",
              n_frames, valid_sent, bytes, secs, uploads, uploads_loaded);
  std::printf("device decoder: frames_ok=%u cobs_error=%u too_short=%u oversized=%u crc_error=%u bad_version=%u\n",
              d.frames_ok, d.cobs_error, d.too_short, d.oversized, d.crc_error, d.bad_version);
  std::printf("app: unknown_type=%u bad_length=%u windows=%u events=%u; host side decoded %u frames, %u dropped\n",
              a.unknown_type, a.bad_length, a.windows, a.events, out.frames_ok,
              out.cobs_error + out.too_short + out.oversized + out.crc_error + out.bad_version);
  CHECK(d.frames_ok >= static_cast<uint32_t>(valid_sent) / 2);  // most valid frames survive neighbours
  CHECK(d.cobs_error + d.too_short + d.oversized + d.crc_error > 0);
  CHECK_EQ(out.cobs_error + out.too_short + out.oversized + out.crc_error + out.bad_version, 0);
  CHECK(a.windows > 0);
  TEST_MAIN_END();
}
