// App logic of the ESP-IDF firmware that needs no hardware (unit-tested on linux, device/test):
// the sample hand-off between the sampling and inference tasks, and the console mode switch.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "imuad/codec.h"

namespace imuad_app {

// Single-producer single-consumer ring of whole samples (channels int16 each). The sampling task
// pushes, the inference task pops; no locks. A full ring drops the new sample and counts it, so
// the consumer sees a gap it can detect (dropped() increases) instead of torn samples.
class SampleRing {
 public:
  // storage: capacity * channels int16. One slot stays free to tell full from empty.
  void init(int16_t* storage, size_t capacity, uint8_t channels);
  bool push(const int16_t* sample);
  bool pop(int16_t* sample);
  size_t size() const;
  uint32_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint8_t channels() const { return channels_; }
  void clear();  // consumer side only

 private:
  int16_t* buf_ = nullptr;
  size_t cap_ = 0;
  uint8_t channels_ = 0;
  std::atomic<size_t> head_{0};  // next write (producer)
  std::atomic<size_t> tail_{0};  // next read (consumer)
  std::atomic<uint32_t> dropped_{0};
};

// Watches the console bytes for the host: a HELLO frame switches the device to replay mode
// (the IMU pipeline pauses), BYE or `idle_ms` without any valid frame switches back to live.
// Garbage (boot messages echoed, line noise) never changes the mode.
class ConsoleMode {
 public:
  explicit ConsoleMode(uint32_t idle_ms = 10000) : idle_ms_(idle_ms) {}
  // Returns true when the mode changed.
  bool feed(const uint8_t* data, size_t len, uint32_t now_ms);
  bool tick(uint32_t now_ms);  // idle timeout; true when it switched back to live
  bool replay() const { return replay_; }
  uint32_t hellos() const { return hellos_; }

 private:
  imuad::FrameDecoder decoder_;
  uint32_t idle_ms_;
  uint32_t last_frame_ms_ = 0;
  uint32_t hellos_ = 0;
  bool replay_ = false;
};

}  // namespace imuad_app
