// Message types, error codes and fixed payload sizes of the serial protocol (C7).
#pragma once

#include <cstddef>
#include <cstdint>

namespace imuad {

enum MsgType : uint8_t {
  kHello = 0x01,
  kDeviceInfo = 0x02,
  kSamples = 0x03,
  kWindowResult = 0x04,
  kEvent = 0x05,
  kLog = 0x06,
  kError = 0x07,
  kStatsReq = 0x08,
  kStats = 0x09,
  kBye = 0x0A,
  kConfig = 0x0B,
  kModelBegin = 0x0C,
  kModelChunk = 0x0D,
  kModelAck = 0x0E,
  kModelEnd = 0x0F,
  kCalibrate = 0x10,
  kCalibration = 0x11,
};

enum ErrorCode : uint8_t { kErrGap = 1, kErrBadLength, kErrUnknownType, kErrModel, kErrArena, kErrNotReady };

inline constexpr size_t kHelloMaxName = 32;
inline constexpr size_t kModelNameMax = 32;
inline constexpr size_t kDeviceInfoLen = 16 + 32 + 2 + 2 + 1 + 2 + 4 + 4 + 8 + 32 + 4;  // 107
inline constexpr size_t kSamplesHeaderLen = 6;
inline constexpr size_t kWindowResultHeaderLen = 4 + 4 + 1 + 1 + 4 + 2;  // 16, then int8[n]
inline constexpr size_t kEventLen = 4 + 1 + 4 + 4;
inline constexpr size_t kStatsLen = 12 * 4;
inline constexpr size_t kConfigLen = 4 + 4 + 1 + 1;
// MODEL_BEGIN: size, sha256, name, W, H, C, n_outputs, arena, C3 (offset[8], multiplier[8], shift,
// input zp), C4 (kind, output_index, output zp, in_mult, out_mult, shift), C5 (on, off, k, n),
// C3 preprocessing kind.
inline constexpr size_t kModelBeginLen = 4 + 32 + 32 + 2 + 2 + 1 + 2 + 4 + 8 * 4 + 8 * 4 + 4 + 4 + 1 + 5 * 4 + 4 + 4 + 1 + 1 + 1;
static_assert(kModelBeginLen == 183, "MODEL_BEGIN layout (docs/contracts.md C7)");
inline constexpr size_t kModelChunkHeaderLen = 4;  // offset, then 1..kMaxPayload-4 bytes
inline constexpr size_t kModelAckLen = 4;
// CALIBRATE: windows, allowed, margin_permille, k, n, drift_block, refit (C5b); windows 0 = report the
// stored calibration. CALIBRATION: on, off, k, n, windows, median, lowest_on, onsets_before,
// drift_block.
inline constexpr size_t kCalibrateLen = 2 + 2 + 2 + 1 + 1 + 2 + 1;  // ..., refit
inline constexpr size_t kCalibrationLen = 4 + 4 + 1 + 1 + 2 + 4 + 4 + 2 + 2;
static_assert(kCalibrationLen == 24, "CALIBRATION layout (docs/contracts.md C7)");

}  // namespace imuad
