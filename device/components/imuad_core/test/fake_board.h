// In-memory Board for tests: input bytes queued by the test, output frames decoded back.
#pragma once
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "imuad/board.h"
#include "imuad/codec.h"
#include "imuad/model_upload.h"
#include "imuad/protocol.h"

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

  // Model slot of `slot_capacity` bytes (0: none, the default), like a flash partition.
  size_t model_slot_capacity() override { return slot_capacity; }
  bool model_slot_begin(size_t size) override {
    if (fail_slot || size > slot_capacity) return false;
    slot.assign(size, 0xFF);
    return true;
  }
  bool model_slot_write(size_t offset, const uint8_t* data, size_t len) override {
    if (fail_slot || offset > slot.size() || len > slot.size() - offset) return false;
    std::memcpy(slot.data() + offset, data, len);
    return true;
  }
  const uint8_t* model_slot_map() override { return fail_slot ? nullptr : slot.data(); }
  size_t runtime_arena_bytes() const override { return slot_capacity ? 65536 : 0; }
  size_t runtime_ring_values() const override { return slot_capacity ? 4096 : 0; }
  size_t slot_capacity = 0;
  bool fail_slot = false;
  std::vector<uint8_t> slot;

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

// MODEL_BEGIN for `spec`'s flatbuffer under `name` (size and SHA-256 as given).
inline std::vector<uint8_t> model_begin_payload(const imuad::ModelSpec& spec, const char* name, uint32_t size,
                                                const uint8_t* sha256) {
  imuad::ModelHeader h;
  h.size = size;
  std::snprintf(h.name, sizeof(h.name), "%s", name);
  h.spec = spec;
  std::memcpy(h.spec.sha256, sha256, 32);
  std::vector<uint8_t> p(imuad::kModelBeginLen);
  imuad::encode_model_begin(h, p.data());
  return p;
}

inline std::vector<uint8_t> model_chunk_payload(uint32_t offset, const uint8_t* data, size_t len) {
  std::vector<uint8_t> p(4 + len);
  imuad::put_u32(p.data(), offset);
  std::memcpy(p.data() + 4, data, len);
  return p;
}
