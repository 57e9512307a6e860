// C interface between the MicroPython glue (modimuad.c, plain C: the MicroPython object API is C)
// and the C++ side (detector.cpp), which only wraps imuad_core's Pipeline. No detector logic here:
// windowing, preprocessing (C3), score (C4) and decision (C5) all run in imuad_core.
#ifndef IMUAD_MP_DETECTOR_H
#define IMUAD_MP_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IMUAD_MP_MAX_CHANNELS 8   // == imuad::kMaxChannels (static_assert in detector.cpp)
#define IMUAD_MP_MAX_MODEL_OPS 64 // distinct operator codes reported by probe
#define IMUAD_MP_ALIGN 16         // TFLM arena / flatbuffer alignment

// Status codes (imuad::ErrorCode numbering, docs/contracts.md C7 ERROR codes).
#define IMUAD_MP_OK 0
#define IMUAD_MP_ERR_MODEL 4
#define IMUAD_MP_ERR_ARENA 5

typedef struct {
    uint16_t window, hop;
    uint8_t channels;
    int32_t offset[IMUAD_MP_MAX_CHANNELS];
    int32_t multiplier[IMUAD_MP_MAX_CHANNELS];
    int32_t shift;
    int32_t input_zero_point;
    int preprocess_kind;  // 0 affine_int, 1 window_int (imuad::PreprocessKind)
    int score_kind;  // 1 class_prob, 2 recon_error (imuad::ScoreKind)
    int32_t output_index, in_mult, out_mult, score_shift;
    int32_t output_zero_point;
    int32_t threshold_on, threshold_off;
    int k, n;
} imuad_mp_params_t;

// What the flatbuffer says (read before any allocation).
typedef struct {
    size_t n_outputs;           // elements of output 0
    int32_t output_zero_point;  // of output 0
    size_t n_ops;
    const char *ops[IMUAD_MP_MAX_MODEL_OPS];  // TFLite builtin names, static strings
} imuad_mp_probe_t;

typedef struct {
    uint32_t window;
    int32_t score;
    uint8_t state;  // 0 NORMAL, 1 ANOMALY
    uint8_t hot;
    uint8_t event;  // 0 none, 1 onset, 2 clear
    uint8_t aux;    // 0 none, 4 drift, 5 drift cleared, 6 calibrated (C5b)
    int32_t aux_score;
    const int8_t *out;
    uint16_t n_out;
} imuad_mp_result_t;

// C5b calibration request and result (docs/contracts.md; imuad/calibration.h).
typedef struct {
    uint16_t windows, allowed, margin_permille;
    uint8_t k, n;
    uint16_t drift_block;
    uint8_t refit;
} imuad_mp_calib_request_t;
typedef struct {
    int32_t threshold_on, threshold_off;
    int k, n;
    uint16_t windows;
    int32_t median, lowest_on;
    uint16_t onsets_before, drift_block;
} imuad_mp_calib_result_t;

// Verifies the flatbuffer and that every op it uses is compiled into this build.
int imuad_mp_probe(const uint8_t *model, size_t len, imuad_mp_probe_t *probe, char *msg, size_t msg_len);

size_t imuad_mp_impl_size(void);  // bytes of the C++ state (placed by the caller, IMUAD_MP_ALIGN aligned)

// Constructs the C++ state in impl (IMUAD_MP_ALIGN aligned) and initialises the core Pipeline.
// model, arena and ring must outlive the impl. On error the impl is left destroyed.
int imuad_mp_impl_init(void *impl, const imuad_mp_params_t *params, const uint8_t *model, size_t model_len,
    size_t n_outputs, uint8_t *arena, size_t arena_size, int16_t *ring, size_t ring_len,
    char *msg, size_t msg_len);
void imuad_mp_impl_deinit(void *impl);  // idempotent

void imuad_mp_impl_reset(void *impl);
// New decision constants (C5; already validated); restarts the decision state like CONFIG (C7).
void imuad_mp_impl_configure(void *impl, int32_t threshold_on, int32_t threshold_off, int k, int n);
// Starts a calibration on the next req->windows windows; scores: req->windows int32 that outlive
// it. Returns NULL, or why the request is invalid (contract ranges).
const char *imuad_mp_impl_calibrate(void *impl, const imuad_mp_calib_request_t *req, int32_t *scores);
// The last completed calibration: 1 and *out, or 0 if none since init.
int imuad_mp_impl_calibration(const void *impl, imuad_mp_calib_result_t *out);
// One sample (channels int16): 0 no window completed, 1 window result in *r, -1 kernel error.
int imuad_mp_impl_push(void *impl, const int16_t *sample, imuad_mp_result_t *r);
size_t imuad_mp_impl_arena_used(const void *impl);
// The smallest arena the core accepts for this impl's model (its floor from the graph's size).
size_t imuad_mp_impl_arena_floor(const void *impl);
size_t imuad_mp_impl_n_outputs(const void *impl);

// The firmware's C7 replay loop (imuad_core's ReplayApp, as on every other target) over the
// models of live Detector impls, each under the given name and SHA-256. Frames the app sends go
// to write(ctx, ...); DEVICE_INFO.target is "mpy". arena/ring: for the largest model (and for a
// model loaded at run time); slot: slot_capacity bytes (16-byte aligned) for that model (C7
// MODEL_BEGIN..MODEL_END), or NULL / 0: such uploads are refused.
#define IMUAD_MP_MAX_SERVED 16
typedef void (*imuad_mp_write_fn)(void *ctx, const uint8_t *data, size_t len);
size_t imuad_mp_server_size(void);  // bytes of the C++ state (IMUAD_MP_ALIGN aligned)
void imuad_mp_server_init(void *server, void *const *impls, const char *const *names,
    const uint8_t *const *sha256s, size_t n, uint8_t *arena, size_t arena_size, int16_t *ring, size_t ring_len,
    uint8_t *slot, size_t slot_capacity, imuad_mp_write_fn write, void *ctx, uint32_t (*micros)(void));
void imuad_mp_server_feed(void *server, const uint8_t *data, size_t len);
void imuad_mp_server_deinit(void *server);

#ifdef __cplusplus
}
#endif

#endif  // IMUAD_MP_DETECTOR_H
