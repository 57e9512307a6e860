// The model slot of the boards without flash (docs/contracts.md C7 MODEL_BEGIN): a RAM region
// standing in for the chip's `models` partition. begin() erases what the upload will cover to
// 0xFF, as an erased flash sector reads, so nothing of the previous model survives; writes land
// in order inside the announced size; TFLM maps the model where it lies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "imuad/board.h"

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

namespace imuad_sim {

// The model slot and runtime budget both QEMU boards share (mps2-an386, esp32-qemu): the slot is
// a linker region, and a loaded model gets 192 KiB of tensor arena and 8192 ring values out of
// the 320 KiB RAM budget's heap (imuad::boot takes them once).
class QemuSlotBoard : public imuad::Board {
 public:
  size_t model_slot_capacity() override { return slot_.capacity(); }
  bool model_slot_begin(size_t size) override { return slot_.begin(size); }
  bool model_slot_write(size_t offset, const uint8_t* data, size_t len) override { return slot_.write(offset, data, len); }
  const uint8_t* model_slot_map() override { return slot_.map(); }
  size_t runtime_arena_bytes() const override { return 192u * 1024u; }
  size_t runtime_ring_values() const override { return 8192u; }

 protected:
  QemuSlotBoard(uint8_t* slot_start, uint8_t* slot_end) : slot_(slot_start, static_cast<size_t>(slot_end - slot_start)) {}

 private:
  RamModelSlot slot_;
};

}  // namespace imuad_sim
