/*
 * NimBLE GATT server of the imuad BLE alerts (contract C8).
 *
 * Only NimBLE host/NPL APIs present in both upstream mynewt-nimble and
 * Espressif's esp-nimble are used (checked by the esp-nimble syntax target).
 *
 * Threading: ble_alerts_push() may run in any task; it only touches the ring
 * under a mutex and posts the "pump" event to the host's default event
 * queue. Everything else (GAP/GATT callbacks, notifications, ACK/REPLAY) runs
 * in the NimBLE host task.
 */
#include "ble_alerts.h"

#include <string.h>

#include "host/ble_hs.h"
#include "host/ble_store.h"
#include "host/ble_uuid.h"
#include "nimble/nimble_npl.h"
#include "nimble/nimble_port.h"

/* 6e0a000X-5f1d-4b8e-9c43-696d75616400, bytes little-endian */
#define IMUAD_UUID(x)                                                                          \
    BLE_UUID128_INIT(0x00, 0x64, 0x61, 0x75, 0x6d, 0x69, 0x43, 0x9c, 0x8e, 0x4b, 0x1d, 0x5f, \
                     (x), 0x00, 0x0a, 0x6e)

static const ble_uuid128_t svc_uuid = IMUAD_UUID(0x01);
static const ble_uuid128_t event_uuid = IMUAD_UUID(0x02);
static const ble_uuid128_t status_uuid = IMUAD_UUID(0x03);
static const ble_uuid128_t control_uuid = IMUAD_UUID(0x04);

#define RETRY_MS 5      /* back-off when the stack is out of buffers */
#define PUMP_BURST 16   /* notifications per pump run, then yield to other host events */
#define MSYS_RESERVE 8  /* mbufs left for ATT responses, ACK writes, SMP */

static struct {
    ble_alerts_config_t cfg;
    char fw_version[BLE_ALERTS_FW_VERSION_LEN];
    ble_alerts_decision_t decision;
    uint8_t state;
    ble_alerts_ring_t ring;
    struct ble_npl_mutex lock;
    struct ble_npl_event pump_ev;
    struct ble_npl_callout retry;
    uint16_t conn_handle;
    uint16_t event_val_handle;
    uint8_t own_addr_type;
    uint8_t subscribed;
    uint8_t streaming; /* the gateway showed it is ready for notifications */
    uint8_t secure;
    uint8_t last_payload[BLE_ALERTS_PAYLOAD_LEN];
    ble_alerts_stats_t stats;
} s_alerts;

static int gap_event(struct ble_gap_event *event, void *arg);

static void notice(ble_alerts_notice_t n, uint32_t value)
{
    if (s_alerts.cfg.on_notice) {
        s_alerts.cfg.on_notice(n, value, s_alerts.cfg.ctx);
    }
}

static void lock(void)
{
    ble_npl_mutex_pend(&s_alerts.lock, BLE_NPL_TIME_FOREVER);
}

static void unlock(void)
{
    ble_npl_mutex_release(&s_alerts.lock);
}

static void post_pump(void)
{
    ble_npl_eventq_put(nimble_port_get_dflt_eventq(), &s_alerts.pump_ev);
}

static void retry_later(void)
{
    ble_npl_time_t ticks;
    s_alerts.stats.notify_retries++;
    ble_npl_time_ms_to_ticks(RETRY_MS, &ticks);
    ble_npl_callout_reset(&s_alerts.retry, ticks);
}

/* Host task: notify pending events while a secure subscriber is there, a burst at a
 * time and never using the last mbufs, so requests of the gateway keep being answered. */
static void pump(struct ble_npl_event *ev)
{
    int burst = 0;
    (void)ev;
    while (s_alerts.conn_handle != BLE_HS_CONN_HANDLE_NONE && s_alerts.subscribed &&
           s_alerts.streaming && s_alerts.secure) {
        ble_alerts_event_t e;
        uint8_t payload[BLE_ALERTS_PAYLOAD_LEN];
        struct os_mbuf *om;
        int have;

        lock();
        have = ble_alerts_ring_peek(&s_alerts.ring, &e);
        unlock();
        if (!have) {
            return;
        }
        if (burst++ == PUMP_BURST) {
            post_pump();
            return;
        }
        if (os_msys_num_free() < MSYS_RESERVE) {
            retry_later();
            return;
        }
        ble_alerts_pack_event(&e, payload);
        om = ble_hs_mbuf_from_flat(payload, sizeof(payload));
        if (om == NULL || ble_gatts_notify_custom(s_alerts.conn_handle, s_alerts.event_val_handle,
                                                  om) != 0) {
            /* out of buffers: the event stays pending, try again shortly */
            retry_later();
            return;
        }
        memcpy(s_alerts.last_payload, payload, sizeof(payload));
        s_alerts.stats.notified++;
        lock();
        ble_alerts_ring_mark_sent(&s_alerts.ring, e.seq);
        unlock();
    }
}

static void fill_status(ble_alerts_status_t *st)
{
    memset(st, 0, sizeof(*st));
    lock();
    st->state = s_alerts.state;
    st->decision = s_alerts.decision;
    st->model_id = s_alerts.cfg.model_id;
    st->last_seq = s_alerts.ring.next_seq - 1u;
    st->acked_seq = s_alerts.ring.acked_seq;
    st->backlog = s_alerts.ring.count;
    st->capacity = BLE_ALERTS_BACKLOG;
    st->overflows = s_alerts.ring.overflows;
    unlock();
    memcpy(st->fw_version, s_alerts.fw_version, sizeof(st->fw_version));
}

static int on_control(struct os_mbuf *om)
{
    uint8_t buf[16];
    uint16_t len = 0;
    ble_alerts_control_t c;

    if (OS_MBUF_PKTLEN(om) > sizeof(buf) || ble_hs_mbuf_to_flat(om, buf, sizeof(buf), &len) != 0) {
        s_alerts.stats.bad_control++;
        return BLE_ATT_ERR_INVALID_ATTR_VALUE_LEN;
    }
    if (ble_alerts_parse_control(buf, len, &c) != 0) {
        s_alerts.stats.bad_control++;
        return BLE_ATT_ERR_VALUE_NOT_ALLOWED;
    }
    if (s_alerts.subscribed && !s_alerts.streaming) { /* restored subscription: go */
        s_alerts.streaming = 1;
        post_pump();
    }
    switch (c.op) {
    case BLE_ALERTS_CTRL_ACK:
    case BLE_ALERTS_CTRL_REPLAY: {
        const int ack = c.op == BLE_ALERTS_CTRL_ACK;
        lock();
        (ack ? ble_alerts_ring_ack : ble_alerts_ring_rewind)(&s_alerts.ring, c.seq);
        unlock();
        *(ack ? &s_alerts.stats.acks : &s_alerts.stats.replays) += 1;
        notice(ack ? BLE_ALERTS_NOTICE_ACK : BLE_ALERTS_NOTICE_REPLAY, c.seq);
        if (!ack) {
            post_pump();
        }
        break;
    }
    case BLE_ALERTS_CTRL_CONFIG:
        lock();
        s_alerts.decision = c.decision;
        unlock();
        if (s_alerts.cfg.on_config) {
            s_alerts.cfg.on_config(&c.decision, s_alerts.cfg.ctx);
        }
        notice(BLE_ALERTS_NOTICE_CONFIG, 0);
        break;
    case BLE_ALERTS_CTRL_CALIBRATE:
        /* the decision changes only when the device finished calibrating (set_decision) */
        if (s_alerts.cfg.on_calibrate) {
            s_alerts.cfg.on_calibrate(&c.calibrate, s_alerts.cfg.ctx);
        }
        notice(BLE_ALERTS_NOTICE_CALIBRATE, c.calibrate.windows);
        break;
    default:
        break;
    }
    return 0;
}

static int chr_access(uint16_t conn_handle, uint16_t attr_handle, struct ble_gatt_access_ctxt *ctxt,
                      void *arg)
{
    uintptr_t which = (uintptr_t)arg;
    (void)conn_handle;
    (void)attr_handle;

    switch (which) {
    case 2: /* event: a read returns the last notified payload */
        if (ctxt->op != BLE_GATT_ACCESS_OP_READ_CHR) {
            return BLE_ATT_ERR_UNLIKELY;
        }
        return os_mbuf_append(ctxt->om, s_alerts.last_payload, sizeof(s_alerts.last_payload)) == 0
                   ? 0
                   : BLE_ATT_ERR_INSUFFICIENT_RES;
    case 3: { /* status */
        ble_alerts_status_t st;
        uint8_t buf[BLE_ALERTS_STATUS_LEN];
        if (ctxt->op != BLE_GATT_ACCESS_OP_READ_CHR) {
            return BLE_ATT_ERR_UNLIKELY;
        }
        fill_status(&st);
        ble_alerts_pack_status(&st, buf);
        return os_mbuf_append(ctxt->om, buf, sizeof(buf)) == 0 ? 0 : BLE_ATT_ERR_INSUFFICIENT_RES;
    }
    case 4: /* control */
        if (ctxt->op != BLE_GATT_ACCESS_OP_WRITE_CHR) {
            return BLE_ATT_ERR_UNLIKELY;
        }
        return on_control(ctxt->om);
    default:
        return BLE_ATT_ERR_UNLIKELY;
    }
}

static const struct ble_gatt_svc_def s_services[] = {
    {
        .type = BLE_GATT_SVC_TYPE_PRIMARY,
        .uuid = &svc_uuid.u,
        .characteristics =
            (struct ble_gatt_chr_def[]){
                {
                    /* READ_* flags also make the CCCD write need an authenticated link */
                    .uuid = &event_uuid.u,
                    .access_cb = chr_access,
                    .arg = (void *)2,
                    .flags = BLE_GATT_CHR_F_NOTIFY | BLE_GATT_CHR_F_READ | BLE_GATT_CHR_F_READ_ENC |
                             BLE_GATT_CHR_F_READ_AUTHEN,
                    .val_handle = &s_alerts.event_val_handle,
                },
                {
                    .uuid = &status_uuid.u,
                    .access_cb = chr_access,
                    .arg = (void *)3,
                    .flags = BLE_GATT_CHR_F_READ | BLE_GATT_CHR_F_READ_ENC |
                             BLE_GATT_CHR_F_READ_AUTHEN,
                },
                {
                    .uuid = &control_uuid.u,
                    .access_cb = chr_access,
                    .arg = (void *)4,
                    .flags = BLE_GATT_CHR_F_WRITE | BLE_GATT_CHR_F_WRITE_NO_RSP |
                             BLE_GATT_CHR_F_WRITE_ENC | BLE_GATT_CHR_F_WRITE_AUTHEN,
                },
                {0},
            },
    },
    {0},
};

static void advertise(void)
{
    struct ble_hs_adv_fields fields;
    struct ble_hs_adv_fields rsp;
    struct ble_gap_adv_params params;
    const char *name = s_alerts.cfg.device_name ? s_alerts.cfg.device_name : "imuad";
    int rc;

    memset(&fields, 0, sizeof(fields));
    fields.flags = BLE_HS_ADV_F_DISC_GEN | BLE_HS_ADV_F_BREDR_UNSUP;
    fields.uuids128 = (ble_uuid128_t *)&svc_uuid;
    fields.num_uuids128 = 1;
    fields.uuids128_is_complete = 1;
    rc = ble_gap_adv_set_fields(&fields);
    if (rc != 0) {
        return;
    }
    memset(&rsp, 0, sizeof(rsp));
    rsp.name = (const uint8_t *)name;
    rsp.name_len = (uint8_t)strlen(name);
    rsp.name_is_complete = 1;
    (void)ble_gap_adv_rsp_set_fields(&rsp);

    memset(&params, 0, sizeof(params));
    params.conn_mode = BLE_GAP_CONN_MODE_UND;
    params.disc_mode = BLE_GAP_DISC_MODE_GEN;
    rc = ble_gap_adv_start(s_alerts.own_addr_type, NULL, BLE_HS_FOREVER, &params, gap_event, NULL);
    if (rc == 0) {
        notice(BLE_ALERTS_NOTICE_ADVERTISING, 0);
    }
}

static void on_secured(uint16_t conn_handle)
{
    struct ble_gap_conn_desc desc;

    if (ble_gap_conn_find(conn_handle, &desc) != 0) {
        return;
    }
    /* LE Secure Connections with passkey gives an authenticated 128-bit key;
     * anything less (Just Works, legacy, short key) is refused. */
    if (!desc.sec_state.encrypted || !desc.sec_state.authenticated ||
        desc.sec_state.key_size < 16) {
        s_alerts.stats.rejected_links++;
        notice(BLE_ALERTS_NOTICE_SEC_FAILED, 0);
        ble_gap_terminate(conn_handle, BLE_ERR_AUTH_FAIL);
        return;
    }
    s_alerts.secure = 1;
    notice(BLE_ALERTS_NOTICE_SECURED, desc.sec_state.bonded);
    post_pump();
}

static int gap_event(struct ble_gap_event *event, void *arg)
{
    (void)arg;
    switch (event->type) {
    case BLE_GAP_EVENT_CONNECT:
        if (event->connect.status == 0) {
            s_alerts.conn_handle = event->connect.conn_handle;
            s_alerts.subscribed = 0;
            s_alerts.streaming = 0;
            s_alerts.secure = 0;
            notice(BLE_ALERTS_NOTICE_CONNECTED, event->connect.conn_handle);
        } else {
            advertise();
        }
        return 0;
    case BLE_GAP_EVENT_DISCONNECT:
        s_alerts.conn_handle = BLE_HS_CONN_HANDLE_NONE;
        s_alerts.subscribed = 0;
        s_alerts.streaming = 0;
        s_alerts.secure = 0;
        ble_npl_callout_stop(&s_alerts.retry);
        lock();
        /* whatever is not acknowledged is sent again to the next gateway */
        ble_alerts_ring_rewind(&s_alerts.ring, ble_alerts_ring_oldest(&s_alerts.ring));
        unlock();
        notice(BLE_ALERTS_NOTICE_DISCONNECTED, (uint32_t)event->disconnect.reason);
        advertise();
        return 0;
    case BLE_GAP_EVENT_ADV_COMPLETE:
        if (s_alerts.conn_handle == BLE_HS_CONN_HANDLE_NONE) {
            advertise();
        }
        return 0;
    case BLE_GAP_EVENT_ENC_CHANGE:
        if (event->enc_change.status == 0) {
            on_secured(event->enc_change.conn_handle);
        } else {
            s_alerts.stats.rejected_links++;
            notice(BLE_ALERTS_NOTICE_SEC_FAILED, (uint32_t)event->enc_change.status);
        }
        return 0;
    case BLE_GAP_EVENT_PASSKEY_ACTION:
        if (event->passkey.params.action == BLE_SM_IOACT_DISP) {
            struct ble_sm_io pk;
            memset(&pk, 0, sizeof(pk));
            pk.action = BLE_SM_IOACT_DISP;
            pk.passkey = s_alerts.cfg.passkey;
            notice(BLE_ALERTS_NOTICE_PASSKEY, pk.passkey);
            ble_sm_inject_io(event->passkey.conn_handle, &pk);
        }
        return 0;
    case BLE_GAP_EVENT_SUBSCRIBE:
        /* A subscription restored from the bond must not start the stream: the
         * gateway has not discovered the service nor registered its handler yet.
         * The stream starts at a CCCD write, or at the first control write (the
         * gateway ACKs its last stored seq right after subscribing). */
        if (event->subscribe.attr_handle == s_alerts.event_val_handle) {
            s_alerts.subscribed = event->subscribe.cur_notify ? 1 : 0;
            s_alerts.streaming = s_alerts.subscribed &&
                                 event->subscribe.reason != BLE_GAP_SUBSCRIBE_REASON_RESTORE;
            if (s_alerts.streaming) {
                notice(BLE_ALERTS_NOTICE_SUBSCRIBED, 0);
                post_pump();
            }
        }
        return 0;
    case BLE_GAP_EVENT_REPEAT_PAIRING: {
        /* The central lost its bond: forget ours and pair again (passkey needed). */
        struct ble_gap_conn_desc desc;
        if (ble_gap_conn_find(event->repeat_pairing.conn_handle, &desc) == 0) {
            ble_store_util_delete_peer(&desc.peer_id_addr);
        }
        return BLE_GAP_REPEAT_PAIRING_RETRY;
    }
    default:
        return 0;
    }
}

static void on_sync(void)
{
    if (ble_hs_id_infer_auto(0, &s_alerts.own_addr_type) != 0) {
        return;
    }
    advertise();
}

static void on_reset(int reason)
{
    (void)reason;
    s_alerts.conn_handle = BLE_HS_CONN_HANDLE_NONE;
    s_alerts.subscribed = 0;
    s_alerts.streaming = 0;
    s_alerts.secure = 0;
}

int ble_alerts_init(const ble_alerts_config_t *cfg)
{
    int rc;

    memset(&s_alerts, 0, sizeof(s_alerts));
    s_alerts.cfg = *cfg;
    s_alerts.decision = cfg->decision;
    s_alerts.conn_handle = BLE_HS_CONN_HANDLE_NONE;
    if (cfg->fw_version) {
        /* NUL-padded, not necessarily terminated (as in C7 DEVICE_INFO) */
        memcpy(s_alerts.fw_version, cfg->fw_version,
               strnlen(cfg->fw_version, sizeof(s_alerts.fw_version)));
    }
    if (cfg->passkey > 999999u) {
        return BLE_HS_EINVAL;
    }
    ble_alerts_ring_init(&s_alerts.ring, cfg->first_seq ? cfg->first_seq : 1u);
    ble_npl_mutex_init(&s_alerts.lock);
    ble_npl_event_init(&s_alerts.pump_ev, pump, NULL);
    ble_npl_callout_init(&s_alerts.retry, nimble_port_get_dflt_eventq(), pump, NULL);

    ble_hs_cfg.sync_cb = on_sync;
    ble_hs_cfg.reset_cb = on_reset;
    ble_hs_cfg.store_status_cb = ble_store_util_status_rr;
    ble_hs_cfg.sm_io_cap = BLE_HS_IO_DISPLAY_ONLY;
    ble_hs_cfg.sm_bonding = 1;
    ble_hs_cfg.sm_mitm = 1;
    ble_hs_cfg.sm_sc = 1;
    ble_hs_cfg.sm_our_key_dist = BLE_SM_PAIR_KEY_DIST_ENC | BLE_SM_PAIR_KEY_DIST_ID;
    ble_hs_cfg.sm_their_key_dist = BLE_SM_PAIR_KEY_DIST_ENC | BLE_SM_PAIR_KEY_DIST_ID;

    rc = ble_gatts_count_cfg(s_services);
    if (rc != 0) {
        return rc;
    }
    return ble_gatts_add_svcs(s_services);
}

uint32_t ble_alerts_push(uint8_t kind, uint8_t state, int32_t score, uint32_t uptime_ms)
{
    uint32_t seq;

    lock();
    seq = ble_alerts_ring_push(&s_alerts.ring, kind, state, score, uptime_ms,
                               s_alerts.cfg.model_id);
    s_alerts.state = state;
    s_alerts.stats.pushed++;
    unlock();
    post_pump();
    return seq;
}

void ble_alerts_set_state(uint8_t state)
{
    lock();
    s_alerts.state = state;
    unlock();
}

void ble_alerts_set_decision(const ble_alerts_decision_t *decision)
{
    lock();
    s_alerts.decision = *decision;
    unlock();
}

uint16_t ble_alerts_backlog(void)
{
    uint16_t n;
    lock();
    n = s_alerts.ring.count;
    unlock();
    return n;
}

void ble_alerts_get_status(ble_alerts_status_t *out)
{
    fill_status(out);
}

void ble_alerts_get_stats(ble_alerts_stats_t *out)
{
    *out = s_alerts.stats;
}
