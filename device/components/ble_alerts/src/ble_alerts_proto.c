/* Wire layouts and backlog ring of the BLE alerts (see ble_alerts_proto.h). */
#include "ble_alerts_proto.h"

#include <string.h>

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

void ble_alerts_pack_event(const ble_alerts_event_t *ev, uint8_t out[BLE_ALERTS_PAYLOAD_LEN])
{
    out[0] = BLE_ALERTS_PAYLOAD_VERSION;
    out[1] = ev->kind;
    out[2] = ev->state;
    out[3] = ev->flags;
    put_u32(out + 4, ev->seq);
    put_u32(out + 8, ev->uptime_ms);
    put_u32(out + 12, (uint32_t)ev->score);
    put_u32(out + 16, ev->model_id);
}

int ble_alerts_unpack_event(const uint8_t *buf, size_t len, ble_alerts_event_t *ev)
{
    if (len < BLE_ALERTS_PAYLOAD_LEN || buf[0] != BLE_ALERTS_PAYLOAD_VERSION) {
        return -1;
    }
    ev->kind = buf[1];
    ev->state = buf[2];
    ev->flags = buf[3];
    ev->seq = get_u32(buf + 4);
    ev->uptime_ms = get_u32(buf + 8);
    ev->score = (int32_t)get_u32(buf + 12);
    ev->model_id = get_u32(buf + 16);
    return 0;
}

void ble_alerts_pack_status(const ble_alerts_status_t *st, uint8_t out[BLE_ALERTS_STATUS_LEN])
{
    memset(out, 0, BLE_ALERTS_STATUS_LEN);
    out[0] = BLE_ALERTS_STATUS_VERSION;
    out[1] = st->state;
    out[2] = st->decision.k;
    out[3] = st->decision.n;
    put_u32(out + 4, (uint32_t)st->decision.threshold_on);
    put_u32(out + 8, (uint32_t)st->decision.threshold_off);
    put_u32(out + 12, st->model_id);
    put_u32(out + 16, st->last_seq);
    put_u32(out + 20, st->acked_seq);
    put_u16(out + 24, st->backlog);
    put_u16(out + 26, st->capacity);
    put_u32(out + 28, st->overflows);
    memcpy(out + 32, st->fw_version, BLE_ALERTS_FW_VERSION_LEN);
}

int ble_alerts_parse_control(const uint8_t *buf, size_t len, ble_alerts_control_t *out)
{
    if (len < 1) {
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->op = buf[0];
    switch (buf[0]) {
    case BLE_ALERTS_CTRL_ACK:
    case BLE_ALERTS_CTRL_REPLAY:
        if (len != BLE_ALERTS_CTRL_ACK_LEN) {
            return -1;
        }
        out->seq = get_u32(buf + 1);
        return 0;
    case BLE_ALERTS_CTRL_CONFIG:
        if (len != BLE_ALERTS_CTRL_CONFIG_LEN) {
            return -1;
        }
        out->decision.threshold_on = (int32_t)get_u32(buf + 1);
        out->decision.threshold_off = (int32_t)get_u32(buf + 5);
        out->decision.k = buf[9];
        out->decision.n = buf[10];
        /* C5: threshold_off <= threshold_on, 1 <= k <= n <= 32 */
        if (out->decision.threshold_off > out->decision.threshold_on || out->decision.k < 1 ||
            out->decision.k > out->decision.n || out->decision.n > 32) {
            return -1;
        }
        return 0;
    case BLE_ALERTS_CTRL_CALIBRATE: {
        ble_alerts_calibrate_t *r = &out->calibrate;
        if (len != BLE_ALERTS_CTRL_CALIBRATE_LEN) {
            return -1;
        }
        r->windows = get_u16(buf + 1);
        r->allowed = get_u16(buf + 3);
        r->margin_permille = get_u16(buf + 5);
        r->k = buf[7];
        r->n = buf[8];
        r->drift_block = get_u16(buf + 9); /* every u16 is valid (0 = no drift watch) */
        r->refit = buf[11];
        /* C5b: as check_request; k = n = 0 keeps the current debounce */
        if (r->windows < BLE_ALERTS_CALIB_WINDOWS_MIN || r->windows > BLE_ALERTS_CALIB_WINDOWS_MAX ||
            r->allowed > BLE_ALERTS_CALIB_ALLOWED_MAX || r->margin_permille > BLE_ALERTS_CALIB_MARGIN_MAX ||
            (r->k == 0) != (r->n == 0) || r->k > r->n || r->n > BLE_ALERTS_CALIB_KN_MAX || r->refit > 1) {
            return -1;
        }
        return 0;
    }
    default:
        return -1;
    }
}

void ble_alerts_ring_init(ble_alerts_ring_t *r, uint32_t first_seq)
{
    memset(r, 0, sizeof(*r));
    r->next_seq = first_seq;
    r->send_seq = first_seq;
    r->acked_seq = first_seq - 1u;
}

uint32_t ble_alerts_ring_oldest(const ble_alerts_ring_t *r)
{
    return r->next_seq - r->count;
}

static ble_alerts_slot_t *slot_of(ble_alerts_ring_t *r, uint32_t seq)
{
    uint32_t off = seq - ble_alerts_ring_oldest(r);
    return &r->slots[(r->head + off) % BLE_ALERTS_BACKLOG];
}

uint32_t ble_alerts_ring_push(ble_alerts_ring_t *r, uint8_t kind, uint8_t state, int32_t score,
                              uint32_t uptime_ms, uint32_t model_id)
{
    ble_alerts_slot_t *s;
    uint32_t seq = r->next_seq;
    int dropped = 0;

    if (r->count == BLE_ALERTS_BACKLOG) { /* drop the oldest unacknowledged event */
        r->head = (uint16_t)((r->head + 1u) % BLE_ALERTS_BACKLOG);
        r->count--;
        r->overflows++;
        dropped = 1;
    }
    s = &r->slots[(r->head + r->count) % BLE_ALERTS_BACKLOG];
    s->kind = kind;
    s->state = state;
    s->flags = 0;
    s->sent = 0;
    s->uptime_ms = uptime_ms;
    s->score = score;
    s->model_id = model_id;
    r->count++;
    r->next_seq++;
    if (dropped) {
        slot_of(r, ble_alerts_ring_oldest(r))->flags |= BLE_ALERTS_FLAG_OVERFLOW;
    }
    return seq;
}

void ble_alerts_ring_ack(ble_alerts_ring_t *r, uint32_t seq)
{
    /* Only seqs that were pushed can be acknowledged (wrap-safe compare). */
    if ((int32_t)(seq - r->next_seq) >= 0) {
        seq = r->next_seq - 1u;
    }
    if ((int32_t)(seq - r->acked_seq) > 0) {
        r->acked_seq = seq;
    }
    while (r->count > 0 && (int32_t)(ble_alerts_ring_oldest(r) - seq) <= 0) {
        r->head = (uint16_t)((r->head + 1u) % BLE_ALERTS_BACKLOG);
        r->count--;
    }
    if ((int32_t)(r->send_seq - ble_alerts_ring_oldest(r)) < 0) {
        r->send_seq = ble_alerts_ring_oldest(r);
    }
}

void ble_alerts_ring_rewind(ble_alerts_ring_t *r, uint32_t seq)
{
    uint32_t oldest = ble_alerts_ring_oldest(r);
    r->send_seq = ((int32_t)(seq - oldest) < 0) ? oldest : seq;
    if ((int32_t)(r->send_seq - r->next_seq) > 0) {
        r->send_seq = r->next_seq;
    }
}

int ble_alerts_ring_peek(const ble_alerts_ring_t *r, ble_alerts_event_t *ev)
{
    uint32_t oldest = ble_alerts_ring_oldest(r);
    uint32_t seq = ((int32_t)(r->send_seq - oldest) < 0) ? oldest : r->send_seq;
    const ble_alerts_slot_t *s;

    if ((int32_t)(seq - r->next_seq) >= 0) {
        return 0;
    }
    s = &r->slots[(r->head + (seq - oldest)) % BLE_ALERTS_BACKLOG];
    ev->kind = s->kind;
    ev->state = s->state;
    ev->flags = (uint8_t)(s->flags | (s->sent ? BLE_ALERTS_FLAG_REPLAYED : 0u));
    ev->seq = seq;
    ev->uptime_ms = s->uptime_ms;
    ev->score = s->score;
    ev->model_id = s->model_id;
    return 1;
}

void ble_alerts_ring_mark_sent(ble_alerts_ring_t *r, uint32_t seq)
{
    uint32_t oldest = ble_alerts_ring_oldest(r);
    if ((int32_t)(seq - oldest) >= 0 && (int32_t)(seq - r->next_seq) < 0) {
        slot_of(r, seq)->sent = 1;
    }
    if ((int32_t)(seq + 1u - r->send_seq) > 0) {
        r->send_seq = seq + 1u;
    }
}
