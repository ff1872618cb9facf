/*
 * mod_crypto: memberlist's AES-GCM encryption on every packet and stream,
 * the keyring (with Serf's keyring file), and Serf's keyring queries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hamlet/hamlet.h>
#include <hamlet/rpc.h>

#include "aesgcm.h"
#include "keyq.h"
#include "keyring.h"
#include "mod_crypto.h"
#include "transform.h"

#define QUERY_RESPONSE_LIMIT 1024 /* Serf's QueryResponseSizeLimit */

typedef struct mod_crypto {
    hm_ctx_t *ctx;
    crypto_state_t st;
    char *keyring_file;
    uint64_t logged_drops;
} mod_crypto_t;

static const hm_conf_key_t crypto_keys[] = {
    {"encrypt_key", HM_CONF_STRING, NULL, 0, 0, NULL,
     "base64 AES key (16, 24 or 32 bytes), as serf agent -encrypt", NULL},
    {"keyring_file", HM_CONF_STRING, NULL, 0, 0, NULL,
     "Serf keyring file (JSON list of base64 keys, primary first), rewritten on change", NULL},
    {"verify_incoming", HM_CONF_BOOL, "true", 0, 0, NULL,
     "drop packets and streams that are not encrypted with a known key", NULL},
    {"verify_outgoing", HM_CONF_BOOL, "true", 0, 0, NULL,
     "encrypt what this node sends (off only while rolling a cluster onto encryption)", NULL},
    HM_CONF_END,
};

static void log_drop(mod_crypto_t *m, const char *what)
{
    /* memberlist logs every failure; so do we, at the same level. */
    hm_log(m->ctx, HM_LOG_ERR, "%s: %s", what, m->st.last_error ? m->st.last_error : "dropped");
}

static int on_packet_in(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    mod_crypto_t *m = ud;
    int rc = crypto_packet_in(&m->st, in, len, out);

    if (rc == HM_DROP) {
        hm_metric_add(m->ctx, "crypto.packets_dropped", 1);
        log_drop(m, "Decrypt packet failed");
    }
    return rc;
}

static int on_packet_out(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    mod_crypto_t *m = ud;
    int rc = crypto_packet_out(&m->st, in, len, out);

    if (rc == HM_DROP)
        log_drop(m, "Encryption of message failed");
    return rc;
}

static int on_stream_in(void *ud, const uint8_t *in, size_t len, hm_buf_t *out, size_t *consumed)
{
    mod_crypto_t *m = ud;
    int rc = crypto_stream_in(&m->st, in, len, out, consumed);

    if (rc == HM_DROP) {
        hm_metric_add(m->ctx, "crypto.streams_dropped", 1);
        log_drop(m, "Failed to decrypt remote state");
    }
    return rc;
}

static int on_stream_out(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    mod_crypto_t *m = ud;
    int rc = crypto_stream_out(&m->st, in, len, out);

    if (rc == HM_DROP)
        log_drop(m, "Failed to encrypt local state");
    return rc;
}

static void on_metrics(void *ud, hm_metric_emit_fn emit, void *eud)
{
    mod_crypto_t *m = ud;
    const crypto_state_t *s = &m->st;

    emit(eud, "crypto.keys", (double)s->ring.n);
    emit(eud, "crypto.packets_sealed", (double)s->packets_sealed);
    emit(eud, "crypto.packets_opened", (double)s->packets_opened);
    emit(eud, "crypto.packets_bad", (double)s->packets_bad);
    emit(eud, "crypto.packets_plain_passed", (double)s->packets_plain_passed);
    emit(eud, "crypto.streams_sealed", (double)s->streams_sealed);
    emit(eud, "crypto.streams_opened", (double)s->streams_opened);
    emit(eud, "crypto.streams_bad", (double)s->streams_bad);
    emit(eud, "crypto.streams_plain_dropped", (double)s->streams_plain_dropped);
}

/* ---- keyring queries (serf/serf/internal_query.go) ---- */

static int persist(mod_crypto_t *m, char *err, size_t errlen)
{
    if (m->keyring_file == NULL)
        return 0;
    return crypto_keyring_save(&m->st.ring, m->keyring_file, err, errlen);
}

static void respond(mod_crypto_t *m, const hm_query_t *q, const crypto_keyresp_t *r)
{
    hm_buf_t b = {0};

    if (crypto_keyresp_encode(r, &b) == 0 && hm_query_respond(m->ctx, q, b.data, b.len) < 0)
        hm_log(m->ctx, HM_LOG_ERR, "Failed to respond to key query");
    hm_buf_free(&b);
}

static void answer_list(mod_crypto_t *m, const hm_query_t *q)
{
    crypto_keyring_t *kr = &m->st.ring;
    char(*b64)[CRYPTO_B64_MAX] = calloc(kr->n + 1, sizeof(*b64));
    const char **keys = calloc(kr->n + 1, sizeof(char *));
    const hm_member_t *self = hm_self(m->ctx);
    char msg[128];
    hm_buf_t b = {0};
    size_t shown;

    if (b64 == NULL || keys == NULL)
        goto out;
    for (size_t i = 0; i < kr->n; i++) {
        crypto_b64_encode(kr->v[i].k, kr->v[i].len, b64[i]);
        keys[i] = b64[i];
    }
    hm_log(m->ctx, HM_LOG_INFO, "Received list-keys query");
    if (crypto_keylist_fit(keys, kr->n, b64[0], q->ltime, q->id, self ? self->name : "",
                           QUERY_RESPONSE_LIMIT, &b, &shown, msg, sizeof(msg)) < 0) {
        hm_log(m->ctx, HM_LOG_ERR, "Failed to truncate response so that it fits into message");
        goto out;
    }
    if (shown < kr->n)
        hm_log(m->ctx, HM_LOG_WARN, "%s", msg);
    if (hm_query_respond(m->ctx, q, b.data, b.len) < 0)
        hm_log(m->ctx, HM_LOG_ERR, "Failed to respond to key query");
out:
    hm_buf_free(&b);
    free(b64);
    free(keys);
}

typedef enum { OP_INSTALL, OP_USE, OP_REMOVE, OP_LIST } keyop_t;

static const struct {
    const char *query, *verb, *fail;
} ops[] = {
    [OP_INSTALL] = {"_serf_install-key", "install-key", "Failed to install key"},
    [OP_USE] = {"_serf_use-key", "use-key", "Failed to change primary key"},
    [OP_REMOVE] = {"_serf_remove-key", "remove-key", "Failed to remove key"},
    [OP_LIST] = {"_serf_list-keys", "list-keys", NULL},
};

static int apply_op(crypto_keyring_t *kr, keyop_t op, const uint8_t *k, size_t len,
                    const char **err)
{
    switch (op) {
    case OP_INSTALL:
        return crypto_keyring_add(kr, k, len, err);
    case OP_USE:
        return crypto_keyring_use(kr, k, len, err);
    case OP_REMOVE:
        return crypto_keyring_remove(kr, k, len, err);
    default:
        return 0;
    }
}

static int on_key_query(void *ud, const hm_query_t *q)
{
    mod_crypto_t *m = ud;
    crypto_keyresp_t r = {false, "", NULL, 0, ""};
    const uint8_t *key;
    const char *err;
    char ferr[256];
    size_t klen;
    keyop_t op;

    for (op = OP_INSTALL; op <= OP_LIST; op++)
        if (strcmp(q->name, ops[op].query) == 0)
            break;
    if (op > OP_LIST)
        return HM_DECLINED;
    if (m->st.ring.n == 0) {
        r.message = op == OP_LIST ? "Keyring is empty (encryption not enabled)"
                                  : "No keyring to modify (encryption not enabled)";
        hm_log(m->ctx, HM_LOG_ERR, "%s", r.message);
        respond(m, q, &r);
        return HM_OK;
    }
    if (op == OP_LIST) {
        answer_list(m, q);
        return HM_OK;
    }
    if (crypto_keyreq_decode(q->payload, q->len, &key, &klen) < 0) {
        hm_log(m->ctx, HM_LOG_ERR, "Failed to decode key request");
        respond(m, q, &r);
        return HM_OK;
    }
    hm_log(m->ctx, HM_LOG_INFO, "Received %s query", ops[op].verb);
    if (apply_op(&m->st.ring, op, key, klen, &err) < 0) {
        r.message = err;
        hm_log(m->ctx, HM_LOG_ERR, "%s: %s", ops[op].fail, err);
    } else if (persist(m, ferr, sizeof(ferr)) < 0) {
        r.message = ferr;
        hm_log(m->ctx, HM_LOG_ERR, "%s", ferr);
    } else {
        r.result = true;
    }
    respond(m, q, &r);
    return HM_OK;
}

/* ---- origin side: a key operation across the cluster ---- */

typedef struct keyop_run {
    mod_crypto_t *m;
    crypto_keyop_result_t res;
    bool finished;
    mod_crypto_done_fn done;
    void *ud;
} keyop_run_t;

static void keyop_report(keyop_run_t *run)
{
    char buf[128];

    run->finished = true;
    run->done(run->ud, &run->res, crypto_keyop_error(&run->res, buf, sizeof(buf)));
}

/* Serf's KeyManager answers as soon as every node has responded; later
 * copies (relays) and the query's end are then only bookkeeping. */
static void keyop_reply(void *ud, hm_query_reply_type_t type, const char *from,
                        const uint8_t *payload, size_t len)
{
    keyop_run_t *run = ud;

    if (type == HM_QUERY_RESPONSE && !run->finished) {
        if (crypto_keyop_add(&run->res, from, payload, len))
            keyop_report(run);
        return;
    }
    if (type != HM_QUERY_DONE)
        return;
    if (!run->finished)
        keyop_report(run);
    crypto_keyop_free(&run->res);
    free(run);
}

int mod_crypto_keyop(hm_ctx_t *ctx, const char *op, const char *key_b64, uint8_t relay_factor,
                     mod_crypto_done_fn done, void *ud, char *err, size_t errlen)
{
    mod_crypto_t *m = hm_ctx_data(ctx);
    uint8_t raw[3 * 1024];
    size_t len = 0;
    hm_buf_t req = {0};
    keyop_run_t *run;
    int i;

    for (i = OP_INSTALL; i <= OP_LIST; i++)
        if (strcmp(op, ops[i].verb) == 0)
            break;
    if (m == NULL || i > OP_LIST) {
        snprintf(err, errlen, "unknown key operation '%s'", op);
        return -1;
    }
    if (strlen(key_b64) >= sizeof(raw) || crypto_b64_decode(key_b64, raw, sizeof(raw), &len) < 0) {
        snprintf(err, errlen, "illegal base64 data");
        return -1;
    }
    run = calloc(1, sizeof(*run));
    if (run == NULL || crypto_keyreq_encode(raw, len, &req) < 0) {
        free(run);
        hm_buf_free(&req);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    run->m = m;
    run->done = done;
    run->ud = ud;
    run->res.num_nodes = (int)hm_members_count(ctx);
    hm_log(ctx, HM_LOG_INFO, "Initiating key %s",
           i == OP_INSTALL  ? "installation"
           : i == OP_USE    ? "change"
           : i == OP_REMOVE ? "removal"
                            : "listing");
    hm_query_params_t p = {
        .name = ops[i].query, .payload = req.data, .len = req.len, .relay_factor = relay_factor};
    if (hm_query_send(ctx, &p, keyop_reply, run, NULL) < 0) {
        hm_buf_free(&req);
        free(run);
        snprintf(err, errlen, "failed to send the %s query", ops[i].query);
        return -1;
    }
    hm_buf_free(&req);
    return 0;
}

/* ---- RPC keyring commands (served through mod_rpc's hm_hook_rpc) ---- */

static void rpc_keyop_done(void *ud, const crypto_keyop_result_t *res, const char *err)
{
    hm_rpc_request_t *r = ud;
    const char **keys = calloc(res->nkeys + 1, sizeof(char *));
    uint32_t *counts = calloc(res->nkeys + 1, sizeof(uint32_t));
    hm_tag_t *msgs = calloc(res->nmessages + 1, sizeof(hm_tag_t));
    hm_tags_t mt = {msgs, res->nmessages};
    hm_rpc_keys_reply_t k = {.error = err,
                             .list = strcmp(r->command, "list-keys") == 0,
                             .keys = keys,
                             .counts = counts,
                             .nkeys = res->nkeys,
                             .messages = &mt,
                             .num_err = (uint32_t)res->num_err,
                             .num_nodes = (uint32_t)res->num_nodes,
                             .num_resp = (uint32_t)res->num_resp};

    if (keys == NULL || counts == NULL || msgs == NULL) {
        hm_rpc_keys_reply_t oom = {.error = "out of memory"};
        r->reply_keys(r, &oom);
        goto out;
    }
    for (size_t i = 0; i < res->nkeys; i++) {
        keys[i] = res->keys[i].name;
        counts[i] = (uint32_t)res->keys[i].count;
    }
    for (size_t i = 0; i < res->nmessages; i++) {
        msgs[i].key = res->messages[i].name;
        msgs[i].value = res->messages[i].text ? res->messages[i].text : "";
    }
    r->reply_keys(r, &k);
out:
    free(keys);
    free(counts);
    free(msgs);
}

static int on_rpc_key(void *ud, void *request)
{
    mod_crypto_t *m = ud;
    hm_rpc_request_t *r = request;
    bool list = strcmp(r->command, "list-keys") == 0;
    const char *key = list ? "" : r->field_str(r, "Key");
    char err[256];

    if (mod_crypto_keyop(m->ctx, r->command, key ? key : "", 0, rpc_keyop_done, r, err,
                         sizeof(err)) < 0) {
        hm_rpc_keys_reply_t k = {.error = err};
        r->reply_keys(r, &k);
    }
    return HM_OK;
}

/* ---- life cycle ---- */

static int load_keys(mod_crypto_t *m, const hm_conf_node_t *conf)
{
    const char *key = hm_conf_str(conf, "encrypt_key");
    const char *file = hm_conf_str(conf, "keyring_file");
    char err[512];
    const char *e;
    crypto_key_t k;

    if (key && !*key)
        key = NULL;
    if (file && *file) {
        if (key) {
            hm_log(m->ctx, HM_LOG_ERR, "Encryption key not allowed while using a keyring");
            return -1;
        }
        if ((m->keyring_file = strdup(file)) == NULL ||
            crypto_keyring_load(&m->st.ring, file, err, sizeof(err)) < 0) {
            hm_log(m->ctx, HM_LOG_ERR, "%s: %s", file, m->keyring_file ? err : "no memory");
            return -1;
        }
        hm_log(m->ctx, HM_LOG_INFO, "Restored keyring with %zu keys from %s", m->st.ring.n, file);
    } else if (key) {
        if (crypto_key_parse(key, &k, &e) < 0 ||
            crypto_keyring_add(&m->st.ring, k.k, k.len, &e) < 0) {
            hm_log(m->ctx, HM_LOG_ERR, "Invalid encryption key: %s", e);
            return -1;
        }
    }
    return 0;
}

static int crypto_init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    mod_crypto_t *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return HM_ERROR;
    m->ctx = ctx;
    m->st.vsn = 1; /* serf 0.9.4 runs memberlist protocol 2: always version 1 */
    m->st.verify_incoming = hm_conf_bool(conf, "verify_incoming");
    m->st.verify_outgoing = hm_conf_bool(conf, "verify_outgoing");
    hm_ctx_set_data(ctx, m);
    if (load_keys(m, conf) < 0)
        return HM_ERROR;
    if (m->st.ring.n == 0)
        hm_log(ctx, HM_LOG_WARN, "module loaded without a key: traffic stays plain");
    if (hm_hook_packet_out(ctx, on_packet_out, m) < 0 ||
        hm_hook_packet_in(ctx, on_packet_in, m) < 0 ||
        hm_hook_stream_out(ctx, on_stream_out, m) < 0 ||
        hm_hook_stream_in(ctx, on_stream_in, m) < 0 || hm_hook_metrics(ctx, on_metrics, m) < 0)
        return HM_ERROR;
    for (int i = OP_INSTALL; i <= OP_LIST; i++)
        if (hm_hook_query(ctx, ops[i].query, on_key_query, m) < 0)
            return HM_ERROR;
    for (int i = OP_INSTALL; i <= OP_LIST; i++)
        if (hm_hook_rpc(ctx, ops[i].verb, on_rpc_key, m) < 0)
            return HM_ERROR;
    if (m->st.ring.n > 0 && m->st.verify_outgoing)
        hm_hook_set_packet_overhead(ctx, crypto_overhead(m->st.vsn));
    return HM_OK;
}

static void crypto_fini(hm_ctx_t *ctx)
{
    mod_crypto_t *m = hm_ctx_data(ctx);

    if (m == NULL)
        return;
    crypto_keyring_free(&m->st.ring);
    free(m->keyring_file);
    free(m);
    hm_ctx_set_data(ctx, NULL);
}

HM_MODULE = {HM_MODULE_V1, "crypto", "0.1.0", crypto_keys, crypto_init, NULL, crypto_fini, {NULL}};
