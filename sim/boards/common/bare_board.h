// imuad::Board for the bare-metal QEMU boards (mps2-an386, esp32-qemu), over their drivers
// (bare_port.h): frames on the console, board log on QEMU's stderr, the painted-stack high-water
// mark, semihosting exit on BYE, the model slot (a linker region: MODELSLOT) and the runtime
// budget. Each board adds its clock (micros/millis) and its constructor.
// Optional fast RX: with `rx=PATH` on the command line the host->device bytes are read from PATH
// (a FIFO) through semihosting instead of the console; device->host frames always go out on it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "imuad/board.h"
#include "ram_model_slot.h"

namespace imuad_sim {

class BareQemuBoard : public imuad::Board {
 public:
  int read(uint8_t* buf, size_t cap) override;
  void write(const uint8_t* data, size_t len) override;
  void log(int level, const char* message) override;
  const char* target_name() const override { return target_; }
  uint32_t stack_high_water() override;
  void on_bye() override;

  // A loaded model gets 192 KiB of tensor arena and 8192 ring values out of the 320 KiB RAM
  // budget's heap (imuad::boot takes them once).
  size_t model_slot_capacity() override { return slot_.capacity(); }
  bool model_slot_begin(size_t size) override { return slot_.begin(size); }
  bool model_slot_write(size_t offset, const uint8_t* data, size_t len) override { return slot_.write(offset, data, len); }
  const uint8_t* model_slot_map() override { return slot_.map(); }
  size_t runtime_arena_bytes() const override { return 192u * 1024u; }
  size_t runtime_ring_values() const override { return 8192u; }

 protected:
  // target: DEVICE_INFO.target (the build-table name, shortened to 7 characters). hang_after_bytes
  // > 0 is a test-only fault: the board stops answering once that many bytes were received.
  // Brings the drivers up (bare_init) and opens the rx= file if there is one.
  BareQemuBoard(const char* target, uint32_t hang_after_bytes);

 private:
  const char* target_;
  uint32_t hang_after_bytes_;
  uint32_t bytes_in_ = 0;
  int rx_handle_ = -1;  // >= 0: frames come from a host file/FIFO via semihosting
  RamModelSlot slot_;
};

// The firmware's main on these boards: imuad::boot (the tensor arena taken once from the heap,
// sized for the largest compiled-in model and the budget above) and the ReplayApp; exits with
// BARE_EXIT_ABORT if that does not fit the RAM budget.
int run_firmware(imuad::Board& board);

}  // namespace imuad_sim
