/* AES-GCM through OpenSSL EVP, and memberlist's envelope around it. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "aesgcm.h"

static const EVP_CIPHER *gcm_cipher(size_t klen)
{
    switch (klen) {
    case 16:
        return EVP_aes_128_gcm();
    case 24:
        return EVP_aes_192_gcm();
    case 32:
        return EVP_aes_256_gcm();
    default:
        return NULL;
    }
}

/* One EVP pass; `enc` 1 encrypts (writes tag), 0 decrypts (checks tag). */
static int gcm_run(int enc, const uint8_t *key, size_t klen, const uint8_t *iv, size_t ivlen,
                   const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out,
                   uint8_t *tag)
{
    const EVP_CIPHER *c = gcm_cipher(klen);
    EVP_CIPHER_CTX *x;
    int n, rc = -1;

    if (c == NULL || ivlen == 0 || len > INT32_MAX || adlen > INT32_MAX)
        return -1;
    x = EVP_CIPHER_CTX_new();
    if (x == NULL)
        return -1;
    if (EVP_CipherInit_ex(x, c, NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen, NULL) != 1 ||
        EVP_CipherInit_ex(x, NULL, NULL, key, iv, enc) != 1)
        goto out;
    if (adlen > 0 && EVP_CipherUpdate(x, NULL, &n, ad, (int)adlen) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(x, out, &n, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_SIZE, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(x, out + len, &n) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_SIZE, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(x);
    return rc;
}

int crypto_gcm_encrypt(const uint8_t *key, size_t klen, const uint8_t *iv, size_t ivlen,
                       const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out,
                       uint8_t tag[CRYPTO_TAG_SIZE])
{
    return gcm_run(1, key, klen, iv, ivlen, ad, adlen, in, len, out, tag);
}

int crypto_gcm_decrypt(const uint8_t *key, size_t klen, const uint8_t *iv, size_t ivlen,
                       const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out,
                       const uint8_t tag[CRYPTO_TAG_SIZE])
{
    uint8_t t[CRYPTO_TAG_SIZE];

    memcpy(t, tag, sizeof(t));
    return gcm_run(0, key, klen, iv, ivlen, ad, adlen, in, len, out, t);
}

int crypto_min_blob(uint8_t vsn)
{
    if (vsn == 0)
        return 1 + CRYPTO_NONCE_SIZE + CRYPTO_BLOCK + CRYPTO_TAG_SIZE;
    if (vsn == 1)
        return 1 + CRYPTO_NONCE_SIZE + CRYPTO_TAG_SIZE;
    return -1;
}

size_t crypto_overhead(uint8_t vsn)
{
    return (size_t)crypto_min_blob(vsn);
}

int crypto_seal(uint8_t vsn, const uint8_t *key, size_t klen, const uint8_t *nonce,
                const uint8_t *msg, size_t len, const uint8_t *ad, size_t adlen, hm_buf_t *out)
{
    size_t pad = vsn == 0 ? CRYPTO_BLOCK - len % CRYPTO_BLOCK : 0;
    size_t plen = len + pad, start = out->len;
    uint8_t *p, *ct;

    if (vsn > CRYPTO_MAX_VSN || gcm_cipher(klen) == NULL)
        return -1;
    if (hm_buf_reserve(out, 1 + CRYPTO_NONCE_SIZE + plen + CRYPTO_TAG_SIZE) < 0)
        return -1;
    p = out->data + start;
    p[0] = vsn;
    if (nonce != NULL)
        memcpy(p + 1, nonce, CRYPTO_NONCE_SIZE);
    else if (RAND_bytes(p + 1, CRYPTO_NONCE_SIZE) != 1)
        return -1;
    ct = p + 1 + CRYPTO_NONCE_SIZE;
    /* Padded plaintext is assembled in place and encrypted in place. */
    if (len > 0)
        memmove(ct, msg, len);
    memset(ct + len, (int)pad, pad);
    if (crypto_gcm_encrypt(key, klen, p + 1, CRYPTO_NONCE_SIZE, ad, adlen, ct, plen, ct,
                           ct + plen) < 0)
        return -1;
    out->len = start + 1 + CRYPTO_NONCE_SIZE + plen + CRYPTO_TAG_SIZE;
    return 0;
}

int crypto_open(const uint8_t *key, size_t klen, const uint8_t *blob, size_t len, const uint8_t *ad,
                size_t adlen, hm_buf_t *out)
{
    size_t ctlen, start = out->len;
    int min;
    uint8_t *pt;

    if (len == 0 || (min = crypto_min_blob(blob[0])) < 0 || len < (size_t)min)
        return -1;
    ctlen = len - 1 - CRYPTO_NONCE_SIZE - CRYPTO_TAG_SIZE;
    if (hm_buf_reserve(out, ctlen + CRYPTO_BLOCK) < 0)
        return -1;
    pt = out->data + start;
    if (crypto_gcm_decrypt(key, klen, blob + 1, CRYPTO_NONCE_SIZE, ad, adlen,
                           blob + 1 + CRYPTO_NONCE_SIZE, ctlen, pt,
                           blob + len - CRYPTO_TAG_SIZE) < 0)
        return -1;
    if (blob[0] == 0) {
        /* Go trusts the last byte blindly (a 0 removes nothing) and would
         * panic on a pad longer than the text: reject that one instead. */
        uint8_t pad = ctlen ? pt[ctlen - 1] : 0;
        if (pad > ctlen)
            return -1;
        ctlen -= pad;
    }
    out->len = start + ctlen;
    return 0;
}
