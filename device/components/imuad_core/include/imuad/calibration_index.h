// Which calibrations a board with storage keeps (docs/contracts.md C7, "kept per model"): those
// of the kCalibrationsKept models most recently calibrated, each named by the first
// kCalibrationKeyBytes of its model's SHA-256. The board stores this index beside the
// calibrations and removes every calibration it does not name, so a device updated with model
// after model never fills its flash (ESP-IDF's NVS, which BLE bonds share) with calibrations of
// models long gone.
#pragma once

#include <cstddef>
#include <cstdint>

namespace imuad {

inline constexpr uint8_t kCalibrationsKept = 8;
inline constexpr size_t kCalibrationKeyBytes = 6;  // NVS keys are at most 15 characters
inline constexpr size_t kCalibrationIndexLen = 1 + kCalibrationsKept * kCalibrationKeyBytes;

class CalibrationIndex {
 public:
  // false (and empty) if the bytes are not an index: the board then starts one from the
  // calibrations it holds (add_oldest).
  bool decode(const uint8_t* in, size_t len);
  void encode(uint8_t* out) const;  // kCalibrationIndexLen bytes, zero-filled

  // The model (its SHA-256, or a key) was just calibrated: its key goes first; beyond
  // kCalibrationsKept the oldest falls out.
  void touch(const uint8_t* sha256_or_key);
  // A key found in storage, last (if there is room and it is not there yet).
  void add_oldest(const uint8_t* key);
  bool contains(const uint8_t* key) const;
  uint8_t size() const { return n_; }
  const uint8_t* key(uint8_t i) const { return keys_[i]; }

 private:
  int find(const uint8_t* key) const;
  uint8_t n_ = 0;
  uint8_t keys_[kCalibrationsKept][kCalibrationKeyBytes] = {};
};

// The key as 12 lower-case hex digits + NUL, and back (false unless exactly 12 hex digits
// start `hex`; what follows them is not read).
void calibration_key_hex(const uint8_t* sha256_or_key, char out[2 * kCalibrationKeyBytes + 1]);
bool calibration_key_from_hex(const char* hex, uint8_t key[kCalibrationKeyBytes]);

}  // namespace imuad
