/*
 * RPC commands added by modules (served by mod_rpc, the Serf RPC protocol).
 *
 * A module registers a command with hm_hook_rpc(ctx, "name", fn, ud); when
 * a client sends it, fn(ud, request) is called with `request` pointing to
 * an hm_rpc_request_t.  The handler returns HM_DECLINED to let the next
 * module (or mod_rpc's default) take it, or HM_OK after it has replied or
 * will reply later: every taken request must be answered exactly once with
 * reply() (or reply_keys()), which also releases it.  A reply to a client
 * that has gone away is discarded silently.
 *
 * Everything goes through the function pointers in the handle, so a module
 * never links against mod_rpc.so (modules are loaded RTLD_LOCAL).
 *
 * The keyring commands of Serf (install-key, use-key, remove-key with a
 * body {Key}, list-keys without body) reach the crypto module this way.
 */
#ifndef HAMLET_RPC_H
#define HAMLET_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hamlet/types.h>

/* The reply shape of Serf's keyring commands. */
typedef struct hm_rpc_keys_reply {
    const char *error;       /* NULL or "": success; else e.g. "1/2 nodes reported failure" */
    bool list;               /* list-keys: Keys is a map (else nil) */
    const char *const *keys; /* base64 keys ... */
    const uint32_t *counts;  /* ... and how many nodes hold each */
    size_t nkeys;
    const hm_tags_t *messages; /* node -> message (NULL: empty) */
    uint32_t num_err, num_nodes, num_resp;
} hm_rpc_keys_reply_t;

typedef struct hm_rpc_request hm_rpc_request_t;
struct hm_rpc_request {
    const char *command;
    uint64_t seq;
    /* The request body as raw msgpack (NULL, 0 when the command had none). */
    const uint8_t *body;
    size_t body_len;
    /* A string (or bytes) field of the body map, NUL-terminated, NULL when
     * absent or not a string; valid until the reply. */
    const char *(*field_str)(hm_rpc_request_t *r, const char *key);
    /* Answer {Error, Seq} followed, when body is non-NULL, by `len` bytes
     * of msgpack (one object).  Releases the request. */
    int (*reply)(hm_rpc_request_t *r, const char *error, const void *body, size_t len);
    /* Answer in the keyring shape.  Releases the request. */
    int (*reply_keys)(hm_rpc_request_t *r, const hm_rpc_keys_reply_t *k);
    void *priv; /* mod_rpc's */
};

#endif
