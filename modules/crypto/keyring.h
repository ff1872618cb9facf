/*
 * memberlist's keyring (keys[0] is the primary) and Serf's keyring file
 * (a JSON array of base64 keys, primary first).  Pure, no daemon.
 */
#ifndef MOD_CRYPTO_KEYRING_H
#define MOD_CRYPTO_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_MAX 32
#define CRYPTO_B64_MAX 45 /* base64 of 32 bytes + NUL */

typedef struct crypto_key {
    uint8_t k[CRYPTO_KEY_MAX];
    uint8_t len;
} crypto_key_t;

typedef struct crypto_keyring {
    crypto_key_t *v;
    size_t n, cap;
} crypto_keyring_t;

/* Error strings are Serf's, word for word. */
int crypto_key_validate(size_t len, const char **err);
/* Adds a key (the first key becomes primary); present already: no-op. */
int crypto_keyring_add(crypto_keyring_t *kr, const uint8_t *k, size_t len, const char **err);
int crypto_keyring_use(crypto_keyring_t *kr, const uint8_t *k, size_t len, const char **err);
/* Removing an absent key succeeds, as in memberlist. */
int crypto_keyring_remove(crypto_keyring_t *kr, const uint8_t *k, size_t len, const char **err);
const crypto_key_t *crypto_keyring_primary(const crypto_keyring_t *kr);
void crypto_keyring_free(crypto_keyring_t *kr);

/* Standard base64 with padding, strict as Go's StdEncoding. */
int crypto_b64_decode(const char *s, uint8_t *out, size_t cap, size_t *len);
void crypto_b64_encode(const uint8_t *k, size_t len, char out[CRYPTO_B64_MAX]);
/* Decodes a base64 key and validates its size. */
int crypto_key_parse(const char *b64, crypto_key_t *out, const char **err);

/* Keyring file.  Load: the file must exist and hold >= 1 key. */
int crypto_keyring_load(crypto_keyring_t *kr, const char *path, char *err, size_t errlen);
/* Save as Serf writes it (json.MarshalIndent, "  "), mode 0600, atomically. */
int crypto_keyring_save(const crypto_keyring_t *kr, const char *path, char *err, size_t errlen);

#endif
