// Board boot (imuad/boot.h) and the compiled-op resolvers (imuad/ops.h) over the test registry.
#include <cstdlib>
#include <cstring>

#include "check.h"
#include "fake_board.h"
#include "imuad/boot.h"
#include "imuad/compiled_models.h"
#include "imuad/ops.h"

using namespace imuad;

namespace {

size_t g_allocated = 0;
void* counting_alloc(size_t n) {
  g_allocated += n;
  return std::malloc(n);
}
void* failing_alloc(size_t) { return nullptr; }

}  // namespace

int main() {
  const ModelRegistry models = compiled_models();
  CHECK(models.count >= 2);

  // Sizes: the largest arena and window*channels of every compiled-in model.
  const MemoryNeeds needs = memory_needs(models);
  size_t arena = 0, ring = 0;
  for (size_t i = 0; i < models.count; ++i) {
    arena = models.models[i]->arena_bytes > arena ? models.models[i]->arena_bytes : arena;
    const size_t r = static_cast<size_t>(models.models[i]->window) * models.models[i]->channels;
    ring = r > ring ? r : ring;
  }
  CHECK_EQ(needs.arena_bytes, arena);
  CHECK_EQ(needs.ring_len, ring);
  CHECK_EQ(memory_needs(ModelRegistry{}).arena_bytes, 16);

  // boot(): one block for arena + ring, one for the app; every model loads in it.
  FakeBoard board;
  static ReplayApp* app;  // static: reachable (no LeakSanitizer report)
  app = boot(board, models, counting_alloc);
  CHECK(app != nullptr);
  CHECK(g_allocated >= needs.arena_bytes + needs.ring_len * sizeof(int16_t) + sizeof(ReplayApp));
  if (app != nullptr) CHECK(app->begin().ok());
  const int logs = board.logs;
  CHECK(boot(board, models, failing_alloc) == nullptr);
  CHECK_EQ(board.logs, logs + 1);  // out of memory is logged

  // Ops: every op of every compiled-in model is compiled; the flatbuffer resolver finds them.
  CHECK(kCompiledOpCount >= 1);
  CompiledOpResolver all;
  CHECK(register_compiled_ops(all) == kTfLiteOk);
  CHECK_EQ(all.GetRegistrationLength(), kCompiledOpCount);
  for (size_t i = 0; i < models.count; ++i) {
    const tflite::Model* m = tflite::GetModel(models.models[i]->tflite);
    tflite::BuiltinOperator missing;
    CHECK(!first_missing_op(m, &missing));
    OpResolver r;
    CHECK_EQ(register_flatbuffer_ops(r, *models.models[i]), kTfLiteOk);
    OpResolver own;
    CHECK_EQ(models.models[i]->register_ops(own, *models.models[i]), kTfLiteOk);
    CHECK_EQ(r.GetRegistrationLength(), own.GetRegistrationLength());
  }
  CHECK(!op_compiled(tflite::BuiltinOperator_CUSTOM));
  OpResolver r;
  CHECK(add_compiled_op(r, tflite::BuiltinOperator_CUSTOM) == kTfLiteError);
  TEST_MAIN_END();
}
