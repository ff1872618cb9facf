/* mod_rpc: commands served by other modules through hm_hook_rpc (the
 * keyring commands by the crypto module, anything a site module adds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_int.h"

typedef struct ext_req {
    hm_rpc_request_t pub;
    rpc_conn_t *c;
    char command[RPC_MAX_CMD];
    uint8_t *raw;
    msgpack_zone *zone;
    msgpack_object obj;
    bool has_obj;
    char **strs;
    size_t nstrs;
    bool in_dispatch, replied;
} ext_req_t;

static void req_free(ext_req_t *r)
{
    for (size_t i = 0; i < r->nstrs; i++)
        free(r->strs[i]);
    free(r->strs);
    free(r->raw);
    if (r->zone)
        msgpack_zone_free(r->zone);
    rpc_unref(r->c);
    free(r);
}

static const char *field_str(hm_rpc_request_t *pub, const char *key)
{
    ext_req_t *r = pub->priv;
    const msgpack_object *o = r->has_obj ? hm_rpc_get(&r->obj, key) : NULL;
    char **v, *s;

    if (o == NULL || !hm_rpc_is_raw(o) || (s = hm_rpc_strdup(o)) == NULL)
        return NULL;
    if ((v = realloc(r->strs, (r->nstrs + 1) * sizeof(char *))) == NULL) {
        free(s);
        return NULL;
    }
    r->strs = v;
    v[r->nstrs++] = s;
    return s;
}

static int reply(hm_rpc_request_t *pub, const char *error, const void *body, size_t len)
{
    ext_req_t *r = pub->priv;
    hm_buf_t b = {(uint8_t *)body, len, len};

    if (r->replied)
        return HM_ERROR;
    r->replied = true;
    if (rpc_alive(r->c))
        rpc_send(r->c, pub->seq, error ? error : "", body ? &b : NULL);
    if (!r->in_dispatch)
        req_free(r);
    return HM_OK;
}

static int reply_keys(hm_rpc_request_t *pub, const hm_rpc_keys_reply_t *k)
{
    hm_buf_t out = {0};
    msgpack_packer pk;
    int rc;

    hm_rpc_packer_init(&pk, &out);
    msgpack_pack_map(&pk, 5);
    hm_rpc_pack_str(&pk, "Keys");
    if (k->list) {
        msgpack_pack_map(&pk, k->nkeys);
        for (size_t i = 0; i < k->nkeys; i++) {
            hm_rpc_pack_str(&pk, k->keys[i]);
            msgpack_pack_uint32(&pk, k->counts ? k->counts[i] : 0);
        }
    } else {
        msgpack_pack_nil(&pk);
    }
    hm_rpc_pack_str(&pk, "Messages");
    hm_rpc_pack_tags(&pk, k->messages);
    hm_rpc_pack_kuint(&pk, "NumErr", k->num_err);
    hm_rpc_pack_kuint(&pk, "NumNodes", k->num_nodes);
    hm_rpc_pack_kuint(&pk, "NumResp", k->num_resp);
    rc = reply(pub, k->error, out.data, out.len);
    hm_buf_free(&out);
    return rc;
}

bool rpc_ext_dispatch(rpc_conn_t *c, const char *name, uint64_t seq, const msgpack_object *body,
                      const uint8_t *raw, size_t rawlen)
{
    ext_req_t *r = calloc(1, sizeof(*r));
    size_t used = 0;
    int rc;

    if (r == NULL)
        return false;
    rpc_ref(c);
    r->c = c;
    snprintf(r->command, sizeof(r->command), "%s", name);
    if (raw && rawlen && (r->raw = malloc(rawlen)) != NULL) {
        memcpy(r->raw, raw, rawlen);
        r->zone = msgpack_zone_new(1024);
        r->has_obj = r->zone && msgpack_unpack((const char *)r->raw, rawlen, &used, r->zone,
                                               &r->obj) == MSGPACK_UNPACK_SUCCESS;
    }
    (void)body; /* re-decoded from the copy: it must outlive this call */
    r->pub = (hm_rpc_request_t){.command = r->command,
                                .seq = seq,
                                .body = r->raw,
                                .body_len = r->raw ? rawlen : 0,
                                .field_str = field_str,
                                .reply = reply,
                                .reply_keys = reply_keys,
                                .priv = r};
    r->in_dispatch = true;
    rc = hm_rpc_dispatch(c->srv->ctx, r->command, &r->pub);
    r->in_dispatch = false;
    if (rc == HM_DECLINED && !r->replied) {
        req_free(r);
        return false;
    }
    if (rc == HM_ERROR && !r->replied)
        reply(&r->pub, "internal error", NULL, 0);
    if (r->replied)
        req_free(r);
    return true;
}

/* install-key, use-key, remove-key, list-keys: the crypto module's when it
 * is loaded; otherwise this node answers like a Serf agent without a
 * keyring (the only node it can speak for). */
int rpc_cmd_keys(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    const hm_member_t *self;
    hm_tag_t msg;
    hm_tags_t msgs = {&msg, 1};
    hm_rpc_keys_reply_t k = {0};
    hm_rpc_request_t pub = {.seq = seq};
    ext_req_t *r;

    if (rpc_ext_dispatch(c, c->cmd, seq, body, c->raw_body, c->raw_len))
        return 0;
    self = hm_self(c->srv->ctx);
    msg.key = self && self->name ? self->name : "";
    msg.value = "Keyring is empty (encryption not enabled)";
    k.error = "1/1 nodes reported failure";
    k.list = strcmp(c->cmd, "list-keys") == 0;
    k.messages = &msgs;
    k.num_err = k.num_nodes = k.num_resp = 1;
    /* a request handle of our own, only to reuse the reply encoder */
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return -1;
    rpc_ref(c);
    r->c = c;
    pub.priv = r;
    reply_keys(&pub, &k);
    return 0;
}
