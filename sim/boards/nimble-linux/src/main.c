/*
 * imuad-ble-host: the ble_alerts GATT server on upstream NimBLE for Linux,
 * talking HCI over TCP to a (virtual) controller. Stands in for the ESP32
 * firmware in tests and benchmarks.
 *
 *   imuad-ble-host --hci-port PORT [--events scripted:N|stdin] [--rate HZ]
 *                  [--passkey 123456] [--name imuad] [--first-seq 1]
 *                  [--model-id 0xHEX] [--no-backpressure]
 *
 * stdout: one line per notable thing (READY, ADVERTISING, CONNECTED, PASSKEY n,
 * SECURED bonded=b, SEC_FAILED st, SUBSCRIBED, DISCONNECTED reason, ACK seq,
 * REPLAY seq, CONFIG on off k n, CALIBRATE windows allowed margin_permille k n drift_block,
 * SCRIPT_DONE n, STATUS ..., STATS ...).
 * stdin (--events stdin): "push KIND STATE SCORE", "decision ON OFF K N" (as the app after
 * a calibration: ble_alerts_set_decision), "status", "stats".
 * Scripted event i (0-based): kind = 1 + i % 2, state = kind == 1,
 * score = (i * 37) % 1000, uptime_ms = 10 * i. With backpressure (default)
 * the script waits while the backlog is full, so nothing is dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include "ble_alerts.h"
#include "host/ble_hs.h"
#include "nimble/nimble_npl.h"
#include "nimble/nimble_port.h"
#include "services/gap/ble_svc_gap.h"
#include "services/gatt/ble_svc_gatt.h"

void ble_hci_sock_ack_handler(void *param);
void ble_hci_sock_set_device(int dev);
void ble_store_config_init(void);
void ble_sm_alg_ecc_init(void);

typedef struct {
    int hci_port;
    long scripted; /* -1: stdin */
    double rate_hz;
    int backpressure;
    ble_alerts_config_t cfg;
} options_t;

static pthread_mutex_t s_out_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&s_out_lock);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&s_out_lock);
}

static void on_notice(ble_alerts_notice_t n, uint32_t v, void *ctx)
{
    (void)ctx;
    switch (n) {
    case BLE_ALERTS_NOTICE_ADVERTISING: say("ADVERTISING"); break;
    case BLE_ALERTS_NOTICE_CONNECTED: say("CONNECTED %" PRIu32, v); break;
    case BLE_ALERTS_NOTICE_PASSKEY: say("PASSKEY %06" PRIu32, v); break;
    case BLE_ALERTS_NOTICE_SECURED: say("SECURED bonded=%" PRIu32, v); break;
    case BLE_ALERTS_NOTICE_SEC_FAILED: say("SEC_FAILED %" PRIu32, v); break;
    case BLE_ALERTS_NOTICE_SUBSCRIBED: say("SUBSCRIBED"); break;
    case BLE_ALERTS_NOTICE_DISCONNECTED: say("DISCONNECTED 0x%" PRIx32, v); break;
    case BLE_ALERTS_NOTICE_ACK: say("ACK %" PRIu32, v); break;
    case BLE_ALERTS_NOTICE_REPLAY: say("REPLAY %" PRIu32, v); break;
    case BLE_ALERTS_NOTICE_CONFIG: break;    /* printed by on_config */
    case BLE_ALERTS_NOTICE_CALIBRATE: break; /* printed by on_calibrate */
    }
}

static void on_config(const ble_alerts_decision_t *d, void *ctx)
{
    (void)ctx;
    say("CONFIG %" PRId32 " %" PRId32 " %u %u", d->threshold_on, d->threshold_off, d->k, d->n);
}

static void on_calibrate(const ble_alerts_calibrate_t *r, void *ctx)
{
    (void)ctx;
    say("CALIBRATE %u %u %u %u %u %u", r->windows, r->allowed, r->margin_permille, r->k, r->n,
        r->drift_block);
}

static void print_status(void)
{
    ble_alerts_status_t st;
    ble_alerts_get_status(&st);
    say("STATUS last_seq=%" PRIu32 " acked_seq=%" PRIu32 " backlog=%u capacity=%u overflows=%" PRIu32
        " on=%" PRId32 " off=%" PRId32 " k=%u n=%u",
        st.last_seq, st.acked_seq, st.backlog, st.capacity, st.overflows, st.decision.threshold_on,
        st.decision.threshold_off, st.decision.k, st.decision.n);
}

static void print_stats(void)
{
    ble_alerts_stats_t s;
    ble_alerts_get_stats(&s);
    say("STATS pushed=%" PRIu32 " notified=%" PRIu32 " retries=%" PRIu32 " acks=%" PRIu32
        " replays=%" PRIu32 " bad_control=%" PRIu32 " rejected=%" PRIu32,
        s.pushed, s.notified, s.notify_retries, s.acks, s.replays, s.bad_control, s.rejected_links);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void *script_task(void *arg)
{
    const options_t *o = arg;
    long period_us = o->rate_hz > 0 ? (long)(1e6 / o->rate_hz) : 0;

    for (long i = 0; i < o->scripted; i++) {
        uint8_t kind = (uint8_t)(1 + i % 2);
        while (o->backpressure && ble_alerts_backlog() >= BLE_ALERTS_BACKLOG - 1u) {
            sleep_ms(1);
        }
        ble_alerts_push(kind, kind == 1, (int32_t)((i * 37) % 1000), (uint32_t)(10 * i));
        if (period_us > 0) {
            struct timespec ts = {period_us / 1000000L, (period_us % 1000000L) * 1000L};
            nanosleep(&ts, NULL);
        }
    }
    say("SCRIPT_DONE %ld", o->scripted);
    return NULL;
}

static void *hci_task(void *param)
{
    ble_hci_sock_ack_handler(param);
    return NULL;
}

static void *host_task(void *param)
{
    (void)param;
    nimble_port_run();
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

static void usage(void)
{
    fprintf(stderr, "usage: imuad-ble-host --hci-port PORT [--events scripted:N|stdin] "
                    "[--rate HZ] [--passkey N] [--name NAME] [--first-seq N] "
                    "[--model-id HEX] [--fw-version S] [--no-backpressure]\n");
    exit(2);
}

static void parse(int argc, char **argv, options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->scripted = -1;
    o->backpressure = 1;
    o->cfg.device_name = "imuad";
    o->cfg.passkey = 123456;
    o->cfg.fw_version = "imuad-host-0.1";
    o->cfg.model_id = 0;
    o->cfg.first_seq = 1;
    o->cfg.decision.threshold_on = 128;
    o->cfg.decision.threshold_off = 96;
    o->cfg.decision.k = 3;
    o->cfg.decision.n = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-backpressure")) {
            o->backpressure = 0;
            continue;
        }
        if (v == NULL) {
            usage();
        }
        i++;
        if (!strcmp(a, "--hci-port")) {
            o->hci_port = atoi(v);
        } else if (!strcmp(a, "--events")) {
            if (!strcmp(v, "stdin")) {
                o->scripted = -1;
            } else if (!strncmp(v, "scripted:", 9)) {
                o->scripted = atol(v + 9);
            } else {
                usage();
            }
        } else if (!strcmp(a, "--rate")) {
            o->rate_hz = atof(v);
        } else if (!strcmp(a, "--passkey")) {
            o->cfg.passkey = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(a, "--name")) {
            o->cfg.device_name = v;
        } else if (!strcmp(a, "--first-seq")) {
            o->cfg.first_seq = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(a, "--model-id")) {
            o->cfg.model_id = (uint32_t)strtoul(v, NULL, 16);
        } else if (!strcmp(a, "--fw-version")) {
            o->cfg.fw_version = v;
        } else {
            usage();
        }
    }
    if (o->hci_port <= 0 || o->cfg.passkey > 999999u) {
        usage();
    }
}

int main(int argc, char **argv)
{
    static options_t opts;
    pthread_t hci, host, script;
    char line[256];

    parse(argc, argv, &opts);
    opts.cfg.on_notice = on_notice;
    opts.cfg.on_config = on_config;
    opts.cfg.on_calibrate = on_calibrate;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    ble_hci_sock_set_device(opts.hci_port);
    nimble_port_init(); /* connects to the controller */
    ble_sm_alg_ecc_init(); /* TinyCrypt RNG for SC key pairs */
    ble_svc_gap_init();
    ble_svc_gatt_init();
    if (ble_alerts_init(&opts.cfg) != 0) {
        fprintf(stderr, "imuad-ble-host: ble_alerts_init failed\n");
        return 1;
    }
    ble_svc_gap_device_name_set(opts.cfg.device_name);
    ble_store_config_init();

    /* Outside Mynewt the HCI receive loop needs its own thread. */
    pthread_create(&hci, NULL, hci_task, NULL);
    pthread_create(&host, NULL, host_task, NULL);
    say("READY port=%d", opts.hci_port);

    if (opts.scripted >= 0) {
        pthread_create(&script, NULL, script_task, &opts);
        for (;;) {
            pause();
        }
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        int kind, state;
        long score;
        ble_alerts_decision_t d;
        unsigned k, n;
        if (sscanf(line, "decision %" SCNd32 " %" SCNd32 " %u %u", &d.threshold_on, &d.threshold_off, &k,
                   &n) == 4) {
            d.k = (uint8_t)k;
            d.n = (uint8_t)n;
            ble_alerts_set_decision(&d);
            say("DECISION %" PRId32 " %" PRId32 " %u %u", d.threshold_on, d.threshold_off, d.k, d.n);
        } else if (sscanf(line, "push %d %d %ld", &kind, &state, &score) == 3) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint32_t seq = ble_alerts_push((uint8_t)kind, (uint8_t)state, (int32_t)score,
                                           (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
            say("PUSHED %" PRIu32, seq);
        } else if (!strncmp(line, "status", 6)) {
            print_status();
        } else if (!strncmp(line, "stats", 5)) {
            print_stats();
        }
    }
    for (;;) { /* stdin closed: keep serving until killed */
        pause();
    }
    return 0;
}
