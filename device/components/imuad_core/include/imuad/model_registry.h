// The compiled-in models a firmware image carries; HELLO selects one by name.
#pragma once

#include <cstddef>
#include <cstring>

#include "imuad/model_spec.h"

namespace imuad {

struct ModelRegistry {
  const ModelSpec* const* models = nullptr;
  size_t count = 0;

  // Empty/null name -> the first (default) model; nullptr if not found.
  const ModelSpec* find(const char* name, size_t len) const {
    if (count == 0) return nullptr;
    if (name == nullptr || len == 0) return models[0];
    for (size_t i = 0; i < count; ++i) {
      const char* n = models[i]->name;
      if (std::strlen(n) == len && std::memcmp(n, name, len) == 0) return models[i];
    }
    return nullptr;
  }
};

}  // namespace imuad
