// Every arena size from TFLM's minimum up to the card's either loads the model or fails with
// kErrArena: TFLM does not check some of its own allocations, and an arena that runs out in the
// middle of them must be refused before it is dereferenced (MicroPython's arena_size, a card).
#include <cstdlib>
#include <cstring>
#include <vector>

#include "check.h"
#include "imuad/compiled_models.h"
#include "imuad/pipeline.h"
#include "imuad/protocol.h"

using namespace imuad;

int main() {
  const ModelRegistry models = compiled_models();
  CHECK(models.count >= 1);
  for (size_t i = 0; i < models.count; ++i) {
    ModelSpec spec = *models.models[i];
    const size_t card = spec.arena_bytes;
    spec.arena_bytes = 0;  // let every size reach TFLM
    std::vector<int16_t> ring(static_cast<size_t>(spec.window) * spec.channels);
    int loaded = 0;
    for (size_t size = 1024; size <= card + 512; size += 8) {
      std::vector<uint8_t> mem(size + 16);
      uint8_t* arena = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(mem.data()) + 15) & ~uintptr_t{15});
      Pipeline p;
      const Status st = p.init(spec, arena, size, ring.data(), ring.size());
      CHECK(st.ok() || st.code == kErrArena);
      loaded += st.ok() ? 1 : 0;
      if (!st.ok() && size >= card) {
        std::fprintf(stderr, "%s: the card's arena (%zu B) no longer loads at %zu B: %s\n", models.models[i]->name,
                     card, size, st.message);
        CHECK(false);
      }
    }
    CHECK(loaded > 0);
  }
  TEST_MAIN_END();
}
