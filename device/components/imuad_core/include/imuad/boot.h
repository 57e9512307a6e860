// Board boot: memory sized once from the largest compiled-in model and the board's budget for
// models loaded at run time (arena and sample ring), the ReplayApp placed in it. Every firmware main (POSIX, QEMU, ESP-IDF) boots through here; nothing
// is allocated afterwards.
#pragma once

#include <cstddef>
#include <cstdint>

#include "imuad/board.h"
#include "imuad/model_registry.h"
#include "imuad/replay_app.h"

namespace imuad {

struct MemoryNeeds {
  size_t arena_bytes = 0;  // largest card arena (16-byte multiple per C6)
  size_t ring_len = 0;     // largest window * channels (int16 values)
};

// The largest arena and ring any model of `models` needs (at least 16 bytes / 1 value).
MemoryNeeds memory_needs(const ModelRegistry& models);
// The same, at least the board's runtime budget when it has a model slot (models loaded at run
// time, docs/contracts.md C7 MODEL_BEGIN).
MemoryNeeds memory_needs(const ModelRegistry& models, Board& board);

// One block for the tensor arena (16-byte aligned) and the sample ring, from `alloc` (malloc-like,
// returns nullptr when out of memory). false if the allocation failed.
struct FirmwareMemory {
  uint8_t* arena = nullptr;
  size_t arena_size = 0;
  int16_t* ring = nullptr;
  size_t ring_len = 0;
};
using Allocator = void* (*)(size_t bytes);
bool allocate_memory(const MemoryNeeds& needs, Allocator alloc, FirmwareMemory* out);

// memory_needs + allocate_memory + the ReplayApp itself (kept off the stack: it holds ~6 KB of
// frame buffers). arena_override > 0 replaces the computed arena size (tests). nullptr, after
// logging ERROR through the board, when memory runs out. Does not call begin().
ReplayApp* boot(Board& board, const ModelRegistry& models, Allocator alloc, size_t arena_override = 0);

}  // namespace imuad
