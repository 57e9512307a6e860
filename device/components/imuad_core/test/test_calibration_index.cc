// CalibrationIndex: which calibrations a board keeps (the kCalibrationsKept most recently saved).
#include "imuad/calibration_index.h"

#include <cstring>

#include "check.h"

using imuad::CalibrationIndex;
using imuad::kCalibrationIndexLen;
using imuad::kCalibrationKeyBytes;
using imuad::kCalibrationsKept;

namespace {

struct Sha {
  uint8_t b[32];
};

Sha sha_of(int i) {  // distinct in the key bytes, and beyond them
  Sha s{};
  for (int k = 0; k < 32; ++k) s.b[k] = static_cast<uint8_t>(i * 37 + k);
  return s;
}

}  // namespace

int main() {
  CalibrationIndex idx;
  CHECK_EQ(idx.size(), 0);
  for (int i = 0; i < kCalibrationsKept + 3; ++i) idx.touch(sha_of(i).b);
  CHECK_EQ(idx.size(), kCalibrationsKept);
  // Newest first; the three oldest fell out.
  for (int i = 0; i < kCalibrationsKept; ++i) CHECK(std::memcmp(idx.key(static_cast<uint8_t>(i)), sha_of(kCalibrationsKept + 2 - i).b, kCalibrationKeyBytes) == 0);
  for (int i = 0; i < 3; ++i) CHECK(!idx.contains(sha_of(i).b));

  // Touching a kept one moves it first and drops nothing.
  const Sha old = sha_of(4);
  CHECK(idx.contains(old.b));
  idx.touch(old.b);
  CHECK_EQ(idx.size(), kCalibrationsKept);
  CHECK(std::memcmp(idx.key(0), old.b, kCalibrationKeyBytes) == 0);
  CHECK(std::memcmp(idx.key(1), sha_of(kCalibrationsKept + 2).b, kCalibrationKeyBytes) == 0);
  CHECK(idx.contains(sha_of(3).b));  // the oldest is still there
  idx.touch(sha_of(100).b);
  CHECK(!idx.contains(sha_of(3).b));  // and now falls out

  // Round trip; damaged bytes are refused (the board rebuilds the index from storage).
  uint8_t raw[kCalibrationIndexLen];
  idx.encode(raw);
  CalibrationIndex back;
  CHECK(back.decode(raw, sizeof raw));
  CHECK_EQ(back.size(), idx.size());
  for (uint8_t i = 0; i < idx.size(); ++i) CHECK(std::memcmp(back.key(i), idx.key(i), kCalibrationKeyBytes) == 0);
  CHECK(!back.decode(raw, sizeof raw - 1));
  CHECK_EQ(back.size(), 0);
  raw[0] = kCalibrationsKept + 1;
  CHECK(!back.decode(raw, sizeof raw));
  idx.encode(raw);
  std::memcpy(raw + 1 + kCalibrationKeyBytes, raw + 1, kCalibrationKeyBytes);  // a key twice
  CHECK(!back.decode(raw, sizeof raw));

  // add_oldest: storage found without an index fills it up to the limit, no duplicates.
  CalibrationIndex seeded;
  seeded.touch(sha_of(1).b);
  seeded.add_oldest(sha_of(1).b);
  CHECK_EQ(seeded.size(), 1);
  for (int i = 2; i < 20; ++i) seeded.add_oldest(sha_of(i).b);
  CHECK_EQ(seeded.size(), kCalibrationsKept);
  CHECK(std::memcmp(seeded.key(0), sha_of(1).b, kCalibrationKeyBytes) == 0);

  // Hex names (NVS keys, file names).
  char hex[2 * kCalibrationKeyBytes + 1];
  imuad::calibration_key_hex(old.b, hex);
  CHECK_EQ(std::strlen(hex), 2 * kCalibrationKeyBytes);
  uint8_t key[kCalibrationKeyBytes];
  CHECK(imuad::calibration_key_from_hex(hex, key));
  CHECK(std::memcmp(key, old.b, kCalibrationKeyBytes) == 0);
  CHECK(!imuad::calibration_key_from_hex("0123456789a", key));   // too short
  CHECK(!imuad::calibration_key_from_hex("0123456789aG", key));  // not hex
  CHECK(!imuad::calibration_key_from_hex("0123456789AB", key));  // upper case is not ours
  TEST_MAIN_END();
}
