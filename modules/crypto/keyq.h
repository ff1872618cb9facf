/*
 * The payloads of Serf's keyring queries (serf/serf/internal_query.go,
 * keymanager.go), in the gossip msgpack handle (raw strings, sorted keys):
 *   request  [7]{Key: raw bytes}
 *   response [8]{Keys: [raw...] | nil, Message: raw, PrimaryKey: raw, Result: bool}
 */
#ifndef MOD_CRYPTO_KEYQ_H
#define MOD_CRYPTO_KEYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hamlet/types.h>

#define CRYPTO_MSG_KEY_REQUEST 7
#define CRYPTO_MSG_KEY_RESPONSE 8
#define CRYPTO_MIN_ENCODED_KEY 25 /* Serf's minEncodedKeyLength */

typedef struct crypto_keyresp {
    bool result;
    const char *message;     /* "" if none */
    const char *const *keys; /* NULL: nil (every op but list) */
    size_t nkeys;
    const char *primary; /* "" if none */
} crypto_keyresp_t;

int crypto_keyreq_encode(const uint8_t *key, size_t len, hm_buf_t *out);
/* Decodes [7]{Key}.  *key points into `p`.  0 or -1. */
int crypto_keyreq_decode(const uint8_t *p, size_t n, const uint8_t **key, size_t *klen);

int crypto_keyresp_encode(const crypto_keyresp_t *r, hm_buf_t *out);

/* Decoded response; strings are NUL-terminated copies owned by the struct. */
typedef struct crypto_keyresp_dec {
    bool result;
    char *message, *primary;
    char **keys;
    size_t nkeys;
} crypto_keyresp_dec_t;
/* 0, or -1 with *err = Serf's reason ("Invalid key query response type: %v"
 * becomes "type"; undecodable "decode"). */
int crypto_keyresp_decode(const uint8_t *p, size_t n, crypto_keyresp_dec_t *out, const char **err);
void crypto_keyresp_dec_free(crypto_keyresp_dec_t *d);

/* Size of the messageQueryResponse carrying `payload_len` bytes, as Serf
 * measures it against QueryResponseSizeLimit. */
size_t crypto_qresp_size(uint64_t ltime, uint32_t id, const char *from, size_t payload_len);

/* The list-keys response cut to fit `limit` as keyListResponseWithCorrectSize
 * does (message "truncated key list response, showing first %d of %d keys").
 * *shown = keys kept.  -1 if even no key fits. */
int crypto_keylist_fit(const char *const *keys, size_t nkeys, const char *primary, uint64_t ltime,
                       uint32_t id, const char *from, size_t limit, hm_buf_t *out, size_t *shown,
                       char *msgbuf, size_t msglen);

/* The origin's tally of a key operation (serf KeyManager.streamKeyResp). */
typedef struct crypto_keyop_entry {
    char *name; /* node, or key for the key counts */
    char *text;
    int count;
} crypto_keyop_entry_t;

typedef struct crypto_keyop_result {
    crypto_keyop_entry_t *messages; /* node -> message */
    size_t nmessages;
    crypto_keyop_entry_t *keys; /* base64 key -> number of nodes */
    size_t nkeys;
    crypto_keyop_entry_t *primaries;
    size_t nprimaries;
    int num_nodes, num_resp, num_err;
} crypto_keyop_result_t;

/* Counts one response; returns 1 when num_resp reached num_nodes. */
int crypto_keyop_add(crypto_keyop_result_t *r, const char *from, const uint8_t *p, size_t n);
/* Serf's overall error: "%d/%d nodes reported failure|success", or NULL. */
const char *crypto_keyop_error(const crypto_keyop_result_t *r, char *buf, size_t len);
void crypto_keyop_free(crypto_keyop_result_t *r);

#endif
