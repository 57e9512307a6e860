/*
 * imuad-ble-host: NimBLE log output for the Linux NPL. Replaces the port's
 * version (found first on the include path), which printf()s every level to
 * stdout: stdout carries the program's line protocol, so logs go to stderr,
 * and below IMUAD_NIMBLE_LOG_MIN (default WARN) they are compiled out.
 * This also keeps SM key material, logged at DEBUG, out of the output.
 */
#ifndef _NIMBLE_NPL_OS_LOG_H_
#define _NIMBLE_NPL_OS_LOG_H_

#include <stdarg.h>
#include <stdio.h>

#define IMUAD_NPL_LVL_DEBUG 0
#define IMUAD_NPL_LVL_INFO 1
#define IMUAD_NPL_LVL_WARN 2
#define IMUAD_NPL_LVL_ERROR 3
#define IMUAD_NPL_LVL_CRITICAL 4

#ifndef IMUAD_NIMBLE_LOG_MIN
#define IMUAD_NIMBLE_LOG_MIN IMUAD_NPL_LVL_WARN
#endif

#define BLE_NPL_LOG_IMPL(lvl)                                                 \
    static inline void _BLE_NPL_LOG_CAT(                                      \
        BLE_NPL_LOG_MODULE, _BLE_NPL_LOG_CAT(_, lvl))(const char *fmt, ...)   \
    {                                                                         \
        va_list args;                                                         \
        if (IMUAD_NPL_LVL_##lvl < IMUAD_NIMBLE_LOG_MIN) {                     \
            return;                                                           \
        }                                                                     \
        va_start(args, fmt);                                                  \
        vfprintf(stderr, fmt, args);                                          \
        va_end(args);                                                         \
    }

#endif /* _NIMBLE_NPL_OS_LOG_H_ */
