# imuad unix variant (see mpconfigvariant.h). No frozen manifest: nothing to cross-compile.
FROZEN_MANIFEST =

MICROPY_PY_BTREE = 0
MICROPY_PY_FFI = 0
MICROPY_PY_SSL = 0
MICROPY_PY_THREAD = 0
MICROPY_USE_READLINE = 0
MICROPY_VFS_FAT = 0
MICROPY_VFS_LFS1 = 0
MICROPY_VFS_LFS2 = 0
