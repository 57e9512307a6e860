/* imuad: stub of the mbedtls 4 / TF-PSA-Crypto private AES-XTS API that ESP-IDF's nvs_flash
 * (NVS encryption, nvs_xts_aes.h) names. NVS encryption is off in the imuad firmware
 * (CONFIG_NVS_ENCRYPTION=n); every function fails with MBEDTLS_ERR_PLATFORM_FEATURE_UNSUPPORTED. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MBEDTLS_AES_ENCRYPT 1
#define MBEDTLS_AES_DECRYPT 0
#define MBEDTLS_ERR_PLATFORM_FEATURE_UNSUPPORTED -0x0072

typedef struct mbedtls_aes_xts_context {
    int unused;
} mbedtls_aes_xts_context;

void mbedtls_aes_xts_init(mbedtls_aes_xts_context *ctx);
void mbedtls_aes_xts_free(mbedtls_aes_xts_context *ctx);
int mbedtls_aes_xts_setkey_enc(mbedtls_aes_xts_context *ctx, const unsigned char *key, unsigned int keybits);
int mbedtls_aes_xts_setkey_dec(mbedtls_aes_xts_context *ctx, const unsigned char *key, unsigned int keybits);
int mbedtls_aes_crypt_xts(mbedtls_aes_xts_context *ctx, int mode, size_t length, const unsigned char data_unit[16],
                          const unsigned char *input, unsigned char *output);

#ifdef __cplusplus
}
#endif
