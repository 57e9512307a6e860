/* Host unit test of the ble_alerts backlog ring and wire layouts (no NimBLE).
 * Built by sim/boards/nimble-linux/CMakeLists.txt (ble_alerts_test_proto), run by tests/ble. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ble_alerts_proto.h"

static int failures;
#define CHECK(c)                                                              \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

static ble_alerts_ring_t ring;

static uint32_t drain(ble_alerts_ring_t *r, uint32_t *seqs, uint8_t *flags, uint32_t max)
{
    ble_alerts_event_t e;
    uint32_t n = 0;
    while (n < max && ble_alerts_ring_peek(r, &e)) {
        seqs[n] = e.seq;
        flags[n] = e.flags;
        ble_alerts_ring_mark_sent(r, e.seq);
        n++;
    }
    return n;
}

static void test_order_ack_rewind(void)
{
    uint32_t seqs[300];
    uint8_t flags[300];
    ble_alerts_ring_init(&ring, 1);
    for (int i = 0; i < 10; i++) {
        CHECK(ble_alerts_ring_push(&ring, 1, 1, i, 0, 7) == (uint32_t)(i + 1));
    }
    CHECK(drain(&ring, seqs, flags, 300) == 10);
    for (int i = 0; i < 10; i++) {
        CHECK(seqs[i] == (uint32_t)(i + 1) && flags[i] == 0);
    }
    ble_alerts_ring_ack(&ring, 4);
    CHECK(ring.count == 6 && ring.acked_seq == 4 && ble_alerts_ring_oldest(&ring) == 5);
    ble_alerts_ring_rewind(&ring, 0); /* below oldest: from the oldest held */
    CHECK(drain(&ring, seqs, flags, 300) == 6 && seqs[0] == 5 && flags[0] == BLE_ALERTS_FLAG_REPLAYED);
    ble_alerts_ring_rewind(&ring, 9);
    CHECK(drain(&ring, seqs, flags, 300) == 2 && seqs[0] == 9 && seqs[1] == 10);
    ble_alerts_ring_ack(&ring, 1000); /* beyond the newest: clamps */
    CHECK(ring.count == 0 && ring.acked_seq == 10);
    CHECK(ble_alerts_ring_push(&ring, 2, 0, 0, 0, 0) == 11);
    CHECK(drain(&ring, seqs, flags, 300) == 1 && seqs[0] == 11 && flags[0] == 0);
}

static void test_overflow_and_wrap(void)
{
    uint32_t seqs[BLE_ALERTS_BACKLOG + 8];
    uint8_t flags[BLE_ALERTS_BACKLOG + 8];
    uint32_t first = 0xFFFFFFF0u; /* seqs wrap past 2^32 */
    ble_alerts_ring_init(&ring, first);
    for (uint32_t i = 0; i < BLE_ALERTS_BACKLOG + 5; i++) {
        ble_alerts_ring_push(&ring, 1, 1, 0, i, 0);
    }
    CHECK(ring.count == BLE_ALERTS_BACKLOG && ring.overflows == 5);
    CHECK(drain(&ring, seqs, flags, BLE_ALERTS_BACKLOG + 8) == BLE_ALERTS_BACKLOG);
    CHECK(seqs[0] == first + 5 && (flags[0] & BLE_ALERTS_FLAG_OVERFLOW));
    for (uint32_t i = 1; i < BLE_ALERTS_BACKLOG; i++) {
        CHECK(seqs[i] == seqs[i - 1] + 1 && flags[i] == 0);
    }
    ble_alerts_ring_ack(&ring, first + 5 + BLE_ALERTS_BACKLOG - 1);
    CHECK(ring.count == 0);
}

static void test_layouts(void)
{
    uint8_t b[BLE_ALERTS_PAYLOAD_LEN], st[BLE_ALERTS_STATUS_LEN];
    ble_alerts_event_t e = {1, 1, 2, 7, 1000, -2, 0xA1B2C3D4u}, d;
    ble_alerts_status_t s;
    ble_alerts_control_t c;
    static const uint8_t want[20] = {1, 1, 1, 2, 7, 0, 0, 0, 0xe8, 3, 0, 0,
                                     0xfe, 0xff, 0xff, 0xff, 0xd4, 0xc3, 0xb2, 0xa1};
    ble_alerts_pack_event(&e, b);
    CHECK(memcmp(b, want, 20) == 0);
    CHECK(ble_alerts_unpack_event(b, 20, &d) == 0 && d.seq == 7 && d.score == -2);
    CHECK(ble_alerts_unpack_event(b, 19, &d) != 0);
    memset(&s, 0, sizeof(s));
    s.last_seq = 0x01020304u;
    s.capacity = 128;
    memcpy(s.fw_version, "1.0", 3);
    ble_alerts_pack_status(&s, st);
    CHECK(st[0] == 1 && st[16] == 4 && st[19] == 1 && st[26] == 128 && st[32] == '1');
    CHECK(ble_alerts_parse_control((const uint8_t *)"\x01\x05\x00\x00\x00", 5, &c) == 0 &&
          c.op == 1 && c.seq == 5);
    CHECK(ble_alerts_parse_control((const uint8_t *)"\x01\x05\x00\x00", 4, &c) != 0);
    CHECK(ble_alerts_parse_control((const uint8_t *)"\x09\x05\x00\x00\x00", 5, &c) != 0);
    CHECK(ble_alerts_parse_control((const uint8_t *)"\x03\xc8\0\0\0\x96\0\0\0\x02\x04", 11, &c) == 0 &&
          c.decision.threshold_on == 200 && c.decision.k == 2 && c.decision.n == 4);
    CHECK(ble_alerts_parse_control((const uint8_t *)"\x03\xc8\0\0\0\x96\0\0\0\x05\x04", 11, &c) != 0);
    CHECK(ble_alerts_parse_control(NULL, 0, &c) != 0);
}

/* CALIBRATE (op 4): 04 windows:u16 allowed:u16 margin_permille:u16 k:u8 n:u8 drift_block:u16 refit:u8 */
static int calib_refit(uint16_t windows, uint16_t allowed, uint16_t margin, uint8_t k, uint8_t n, uint16_t block,
                       uint8_t refit, size_t len, ble_alerts_control_t *c)
{
    uint8_t b[16] = {BLE_ALERTS_CTRL_CALIBRATE, (uint8_t)windows, (uint8_t)(windows >> 8), (uint8_t)allowed,
                     (uint8_t)(allowed >> 8), (uint8_t)margin, (uint8_t)(margin >> 8), k, n,
                     (uint8_t)block, (uint8_t)(block >> 8), refit};
    return ble_alerts_parse_control(b, len, c);
}

static int calib(uint16_t windows, uint16_t allowed, uint16_t margin, uint8_t k, uint8_t n, uint16_t block,
                 size_t len, ble_alerts_control_t *c)
{
    return calib_refit(windows, allowed, margin, k, n, block, 0, len, c);
}

static void test_calibrate(void)
{
    ble_alerts_control_t c;
    CHECK(calib(1024, 3, 150, 2, 4, 500, 12, &c) == 0 && c.op == BLE_ALERTS_CTRL_CALIBRATE &&
          c.calibrate.windows == 1024 && c.calibrate.allowed == 3 && c.calibrate.margin_permille == 150 &&
          c.calibrate.k == 2 && c.calibrate.n == 4 && c.calibrate.drift_block == 500);
    CHECK(calib(16, 0, 0, 0, 0, 0, 12, &c) == 0 && c.calibrate.k == 0 && c.calibrate.n == 0); /* keep k, n */
    CHECK(calib(4096, 1000, 10000, 32, 32, 65535, 12, &c) == 0 && c.calibrate.drift_block == 65535);
    CHECK(calib(15, 0, 0, 0, 0, 0, 12, &c) != 0);      /* windows below 16 */
    CHECK(calib(4097, 0, 0, 0, 0, 0, 12, &c) != 0);    /* windows above 4096 */
    CHECK(calib(64, 1001, 0, 0, 0, 0, 12, &c) != 0);   /* allowed */
    CHECK(calib(64, 0, 10001, 0, 0, 0, 12, &c) != 0);  /* margin_permille */
    CHECK(calib(64, 0, 0, 0, 4, 0, 12, &c) != 0);      /* k without n */
    CHECK(calib(64, 0, 0, 2, 0, 0, 12, &c) != 0);      /* n without k */
    CHECK(calib(64, 0, 0, 5, 4, 0, 12, &c) != 0);      /* k > n */
    CHECK(calib(64, 0, 0, 1, 33, 0, 12, &c) != 0);     /* n > 32 */
    CHECK(calib(64, 0, 0, 0, 0, 0, 11, &c) != 0);      /* short */
    CHECK(calib(64, 0, 0, 0, 0, 0, 13, &c) != 0);      /* long */
    CHECK(calib_refit(64, 0, 0, 0, 0, 0, 1, 12, &c) == 0 && c.calibrate.refit == 1);
    CHECK(calib_refit(64, 0, 0, 0, 0, 0, 2, 12, &c) != 0); /* refit is 0 or 1 */
}

static void test_drift_kinds_pass_through(void)
{
    uint8_t kinds[] = {BLE_ALERTS_KIND_DRIFT, BLE_ALERTS_KIND_DRIFT_CLEAR, BLE_ALERTS_KIND_CALIBRATED};
    uint8_t b[BLE_ALERTS_PAYLOAD_LEN];
    ble_alerts_event_t e, d;
    ble_alerts_ring_init(&ring, 1);
    for (unsigned i = 0; i < 3; i++) {
        CHECK(ble_alerts_ring_push(&ring, kinds[i], 0, 900 + (int32_t)i, 0, 7) == i + 1u);
    }
    for (unsigned i = 0; i < 3; i++) {
        CHECK(ble_alerts_ring_peek(&ring, &e) == 1 && e.kind == kinds[i] && e.score == 900 + (int32_t)i);
        ble_alerts_pack_event(&e, b);
        CHECK(b[1] == kinds[i] && ble_alerts_unpack_event(b, sizeof b, &d) == 0 && d.kind == kinds[i]);
        ble_alerts_ring_mark_sent(&ring, e.seq);
    }
}

int main(void)
{
    test_order_ack_rewind();
    test_overflow_and_wrap();
    test_layouts();
    test_calibrate();
    test_drift_kinds_pass_through();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("ble_alerts_proto: all checks passed\n");
    return 0;
}
