#include "imuad/codec.h"

namespace imuad {

uint16_t crc16_ccitt(const uint8_t* data, size_t len, uint16_t crc) {
  for (size_t i = 0; i < len; ++i) {
    crc = static_cast<uint16_t>(crc ^ (static_cast<uint16_t>(data[i]) << 8));
    for (int b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

size_t cobs_encode(const uint8_t* in, size_t len, uint8_t* out, size_t cap) {
  if (cap == 0) return 0;
  size_t code_pos = 0, o = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < len; ++i) {
    if (in[i] == 0) {
      out[code_pos] = code;
      code = 1;
      code_pos = o++;
      if (o > cap) return 0;
    } else {
      if (o >= cap) return 0;
      out[o++] = in[i];
      if (++code == 0xFF) {
        out[code_pos] = code;
        code = 1;
        code_pos = o++;
        if (o > cap) return 0;
      }
    }
  }
  out[code_pos] = code;
  return o;
}

long cobs_decode(const uint8_t* in, size_t len, uint8_t* out, size_t cap) {
  size_t i = 0, o = 0;
  while (i < len) {
    const uint8_t code = in[i++];
    if (code == 0) return -1;
    const size_t n = static_cast<size_t>(code) - 1;
    if (n > len - i) return -1;  // block runs past the end
    if (o + n > cap) return -1;
    for (size_t k = 0; k < n; ++k) {
      if (in[i] == 0) return -1;
      out[o++] = in[i++];
    }
    if (code != 0xFF && i < len) {
      if (o >= cap) return -1;
      out[o++] = 0;
    }
  }
  return static_cast<long>(o);
}

size_t encode_frame(uint8_t type, const uint8_t* payload, size_t payload_len, uint8_t* out, size_t cap) {
  return encode_frame(type, payload, payload_len, nullptr, 0, out, cap);
}

size_t encode_frame(uint8_t type, const uint8_t* payload, size_t payload_len, const uint8_t* extra,
                    size_t extra_len, uint8_t* out, size_t cap) {
  if (payload_len + extra_len > kMaxPayload) return 0;
  // Encode version|type|payload|crc without a body copy: COBS over three pieces is simplest
  // with a small streaming encoder.
  uint8_t head[2] = {kProtocolVersion, type};
  uint16_t crc = crc16_ccitt(head, 2);
  crc = crc16_ccitt(payload, payload_len, crc);
  crc = crc16_ccitt(extra, extra_len, crc);
  uint8_t tail[2] = {static_cast<uint8_t>(crc & 0xFF), static_cast<uint8_t>(crc >> 8)};
  if (cap < 2) return 0;
  size_t code_pos = 0, o = 1;
  uint8_t code = 1;
  auto put = [&](uint8_t b) -> bool {
    if (b == 0) {
      out[code_pos] = code;
      code = 1;
      code_pos = o++;
      return o <= cap;
    }
    if (o >= cap) return false;
    out[o++] = b;
    if (++code == 0xFF) {
      out[code_pos] = code;
      code = 1;
      code_pos = o++;
      return o <= cap;
    }
    return true;
  };
  for (uint8_t b : head) if (!put(b)) return 0;
  for (size_t i = 0; i < payload_len; ++i) if (!put(payload[i])) return 0;
  for (size_t i = 0; i < extra_len; ++i) if (!put(extra[i])) return 0;
  for (uint8_t b : tail) if (!put(b)) return 0;
  if (o >= cap) return 0;
  out[code_pos] = code;
  out[o++] = 0;
  return o;
}

bool FrameDecoder::push(uint8_t b) {
  if (b != 0) {
    if (skipping_) return false;
    if (len_ >= sizeof(buf_)) {
      ++counters_.oversized;
      skipping_ = true;
      len_ = 0;
      return false;
    }
    buf_[len_++] = b;
    return false;
  }
  // delimiter
  if (skipping_) {
    skipping_ = false;
    len_ = 0;
    return false;
  }
  const size_t n = len_;
  len_ = 0;
  if (n == 0) return false;
  const long m = cobs_decode(buf_, n, buf_, sizeof(buf_));
  if (m < 0) {
    ++counters_.cobs_error;
    return false;
  }
  const size_t body = static_cast<size_t>(m);
  if (body > kMaxBody) {
    ++counters_.oversized;
    return false;
  }
  if (body < 4) {
    ++counters_.too_short;
    return false;
  }
  const uint16_t crc = crc16_ccitt(buf_, body - 2);
  if (crc != get_u16(buf_ + body - 2)) {
    ++counters_.crc_error;
    return false;
  }
  if (buf_[0] != kProtocolVersion) {
    ++counters_.bad_version;
    return false;
  }
  ++counters_.frames_ok;
  frame_ = Frame{buf_[1], buf_ + 2, body - 4};
  return true;
}

}  // namespace imuad
