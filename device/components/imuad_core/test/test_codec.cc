#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "imuad/codec.h"

using namespace imuad;

static std::vector<uint8_t> frame_bytes(uint8_t type, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out(kMaxEncoded + 2);
  const size_t n = encode_frame(type, payload.data(), payload.size(), out.data(), out.size());
  out.resize(n);
  return out;
}

static void feed(FrameDecoder& d, const std::vector<uint8_t>& bytes, int* frames = nullptr,
                 std::vector<uint8_t>* last = nullptr, uint8_t* type = nullptr) {
  for (uint8_t b : bytes) {
    if (d.push(b)) {
      if (frames) ++*frames;
      if (last) last->assign(d.frame().payload, d.frame().payload + d.frame().len);
      if (type) *type = d.frame().type;
    }
  }
}

int main() {
  // CRC-16/CCITT-FALSE check value.
  const char* s = "123456789";
  CHECK_EQ(crc16_ccitt(reinterpret_cast<const uint8_t*>(s), 9), 0x29B1);

  // COBS known vectors (Wikipedia examples).
  {
    uint8_t out[16];
    const uint8_t a[] = {0x00};
    CHECK_EQ(cobs_encode(a, 1, out, sizeof out), 2);
    CHECK(out[0] == 1 && out[1] == 1);
    const uint8_t b[] = {0x11, 0x22, 0x00, 0x33};
    CHECK_EQ(cobs_encode(b, 4, out, sizeof out), 5);
    const uint8_t want[] = {0x03, 0x11, 0x22, 0x02, 0x33};
    CHECK(std::memcmp(out, want, 5) == 0);
    uint8_t dec[16];
    CHECK_EQ(cobs_decode(out, 5, dec, sizeof dec), 4);
    CHECK(std::memcmp(dec, b, 4) == 0);
  }

  // Round trip: random payloads of every size class, including 254/255-byte runs.
  std::mt19937 rng(1);
  for (int i = 0; i < 3000; ++i) {
    size_t len = (i < 1000) ? static_cast<size_t>(i) : rng() % (kMaxPayload + 1);
    if (i == 2999) len = kMaxPayload;
    std::vector<uint8_t> p(len);
    const int mode = i % 3;
    for (auto& b : p) b = mode == 0 ? uint8_t(rng()) : mode == 1 ? uint8_t(rng() % 4) : uint8_t(1 + rng() % 255);
    const uint8_t type = uint8_t(rng());
    auto f = frame_bytes(type, p);
    CHECK(!f.empty());
    CHECK(f.size() <= kMaxEncoded + 1);
    for (size_t k = 0; k + 1 < f.size(); ++k) CHECK(f[k] != 0);
    FrameDecoder d;
    int n = 0;
    std::vector<uint8_t> got;
    uint8_t t = 0;
    feed(d, f, &n, &got, &t);
    CHECK_EQ(n, 1);
    CHECK(got == p);
    CHECK_EQ(t, type);
  }
  // Payload too large does not encode.
  {
    std::vector<uint8_t> p(kMaxPayload + 1, 7);
    uint8_t out[kMaxEncoded + 8];
    CHECK_EQ(encode_frame(1, p.data(), p.size(), out, sizeof out), 0);
  }

  // Every corruption class is counted and the next good frame still decodes.
  {
    FrameDecoder d;
    const auto good = frame_bytes(0x08, {});
    int n = 0;
    // cobs_error: code byte pointing past the end
    feed(d, {0x05, 0x01, 0x02, 0x00}, &n);
    CHECK_EQ(d.counters().cobs_error, 1);
    // too_short: 3-byte body
    feed(d, {0x04, 0x01, 0x02, 0x03, 0x00}, &n);
    CHECK_EQ(d.counters().too_short, 1);
    // crc_error: flip one payload byte
    auto bad = frame_bytes(0x03, {1, 2, 3, 4});
    bad[3] ^= 0x40;
    feed(d, bad, &n);
    CHECK_EQ(d.counters().crc_error, 1);
    // bad_version: a body with version 2 and a valid CRC
    {
      uint8_t body[4] = {2, 0x08, 0, 0};
      put_u16(body + 2, crc16_ccitt(body, 2));
      uint8_t enc[16];
      size_t m = cobs_encode(body, 4, enc, sizeof enc);
      std::vector<uint8_t> v(enc, enc + m);
      v.push_back(0);
      feed(d, v, &n);
      CHECK_EQ(d.counters().bad_version, 1);
    }
    // oversized: 5000 non-zero bytes, then a good frame right after the delimiter
    std::vector<uint8_t> big(5000, 0x55);
    big.push_back(0);
    feed(d, big, &n);
    CHECK_EQ(d.counters().oversized, 1);
    // oversized after decoding: max-length COBS data (2057 bytes) that decodes to > 2048 bytes
    std::vector<uint8_t> big2(kMaxEncoded, 0x01);
    big2.push_back(0);
    feed(d, big2, &n);
    CHECK_EQ(d.counters().oversized, 2);
    CHECK_EQ(n, 0);
    feed(d, good, &n);
    CHECK_EQ(n, 1);
    // empty frames are ignored
    feed(d, {0, 0, 0}, &n);
    CHECK_EQ(d.counters().frames_ok, 1);
    CHECK_EQ(d.counters().cobs_error + d.counters().too_short, 2);
    // truncated frame followed by a good one: the truncated bytes merge with the next frame's
    // start and are dropped as one bad frame; the one after decodes.
    auto trunc = frame_bytes(0x03, {9, 9, 9, 9, 9, 9});
    trunc.resize(trunc.size() / 2);
    feed(d, trunc, &n);
    feed(d, good, &n);
    feed(d, good, &n);
    CHECK_EQ(n, 2);
  }
  TEST_MAIN_END();
}
