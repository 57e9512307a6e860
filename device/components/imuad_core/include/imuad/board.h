// The only thing a target implements: clock, byte I/O for serial frames, log, and a few
// optional probes and resources. Host (POSIX), QEMU (mps2-an386), ESP-IDF and MicroPython each
// provide one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "imuad/calibration.h"  // kCalibrationStoreLen

namespace imuad {

class Board {
 public:
  virtual ~Board() = default;

  // Monotonic time used for per-window inference cost (QEMU: SysTick ticks = 40 instructions).
  virtual uint32_t micros() = 0;
  virtual uint32_t millis() = 0;

  // Serial frame transport. read() returns up to cap bytes (0 = nothing yet, never blocks
  // forever on a dead line; the caller polls); a negative value means the line is closed.
  virtual int read(uint8_t* buf, size_t cap) = 0;
  virtual void write(const uint8_t* data, size_t len) = 0;

  // level: 0 error, 1 warn, 2 info, 3 debug
  virtual void log(int level, const char* message) = 0;

  // Short name put in DEVICE_INFO.target ("host", "qemu", "esp32", ...).
  virtual const char* target_name() const = 0;

  // Bytes of stack ever used (0 if unknown).
  virtual uint32_t stack_high_water() { return 0; }

  // Called after BYE has been answered (QEMU exits through semihosting here).
  virtual void on_bye() {}

  // ---- Model slot: where a model loaded at run time lives (C7 MODEL_BEGIN / MODEL_CHUNK /
  // MODEL_END). A board without one keeps the defaults: capacity 0, every upload refused.
  // Bytes the slot holds (0 = this board loads no models at run time).
  virtual size_t model_slot_capacity() { return 0; }
  // Prepares the slot for `size` (<= capacity) bytes written in order from offset 0; whatever
  // the slot held before is gone (flash: erased here or sector by sector in write()).
  virtual bool model_slot_begin(size_t /*size*/) { return false; }
  // Writes `len` bytes at `offset` (within the size given to begin()).
  virtual bool model_slot_write(size_t /*offset*/, const uint8_t* /*data*/, size_t /*len*/) { return false; }
  // The slot's bytes for reading, after the last write (flash: memory-mapped here), 16-byte
  // aligned and stable until the next model_slot_begin(); nullptr on failure.
  virtual const uint8_t* model_slot_map() { return nullptr; }
  // Memory boot() reserves for models loaded at run time besides the compiled-in ones:
  // tensor arena bytes and sample-ring values (window x channels). Used when the slot exists.
  virtual size_t runtime_arena_bytes() const { return 0; }
  virtual size_t runtime_ring_values() const { return 0; }

  // ---- Calibration store (C5b): the device's own commissioning per model, kept across reboots
  // where the board can (ESP-IDF: NVS; POSIX: a file). `blob` is what imuad::store_calibration
  // encodes (calibration.h); the core reads and writes it through store_calibration /
  // load_calibration only. The defaults keep the last calibration saved in memory, for one
  // model, until the board restarts (QEMU, MicroPython, POSIX without a state dir); a board with
  // storage calls them too (Board::save_calibration first, Board::load_calibration before its
  // storage), so what it failed to store is still reported until a restart. Boards that save
  // from several tasks serialise these calls themselves.
  // true if kept: a later load_calibration(model_sha256) returns it (false: storage failed).
  virtual bool save_calibration(const uint8_t* model_sha256, const uint8_t* blob, size_t len) {
    calib_len_ = 0;
    if (len == 0 || len > sizeof(calib_blob_)) return false;
    std::memcpy(calib_sha_, model_sha256, sizeof(calib_sha_));
    std::memcpy(calib_blob_, blob, len);
    calib_len_ = len;
    return true;
  }
  // Fills blob (len bytes) with the calibration stored for this model; false if there is none.
  virtual bool load_calibration(const uint8_t* model_sha256, uint8_t* blob, size_t len) {
    if (calib_len_ == 0 || len != calib_len_ || std::memcmp(calib_sha_, model_sha256, sizeof(calib_sha_)) != 0) {
      return false;
    }
    std::memcpy(blob, calib_blob_, len);
    return true;
  }

 private:
  // The in-memory calibration slot (board state, one per board; no globals in the core).
  uint8_t calib_sha_[32] = {};
  uint8_t calib_blob_[kCalibrationStoreLen] = {};
  size_t calib_len_ = 0;  // 0: nothing kept
};

}  // namespace imuad
