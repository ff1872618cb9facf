/*
 * memberlist's AES-GCM envelope: [vsn][nonce 12][ciphertext||tag 16].
 * Version 0 pads the plaintext PKCS7-style to 16 bytes before sealing;
 * version 1 does not pad.  Pure functions over OpenSSL EVP, no daemon.
 */
#ifndef MOD_CRYPTO_AESGCM_H
#define MOD_CRYPTO_AESGCM_H

#include <stddef.h>
#include <stdint.h>

#include <hamlet/types.h>

#define CRYPTO_NONCE_SIZE 12
#define CRYPTO_TAG_SIZE 16
#define CRYPTO_BLOCK 16
#define CRYPTO_MAX_VSN 1

/* Raw AES-GCM with a 16-byte tag (key 16/24/32 bytes, any IV length).
 * Encrypt: `out` gets len bytes of ciphertext and `tag` 16 bytes.
 * Decrypt: `out` gets the plaintext when `tag` authenticates.  0 or -1. */
int crypto_gcm_encrypt(const uint8_t *key, size_t klen, const uint8_t *iv, size_t ivlen,
                       const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out,
                       uint8_t tag[CRYPTO_TAG_SIZE]);
int crypto_gcm_decrypt(const uint8_t *key, size_t klen, const uint8_t *iv, size_t ivlen,
                       const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out,
                       const uint8_t tag[CRYPTO_TAG_SIZE]);

/* Smallest blob of version `vsn` (v0: 45, v1: 29); -1 for other versions. */
int crypto_min_blob(uint8_t vsn);
/* Overhead added to a message (v0: up to 45, v1: 29). */
size_t crypto_overhead(uint8_t vsn);

/* Appends the envelope of `msg` to `out`.  `nonce` NULL = random. */
int crypto_seal(uint8_t vsn, const uint8_t *key, size_t klen, const uint8_t *nonce,
                const uint8_t *msg, size_t len, const uint8_t *ad, size_t adlen, hm_buf_t *out);
/* Opens one envelope with one key; appends the plaintext (padding removed
 * for v0) to `out`.  0, or -1 (bad version, too short, not authentic). */
int crypto_open(const uint8_t *key, size_t klen, const uint8_t *blob, size_t len, const uint8_t *ad,
                size_t adlen, hm_buf_t *out);

#endif
