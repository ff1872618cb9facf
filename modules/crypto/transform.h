/*
 * The packet and stream transforms of memberlist's encryption, over a
 * keyring, with the verify_incoming/verify_outgoing switches and the drop
 * counters.  Same signatures as the hook table's transforms (ud = state).
 */
#ifndef MOD_CRYPTO_TRANSFORM_H
#define MOD_CRYPTO_TRANSFORM_H

#include <stdbool.h>

#include <hamlet/hamlet.h>

#include "keyring.h"

#define CRYPTO_MSG_ENCRYPT 10
#define CRYPTO_STREAM_MAX (20u * 1024 * 1024) /* memberlist's maxPushStateBytes */

typedef struct crypto_state {
    crypto_keyring_t ring;
    bool verify_incoming, verify_outgoing;
    uint8_t vsn; /* version sent: 1 (memberlist protocol >= 2) */
    /* counters */
    uint64_t packets_sealed, packets_opened, packets_bad, packets_plain_dropped,
        packets_plain_passed, streams_sealed, streams_opened, streams_bad, streams_plain_dropped;
    const char *last_error; /* Serf's text of the last drop */
} crypto_state_t;

int crypto_packet_out(void *ud, const uint8_t *in, size_t len, hm_buf_t *out);
int crypto_packet_in(void *ud, const uint8_t *in, size_t len, hm_buf_t *out);
int crypto_stream_out(void *ud, const uint8_t *in, size_t len, hm_buf_t *out);
int crypto_stream_in(void *ud, const uint8_t *in, size_t len, hm_buf_t *out, size_t *consumed);

/* Tries every key, primary first.  0 or -1 (last_error set). */
int crypto_open_any(crypto_state_t *st, const uint8_t *blob, size_t len, const uint8_t *ad,
                    size_t adlen, hm_buf_t *out);

#endif
