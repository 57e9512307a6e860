// The model slot of the boards without flash (docs/contracts.md C7 MODEL_BEGIN): a RAM region
// standing in for the chip's `models` partition. begin() erases what the upload will cover to
// 0xFF, as an erased flash sector reads, so nothing of the previous model survives; writes land
// in order inside the announced size; TFLM maps the model where it lies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>


namespace imuad_sim {

class RamModelSlot {
 public:
  RamModelSlot(uint8_t* base, size_t capacity) : base_(base), capacity_(base == nullptr ? 0 : capacity) {}

  size_t capacity() const { return capacity_; }

  bool begin(size_t size) {
    if (base_ == nullptr || size > capacity_) return false;
    std::memset(base_, 0xFF, size);
    size_ = size;
    return true;
  }

  bool write(size_t offset, const uint8_t* data, size_t len) {
    if (offset > size_ || len > size_ - offset) return false;
    std::memcpy(base_ + offset, data, len);
    return true;
  }

  const uint8_t* map() const { return base_; }

 private:
  uint8_t* base_;
  size_t capacity_;
  size_t size_ = 0;
};

}  // namespace imuad_sim
