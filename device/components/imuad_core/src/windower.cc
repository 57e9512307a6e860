#include "imuad/windower.h"

namespace imuad {

bool Windower::init(int16_t* storage, size_t storage_len, uint16_t window, uint16_t hop, uint8_t channels) {
  if (storage == nullptr || window == 0 || hop == 0 || channels == 0) return false;
  if (storage_len < static_cast<size_t>(window) * channels) return false;
  ring_ = storage;
  window_ = window;
  hop_ = hop;
  channels_ = channels;
  reset();
  return true;
}

void Windower::reset() {
  write_slot_ = 0;
  start_slot_ = 0;
  seen_ = 0;
  next_due_ = window_;
  window_index_ = 0;
  completed_ = 0;
}

bool Windower::push(const int16_t* sample) {
  int16_t* dst = ring_ + write_slot_ * channels_;
  for (uint8_t c = 0; c < channels_; ++c) dst[c] = sample[c];
  if (++write_slot_ == window_) write_slot_ = 0;
  ++seen_;
  if (seen_ != next_due_) return false;
  // The window's W samples end at the slot just written: it starts at write_slot_.
  start_slot_ = write_slot_;
  window_index_ = completed_++;
  next_due_ += hop_;
  return true;
}

}  // namespace imuad
