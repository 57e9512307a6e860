// In-memory Board for tests: input bytes queued by the test, output frames decoded back.
#pragma once
#include <cstring>
#include <string>
#include <vector>

#include "imuad/board.h"
#include "imuad/codec.h"

struct OutFrame {
  uint8_t type;
  std::vector<uint8_t> payload;
  std::string text() const { return std::string(payload.begin() + (payload.empty() ? 0 : 1), payload.end()); }
};

class FakeBoard : public imuad::Board {
 public:
  uint32_t micros() override { return t_ += 7; }
  uint32_t millis() override { return t_ / 1000; }
  int read(uint8_t*, size_t) override { return -1; }
  void write(const uint8_t* data, size_t len) override {
    bytes_written += len;
    for (size_t i = 0; i < len; ++i) {
      if (decoder.push(data[i])) {
        const imuad::Frame& f = decoder.frame();
        frames.push_back(OutFrame{f.type, std::vector<uint8_t>(f.payload, f.payload + f.len)});
      }
    }
  }
  void log(int, const char*) override { ++logs; }
  const char* target_name() const override { return "test"; }
  void on_bye() override { ++byes; }

  std::vector<OutFrame> take() {
    std::vector<OutFrame> f;
    f.swap(frames);
    return f;
  }
  int logs = 0;
  imuad::FrameDecoder decoder;
  std::vector<OutFrame> frames;
  size_t bytes_written = 0;
  int byes = 0;
  uint32_t t_ = 0;
};

inline std::vector<uint8_t> wire(uint8_t type, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out(imuad::kMaxEncoded + 2);
  out.resize(imuad::encode_frame(type, payload.data(), payload.size(), out.data(), out.size()));
  return out;
}

inline std::vector<uint8_t> samples_payload(uint32_t first, const std::vector<int16_t>& interleaved, int channels) {
  std::vector<uint8_t> p(6 + interleaved.size() * 2);
  imuad::put_u32(p.data(), first);
  imuad::put_u16(p.data() + 4, static_cast<uint16_t>(interleaved.size() / channels));
  for (size_t i = 0; i < interleaved.size(); ++i) imuad::put_u16(p.data() + 6 + 2 * i, static_cast<uint16_t>(interleaved[i]));
  return p;
}
