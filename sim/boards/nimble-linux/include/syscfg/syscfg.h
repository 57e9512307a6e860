/*
 * imuad-ble-host: NimBLE configuration overrides on top of the Linux example
 * configuration of upstream mynewt-nimble (porting/examples/linux), which
 * guards every value with #ifndef. This directory must come first on the
 * include path; #include_next then pulls the upstream file.
 */
#ifndef IMUAD_BLE_HOST_SYSCFG_H
#define IMUAD_BLE_HOST_SYSCFG_H

/* HCI over TCP: connect as a client to 127.0.0.1:<port> (set at run time). */
#define MYNEWT_VAL_BLE_SOCK_TYPE__linux_blue (0)
#define MYNEWT_VAL_BLE_SOCK_TYPE__linux_tcp (1)
#define MYNEWT_VAL_BLE_SOCK_TYPE__nuttx (0)
#define MYNEWT_VAL_BLE_SOCK_USE_TCP (1)

/* Peripheral only: one gateway at a time. */
#define MYNEWT_VAL_BLE_MAX_CONNECTIONS (1)
#define MYNEWT_VAL_BLE_ROLE_CENTRAL (0)
#define MYNEWT_VAL_BLE_ROLE_OBSERVER (0)

/* LE Secure Connections only, passkey (MITM), bonding; no legacy pairing. */
#define MYNEWT_VAL_BLE_SM_SC (1)
#define MYNEWT_VAL_BLE_SM_LEGACY (0)
#define MYNEWT_VAL_BLE_SM_SC_ONLY (1)
#define MYNEWT_VAL_BLE_SM_BONDING (1)
#define MYNEWT_VAL_BLE_SM_MITM (1)
#define MYNEWT_VAL_BLE_SM_IO_CAP (BLE_HS_IO_DISPLAY_ONLY)
#define MYNEWT_VAL_BLE_SM_OUR_KEY_DIST (0x03)
#define MYNEWT_VAL_BLE_SM_THEIR_KEY_DIST (0x03)
#define MYNEWT_VAL_BLE_SM_SC_DEBUG_KEYS (0)

/* Enough buffers to keep a stream of notifications in flight. The socket transport
 * silently drops an HCI event when no event buffer is free, and the controller sends
 * one Number-Of-Completed-Packets event per notification: with the default 4 buffers a
 * Disconnection Complete gets lost under load and the host believes it is connected. */
#define MYNEWT_VAL_MSYS_1_BLOCK_COUNT (64)
#define MYNEWT_VAL_BLE_TRANSPORT_EVT_COUNT (64)
#define MYNEWT_VAL_BLE_TRANSPORT_ACL_FROM_LL_COUNT (24)

/* stdout carries the program's line protocol: host log at ERROR only. */
#define MYNEWT_VAL_BLE_HS_LOG_LVL (3)
#define MYNEWT_VAL_BLE_EATT_LOG_LVL (3)

#include_next <syscfg/syscfg.h>

#endif
