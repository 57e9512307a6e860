/*
 * imuad BLE alerts: a NimBLE GATT server (contract C8) that notifies a
 * gateway of anomaly events and keeps unacknowledged events in a bounded
 * backlog that is replayed after a reconnection.
 *
 * Security: LE Secure Connections only, MITM by a 6-digit passkey the device
 * displays (DISPLAY_ONLY), bonding. The event, status and control
 * characteristics are readable/writable/subscribable only on an encrypted,
 * authenticated link; links that end up unauthenticated are terminated.
 *
 * Usage (ESP-IDF or any NimBLE port):
 *   nimble_port_init();  ble_svc_gap_init(); ble_svc_gatt_init();
 *   ble_alerts_init(&cfg);            // registers the service, sets ble_hs_cfg
 *   ble_store_config_init();          // bond storage of the port
 *   ... start the NimBLE host task ...
 *   ble_alerts_push(kind, state, score, uptime_ms);   // from any task
 */
#ifndef BLE_ALERTS_H
#define BLE_ALERTS_H

#include <stdint.h>

#include "ble_alerts_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Connection-state notices for the application (logging, LEDs, tests). */
typedef enum {
    BLE_ALERTS_NOTICE_ADVERTISING = 1,
    BLE_ALERTS_NOTICE_CONNECTED,
    BLE_ALERTS_NOTICE_PASSKEY,    /* value = passkey to display */
    BLE_ALERTS_NOTICE_SECURED,    /* value = 1 if bonded before */
    BLE_ALERTS_NOTICE_SEC_FAILED, /* value = NimBLE status */
    BLE_ALERTS_NOTICE_SUBSCRIBED,
    BLE_ALERTS_NOTICE_DISCONNECTED, /* value = reason */
    BLE_ALERTS_NOTICE_ACK,          /* value = acked seq */
    BLE_ALERTS_NOTICE_REPLAY,       /* value = requested seq */
    BLE_ALERTS_NOTICE_CONFIG,
    BLE_ALERTS_NOTICE_CALIBRATE,    /* value = requested windows */
} ble_alerts_notice_t;

typedef void (*ble_alerts_notice_cb)(ble_alerts_notice_t notice, uint32_t value, void *ctx);
/* Called from the NimBLE host task after a valid CONFIG write. */
typedef void (*ble_alerts_config_cb)(const ble_alerts_decision_t *decision, void *ctx);
/* Called from the NimBLE host task after a valid CALIBRATE write (ranges checked). The
 * application runs the calibration itself (it owns the scores), then pushes a CALIBRATED
 * event (kind 6, score = new threshold_on) and calls ble_alerts_set_decision(). Keep it
 * short: copy the request and return. */
typedef void (*ble_alerts_calibrate_cb)(const ble_alerts_calibrate_t *req, void *ctx);

typedef struct {
    const char *device_name;       /* advertised complete local name */
    uint32_t passkey;              /* 0..999999, displayed by the device */
    const char *fw_version;        /* up to 16 chars */
    uint32_t model_id;             /* first 4 bytes of the model SHA-256, LE */
    ble_alerts_decision_t decision;
    uint32_t first_seq;            /* seq of the first event (0 means 1); persist across boots */
    ble_alerts_config_cb on_config;
    ble_alerts_calibrate_cb on_calibrate; /* optional; NULL: CALIBRATE is accepted and ignored */
    ble_alerts_notice_cb on_notice;
    void *ctx;
} ble_alerts_config_t;

typedef struct {
    uint32_t pushed;
    uint32_t notified;
    uint32_t notify_retries;
    uint32_t acks;
    uint32_t replays;
    uint32_t bad_control;
    uint32_t rejected_links;
} ble_alerts_stats_t;

/* Registers the GATT service and the security/sync callbacks in ble_hs_cfg.
 * Call after nimble_port_init() and before the host task starts. */
int ble_alerts_init(const ble_alerts_config_t *cfg);

/* Appends an event to the backlog and notifies it when a secure subscriber is
 * connected. Thread-safe. Returns the event's seq. */
uint32_t ble_alerts_push(uint8_t kind, uint8_t state, int32_t score, uint32_t uptime_ms);

/* Current decision state reported in the status characteristic. */
void ble_alerts_set_state(uint8_t state);

/* Decision reported in the status characteristic, for changes made on the device (a
 * completed calibration): the gateway reads it at every connection. Thread-safe. */
void ble_alerts_set_decision(const ble_alerts_decision_t *decision);

/* Number of events held, not yet acknowledged. Thread-safe. */
uint16_t ble_alerts_backlog(void);

void ble_alerts_get_status(ble_alerts_status_t *out);
void ble_alerts_get_stats(ble_alerts_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
