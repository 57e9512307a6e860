// MicroPython module `imuad`: Detector over imuad_core's Pipeline (see detector.cpp).
//
//   d = imuad.Detector(model_bytes, window=128, hop=64, channels=3,
//                      threshold_on=63, threshold_off=60, k=2, n=3,
//                      preprocess=(offsets, multipliers, shift, input_zero_point[, kind]),
//                          kind "affine_int" (default) or "window_int" (offsets = RMS floors)
//                      score=("class_prob", output_index) | ("recon_error", in_mult, out_mult, shift),
//                      output_zero_point=None, arena_size=None)
//   d = imuad.Detector.from_card(model_bytes, card_dict)      # card = models/<name>/model_card.json
//   results, events = d.feed(samples)  # array('h') or bytes-like of interleaved int16 LE
//       results: [(window, score, state, out_bytes), ...]   events: [(window, kind, score), ...]
//   d.reset(); d.info(); d.configure(threshold_on, threshold_off, k, n); d.close()
//   imuad.serve([(name, detector), ...], sys.stdin.buffer, sys.stdout.buffer)   # C7 replay loop
//
// Memory: ONE MicroPython GC-heap block per Detector (allocated with a finaliser) holds the C++
// state, a 16-byte aligned copy of the model, the tensor arena and the sample ring. The finaliser
// (__del__, also close()) destroys the C++ state; the GC frees the block. Nothing is malloc'ed.
// Heap size on the unix port: `micropython -X heapsize=...`.
#include <string.h>

#include "py/binary.h"
#include "py/gc.h"
#include "py/objarray.h"
#include "py/objstr.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/runtime.h"
#include "py/stream.h"

#include "detector.h"

#define ALIGN_UP(x) (((x) + (IMUAD_MP_ALIGN - 1)) & ~(size_t)(IMUAD_MP_ALIGN - 1))
#define MSG_LEN 192
#define AUTO_ARENA_MAX (1u << 20)
#define MIN_ARENA 1024u

typedef struct _imuad_detector_obj_t {
    mp_obj_base_t base;
    void *impl;             // C++ state (aligned into storage)
    uint8_t *model;         // aligned copy of the flatbuffer
    size_t model_len;
    uint8_t *arena;
    size_t arena_size;
    int16_t *ring;
    size_t ring_len;
    size_t n_outputs;
    mp_obj_t sha256;        // bytes(32) or None
    mp_obj_t ops;           // tuple of op names
    mp_obj_t calib_scores;  // bytearray of a calibration in progress (kept alive for the core)
    imuad_mp_params_t params;
    uint8_t live;           // impl constructed
    uint8_t carry_len;      // bytes of an incomplete sample kept from the previous feed()
    uint8_t carry[2 * IMUAD_MP_MAX_CHANNELS];
    uint8_t storage[];
} imuad_detector_obj_t;

const mp_obj_type_t imuad_type_Detector;

// ------------------------------------------------------------------ argument helpers
static int32_t get_i32(mp_obj_t o, const char *what, int64_t lo, int64_t hi) {
    if (!mp_obj_is_int(o)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%s must be an int"), what);
    }
    // A big int beyond the machine word raises OverflowError here (a clean Python exception).
    const mp_int_t v = mp_obj_get_int(o);
    if ((int64_t)v < lo || (int64_t)v > hi) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s out of range [%d, %d]"), what, (int)lo, (int)hi);
    }
    return (int32_t)v;
}

static void get_items(mp_obj_t o, const char *what, size_t *len, mp_obj_t **items) {
    if (!mp_obj_is_type(o, &mp_type_tuple) && !mp_obj_is_type(o, &mp_type_list)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%s must be a tuple or list"), what);
    }
    mp_obj_get_array(o, len, items);
}

static void raise_status(int code, const char *msg) {
    if (code == IMUAD_MP_ERR_ARENA) {
        mp_raise_msg_varg(&mp_type_MemoryError, MP_ERROR_TEXT("imuad: %s"), msg);
    }
    mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("imuad: %s"), msg);
}

static mp_obj_t sha256_of(mp_obj_t model) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t hashlib = mp_import_name(MP_QSTR_hashlib, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t h = mp_call_function_1(mp_load_attr(hashlib, MP_QSTR_sha256), model);
        mp_obj_t dest[2];
        mp_load_method(h, MP_QSTR_digest, dest);
        mp_obj_t digest = mp_call_method_n_kw(0, 0, dest);
        nlr_pop();
        return digest;
    }
    return mp_const_none;  // port without hashlib.sha256
}

// ------------------------------------------------------------------ construction
static imuad_detector_obj_t *alloc_detector(const mp_buffer_info_t *model, size_t arena_size,
    size_t ring_len) {
    const size_t extra = IMUAD_MP_ALIGN + ALIGN_UP(imuad_mp_impl_size()) + ALIGN_UP(model->len) +
        ALIGN_UP(arena_size) + ring_len * sizeof(int16_t);
    imuad_detector_obj_t *self = mp_obj_malloc_var_with_finaliser(imuad_detector_obj_t, storage, uint8_t,
        extra, &imuad_type_Detector);
    self->live = 0;
    self->carry_len = 0;
    self->sha256 = mp_const_none;
    self->calib_scores = mp_const_none;
    self->ops = mp_const_none;
    uintptr_t p = ALIGN_UP((uintptr_t)self->storage);
    self->impl = (void *)p;
    p += ALIGN_UP(imuad_mp_impl_size());
    self->model = (uint8_t *)p;
    self->model_len = model->len;
    memcpy(self->model, model->buf, model->len);
    p += ALIGN_UP(model->len);
    self->arena = (uint8_t *)p;
    self->arena_size = arena_size;
    p += ALIGN_UP(arena_size);
    self->ring = (int16_t *)p;
    self->ring_len = ring_len;
    return self;
}

// Arena bytes the model needs, measured once in a scratch GC buffer (freed again) so that an
// unspecified arena_size never prints TFLM's allocation errors for too-small guesses.
static size_t measure_arena(const imuad_mp_params_t *params, const mp_buffer_info_t *model, size_t n_outputs,
    size_t ring_len) {
    char msg[MSG_LEN];
    for (size_t size = 64 * 1024; size <= AUTO_ARENA_MAX; size *= 4) {
        imuad_detector_obj_t *tmp = alloc_detector(model, size, ring_len);
        int code = imuad_mp_impl_init(tmp->impl, params, tmp->model, tmp->model_len, n_outputs, tmp->arena,
            tmp->arena_size, tmp->ring, tmp->ring_len, msg, sizeof(msg));
        size_t used = 0, least = 0;
        if (code == IMUAD_MP_OK) {
            used = imuad_mp_impl_arena_used(tmp->impl);
            least = imuad_mp_impl_arena_floor(tmp->impl);
            imuad_mp_impl_deinit(tmp->impl);
        }
        gc_free(tmp);
        if (code == IMUAD_MP_OK) {
            // arena_used_bytes() misses what TFLM's memory planner needs while it plans (its
            // scratch grows with the number of tensors) and what Prepare needs at another base
            // address: 25 % and at least 2 KB more, and never below the core's floor.
            const size_t want = ALIGN_UP(used + (used / 4 > 2048 ? used / 4 : 2048));
            return want > least ? want : ALIGN_UP(least);
        }
        if (code != IMUAD_MP_ERR_ARENA) {
            raise_status(code, msg);
        }
    }
    mp_raise_msg_varg(&mp_type_MemoryError, MP_ERROR_TEXT("imuad: model needs more than %u arena bytes"),
        (unsigned)AUTO_ARENA_MAX);
}

static mp_obj_t detector_create(mp_obj_t model_obj, imuad_mp_params_t *params, mp_obj_t out_zp_obj,
    mp_obj_t arena_obj) {
    mp_buffer_info_t model;
    mp_get_buffer_raise(model_obj, &model, MP_BUFFER_READ);
    imuad_mp_probe_t probe;
    char msg[MSG_LEN];
    int code = imuad_mp_probe((const uint8_t *)model.buf, model.len, &probe, msg, sizeof(msg));
    if (code != IMUAD_MP_OK) {
        raise_status(code, msg);
    }
    params->output_zero_point = out_zp_obj == mp_const_none ? probe.output_zero_point
        : get_i32(out_zp_obj, "output_zero_point", -128, 127);
    const size_t ring_len = (size_t)params->window * params->channels;
    size_t arena_size;
    if (arena_obj == mp_const_none) {
        arena_size = measure_arena(params, &model, probe.n_outputs, ring_len);
    } else {
        arena_size = (size_t)get_i32(arena_obj, "arena_size", 0, 16 * 1024 * 1024);
        // TFLM places its allocator objects in the arena itself and dereferences them unchecked
        // when the arena cannot hold them (crash below ~240 bytes on x86-64): refuse tiny arenas.
        if (arena_size < MIN_ARENA) {
            mp_raise_msg_varg(&mp_type_MemoryError,
                MP_ERROR_TEXT("imuad: arena_size %u bytes is below the %u TFLM needs for its own bookkeeping"),
                (unsigned)arena_size, (unsigned)MIN_ARENA);
        }
    }
    imuad_detector_obj_t *self = alloc_detector(&model, arena_size, ring_len);
    self->params = *params;
    self->n_outputs = probe.n_outputs;
    code = imuad_mp_impl_init(self->impl, params, self->model, self->model_len, probe.n_outputs, self->arena,
        self->arena_size, self->ring, self->ring_len, msg, sizeof(msg));
    if (code != IMUAD_MP_OK) {
        gc_free(self);
        raise_status(code, msg);
    }
    self->live = 1;
    mp_obj_t ops[IMUAD_MP_MAX_MODEL_OPS];
    for (size_t i = 0; i < probe.n_ops; ++i) {
        ops[i] = mp_obj_new_str(probe.ops[i], strlen(probe.ops[i]));
    }
    self->ops = mp_obj_new_tuple(probe.n_ops, ops);
    self->sha256 = sha256_of(model_obj);
    return MP_OBJ_FROM_PTR(self);
}

static void parse_preprocess(mp_obj_t pre, imuad_mp_params_t *p) {
    size_t n;
    mp_obj_t *items;
    get_items(pre, "preprocess", &n, &items);
    if (n != 4 && n != 5) {
        mp_raise_ValueError(MP_ERROR_TEXT("preprocess must be (offsets, multipliers, shift, input_zero_point[, kind])"));
    }
    p->preprocess_kind = 0;
    if (n == 5) {
        const char *kind = mp_obj_is_str(items[4]) ? mp_obj_str_get_str(items[4]) : "";
        if (strcmp(kind, "window_int") == 0) {
            p->preprocess_kind = 1;
        } else if (strcmp(kind, "affine_int") != 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("preprocess kind must be 'affine_int' or 'window_int'"));
        }
    }
    size_t no, nm;
    mp_obj_t *off, *mul;
    get_items(items[0], "preprocess offsets", &no, &off);
    get_items(items[1], "preprocess multipliers", &nm, &mul);
    if (no != p->channels || nm != p->channels) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("preprocess needs %d offsets and multipliers (one per channel), got %d and %d"),
            (int)p->channels, (int)no, (int)nm);
    }
    for (size_t c = 0; c < no; ++c) {
        p->offset[c] = get_i32(off[c], "preprocess offset", INT32_MIN, INT32_MAX);
        p->multiplier[c] = get_i32(mul[c], "preprocess multiplier", 1, INT32_MAX);
    }
    p->shift = get_i32(items[2], "preprocess shift", 1, 40);
    p->input_zero_point = get_i32(items[3], "preprocess input_zero_point", -128, 127);
}

static void parse_score(mp_obj_t score, imuad_mp_params_t *p) {
    p->score_kind = 1;
    if (score == mp_const_none) {
        return;
    }
    size_t n;
    mp_obj_t *items;
    get_items(score, "score", &n, &items);
    const char *kind = n > 0 && mp_obj_is_str(items[0]) ? mp_obj_str_get_str(items[0]) : "";
    if (strcmp(kind, "class_prob") == 0 && n == 2) {
        p->output_index = get_i32(items[1], "score output_index", 0, 65535);
    } else if (strcmp(kind, "recon_error") == 0 && n == 4) {
        p->score_kind = 2;
        p->in_mult = get_i32(items[1], "score in_mult", INT32_MIN, INT32_MAX);
        p->out_mult = get_i32(items[2], "score out_mult", INT32_MIN, INT32_MAX);
        p->score_shift = get_i32(items[3], "score shift", 0, 62);
    } else {
        mp_raise_ValueError(MP_ERROR_TEXT(
            "score must be ('class_prob', output_index) or ('recon_error', in_mult, out_mult, shift)"));
    }
}

static void parse_decision(mp_obj_t on, mp_obj_t off, mp_obj_t k, mp_obj_t n, imuad_mp_params_t *p) {
    p->threshold_on = get_i32(on, "threshold_on", INT32_MIN, INT32_MAX);
    p->threshold_off = get_i32(off, "threshold_off", INT32_MIN, INT32_MAX);
    p->k = get_i32(k, "k", 1, 32);
    p->n = get_i32(n, "n", 1, 32);
    if (p->k > p->n) {
        mp_raise_ValueError(MP_ERROR_TEXT("decision needs k <= n"));
    }
    if (p->threshold_off > p->threshold_on) {
        mp_raise_ValueError(MP_ERROR_TEXT("decision needs threshold_off <= threshold_on"));
    }
}

enum { ARG_model, ARG_window, ARG_hop, ARG_channels, ARG_threshold_on, ARG_threshold_off, ARG_k, ARG_n,
       ARG_preprocess, ARG_score, ARG_output_zero_point, ARG_arena_size };

static mp_obj_t detector_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    (void)type;
    static const mp_arg_t allowed[] = {
        { MP_QSTR_model, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_window, MP_ARG_REQUIRED | MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_hop, MP_ARG_REQUIRED | MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_channels, MP_ARG_REQUIRED | MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_threshold_on, MP_ARG_REQUIRED | MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_threshold_off, MP_ARG_REQUIRED | MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_k, MP_ARG_REQUIRED | MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_n, MP_ARG_REQUIRED | MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_preprocess, MP_ARG_REQUIRED | MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_score, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_output_zero_point, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_arena_size, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, args, MP_ARRAY_SIZE(allowed), allowed, a);
    imuad_mp_params_t p;
    memset(&p, 0, sizeof(p));
    p.window = (uint16_t)get_i32(a[ARG_window].u_obj, "window", 1, 65535);
    p.hop = (uint16_t)get_i32(a[ARG_hop].u_obj, "hop", 1, 65535);
    p.channels = (uint8_t)get_i32(a[ARG_channels].u_obj, "channels", 1, IMUAD_MP_MAX_CHANNELS);
    parse_decision(a[ARG_threshold_on].u_obj, a[ARG_threshold_off].u_obj, a[ARG_k].u_obj, a[ARG_n].u_obj, &p);
    parse_preprocess(a[ARG_preprocess].u_obj, &p);
    parse_score(a[ARG_score].u_obj, &p);
    return detector_create(a[ARG_model].u_obj, &p, a[ARG_output_zero_point].u_obj, a[ARG_arena_size].u_obj);
}

// card[key] with a clear error naming the missing field.
static mp_obj_t card_get(mp_obj_t d, const char *path, qstr key) {
    if (!mp_obj_is_type(d, &mp_type_dict)) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("model card: %s is not an object"), path);
    }
    mp_map_elem_t *e = mp_map_lookup(mp_obj_dict_get_map(d), MP_OBJ_NEW_QSTR(key), MP_MAP_LOOKUP);
    if (e == NULL) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("model card: missing field %s.%q"), path, key);
    }
    return e->value;
}

// Detector.from_card(model_bytes, card, arena_size=None): constants of C3-C5 from the model card
// (docs/contracts.md C6); refuses a model whose SHA-256 differs from the card's tflite_sha256.
static mp_obj_t detector_from_card(size_t n_args, const mp_obj_t *args) {
    mp_obj_t model = args[1], card = args[2];
    imuad_mp_params_t p;
    memset(&p, 0, sizeof(p));
    p.window = (uint16_t)get_i32(card_get(card, "card", MP_QSTR_window), "card window", 1, 65535);
    p.hop = (uint16_t)get_i32(card_get(card, "card", MP_QSTR_hop), "card hop", 1, 65535);
    mp_obj_t ch = card_get(card, "card", MP_QSTR_channels);
    if (mp_obj_is_int(ch)) {
        p.channels = (uint8_t)get_i32(ch, "card channels", 1, IMUAD_MP_MAX_CHANNELS);
    } else {
        size_t nch;
        mp_obj_t *items;
        get_items(ch, "card channels", &nch, &items);
        if (nch < 1 || nch > IMUAD_MP_MAX_CHANNELS) {
            mp_raise_ValueError(MP_ERROR_TEXT("model card: channels must list 1..8 axes"));
        }
        p.channels = (uint8_t)nch;
    }
    mp_obj_t dec = card_get(card, "card", MP_QSTR_decision);
    parse_decision(card_get(dec, "decision", MP_QSTR_threshold_on), card_get(dec, "decision", MP_QSTR_threshold_off),
        card_get(dec, "decision", MP_QSTR_k), card_get(dec, "decision", MP_QSTR_n), &p);
    mp_obj_t pre = card_get(card, "card", MP_QSTR_preprocessing);
    mp_obj_t pre_kind = card_get(pre, "preprocessing", MP_QSTR_kind);
    const bool window_int = mp_obj_is_str(pre_kind) && strcmp(mp_obj_str_get_str(pre_kind), "window_int") == 0;
    mp_obj_t pre_t[5] = {card_get(pre, "preprocessing", window_int ? MP_QSTR_min_rms : MP_QSTR_offset),
                         card_get(pre, "preprocessing", MP_QSTR_multiplier),
                         card_get(pre, "preprocessing", MP_QSTR_shift),
                         card_get(pre, "preprocessing", MP_QSTR_input_zero_point),
                         window_int ? pre_kind : MP_OBJ_NEW_QSTR(MP_QSTR_affine_int)};
    parse_preprocess(mp_obj_new_tuple(5, pre_t), &p);
    mp_obj_t sc = card_get(card, "card", MP_QSTR_score);
    mp_obj_t kind = card_get(sc, "score", MP_QSTR_kind);
    mp_obj_t score_t[4];
    size_t ns;
    score_t[0] = kind;
    if (mp_obj_is_str(kind) && strcmp(mp_obj_str_get_str(kind), "recon_error") == 0) {
        score_t[1] = card_get(sc, "score", MP_QSTR_in_mult);
        score_t[2] = card_get(sc, "score", MP_QSTR_out_mult);
        score_t[3] = card_get(sc, "score", MP_QSTR_shift);
        ns = 4;
    } else {
        score_t[1] = card_get(sc, "score", MP_QSTR_output_index);
        ns = 2;
    }
    parse_score(mp_obj_new_tuple(ns, score_t), &p);
    mp_obj_t out_zp = card_get(card_get(card, "card", MP_QSTR_output), "output", MP_QSTR_zero_point);
    mp_obj_t in_zp = card_get(card_get(card, "card", MP_QSTR_input), "input", MP_QSTR_zero_point);
    if (get_i32(in_zp, "input zero_point", -128, 127) != p.input_zero_point) {
        mp_raise_ValueError(MP_ERROR_TEXT("model card: input.zero_point differs from preprocessing.input_zero_point"));
    }
    mp_obj_t arena = n_args > 3 ? args[3] : mp_const_none;
    if (arena == mp_const_none) {
        arena = card_get(card_get(card, "card", MP_QSTR_sizes), "sizes", MP_QSTR_arena_bytes);
    }
    mp_obj_t self = detector_create(model, &p, out_zp, arena);
    // The card describes one exact .tflite: refuse another one.
    mp_map_elem_t *e = mp_map_lookup(mp_obj_dict_get_map(card), MP_OBJ_NEW_QSTR(MP_QSTR_tflite_sha256),
        MP_MAP_LOOKUP);
    imuad_detector_obj_t *d = MP_OBJ_TO_PTR(self);
    if (e != NULL && mp_obj_is_str(e->value) && d->sha256 != mp_const_none) {
        static const char hex[] = "0123456789abcdef";
        mp_buffer_info_t dig;
        mp_get_buffer_raise(d->sha256, &dig, MP_BUFFER_READ);
        size_t len;
        const char *want = mp_obj_str_get_data(e->value, &len);
        char have[64];
        for (size_t i = 0; i < 32; ++i) {
            have[2 * i] = hex[((const uint8_t *)dig.buf)[i] >> 4];
            have[2 * i + 1] = hex[((const uint8_t *)dig.buf)[i] & 15];
        }
        if (len != 64 || memcmp(have, want, 64) != 0) {
            imuad_mp_impl_deinit(d->impl);
            d->live = 0;
            mp_raise_ValueError(MP_ERROR_TEXT("model card: tflite_sha256 does not match the model bytes"));
        }
    }
    return self;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(detector_from_card_fun_obj, 3, 4, detector_from_card);
static MP_DEFINE_CONST_CLASSMETHOD_OBJ(detector_from_card_obj, MP_ROM_PTR(&detector_from_card_fun_obj));

// ------------------------------------------------------------------ methods
static imuad_detector_obj_t *live_self(mp_obj_t self_in) {
    imuad_detector_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (!self->live) {
        mp_raise_ValueError(MP_ERROR_TEXT("imuad: Detector is closed"));
    }
    return self;
}

// feed(samples) -> (results, events). samples: array('h') or any bytes-like object of
// interleaved int16 little-endian samples, any length: an incomplete trailing sample (even an odd
// byte) is kept and completed by the next call; reset() drops it.
static mp_obj_t detector_feed(mp_obj_t self_in, mp_obj_t samples) {
    imuad_detector_obj_t *self = live_self(self_in);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(samples, &buf, MP_BUFFER_READ);
    if (buf.typecode != 'h' && buf.typecode != 'B' && buf.typecode != 'b') {
        mp_raise_msg_varg(&mp_type_TypeError,
            MP_ERROR_TEXT("feed() needs array('h') or bytes-like int16 samples, got typecode '%c'"), buf.typecode);
    }
    const uint8_t *src = buf.buf;
    size_t len = buf.len;
    const size_t sample_bytes = 2u * self->params.channels;
    mp_obj_t results = mp_obj_new_list(0, NULL);
    mp_obj_t events = mp_obj_new_list(0, NULL);
    int16_t sample[IMUAD_MP_MAX_CHANNELS];
    imuad_mp_result_t r;
    while (len > 0) {
        if (self->carry_len > 0 || len < sample_bytes) {
            size_t take = sample_bytes - self->carry_len;
            if (take > len) {
                take = len;
            }
            memcpy(self->carry + self->carry_len, src, take);
            self->carry_len += (uint8_t)take;
            src += take;
            len -= take;
            if (self->carry_len < sample_bytes) {
                break;
            }
            memcpy(sample, self->carry, sample_bytes);
            self->carry_len = 0;
        } else {
            memcpy(sample, src, sample_bytes);  // alignment-safe; little-endian targets only
            src += sample_bytes;
            len -= sample_bytes;
        }
        const int rc = imuad_mp_impl_push(self->impl, sample, &r);
        if (rc == 0) {
            continue;
        }
        if (rc < 0) {
            mp_raise_msg_varg(&mp_type_RuntimeError, MP_ERROR_TEXT("imuad: inference failed at window %u"),
                (unsigned)r.window);
        }
        mp_obj_t t[4] = {
            mp_obj_new_int_from_uint(r.window),
            mp_obj_new_int(r.score),
            MP_OBJ_NEW_SMALL_INT(r.state),
            mp_obj_new_bytes((const byte *)r.out, r.n_out),
        };
        mp_obj_list_append(results, mp_obj_new_tuple(4, t));
        if (r.event != 0) {
            mp_obj_t e[3] = {t[0], MP_OBJ_NEW_SMALL_INT(r.event), t[1]};
            mp_obj_list_append(events, mp_obj_new_tuple(3, e));
        }
        if (r.aux != 0) {  // C5b: drift (4), drift cleared (5), calibrated (6)
            mp_obj_t e[3] = {t[0], MP_OBJ_NEW_SMALL_INT(r.aux), mp_obj_new_int(r.aux_score)};
            mp_obj_list_append(events, mp_obj_new_tuple(3, e));
            if (r.aux == 6) {
                imuad_mp_calib_result_t c;
                if (imuad_mp_impl_calibration(self->impl, &c)) {  // the decision now in force
                    self->params.threshold_on = c.threshold_on;
                    self->params.threshold_off = c.threshold_off;
                    self->params.k = c.k;
                    self->params.n = c.n;
                }
                self->calib_scores = mp_const_none;
            }
        }
    }
    mp_obj_t ret[2] = {results, events};
    return mp_obj_new_tuple(2, ret);
}
static MP_DEFINE_CONST_FUN_OBJ_2(detector_feed_obj, detector_feed);

static mp_obj_t detector_reset(mp_obj_t self_in) {
    imuad_detector_obj_t *self = live_self(self_in);
    imuad_mp_impl_reset(self->impl);
    self->carry_len = 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(detector_reset_obj, detector_reset);

// configure(threshold_on, threshold_off, k, n): new decision constants (C5), decision restarts.
static mp_obj_t detector_configure(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    imuad_detector_obj_t *self = live_self(args[0]);
    imuad_mp_params_t p = self->params;
    parse_decision(args[1], args[2], args[3], args[4], &p);
    self->params = p;
    imuad_mp_impl_configure(self->impl, p.threshold_on, p.threshold_off, p.k, p.n);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(detector_configure_obj, 5, 5, detector_configure);

// calibrate(windows, allowed=0, margin_permille=100, k=0, n=0, drift_block=0, refit=0): the
// decision is fitted on the next `windows` windows fed (C5b, the rule `imuad calibrate` uses;
// refit=1: the shape statistics on those first, the decision on as many again), then drift is
// watched; feed() reports event kinds 6 (calibrated), 4 and 5 (drift, cleared).
static mp_obj_t detector_calibrate(size_t n_args, const mp_obj_t *args) {
    imuad_detector_obj_t *self = live_self(args[0]);
    static const int32_t defaults[7] = {0, 0, 100, 0, 0, 0, 0};
    static const int32_t highs[7] = {65535, 65535, 65535, 255, 255, 65535, 255};  // the core checks the contract
    static const char *const names[7] = {"windows", "allowed", "margin_permille", "k", "n", "drift_block", "refit"};
    int32_t v[7];
    for (size_t i = 0; i < 7; ++i) {
        v[i] = i + 1 < n_args ? get_i32(args[i + 1], names[i], 0, highs[i]) : defaults[i];
    }
    const imuad_mp_calib_request_t req = {(uint16_t)v[0], (uint16_t)v[1], (uint16_t)v[2], (uint8_t)v[3], (uint8_t)v[4],
                                          (uint16_t)v[5], (uint8_t)v[6]};
    // the core keeps one int32 score per window here until the calibration completes
    int32_t *buf = m_new(int32_t, req.windows > 0 ? req.windows : 1);
    mp_obj_t scores = mp_obj_new_bytearray_by_ref(sizeof(int32_t) * (req.windows > 0 ? req.windows : 1), buf);
    const char *why = imuad_mp_impl_calibrate(self->impl, &req, buf);
    if (why != NULL) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s"), why);
    }
    self->calib_scores = scores;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(detector_calibrate_obj, 2, 8, detector_calibrate);

// calibration() -> dict of the last completed calibration (C7 CALIBRATION fields), or None.
static mp_obj_t detector_calibration(mp_obj_t self_in) {
    imuad_detector_obj_t *self = live_self(self_in);
    imuad_mp_calib_result_t c;
    if (!imuad_mp_impl_calibration(self->impl, &c)) {
        return mp_const_none;
    }
    mp_obj_t d = mp_obj_new_dict(9);
    #define PUT(k, v) mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_##k), (v))
    PUT(threshold_on, mp_obj_new_int(c.threshold_on));
    PUT(threshold_off, mp_obj_new_int(c.threshold_off));
    PUT(k, MP_OBJ_NEW_SMALL_INT(c.k));
    PUT(n, MP_OBJ_NEW_SMALL_INT(c.n));
    PUT(windows, MP_OBJ_NEW_SMALL_INT(c.windows));
    PUT(median, mp_obj_new_int(c.median));
    PUT(lowest_on, mp_obj_new_int(c.lowest_on));
    PUT(onsets_before, MP_OBJ_NEW_SMALL_INT(c.onsets_before));
    PUT(drift_block, MP_OBJ_NEW_SMALL_INT(c.drift_block));
    #undef PUT
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(detector_calibration_obj, detector_calibration);

static mp_obj_t detector_info(mp_obj_t self_in) {
    imuad_detector_obj_t *self = live_self(self_in);
    mp_obj_t d = mp_obj_new_dict(12);
    #define PUT(k, v) mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_##k), (v))
    PUT(sha256, self->sha256);
    PUT(arena_used, mp_obj_new_int_from_uint(imuad_mp_impl_arena_used(self->impl)));
    PUT(arena_size, mp_obj_new_int_from_uint(self->arena_size));
    PUT(ops, self->ops);
    PUT(window, MP_OBJ_NEW_SMALL_INT(self->params.window));
    PUT(hop, MP_OBJ_NEW_SMALL_INT(self->params.hop));
    PUT(channels, MP_OBJ_NEW_SMALL_INT(self->params.channels));
    PUT(n_outputs, mp_obj_new_int_from_uint(self->n_outputs));
    PUT(tflite_bytes, mp_obj_new_int_from_uint(self->model_len));
    PUT(pending_bytes, MP_OBJ_NEW_SMALL_INT(self->carry_len));
    mp_obj_t dec[4] = {mp_obj_new_int(self->params.threshold_on), mp_obj_new_int(self->params.threshold_off),
                       MP_OBJ_NEW_SMALL_INT(self->params.k), MP_OBJ_NEW_SMALL_INT(self->params.n)};
    PUT(decision, mp_obj_new_tuple(4, dec));
    #undef PUT
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(detector_info_obj, detector_info);

// close() / finaliser: destroys the C++ state; the memory goes back with the GC block.
static mp_obj_t detector_close(mp_obj_t self_in) {
    imuad_detector_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->live) {
        self->live = 0;
        imuad_mp_impl_deinit(self->impl);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(detector_close_obj, detector_close);

static const mp_rom_map_elem_t detector_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_feed), MP_ROM_PTR(&detector_feed_obj) },
    { MP_ROM_QSTR(MP_QSTR_reset), MP_ROM_PTR(&detector_reset_obj) },
    { MP_ROM_QSTR(MP_QSTR_info), MP_ROM_PTR(&detector_info_obj) },
    { MP_ROM_QSTR(MP_QSTR_configure), MP_ROM_PTR(&detector_configure_obj) },
    { MP_ROM_QSTR(MP_QSTR_calibrate), MP_ROM_PTR(&detector_calibrate_obj) },
    { MP_ROM_QSTR(MP_QSTR_calibration), MP_ROM_PTR(&detector_calibration_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&detector_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&detector_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_from_card), MP_ROM_PTR(&detector_from_card_obj) },
};
static MP_DEFINE_CONST_DICT(detector_locals, detector_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    imuad_type_Detector,
    MP_QSTR_Detector,
    MP_TYPE_FLAG_NONE,
    make_new, detector_make_new,
    locals_dict, &detector_locals
    );

// ------------------------------------------------------------------ imuad.serve
// serve(models, stream_in, stream_out[, slot_bytes[, arena_bytes[, ring_values]]]): the
// firmware's C7 replay loop (imuad_core's ReplayApp, the same as on every other target;
// DEVICE_INFO.target "mpy") over [(name, Detector), ...], the first being the HELLO default.
// Reads stream_in until EOF (each read returns what is there), writes every answer frame to
// stream_out. The ReplayApp's own arena and ring come from the GC heap, sized for the largest
// model; slot_bytes > 0 adds a model slot of that size for a model loaded at run time (C7
// MODEL_BEGIN..MODEL_END), with at least arena_bytes of arena and ring_values of ring for it.
static void serve_write(void *ctx, const uint8_t *data, size_t len) {
    vstr_add_strn((vstr_t *)ctx, (const char *)data, len);
}

static uint32_t serve_micros(void) {
    return (uint32_t)mp_hal_ticks_us();
}

static mp_obj_t imuad_serve(size_t n_args, const mp_obj_t *args) {
    mp_obj_t models_in = args[0], in = args[1], out = args[2];
    const size_t slot_bytes = n_args > 3 ? (size_t)get_i32(args[3], "slot_bytes", 0, 64 << 20) : 0;
    const size_t runtime_arena = n_args > 4 ? (size_t)get_i32(args[4], "arena_bytes", 0, 64 << 20) : 0;
    const size_t runtime_ring = n_args > 5 ? (size_t)get_i32(args[5], "ring_values", 0, 1 << 24) : 0;
    size_t n;
    mp_obj_t *models;
    get_items(models_in, "models", &n, &models);
    if (n < 1 || n > IMUAD_MP_MAX_SERVED) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("serve needs 1..%d models"), IMUAD_MP_MAX_SERVED);
    }
    void *impls[IMUAD_MP_MAX_SERVED];
    const char *names[IMUAD_MP_MAX_SERVED];
    const uint8_t *shas[IMUAD_MP_MAX_SERVED];
    size_t arena_size = MIN_ARENA, ring_len = 1;
    for (size_t i = 0; i < n; ++i) {
        size_t two;
        mp_obj_t *pair;
        get_items(models[i], "serve model", &two, &pair);
        if (two != 2 || !mp_obj_is_str(pair[0]) || !mp_obj_is_type(pair[1], &imuad_type_Detector)) {
            mp_raise_TypeError(MP_ERROR_TEXT("serve models must be (name, Detector) pairs"));
        }
        imuad_detector_obj_t *d = live_self(pair[1]);
        if (d->sha256 == mp_const_none) {
            mp_raise_ValueError(MP_ERROR_TEXT("serve needs hashlib.sha256 (DEVICE_INFO model_sha256)"));
        }
        mp_buffer_info_t sha;
        mp_get_buffer_raise(d->sha256, &sha, MP_BUFFER_READ);
        impls[i] = d->impl;
        names[i] = mp_obj_str_get_str(pair[0]);
        shas[i] = (const uint8_t *)sha.buf;
        arena_size = d->arena_size > arena_size ? d->arena_size : arena_size;
        ring_len = d->ring_len > ring_len ? d->ring_len : ring_len;
    }
    if (slot_bytes > 0) {
        arena_size = runtime_arena > arena_size ? runtime_arena : arena_size;
        ring_len = runtime_ring > ring_len ? runtime_ring : ring_len;
    }
    const mp_stream_p_t *rx = mp_get_stream_raise(in, MP_STREAM_OP_READ);
    uint8_t *mem = m_new(uint8_t, IMUAD_MP_ALIGN + ALIGN_UP(imuad_mp_server_size()) + ALIGN_UP(slot_bytes) +
        ALIGN_UP(arena_size) + ring_len * sizeof(int16_t));
    uintptr_t p = ALIGN_UP((uintptr_t)mem);
    void *server = (void *)p;
    p += ALIGN_UP(imuad_mp_server_size());
    uint8_t *slot = slot_bytes > 0 ? (uint8_t *)p : NULL;
    p += ALIGN_UP(slot_bytes);
    uint8_t *arena = (uint8_t *)p;
    int16_t *ring = (int16_t *)(p + ALIGN_UP(arena_size));
    vstr_t tx;
    vstr_init(&tx, 512);
    imuad_mp_server_init(server, impls, names, shas, n, arena, arena_size, ring, ring_len, slot, slot_bytes,
        serve_write, &tx, serve_micros);
    uint8_t buf[512];
    for (;;) {
        int err;
        mp_uint_t got = rx->read(in, buf, sizeof(buf), &err);
        if (got == MP_STREAM_ERROR) {
            if (err == MP_EINTR) {
                mp_handle_pending(true);
                continue;
            }
            imuad_mp_server_deinit(server);
            mp_raise_OSError(err);
        }
        if (got == 0) {
            break;  // EOF: the host closed the line
        }
        imuad_mp_server_feed(server, buf, got);
        if (tx.len > 0) {
            mp_stream_write(out, tx.buf, tx.len, MP_STREAM_RW_WRITE);
            tx.len = 0;
        }
    }
    imuad_mp_server_deinit(server);
    vstr_clear(&tx);
    m_del(uint8_t, mem, 0);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(imuad_serve_obj, 3, 6, imuad_serve);

static const mp_rom_map_elem_t imuad_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_imuad) },
    { MP_ROM_QSTR(MP_QSTR_Detector), MP_ROM_PTR(&imuad_type_Detector) },
    { MP_ROM_QSTR(MP_QSTR_serve), MP_ROM_PTR(&imuad_serve_obj) },
    { MP_ROM_QSTR(MP_QSTR_NORMAL), MP_ROM_INT(0) },
    { MP_ROM_QSTR(MP_QSTR_ANOMALY), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_ONSET), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_CLEAR), MP_ROM_INT(2) },
};
static MP_DEFINE_CONST_DICT(imuad_module_globals, imuad_module_globals_table);

const mp_obj_module_t imuad_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&imuad_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_imuad, imuad_user_cmodule);
