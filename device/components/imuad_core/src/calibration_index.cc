#include "imuad/calibration_index.h"

#include <cstring>

namespace imuad {

bool CalibrationIndex::decode(const uint8_t* in, size_t len) {
  n_ = 0;
  if (in == nullptr || len != kCalibrationIndexLen || in[0] > kCalibrationsKept) return false;
  for (uint8_t i = 0; i < in[0]; ++i) add_oldest(in + 1 + i * kCalibrationKeyBytes);
  return n_ == in[0];  // a repeated key is damage: the board rebuilds the index
}

void CalibrationIndex::encode(uint8_t* out) const {
  std::memset(out, 0, kCalibrationIndexLen);
  out[0] = n_;
  std::memcpy(out + 1, keys_, static_cast<size_t>(n_) * kCalibrationKeyBytes);
}

int CalibrationIndex::find(const uint8_t* key) const {
  for (uint8_t i = 0; i < n_; ++i) {
    if (std::memcmp(keys_[i], key, kCalibrationKeyBytes) == 0) return i;
  }
  return -1;
}

bool CalibrationIndex::contains(const uint8_t* key) const { return find(key) >= 0; }

void CalibrationIndex::touch(const uint8_t* sha256_or_key) {
  uint8_t key[kCalibrationKeyBytes];
  std::memcpy(key, sha256_or_key, kCalibrationKeyBytes);
  const int at = find(key);
  // Shift the newer ones down by one over the old place (or over the oldest, which falls out).
  int last = at >= 0 ? at : (n_ < kCalibrationsKept ? n_++ : n_ - 1);
  for (; last > 0; --last) std::memcpy(keys_[last], keys_[last - 1], kCalibrationKeyBytes);
  std::memcpy(keys_[0], key, kCalibrationKeyBytes);
}

void CalibrationIndex::add_oldest(const uint8_t* key) {
  if (n_ >= kCalibrationsKept || contains(key)) return;
  std::memcpy(keys_[n_++], key, kCalibrationKeyBytes);
}

void calibration_key_hex(const uint8_t* sha256_or_key, char out[2 * kCalibrationKeyBytes + 1]) {
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < kCalibrationKeyBytes; ++i) {
    out[2 * i] = kHex[sha256_or_key[i] >> 4];
    out[2 * i + 1] = kHex[sha256_or_key[i] & 15];
  }
  out[2 * kCalibrationKeyBytes] = 0;
}

bool calibration_key_from_hex(const char* hex, uint8_t key[kCalibrationKeyBytes]) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < kCalibrationKeyBytes; ++i) {
    const int hi = nibble(hex[2 * i]);
    if (hi < 0) return false;
    const int lo = nibble(hex[2 * i + 1]);
    if (lo < 0) return false;
    key[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace imuad
