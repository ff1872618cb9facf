/*
 * The Serf RPC ("IPC") codec, shared by the `hamlet` client and mod_rpc.
 *
 * The RPC handle is not the gossip handle (shared/spec/serf-rpc.md section
 * 1): strings go out as fixstr/str8/str16/str32 and byte slices as bin, which
 * is exactly what msgpack-c's str and bin packers write, so this layer is
 * msgpack-c with a few helpers.  A connection carries bare msgpack objects
 * back to back; hm_rpc_scan() finds where the next complete object ends
 * without allocating, so a peer can never make us allocate for counts it
 * has not sent (a 5-byte "array of 16M" header is just "need more").
 */
#ifndef HM_RPCWIRE_H
#define HM_RPCWIRE_H

#include <msgpack.h>

#include <hamlet/types.h>

#define HM_RPC_VERSION 1
#define HM_RPC_MAX_OBJECT (1u << 20) /* default in->max: the largest request */
#define HM_RPC_MAX_DEPTH 32          /* msgpack-c's own nesting limit */

/* Error strings of the protocol (serf-rpc.md section 7). */
#define HM_RPC_ERR_UNSUPPORTED "Unsupported command"
#define HM_RPC_ERR_VERSION "Unsupported IPC version"
#define HM_RPC_ERR_DUP_HANDSHAKE "Handshake already performed"
#define HM_RPC_ERR_HANDSHAKE "Handshake required"
#define HM_RPC_ERR_MONITOR_EXISTS "Monitor already exists"
#define HM_RPC_ERR_FILTER "Invalid event filter"
#define HM_RPC_ERR_STREAM_EXISTS "Stream with given sequence exists"
#define HM_RPC_ERR_RESPOND "No pending queries matching ID"
#define HM_RPC_ERR_AUTH_REQUIRED "Authentication required"
#define HM_RPC_ERR_AUTH_INVALID "Invalid authentication token"
#define HM_RPC_ERR_QUERY_PREFIX "Queries cannot contain the '_serf_' prefix"

/* --- framing ------------------------------------------------------------ */

enum { HM_RPC_SCAN_OK = 0, HM_RPC_SCAN_MORE = 1, HM_RPC_SCAN_BAD = -1 };

/* Is there one whole msgpack object at the start of p[0..n)?  OK sets
 * *objlen; MORE means truncated; BAD means invalid (reserved byte, nesting
 * deeper than HM_RPC_MAX_DEPTH). */
int hm_rpc_scan(const uint8_t *p, size_t n, size_t *objlen);

/* The same, resumable: a MORE result leaves `st` at the last whole element,
 * to be continued with more bytes (same start, n larger); st->off is the
 * object's length after OK. */
typedef struct hm_rpc_scan {
    size_t off;
    int depth;
    uint64_t left[HM_RPC_MAX_DEPTH + 1]; /* elements still due per level */
} hm_rpc_scan_t;
void hm_rpc_scan_reset(hm_rpc_scan_t *st);
int hm_rpc_scan_resume(const uint8_t *p, size_t n, hm_rpc_scan_t *st);

/* An input buffer of raw bytes from which whole objects are taken. */
typedef struct hm_rpc_in {
    hm_buf_t buf;
    size_t off;         /* start of unconsumed data */
    size_t max;         /* largest object accepted (HM_RPC_MAX_OBJECT after init) */
    hm_rpc_scan_t scan; /* progress over the object at `off` */
    msgpack_zone *zone;
} hm_rpc_in_t;

void hm_rpc_in_init(hm_rpc_in_t *in);
void hm_rpc_in_free(hm_rpc_in_t *in);
int hm_rpc_in_feed(hm_rpc_in_t *in, const void *p, size_t n);
/* Takes the next whole object: HM_RPC_SCAN_OK with *obj valid until the
 * next call, MORE, or BAD (invalid or larger than in->max). */
int hm_rpc_in_next(hm_rpc_in_t *in, msgpack_object *obj);
/* The same without consuming it (the next call sees it again). */
int hm_rpc_in_peek(hm_rpc_in_t *in, msgpack_object *obj);
size_t hm_rpc_in_pending(const hm_rpc_in_t *in);
/* Packs a Member record in the RPC form (serf-rpc.md section 3). */
struct hm_member;
int hm_rpc_pack_member(msgpack_packer *pk, const struct hm_member *m);
/* A map[string]string (tags); NULL packs an empty map. */
int hm_rpc_pack_tags(msgpack_packer *pk, const hm_tags_t *t);

/* --- encoding ------------------------------------------------------------ */

/* A packer that appends to an hm_buf_t. */
void hm_rpc_packer_init(msgpack_packer *pk, hm_buf_t *out);
int hm_rpc_pack_str(msgpack_packer *pk, const char *s); /* NULL packs "" */
int hm_rpc_pack_strn(msgpack_packer *pk, const void *s, size_t n);
/* []byte: bin (c4 even for length 0); nil when p is NULL and nil_if_null. */
int hm_rpc_pack_bin(msgpack_packer *pk, const void *p, size_t n, bool nil_if_null);
int hm_rpc_pack_kstr(msgpack_packer *pk, const char *key, const char *val);
int hm_rpc_pack_kuint(msgpack_packer *pk, const char *key, uint64_t v);

/* Headers: request {Command, Seq}; response {Error, Seq}. */
int hm_rpc_pack_request(hm_buf_t *out, const char *command, uint64_t seq);
int hm_rpc_pack_response(hm_buf_t *out, const char *error, uint64_t seq);

/* --- decoding ------------------------------------------------------------ */

/* Value of key `key` in a map object (str or bin keys), or NULL. */
const msgpack_object *hm_rpc_get(const msgpack_object *map, const char *key);
bool hm_rpc_is_raw(const msgpack_object *o); /* str or bin */
/* str or bin (or nil = empty): points into the object. */
int hm_rpc_raw(const msgpack_object *o, const char **p, size_t *n);
/* Same, as a NUL-terminated malloc()ed copy (NULL on error). */
char *hm_rpc_strdup(const msgpack_object *o);
int hm_rpc_uint(const msgpack_object *o, uint64_t *v); /* non-negative ints */
int hm_rpc_int(const msgpack_object *o, int64_t *v);
int hm_rpc_bool(const msgpack_object *o, bool *v);
int hm_rpc_double(const msgpack_object *o, double *v);
bool hm_rpc_raw_eq(const msgpack_object *o, const char *s);

/* Field getters over a map with Go's "missing key = zero value" rule:
 * return 0 when absent or well-typed, -1 on a wrong type. */
int hm_rpc_field_str(const msgpack_object *map, const char *key, const char **p, size_t *n);
int hm_rpc_field_uint(const msgpack_object *map, const char *key, uint64_t *v);
int hm_rpc_field_int(const msgpack_object *map, const char *key, int64_t *v);
int hm_rpc_field_bool(const msgpack_object *map, const char *key, bool *v);

#endif
