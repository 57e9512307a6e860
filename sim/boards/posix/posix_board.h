// POSIX board for imuad-fw-host: frames on file descriptors (stdin/stdout or a pty master).
#pragma once

#include <cstdint>

#include "imuad/board.h"
#include "ram_model_slot.h"

namespace imuad_host {

class PosixBoard : public imuad::Board {
 public:
  // state_dir: where calibrations are kept across restarts (nullptr: memory only).
  PosixBoard(int in_fd, int out_fd, bool exit_on_bye, const char* state_dir = nullptr);
  uint32_t micros() override;
  uint32_t millis() override;
  int read(uint8_t* buf, size_t cap) override;
  void write(const uint8_t* data, size_t len) override;
  void log(int level, const char* message) override;
  const char* target_name() const override { return "host"; }
  void on_bye() override { if (exit_on_bye_) closed_ = true; }

  // Model slot: a 1 MiB heap block (the size of the ESP32's models partition), generous
  // runtime memory.
  static constexpr size_t kSlotBytes = 1u << 20;
  size_t model_slot_capacity() override { return slot_.capacity(); }
  bool model_slot_begin(size_t size) override { return slot_.begin(size); }
  bool model_slot_write(size_t offset, const uint8_t* data, size_t len) override { return slot_.write(offset, data, len); }
  const uint8_t* model_slot_map() override { return slot_.map(); }
  size_t runtime_arena_bytes() const override { return 1u << 20; }
  size_t runtime_ring_values() const override { return 1u << 16; }

  // Calibration store: <state_dir>/calibration-<model sha256 hex>.bin, written atomically, for
  // the kCalibrationsKept models calibrated last (calibration-index.bin, imuad::CalibrationIndex;
  // a save removes the others); without a state dir (and for what this run saved) the Board
  // default: memory.
  bool save_calibration(const uint8_t* model_sha256, const uint8_t* blob, size_t len) override;
  bool load_calibration(const uint8_t* model_sha256, uint8_t* blob, size_t len) override;

  ~PosixBoard() override;
  PosixBoard(const PosixBoard&) = delete;
  PosixBoard& operator=(const PosixBoard&) = delete;

 private:
  int in_, out_;
  bool exit_on_bye_;
  bool closed_ = false;
  const char* state_dir_;
  imuad_sim::RamModelSlot slot_;
};

}  // namespace imuad_host
