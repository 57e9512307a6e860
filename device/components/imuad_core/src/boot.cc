#include "imuad/boot.h"

#include <new>

namespace imuad {

MemoryNeeds memory_needs(const ModelRegistry& models) {
  MemoryNeeds n;
  for (size_t i = 0; i < models.count; ++i) {
    const ModelSpec* m = models.models[i];
    if (m == nullptr) continue;
    if (m->arena_bytes > n.arena_bytes) n.arena_bytes = m->arena_bytes;
    const size_t r = static_cast<size_t>(m->window) * m->channels;
    if (r > n.ring_len) n.ring_len = r;
  }
  if (n.arena_bytes < 16) n.arena_bytes = 16;
  if (n.ring_len < 1) n.ring_len = 1;
  return n;
}

bool allocate_memory(const MemoryNeeds& needs, Allocator alloc, FirmwareMemory* out) {
  const size_t arena = (needs.arena_bytes + 15) & ~static_cast<size_t>(15);
  auto* raw = static_cast<uint8_t*>(alloc(arena + 16 + needs.ring_len * sizeof(int16_t)));
  if (raw == nullptr) return false;
  out->arena = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + 15) & ~uintptr_t{15});
  out->arena_size = needs.arena_bytes;
  out->ring = reinterpret_cast<int16_t*>(out->arena + arena);
  out->ring_len = needs.ring_len;
  return true;
}

MemoryNeeds memory_needs(const ModelRegistry& models, Board& board) {
  MemoryNeeds n = memory_needs(models);
  if (board.model_slot_capacity() > 0) {
    if (board.runtime_arena_bytes() > n.arena_bytes) n.arena_bytes = (board.runtime_arena_bytes() + 15) & ~size_t{15};
    if (board.runtime_ring_values() > n.ring_len) n.ring_len = board.runtime_ring_values();
  }
  return n;
}

ReplayApp* boot(Board& board, const ModelRegistry& models, Allocator alloc, size_t arena_override) {
  MemoryNeeds needs = memory_needs(models, board);
  if (arena_override > 0) needs.arena_bytes = arena_override;
  FirmwareMemory mem;
  void* app_mem = nullptr;
  if (!allocate_memory(needs, alloc, &mem) || (app_mem = alloc(sizeof(ReplayApp))) == nullptr) {
    board.log(0, "imuad: out of memory for the tensor arena, sample ring and app");
    return nullptr;
  }
  return new (app_mem) ReplayApp(board, models, mem.arena, mem.arena_size, mem.ring, mem.ring_len);
}

}  // namespace imuad
