/*
 * imuad BLE alerts: wire layouts (contract C8) and the unacknowledged-event
 * backlog. Pure C, no NimBLE, no OS: unit-testable on any host.
 *
 * Event payload (20 bytes, little-endian):
 *   version:u8(=1) kind:u8 state:u8 flags:u8 seq:u32 uptime_ms:u32 score:i32 model_id:u32
 * Status and control layouts: see ../README.md.
 */
#ifndef BLE_ALERTS_PROTO_H
#define BLE_ALERTS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BLE_ALERTS_PAYLOAD_VERSION 1u
#define BLE_ALERTS_PAYLOAD_LEN 20u
#define BLE_ALERTS_STATUS_VERSION 1u
#define BLE_ALERTS_STATUS_LEN 48u
#define BLE_ALERTS_FW_VERSION_LEN 16u

/* Event kinds (C8). */
#define BLE_ALERTS_KIND_ONSET 1u
#define BLE_ALERTS_KIND_CLEAR 2u
#define BLE_ALERTS_KIND_HEARTBEAT 3u
/* Commissioning and drift (C5b), same numbering as the serial EVENT (C7). */
#define BLE_ALERTS_KIND_DRIFT 4u       /* score = the drifting block's mean score */
#define BLE_ALERTS_KIND_DRIFT_CLEAR 5u /* score = the block mean back below the clear level */
#define BLE_ALERTS_KIND_CALIBRATED 6u  /* score = the new threshold_on */

/* Event flags (C8). OVERFLOW marks the oldest event still held after older
 * unacknowledged events were dropped: every missing seq below it is lost. */
#define BLE_ALERTS_FLAG_REPLAYED 0x01u
#define BLE_ALERTS_FLAG_OVERFLOW 0x02u

/* Control opcodes (first byte of a control write). */
#define BLE_ALERTS_CTRL_ACK 0x01u    /* seq:u32  -> drop events with seq <= seq */
#define BLE_ALERTS_CTRL_REPLAY 0x02u /* seq:u32  -> resend from max(seq, oldest) */
#define BLE_ALERTS_CTRL_CONFIG 0x03u /* thr_on:i32 thr_off:i32 k:u8 n:u8 */
/* windows:u16 allowed:u16 margin_permille:u16 k:u8 n:u8 drift_block:u16 refit:u8 */
#define BLE_ALERTS_CTRL_CALIBRATE 0x04u
#define BLE_ALERTS_CTRL_ACK_LEN 5u
#define BLE_ALERTS_CTRL_REPLAY_LEN 5u
#define BLE_ALERTS_CTRL_CONFIG_LEN 11u
#define BLE_ALERTS_CTRL_CALIBRATE_LEN 12u

/* CALIBRATE ranges (C5b, host/imuad/contracts/calibration.py check_request). */
#define BLE_ALERTS_CALIB_WINDOWS_MIN 16u
#define BLE_ALERTS_CALIB_WINDOWS_MAX 4096u /* the device keeps one int32 score per window */
#define BLE_ALERTS_CALIB_ALLOWED_MAX 1000u
#define BLE_ALERTS_CALIB_MARGIN_MAX 10000u
#define BLE_ALERTS_CALIB_KN_MAX 32u

#ifndef BLE_ALERTS_BACKLOG
#define BLE_ALERTS_BACKLOG 128u /* events kept until acknowledged (bounded ring) */
#endif

typedef struct {
    uint8_t kind;
    uint8_t state;
    uint8_t flags;
    uint32_t seq;
    uint32_t uptime_ms;
    int32_t score;
    uint32_t model_id;
} ble_alerts_event_t;

typedef struct {
    int32_t threshold_on;
    int32_t threshold_off;
    uint8_t k;
    uint8_t n;
} ble_alerts_decision_t;

/* A CALIBRATE request: fit the decision from the device's next `windows` window scores. */
typedef struct {
    uint16_t windows;         /* 16..4096 */
    uint16_t allowed;         /* onsets tolerated over those windows, 0..1000 */
    uint16_t margin_permille; /* headroom above the lowest quiet threshold, 0..10000 */
    uint8_t k;                /* k = n = 0: keep the current k and n; else 1 <= k <= n <= 32 */
    uint8_t n;
    uint16_t drift_block;     /* windows per drift block after calibrating; 0 = no drift watch */
    uint8_t refit;            /* 1: refit the shape statistics first (C5b refit), 0 otherwise */
} ble_alerts_calibrate_t;

typedef struct {
    uint8_t state;
    ble_alerts_decision_t decision;
    uint32_t model_id;
    uint32_t last_seq;  /* seq of the newest event pushed (first_seq - 1 if none) */
    uint32_t acked_seq; /* every seq <= this was acknowledged by a gateway */
    uint16_t backlog;   /* events held, not yet acknowledged */
    uint16_t capacity;
    uint32_t overflows; /* events dropped because the backlog was full */
    char fw_version[BLE_ALERTS_FW_VERSION_LEN];
} ble_alerts_status_t;

typedef struct {
    uint8_t op;
    uint32_t seq;                       /* ACK, REPLAY */
    ble_alerts_decision_t decision;     /* CONFIG */
    ble_alerts_calibrate_t calibrate;   /* CALIBRATE */
} ble_alerts_control_t;

void ble_alerts_pack_event(const ble_alerts_event_t *ev, uint8_t out[BLE_ALERTS_PAYLOAD_LEN]);
/* Returns 0 on success, -1 if the buffer is short or the version unknown. */
int ble_alerts_unpack_event(const uint8_t *buf, size_t len, ble_alerts_event_t *ev);
void ble_alerts_pack_status(const ble_alerts_status_t *st, uint8_t out[BLE_ALERTS_STATUS_LEN]);
/* Returns 0 on success, -1 for an unknown opcode, a wrong length or a CONFIG/CALIBRATE
 * value outside its range. */
int ble_alerts_parse_control(const uint8_t *buf, size_t len, ble_alerts_control_t *out);

/* Bounded backlog of events not yet acknowledged. Seqs are contiguous:
 * the held events are [next_seq - count, next_seq). */
typedef struct {
    uint8_t kind, state, flags, sent;
    uint32_t uptime_ms;
    int32_t score;
    uint32_t model_id;
} ble_alerts_slot_t;

typedef struct {
    ble_alerts_slot_t slots[BLE_ALERTS_BACKLOG];
    uint16_t head;      /* index of the oldest held event */
    uint16_t count;
    uint32_t next_seq;  /* seq the next pushed event gets */
    uint32_t send_seq;  /* next seq to notify */
    uint32_t acked_seq;
    uint32_t overflows;
} ble_alerts_ring_t;

void ble_alerts_ring_init(ble_alerts_ring_t *r, uint32_t first_seq);
/* Appends an event, dropping the oldest when full; returns its seq. */
uint32_t ble_alerts_ring_push(ble_alerts_ring_t *r, uint8_t kind, uint8_t state, int32_t score,
                              uint32_t uptime_ms, uint32_t model_id);
void ble_alerts_ring_ack(ble_alerts_ring_t *r, uint32_t seq);
/* Next notification resends from max(seq, oldest held). */
void ble_alerts_ring_rewind(ble_alerts_ring_t *r, uint32_t seq);
/* Copies the next event to send; returns 1 if there is one, 0 if none. */
int ble_alerts_ring_peek(const ble_alerts_ring_t *r, ble_alerts_event_t *ev);
void ble_alerts_ring_mark_sent(ble_alerts_ring_t *r, uint32_t seq);
uint32_t ble_alerts_ring_oldest(const ble_alerts_ring_t *r);

#ifdef __cplusplus
}
#endif
#endif
