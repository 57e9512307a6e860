/* The C side of the shared C8 test vectors (tests/ble/c8_vectors.json, run by
 * tests/ble/test_c8_vectors.py): one request per stdin line, one answer per stdout line.
 *   event KIND STATE FLAGS SEQ UPTIME SCORE MODEL_ID  -> hex of ble_alerts_pack_event
 *   unpack HEX|-                                        -> KIND STATE FLAGS SEQ UPTIME SCORE MODEL_ID | reject
 *   status STATE K N ON OFF MODEL_ID LAST ACKED BACKLOG CAPACITY OVERFLOWS FW|-
 *                                                     -> hex of ble_alerts_pack_status
 *   control HEX|-                                       -> OP SEQ ON OFF K N | reject
 *                                   (CALIBRATE: 4 WINDOWS ALLOWED MARGIN_PERMILLE K N DRIFT_BLOCK REFIT)
 * Built by sim/boards/nimble-linux/CMakeLists.txt (ble_alerts_c8_vectors). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ble_alerts_proto.h"

static void put_hex(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        printf("%02x", b[i]);
    }
    printf("\n");
}

static size_t from_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    unsigned v;
    while (n < cap && sscanf(s + 2 * n, "%2x", &v) == 1) {
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* "KIND STATE FLAGS SEQ UPTIME SCORE MODEL_ID" -> ev; 0 on success */
static int parse_event(const char *s, ble_alerts_event_t *ev)
{
    unsigned kind, state, flags;
    if (sscanf(s, "%u %u %u %" SCNu32 " %" SCNu32 " %" SCNd32 " %" SCNu32, &kind, &state, &flags, &ev->seq,
               &ev->uptime_ms, &ev->score, &ev->model_id) != 7) {
        return -1;
    }
    ev->kind = (uint8_t)kind;
    ev->state = (uint8_t)state;
    ev->flags = (uint8_t)flags;
    return 0;
}

int main(void)
{
    char line[512], hex[256];
    uint8_t buf[128];
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "event ", 6) == 0) {
            ble_alerts_event_t ev;
            if (parse_event(line + 6, &ev) != 0) {
                return 2;
            }
            ble_alerts_pack_event(&ev, buf);
            put_hex(buf, BLE_ALERTS_PAYLOAD_LEN);
        } else if (sscanf(line, "unpack %255s", hex) == 1) {
            ble_alerts_event_t ev;
            const size_t n = from_hex(hex, buf, sizeof buf);
            if (ble_alerts_unpack_event(buf, n, &ev) == 0) {
                printf("%u %u %u %" PRIu32 " %" PRIu32 " %" PRId32 " %" PRIu32 "\n", ev.kind, ev.state, ev.flags,
                       ev.seq, ev.uptime_ms, ev.score, ev.model_id);
            } else {
                printf("reject\n");
            }
        } else if (strncmp(line, "status ", 7) == 0) {
            unsigned state, k, n, backlog, capacity;
            int32_t on, off;
            uint32_t model, last, acked, overflows;
            char fw[64] = "";
            ble_alerts_status_t st;
            if (sscanf(line + 7, "%u %u %u %" SCNd32 " %" SCNd32 " %" SCNu32 " %" SCNu32 " %" SCNu32 " %u %u %" SCNu32
                       " %63s", &state, &k, &n, &on, &off, &model, &last, &acked, &backlog, &capacity, &overflows,
                       fw) != 12) {
                return 2;
            }
            memset(&st, 0, sizeof st);
            st.state = (uint8_t)state;
            st.decision.k = (uint8_t)k;
            st.decision.n = (uint8_t)n;
            st.decision.threshold_on = on;
            st.decision.threshold_off = off;
            st.model_id = model;
            st.last_seq = last;
            st.acked_seq = acked;
            st.backlog = (uint16_t)backlog;
            st.capacity = (uint16_t)capacity;
            st.overflows = overflows;
            if (strcmp(fw, "-") != 0) { /* "-" = empty; NUL-padded, not terminated when full */
                size_t len = strlen(fw);
                memcpy(st.fw_version, fw, len < BLE_ALERTS_FW_VERSION_LEN ? len : BLE_ALERTS_FW_VERSION_LEN);
            }
            ble_alerts_pack_status(&st, buf);
            put_hex(buf, BLE_ALERTS_STATUS_LEN);
        } else if (sscanf(line, "control %255s", hex) == 1) {
            ble_alerts_control_t c;
            const size_t n = from_hex(hex, buf, sizeof buf);
            if (ble_alerts_parse_control(buf, n, &c) != 0) {
                printf("reject\n");
            } else if (c.op == BLE_ALERTS_CTRL_CALIBRATE) {
                printf("%u %u %u %u %u %u %u %u\n", c.op, c.calibrate.windows, c.calibrate.allowed,
                       c.calibrate.margin_permille, c.calibrate.k, c.calibrate.n, c.calibrate.drift_block,
                       c.calibrate.refit);
            } else {
                printf("%u %" PRIu32 " %" PRId32 " %" PRId32 " %u %u\n", c.op, c.seq, c.decision.threshold_on,
                       c.decision.threshold_off, c.decision.k, c.decision.n);
            }
        } else {
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
