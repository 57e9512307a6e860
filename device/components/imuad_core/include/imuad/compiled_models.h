// The models compiled into this firmware image. The definition is generated per build by
// cmake/models.cmake (imuad_write_registry) from the model cards: the card marked
// "default": true first (docs/contracts.md C7).
#pragma once

#include "imuad/model_registry.h"

namespace imuad {

ModelRegistry compiled_models();

}  // namespace imuad
