/*
 * Security-manager crypto of upstream NimBLE (the ble_sm_alg_* functions
 * declared in nimble/host/src/ble_sm_priv.h) on top of TinyCrypt, for the
 * host build. Upstream implements them with Mbed TLS only, which is not
 * available here; esp-nimble ships TinyCrypt (ext/tinycrypt), as ESP-IDF
 * builds do. Algorithms: Bluetooth Core Spec Vol 3 Part H 2.2.
 *
 * NimBLE passes most values little-endian; the AES/CMAC primitives work
 * big-endian, hence the byte swaps.
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "syscfg/syscfg.h"
#include "host/ble_hs.h"
#include "os/endian.h"

#include "tinycrypt/aes.h"
#include "tinycrypt/cmac_mode.h"
#include "tinycrypt/constants.h"
#include "tinycrypt/ecc.h"
#include "tinycrypt/ecc_dh.h"
#include "tinycrypt/utils.h"

/* The host sources declare these in a private header; repeat the prototypes. */
int ble_sm_alg_s1(const uint8_t *k, const uint8_t *r1, const uint8_t *r2, uint8_t *out);
int ble_sm_alg_c1(const uint8_t *k, const uint8_t *r, const uint8_t *preq, const uint8_t *pres,
                  uint8_t iat, uint8_t rat, const uint8_t *ia, const uint8_t *ra,
                  uint8_t *out_enc_data);
int ble_sm_alg_f4(const uint8_t *u, const uint8_t *v, const uint8_t *x, uint8_t z,
                  uint8_t *out_enc_data);
int ble_sm_alg_g2(const uint8_t *u, const uint8_t *v, const uint8_t *x, const uint8_t *y,
                  uint32_t *passkey);
int ble_sm_alg_f5(const uint8_t *w, const uint8_t *n1, const uint8_t *n2, uint8_t a1t,
                  const uint8_t *a1, uint8_t a2t, const uint8_t *a2, uint8_t *mackey,
                  uint8_t *ltk);
int ble_sm_alg_f6(const uint8_t *w, const uint8_t *n1, const uint8_t *n2, const uint8_t *r,
                  const uint8_t *iocap, uint8_t a1t, const uint8_t *a1, uint8_t a2t,
                  const uint8_t *a2, uint8_t *check);
int ble_sm_alg_gen_dhkey(const uint8_t *peer_pub_key_x, const uint8_t *peer_pub_key_y,
                         const uint8_t *our_priv_key, uint8_t *out_dhkey);
int ble_sm_alg_gen_key_pair(uint8_t *pub, uint8_t *priv);
void ble_sm_alg_ecc_init(void);

static int aes_ecb(const uint8_t *key_le, const uint8_t *in_le, uint8_t *out_le)
{
    struct tc_aes_key_sched_struct s;
    uint8_t tmp[16];

    swap_buf(tmp, key_le, 16);
    if (tc_aes128_set_encrypt_key(&s, tmp) == TC_CRYPTO_FAIL) {
        return BLE_HS_EUNKNOWN;
    }
    swap_buf(tmp, in_le, 16);
    if (tc_aes_encrypt(out_le, tmp, &s) == TC_CRYPTO_FAIL) {
        return BLE_HS_EUNKNOWN;
    }
    swap_in_place(out_le, 16);
    return 0;
}

static int aes_cmac(const uint8_t *key, const uint8_t *in, size_t len, uint8_t *out)
{
    struct tc_aes_key_sched_struct sched;
    struct tc_cmac_struct state;

    if (tc_cmac_setup(&state, key, &sched) == TC_CRYPTO_FAIL ||
        tc_cmac_update(&state, in, len) == TC_CRYPTO_FAIL ||
        tc_cmac_final(out, &state) == TC_CRYPTO_FAIL) {
        return BLE_HS_EUNKNOWN;
    }
    return 0;
}

int ble_sm_alg_s1(const uint8_t *k, const uint8_t *r1, const uint8_t *r2, uint8_t *out)
{
    /* r' = r1' || r2' (least significant 64 bits of each) */
    memcpy(out, r2, 8);
    memcpy(out + 8, r1, 8);
    return aes_ecb(k, out, out);
}

int ble_sm_alg_c1(const uint8_t *k, const uint8_t *r, const uint8_t *preq, const uint8_t *pres,
                  uint8_t iat, uint8_t rat, const uint8_t *ia, const uint8_t *ra,
                  uint8_t *out_enc_data)
{
    uint8_t p1[16], p2[16];
    int i;

    p1[0] = iat;
    p1[1] = rat;
    memcpy(p1 + 2, preq, 7);
    memcpy(p1 + 9, pres, 7);
    for (i = 0; i < 16; i++) {
        out_enc_data[i] = r[i] ^ p1[i];
    }
    if (aes_ecb(k, out_enc_data, out_enc_data) != 0) {
        return BLE_HS_EUNKNOWN;
    }
    memcpy(p2, ra, 6);
    memcpy(p2 + 6, ia, 6);
    memset(p2 + 12, 0, 4);
    for (i = 0; i < 16; i++) {
        out_enc_data[i] ^= p2[i];
    }
    return aes_ecb(k, out_enc_data, out_enc_data);
}

int ble_sm_alg_f4(const uint8_t *u, const uint8_t *v, const uint8_t *x, uint8_t z,
                  uint8_t *out_enc_data)
{
    uint8_t xs[16];
    uint8_t m[65];

    swap_buf(m, u, 32);
    swap_buf(m + 32, v, 32);
    m[64] = z;
    swap_buf(xs, x, 16);
    if (aes_cmac(xs, m, sizeof(m), out_enc_data) != 0) {
        return BLE_HS_EUNKNOWN;
    }
    swap_in_place(out_enc_data, 16);
    return 0;
}

/* Two nonces, then the two addresses (type byte + 6 bytes each), as f5 and f6 lay them out. */
static void put_nonces_addrs(uint8_t *m, const uint8_t *n1, const uint8_t *n2, size_t addr_off, uint8_t a1t,
                             const uint8_t *a1, uint8_t a2t, const uint8_t *a2)
{
    swap_buf(m, n1, 16);
    swap_buf(m + 16, n2, 16);
    m[addr_off] = a1t;
    swap_buf(m + addr_off + 1, a1, 6);
    m[addr_off + 7] = a2t;
    swap_buf(m + addr_off + 8, a2, 6);
}

int ble_sm_alg_f5(const uint8_t *w, const uint8_t *n1, const uint8_t *n2, uint8_t a1t,
                  const uint8_t *a1, uint8_t a2t, const uint8_t *a2, uint8_t *mackey,
                  uint8_t *ltk)
{
    static const uint8_t salt[16] = {0x6c, 0x88, 0x83, 0x91, 0xaa, 0xf5, 0xa5, 0x38,
                                     0x60, 0x37, 0x0b, 0xdb, 0x5a, 0x60, 0x83, 0xbe};
    uint8_t m[53] = {0};
    uint8_t ws[32];
    uint8_t t[16];

    m[1] = 0x62; /* keyID "btle" */
    m[2] = 0x74;
    m[3] = 0x6c;
    m[4] = 0x65;
    m[51] = 0x01; /* length 256 */
    swap_buf(ws, w, 32);
    if (aes_cmac(salt, ws, 32, t) != 0) {
        return BLE_HS_EUNKNOWN;
    }
    put_nonces_addrs(m + 5, n1, n2, 32, a1t, a1, a2t, a2);
    m[0] = 0x00; /* counter 0: MacKey */
    if (aes_cmac(t, m, sizeof(m), mackey) != 0) {
        return BLE_HS_EUNKNOWN;
    }
    swap_in_place(mackey, 16);
    m[0] = 0x01; /* counter 1: LTK */
    if (aes_cmac(t, m, sizeof(m), ltk) != 0) {
        return BLE_HS_EUNKNOWN;
    }
    swap_in_place(ltk, 16);
    return 0;
}

int ble_sm_alg_f6(const uint8_t *w, const uint8_t *n1, const uint8_t *n2, const uint8_t *r,
                  const uint8_t *iocap, uint8_t a1t, const uint8_t *a1, uint8_t a2t,
                  const uint8_t *a2, uint8_t *check)
{
    uint8_t ws[16];
    uint8_t m[65];

    put_nonces_addrs(m, n1, n2, 51, a1t, a1, a2t, a2);
    swap_buf(m + 32, r, 16);
    swap_buf(m + 48, iocap, 3);
    swap_buf(ws, w, 16);
    if (aes_cmac(ws, m, sizeof(m), check) != 0) {
        return BLE_HS_EUNKNOWN;
    }
    swap_in_place(check, 16);
    return 0;
}

int ble_sm_alg_g2(const uint8_t *u, const uint8_t *v, const uint8_t *x, const uint8_t *y,
                  uint32_t *passkey)
{
    uint8_t m[80], xs[16];

    swap_buf(m, u, 32);
    swap_buf(m + 32, v, 32);
    swap_buf(m + 64, y, 16);
    swap_buf(xs, x, 16);
    if (aes_cmac(xs, m, sizeof(m), xs) != 0) {
        return BLE_HS_EUNKNOWN;
    }
    *passkey = get_be32(xs + 12) % 1000000;
    return 0;
}

int ble_sm_alg_gen_dhkey(const uint8_t *peer_pub_key_x, const uint8_t *peer_pub_key_y,
                         const uint8_t *our_priv_key, uint8_t *out_dhkey)
{
    uint8_t dh[32];
    uint8_t pk[64];
    uint8_t priv[32];

    swap_buf(pk, peer_pub_key_x, 32);
    swap_buf(&pk[32], peer_pub_key_y, 32);
    swap_buf(priv, our_priv_key, 32);
    if (uECC_valid_public_key(pk, &curve_secp256r1) < 0) {
        return BLE_HS_EUNKNOWN;
    }
    if (uECC_shared_secret(pk, priv, dh, &curve_secp256r1) == TC_CRYPTO_FAIL) {
        return BLE_HS_EUNKNOWN;
    }
    swap_buf(out_dhkey, dh, 32);
    return 0;
}

/* The SC debug private key (Core Spec Vol 3 Part H 2.3.5.6.1) must never be used. */
static const uint8_t dbg_priv_key[32] = {
    0x3f, 0x49, 0xf6, 0xd4, 0xa3, 0xc5, 0x5f, 0x38, 0x74, 0xc9, 0xb3, 0xe3, 0xd2, 0x10, 0x3f, 0x50,
    0x4a, 0xff, 0x60, 0x7b, 0xeb, 0x40, 0xb7, 0x99, 0x58, 0x99, 0xb8, 0xa6, 0xcd, 0x3c, 0x1a, 0xbd};

int ble_sm_alg_gen_key_pair(uint8_t *pub, uint8_t *priv)
{
    uint8_t pk[64];

    do {
        if (uECC_make_key(pk, priv, &curve_secp256r1) != TC_CRYPTO_SUCCESS) {
            return BLE_HS_EUNKNOWN;
        }
    } while (memcmp(priv, dbg_priv_key, 32) == 0);
    swap_buf(pub, pk, 32);
    swap_buf(&pub[32], &pk[32], 32);
    swap_in_place(priv, 32);
    return 0;
}

/* uECC's RNG: the OS entropy pool (returns 1 on success, as uECC expects). */
static int os_rand(uint8_t *dst, unsigned int size)
{
    while (size > 0) {
        ssize_t n = getrandom(dst, size, 0);
        if (n <= 0) {
            return 0;
        }
        dst += n;
        size -= (unsigned int)n;
    }
    return 1;
}

void ble_sm_alg_ecc_init(void)
{
    uECC_set_rng(os_rand);
}
