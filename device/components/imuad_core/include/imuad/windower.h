// C2: sample ring buffer fed one sample (C x int16) at a time; tells when window j is complete.
// Storage is the caller's (no heap): window * channels int16.
#pragma once

#include <cstddef>
#include <cstdint>

namespace imuad {

class Windower {
 public:
  // false if storage is too small or window/hop/channels are zero.
  bool init(int16_t* storage, size_t storage_len, uint16_t window, uint16_t hop, uint8_t channels);
  void reset();  // window index 0 at the next sample

  // Appends one sample; returns true when it completes a window (index = window_index()).
  bool push(const int16_t* sample);
  uint32_t window_index() const { return window_index_; }
  uint64_t samples_seen() const { return seen_; }

  // Sample t (0..W-1) of the window just completed.
  const int16_t* sample(uint16_t t) const {
    size_t slot = start_slot_ + t;
    if (slot >= window_) slot -= window_;
    return ring_ + slot * channels_;
  }
  uint16_t window() const { return window_; }
  uint8_t channels() const { return channels_; }

 private:
  int16_t* ring_ = nullptr;
  uint16_t window_ = 0, hop_ = 0;
  uint8_t channels_ = 0;
  size_t write_slot_ = 0;     // next slot to write
  size_t start_slot_ = 0;     // first slot of the last completed window
  uint64_t seen_ = 0;         // samples since reset
  uint64_t next_due_ = 0;     // sample count at which the next window completes
  uint32_t window_index_ = 0;
  uint32_t completed_ = 0;
};

}  // namespace imuad
