// Serial frame codec (docs/contracts.md C7): COBS(body) 0x00, body = version | type | payload | crc16.
// Portable, no heap: the decoder owns one fixed buffer; encoders write into caller buffers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace imuad {

inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr size_t kMaxBody = 2048;                       // decoded body, bytes
inline constexpr size_t kMaxPayload = kMaxBody - 4;            // minus version, type, crc
inline constexpr size_t kMaxEncoded = kMaxBody + kMaxBody / 254 + 1;  // COBS worst case, no delimiter

// CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no xorout.
uint16_t crc16_ccitt(const uint8_t* data, size_t len, uint16_t crc = 0xFFFF);

// COBS encode len bytes into out (no trailing 0x00). Returns bytes written, 0 if cap too small.
size_t cobs_encode(const uint8_t* in, size_t len, uint8_t* out, size_t cap);
// COBS decode (input has no 0x00). Returns decoded length, or -1 if malformed / too long.
// In-place decoding (out == in) is allowed: the output never overtakes the input.
long cobs_decode(const uint8_t* in, size_t len, uint8_t* out, size_t cap);

// Whole wire frame (COBS + 0x00) of one message. Returns bytes written, 0 if it does not fit.
size_t encode_frame(uint8_t type, const uint8_t* payload, size_t payload_len, uint8_t* out, size_t cap);
// Same, payload given in two pieces (header + tensor) so nothing is copied.
size_t encode_frame(uint8_t type, const uint8_t* payload, size_t payload_len, const uint8_t* extra,
                    size_t extra_len, uint8_t* out, size_t cap);

struct DecoderCounters {
  uint32_t frames_ok = 0;
  uint32_t cobs_error = 0;
  uint32_t too_short = 0;
  uint32_t oversized = 0;
  uint32_t crc_error = 0;
  uint32_t bad_version = 0;
};

struct Frame {
  uint8_t type;
  const uint8_t* payload;  // valid until the next push()
  size_t len;
};

// Streaming decoder fed byte by byte. Empty frames (0x00 0x00) are ignored, not counted.
class FrameDecoder {
 public:
  // Returns true when b completed a valid frame (then frame() is valid until the next push).
  bool push(uint8_t b);
  const Frame& frame() const { return frame_; }
  const DecoderCounters& counters() const { return counters_; }
  void reset_counters() { counters_ = DecoderCounters{}; }

 private:
  uint8_t buf_[kMaxEncoded];
  size_t len_ = 0;
  bool skipping_ = false;  // oversized: drop bytes until the next delimiter
  Frame frame_{0, nullptr, 0};
  DecoderCounters counters_;
};

// Little-endian field access.
inline void put_u16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
inline void put_u32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); p[2] = uint8_t(v >> 16); p[3] = uint8_t(v >> 24);
}
inline void put_i32(uint8_t* p, int32_t v) { put_u32(p, static_cast<uint32_t>(v)); }
inline uint16_t get_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t get_u32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline int32_t get_i32(const uint8_t* p) { return static_cast<int32_t>(get_u32(p)); }
inline int16_t get_i16(const uint8_t* p) { return static_cast<int16_t>(get_u16(p)); }

}  // namespace imuad
