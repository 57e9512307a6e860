#include "app_logic.h"

#include <cstring>

#include "imuad/protocol.h"

namespace imuad_app {

void SampleRing::init(int16_t* storage, size_t capacity, uint8_t channels) {
  buf_ = storage;
  cap_ = capacity;
  channels_ = channels;
  head_.store(0);
  tail_.store(0);
  dropped_.store(0);
}

bool SampleRing::push(const int16_t* sample) {
  const size_t h = head_.load(std::memory_order_relaxed);
  const size_t next = (h + 1) % cap_;
  if (next == tail_.load(std::memory_order_acquire)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  std::memcpy(buf_ + h * channels_, sample, channels_ * sizeof(int16_t));
  head_.store(next, std::memory_order_release);
  return true;
}

bool SampleRing::pop(int16_t* sample) {
  const size_t t = tail_.load(std::memory_order_relaxed);
  if (t == head_.load(std::memory_order_acquire)) return false;
  std::memcpy(sample, buf_ + t * channels_, channels_ * sizeof(int16_t));
  tail_.store((t + 1) % cap_, std::memory_order_release);
  return true;
}

size_t SampleRing::size() const {
  const size_t h = head_.load(std::memory_order_acquire);
  const size_t t = tail_.load(std::memory_order_acquire);
  return (h + cap_ - t) % cap_;
}

void SampleRing::clear() { tail_.store(head_.load(std::memory_order_acquire), std::memory_order_release); }

bool ConsoleMode::feed(const uint8_t* data, size_t len, uint32_t now_ms) {
  const bool before = replay_;
  for (size_t i = 0; i < len; ++i) {
    if (!decoder_.push(data[i])) continue;
    last_frame_ms_ = now_ms;
    const uint8_t type = decoder_.frame().type;
    if (type == imuad::kHello) {
      replay_ = true;
      ++hellos_;
    } else if (type == imuad::kBye) {
      replay_ = false;
    }
  }
  return replay_ != before;
}

bool ConsoleMode::tick(uint32_t now_ms) {
  if (replay_ && idle_ms_ > 0 && now_ms - last_frame_ms_ > idle_ms_) {
    replay_ = false;
    return true;
  }
  return false;
}

}  // namespace imuad_app
