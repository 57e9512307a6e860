// imuad unix variant: the standard feature level (array, struct, gc, json, hashlib, asyncio core)
// without the parts that need git submodules absent from ../shared/vendor/micropython
// (mbedtls, berkeley-db, libffi). Selected with VARIANT_DIR=device/micropython/unix-variant.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// The Detector frees its tensor arena in a finaliser (__del__) when it is collected.
#define MICROPY_ENABLE_FINALISER (1)
#define MICROPY_PY_HASHLIB (1)
#define MICROPY_PY_HASHLIB_SHA256 (1)
#define MICROPY_PY_JSON (1)
#define MICROPY_PY_ARRAY (1)
#define MICROPY_PY_STRUCT (1)
#define MICROPY_PY_GC (1)

// Unix extras shared with the standard variant (ports/unix is on the include path).
#include "variants/mpconfigvariant_common.h"
