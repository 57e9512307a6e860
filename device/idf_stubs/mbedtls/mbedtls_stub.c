/* imuad: stub implementations for the mbedtls / PSA Crypto symbols that ESP-IDF components in
 * the imuad firmware reference but never call in its configuration (see CMakeLists.txt). Each
 * logs once per call and fails: a configuration change that starts using crypto is visible at
 * run time instead of silently computing nothing. */
#include <string.h>

#include "esp_log.h"
#include "mbedtls/private/aes.h"
#include "psa/crypto.h"

static const char *TAG = "mbedtls-stub";

#define STUB_FAIL(ret)                                                                             \
    do {                                                                                           \
        ESP_LOGE(TAG, "%s: no mbedtls in this build (imuad stub)", __func__);                      \
        return ret;                                                                                \
    } while (0)

psa_status_t psa_crypto_init(void) { STUB_FAIL(PSA_ERROR_NOT_SUPPORTED); }

psa_status_t psa_hash_setup(psa_hash_operation_t *operation, psa_algorithm_t alg)
{
    (void)operation; (void)alg;
    STUB_FAIL(PSA_ERROR_NOT_SUPPORTED);
}
psa_status_t psa_hash_update(psa_hash_operation_t *operation, const uint8_t *input, size_t input_length)
{
    (void)operation; (void)input; (void)input_length;
    STUB_FAIL(PSA_ERROR_BAD_STATE);
}
psa_status_t psa_hash_finish(psa_hash_operation_t *operation, uint8_t *hash, size_t hash_size, size_t *hash_length)
{
    (void)operation;
    if (hash != NULL) memset(hash, 0, hash_size);
    if (hash_length != NULL) *hash_length = 0;
    STUB_FAIL(PSA_ERROR_BAD_STATE);
}
psa_status_t psa_hash_abort(psa_hash_operation_t *operation)
{
    (void)operation;
    return PSA_SUCCESS;  /* nothing to release */
}
psa_status_t psa_hash_compute(psa_algorithm_t alg, const uint8_t *input, size_t input_length, uint8_t *hash,
                              size_t hash_size, size_t *hash_length)
{
    (void)alg; (void)input; (void)input_length;
    if (hash != NULL) memset(hash, 0, hash_size);
    if (hash_length != NULL) *hash_length = 0;
    STUB_FAIL(PSA_ERROR_NOT_SUPPORTED);
}

psa_status_t psa_import_key(const psa_key_attributes_t *attributes, const uint8_t *data, size_t data_length,
                            psa_key_id_t *key)
{
    (void)attributes; (void)data; (void)data_length;
    if (key != NULL) *key = 0;
    STUB_FAIL(PSA_ERROR_NOT_SUPPORTED);
}
psa_status_t psa_destroy_key(psa_key_id_t key)
{
    (void)key;
    return PSA_SUCCESS;  /* no key can exist */
}
psa_status_t psa_cipher_encrypt_setup(psa_cipher_operation_t *operation, psa_key_id_t key, psa_algorithm_t alg)
{
    (void)operation; (void)key; (void)alg;
    STUB_FAIL(PSA_ERROR_NOT_SUPPORTED);
}
psa_status_t psa_cipher_decrypt_setup(psa_cipher_operation_t *operation, psa_key_id_t key, psa_algorithm_t alg)
{
    (void)operation; (void)key; (void)alg;
    STUB_FAIL(PSA_ERROR_NOT_SUPPORTED);
}
psa_status_t psa_cipher_update(psa_cipher_operation_t *operation, const uint8_t *input, size_t input_length,
                               uint8_t *output, size_t output_size, size_t *output_length)
{
    (void)operation; (void)input; (void)input_length; (void)output; (void)output_size;
    if (output_length != NULL) *output_length = 0;
    STUB_FAIL(PSA_ERROR_BAD_STATE);
}
psa_status_t psa_cipher_finish(psa_cipher_operation_t *operation, uint8_t *output, size_t output_size,
                               size_t *output_length)
{
    (void)operation; (void)output; (void)output_size;
    if (output_length != NULL) *output_length = 0;
    STUB_FAIL(PSA_ERROR_BAD_STATE);
}
psa_status_t psa_cipher_abort(psa_cipher_operation_t *operation)
{
    (void)operation;
    return PSA_SUCCESS;
}

void mbedtls_aes_xts_init(mbedtls_aes_xts_context *ctx)
{
    if (ctx != NULL) memset(ctx, 0, sizeof(*ctx));
}
void mbedtls_aes_xts_free(mbedtls_aes_xts_context *ctx) { (void)ctx; }
int mbedtls_aes_xts_setkey_enc(mbedtls_aes_xts_context *ctx, const unsigned char *key, unsigned int keybits)
{
    (void)ctx; (void)key; (void)keybits;
    STUB_FAIL(MBEDTLS_ERR_PLATFORM_FEATURE_UNSUPPORTED);
}
int mbedtls_aes_xts_setkey_dec(mbedtls_aes_xts_context *ctx, const unsigned char *key, unsigned int keybits)
{
    (void)ctx; (void)key; (void)keybits;
    STUB_FAIL(MBEDTLS_ERR_PLATFORM_FEATURE_UNSUPPORTED);
}
int mbedtls_aes_crypt_xts(mbedtls_aes_xts_context *ctx, int mode, size_t length, const unsigned char data_unit[16],
                          const unsigned char *input, unsigned char *output)
{
    (void)ctx; (void)mode; (void)length; (void)data_unit; (void)input; (void)output;
    STUB_FAIL(MBEDTLS_ERR_PLATFORM_FEATURE_UNSUPPORTED);
}
