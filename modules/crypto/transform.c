/* memberlist's encryption as hook-table transforms (memberlist/net.go). */
#include <string.h>

#include "aesgcm.h"
#include "transform.h"

int crypto_open_any(crypto_state_t *st, const uint8_t *blob, size_t len, const uint8_t *ad,
                    size_t adlen, hm_buf_t *out)
{
    int min;

    if (len == 0) {
        st->last_error = "Cannot decrypt empty payload";
        return -1;
    }
    if ((min = crypto_min_blob(blob[0])) < 0) {
        st->last_error = "Unsupported encryption version";
        return -1;
    }
    if (len < (size_t)min) {
        st->last_error = "Payload is too small to decrypt";
        return -1;
    }
    for (size_t i = 0; i < st->ring.n; i++) {
        hm_buf_reset(out);
        if (crypto_open(st->ring.v[i].k, st->ring.v[i].len, blob, len, ad, adlen, out) == 0)
            return 0;
    }
    hm_buf_reset(out);
    st->last_error = "No installed keys could decrypt the message";
    return -1;
}

int crypto_packet_out(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    crypto_state_t *st = ud;
    const crypto_key_t *k = crypto_keyring_primary(&st->ring);

    if (k == NULL || !st->verify_outgoing)
        return HM_DECLINED;
    if (crypto_seal(st->vsn, k->k, k->len, NULL, in, len, NULL, 0, out) < 0) {
        st->last_error = "Encryption of message failed";
        return HM_DROP;
    }
    st->packets_sealed++;
    return HM_OK;
}

int crypto_packet_in(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    crypto_state_t *st = ud;

    if (st->ring.n == 0)
        return HM_DECLINED;
    if (crypto_open_any(st, in, len, NULL, 0, out) == 0) {
        st->packets_opened++;
        return HM_OK;
    }
    /* Rolling a cluster onto encryption: without verify_incoming an
     * undecryptable packet is taken as plaintext, as memberlist does. */
    if (!st->verify_incoming) {
        st->packets_plain_passed++;
        return HM_DECLINED;
    }
    st->packets_bad++;
    return HM_DROP;
}

int crypto_stream_out(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    crypto_state_t *st = ud;
    const crypto_key_t *k = crypto_keyring_primary(&st->ring);
    size_t blen = len + crypto_overhead(1);
    uint8_t hdr[5];

    if (k == NULL || !st->verify_outgoing)
        return HM_DECLINED;
    if (st->vsn == 0)
        blen += CRYPTO_BLOCK - len % CRYPTO_BLOCK;
    /* The length is part of the additional data, so it is known up front. */
    hdr[0] = CRYPTO_MSG_ENCRYPT;
    hdr[1] = (uint8_t)(blen >> 24);
    hdr[2] = (uint8_t)(blen >> 16);
    hdr[3] = (uint8_t)(blen >> 8);
    hdr[4] = (uint8_t)blen;
    if (blen > UINT32_MAX || hm_buf_append(out, hdr, 5) < 0 ||
        crypto_seal(st->vsn, k->k, k->len, NULL, in, len, hdr, 5, out) < 0) {
        st->last_error = "Failed to encrypt local state";
        return HM_DROP;
    }
    st->streams_sealed++;
    return HM_OK;
}

int crypto_stream_in(void *ud, const uint8_t *in, size_t len, hm_buf_t *out, size_t *consumed)
{
    crypto_state_t *st = ud;
    uint32_t blen;

    if (len == 0)
        return HM_AGAIN;
    if (in[0] != CRYPTO_MSG_ENCRYPT) {
        if (st->ring.n > 0 && st->verify_incoming) {
            st->streams_plain_dropped++;
            st->last_error = "Encryption is configured but remote state is not encrypted";
            return HM_DROP;
        }
        return HM_DECLINED;
    }
    if (st->ring.n == 0) {
        st->streams_bad++;
        st->last_error = "Remote state is encrypted and encryption is not configured";
        return HM_DROP;
    }
    if (len < 5)
        return HM_AGAIN;
    blen = (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 | in[4];
    if (blen > CRYPTO_STREAM_MAX) {
        st->streams_bad++;
        st->last_error = "Remote node state is larger than limit";
        return HM_DROP;
    }
    if (len - 5 < blen)
        return HM_AGAIN;
    if (crypto_open_any(st, in + 5, blen, in, 5, out) < 0) {
        st->streams_bad++;
        return HM_DROP;
    }
    *consumed = 5 + (size_t)blen;
    st->streams_opened++;
    return HM_OK;
}
