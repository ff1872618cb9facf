/* mod_rpc: the one-shot commands (request in, one response out). */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_int.h"

/* --- helpers --------------------------------------------------------------- */

void rpc_tags_free(hm_tags_t *t)
{
    for (size_t i = 0; t->v && i < t->n; i++) {
        free((char *)t->v[i].key);
        free((char *)t->v[i].value);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

int rpc_obj_tags(const msgpack_object *o, hm_tags_t *out)
{
    out->v = NULL;
    out->n = 0;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return -1;
    out->v = calloc(o->via.map.size + 1, sizeof(hm_tag_t));
    if (out->v == NULL)
        return -1;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        char *k = hm_rpc_strdup(&o->via.map.ptr[i].key);
        char *v = hm_rpc_strdup(&o->via.map.ptr[i].val);
        if (k == NULL || v == NULL) {
            free(k);
            free(v);
            rpc_tags_free(out);
            return -1;
        }
        out->v[out->n].key = k;
        out->v[out->n++].value = v;
    }
    return 0;
}

/* A string field as a malloc'ed C string ("" when absent); NULL on a wrong type. */
static char *field_dup(const msgpack_object *body, const char *key)
{
    const msgpack_object *o = hm_rpc_get(body, key);

    return o ? hm_rpc_strdup(o) : strdup("");
}

static bool is_map(const msgpack_object *body)
{
    return body && body->type == MSGPACK_OBJECT_MAP;
}

/* A body that does not decode: error, then close (the brief's rule for
 * malformed requests; Serf closes without a word). */
static int bad_body(rpc_conn_t *c, uint64_t seq)
{
    rpc_send(c, seq, "Malformed request body", NULL);
    return -1;
}

/* --- handshake, auth --------------------------------------------------------- */

int rpc_cmd_handshake(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    int64_t v;

    if (!is_map(body) || hm_rpc_field_int(body, "Version", &v) < 0)
        return bad_body(c, seq);
    if (c->version != 0)
        rpc_send(c, seq, HM_RPC_ERR_DUP_HANDSHAKE, NULL);
    else if (v != HM_RPC_VERSION)
        rpc_send(c, seq, HM_RPC_ERR_VERSION, NULL);
    else {
        c->version = (int)v;
        rpc_send(c, seq, "", NULL);
    }
    return 0;
}

int rpc_cmd_auth(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    const char *k;
    size_t n;
    const char *want = c->srv->auth;

    if (!is_map(body) || hm_rpc_field_str(body, "AuthKey", &k, &n) < 0)
        return bad_body(c, seq);
    if (n == strlen(want) && (n == 0 || memcmp(k, want, n) == 0)) {
        c->did_auth = true;
        rpc_send(c, seq, "", NULL);
    } else {
        hm_log(c->srv->ctx, HM_LOG_WARN, "Client %s failed authentication", c->peer);
        rpc_send(c, seq, HM_RPC_ERR_AUTH_INVALID, NULL);
    }
    return 0;
}

/* --- event, force-leave, join, tags, leave ------------------------------------ */

int rpc_cmd_event(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    const char *p;
    size_t n;
    bool coalesce;
    char *name;
    int rc;

    if (!is_map(body) || hm_rpc_field_str(body, "Payload", &p, &n) < 0 ||
        hm_rpc_field_bool(body, "Coalesce", &coalesce) < 0 ||
        (name = field_dup(body, "Name")) == NULL)
        return bad_body(c, seq);
    rpc_capture_begin(c->srv);
    rc = hm_user_event(c->srv->ctx, name, p, n, coalesce);
    rpc_send(c, seq, rc == HM_OK ? "" : rpc_capture_end(c->srv, "failed to send user event"), NULL);
    rpc_capture_end(c->srv, NULL);
    free(name);
    return 0;
}

int rpc_cmd_force_leave(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    bool prune;
    char *node;
    int rc;

    if (!is_map(body) || hm_rpc_field_bool(body, "Prune", &prune) < 0 ||
        (node = field_dup(body, "Node")) == NULL)
        return bad_body(c, seq);
    rpc_capture_begin(c->srv);
    rc = hm_force_leave(c->srv->ctx, node, prune);
    rpc_send(c, seq,
             rc == HM_OK ? "" : rpc_capture_end(c->srv, "timed out broadcasting node removal"),
             NULL);
    rpc_capture_end(c->srv, NULL);
    free(node);
    return 0;
}

static int pack_num(hm_buf_t *b, size_t num)
{
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, b);
    return msgpack_pack_map(&pk, 1) | hm_rpc_pack_kuint(&pk, "Num", num);
}

int rpc_cmd_join(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    const msgpack_object *ex = hm_rpc_get(body, "Existing");
    size_t n = 0, joined = 0;
    char **addrs = NULL, err[1024] = "";
    bool replay;
    hm_buf_t out = {0};
    int rc = 0;

    if (!is_map(body) || hm_rpc_field_bool(body, "Replay", &replay) < 0 ||
        (ex && ex->type != MSGPACK_OBJECT_ARRAY && ex->type != MSGPACK_OBJECT_NIL))
        return bad_body(c, seq);
    if (ex && ex->type == MSGPACK_OBJECT_ARRAY) {
        addrs = calloc(ex->via.array.size + 1, sizeof(char *));
        for (uint32_t i = 0; addrs && i < ex->via.array.size && rc == 0; i++) {
            addrs[n] = hm_rpc_strdup(&ex->via.array.ptr[i]);
            rc = addrs[n++] ? 0 : -1;
        }
        if (addrs == NULL)
            rc = -1;
    }
    if (rc == 0) {
        rc = hm_join(c->srv->ctx, (const char *const *)addrs, n, replay, &joined, err, sizeof(err));
        if (rc != HM_OK && err[0] == '\0')
            snprintf(err, sizeof(err), "join failed");
        pack_num(&out, joined);
        rpc_send(c, seq, rc == HM_OK ? "" : err, &out);
        rc = 0;
    } else {
        rc = bad_body(c, seq);
    }
    for (size_t i = 0; addrs && i < n; i++)
        free(addrs[i]);
    free(addrs);
    hm_buf_free(&out);
    return rc;
}

int rpc_cmd_tags(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    const msgpack_object *del = hm_rpc_get(body, "DeleteTags");
    hm_tags_t set = {0};
    char **dv = NULL;
    size_t nd = 0;
    int rc = 0;

    if (!is_map(body) || rpc_obj_tags(hm_rpc_get(body, "Tags"), &set) < 0 ||
        (del && del->type != MSGPACK_OBJECT_ARRAY && del->type != MSGPACK_OBJECT_NIL)) {
        rpc_tags_free(&set);
        return bad_body(c, seq);
    }
    if (del && del->type == MSGPACK_OBJECT_ARRAY) {
        dv = calloc(del->via.array.size + 1, sizeof(char *));
        for (uint32_t i = 0; dv && i < del->via.array.size && rc == 0; i++)
            rc = (dv[nd++] = hm_rpc_strdup(&del->via.array.ptr[i])) ? 0 : -1;
        if (dv == NULL)
            rc = -1;
    }
    if (rc == 0) {
        rpc_capture_begin(c->srv);
        rc = hm_tags_update(c->srv->ctx, &set, (const char *const *)dv, nd);
        rpc_send(c, seq, rc == HM_OK ? "" : rpc_capture_end(c->srv, "failed to update tags"), NULL);
        rpc_capture_end(c->srv, NULL);
        rc = 0;
    } else {
        rc = bad_body(c, seq);
    }
    for (size_t i = 0; dv && i < nd; i++)
        free(dv[i]);
    free(dv);
    rpc_tags_free(&set);
    return rc;
}

/* Serf answers `leave` once the leave is over, just before it shuts down:
 * the answer waits for the module's fini (see mod_rpc.c). */
int rpc_cmd_leave(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    hm_log(c->srv->ctx, HM_LOG_INFO, "Graceful leave requested by %s", c->peer);
    if (c->leave_pending) {
        rpc_send(c, seq, "Leave already in progress", NULL);
        return 0;
    }
    rpc_capture_begin(c->srv);
    if (hm_leave(c->srv->ctx) != HM_OK) {
        rpc_send(c, seq, rpc_capture_end(c->srv, "Leave failed"), NULL);
        return 0;
    }
    rpc_capture_end(c->srv, NULL);
    c->leave_pending = true;
    c->leave_seq = seq;
    return 0;
}

/* --- members ------------------------------------------------------------- */

typedef struct mfilter {
    bool by_name, by_status;
    regex_t name, status;
    hm_tags_t tags;  /* key -> expression, for the "tags" filter */
    regex_t *tag_re; /* local fallback when no module serves "tags" */
    char *tag_expr;  /* "k=re\nk2=re2" */
    bool use_hook;
} mfilter_t;

typedef struct mlist {
    rpc_conn_t *c;
    mfilter_t *f;
    msgpack_packer pk;
    hm_buf_t items;
    size_t n;
} mlist_t;

/* Serf compiles "^" + expr + "$" (no grouping). */
static int anchored(regex_t *re, const char *expr)
{
    size_t l = strlen(expr) + 3;
    char *s = malloc(l);
    int rc;

    if (s == NULL)
        return -1;
    snprintf(s, l, "^%s$", expr);
    rc = regcomp(re, s, REG_EXTENDED | REG_NOSUB);
    free(s);
    return rc == 0 ? 0 : -1;
}

static const char *tag_value(const hm_member_t *m, const char *key)
{
    for (size_t i = 0; i < m->tags.n; i++)
        if (strcmp(m->tags.v[i].key, key) == 0)
            return m->tags.v[i].value;
    return "";
}

static bool match(mfilter_t *f, rpc_conn_t *c, const hm_member_t *m)
{
    if (f->by_name && regexec(&f->name, m->name ? m->name : "", 0, NULL, 0) != 0)
        return false;
    if (f->by_status && regexec(&f->status, hm_status_name(m->status), 0, NULL, 0) != 0)
        return false;
    if (f->tags.n == 0)
        return true;
    if (f->use_hook) {
        const char *err = NULL;
        return hm_filter_eval(c->srv->ctx, "tags", f->tag_expr, m, &err) == 1;
    }
    for (size_t i = 0; i < f->tags.n; i++)
        if (regexec(&f->tag_re[i], tag_value(m, f->tags.v[i].key), 0, NULL, 0) != 0)
            return false;
    return true;
}

static void mfilter_free(mfilter_t *f)
{
    if (f->by_name)
        regfree(&f->name);
    if (f->by_status)
        regfree(&f->status);
    for (size_t i = 0; f->tag_re && i < f->tags.n; i++)
        regfree(&f->tag_re[i]);
    free(f->tag_re);
    free(f->tag_expr);
    rpc_tags_free(&f->tags);
}

/* Compiles every expression: -1 on a bad one (Serf closes the connection). */
static int mfilter_init(mfilter_t *f, rpc_conn_t *c, const msgpack_object *body)
{
    const char *err = NULL;
    hm_buf_t e = {0};
    char *name, *status;
    int rc = 0;

    memset(f, 0, sizeof(*f));
    if (body == NULL)
        return 0;
    name = field_dup(body, "Name");
    status = field_dup(body, "Status");
    if (name == NULL || status == NULL || rpc_obj_tags(hm_rpc_get(body, "Tags"), &f->tags) < 0)
        rc = -1;
    if (rc == 0 && name[0])
        rc = anchored(&f->name, name), f->by_name = rc == 0;
    if (rc == 0 && status[0])
        rc = anchored(&f->status, status), f->by_status = rc == 0;
    free(name);
    free(status);
    if (rc < 0 || f->tags.n == 0)
        return rc;
    f->tag_re = calloc(f->tags.n, sizeof(regex_t));
    for (size_t i = 0; f->tag_re && i < f->tags.n; i++) {
        if (anchored(&f->tag_re[i], f->tags.v[i].value) < 0) {
            for (size_t k = 0; k < i; k++)
                regfree(&f->tag_re[k]);
            free(f->tag_re);
            f->tag_re = NULL;
            return -1;
        }
        hm_buf_append(&e, f->tags.v[i].key, strlen(f->tags.v[i].key));
        hm_buf_append(&e, "=", 1);
        hm_buf_append(&e, f->tags.v[i].value, strlen(f->tags.v[i].value));
        hm_buf_append(&e, i + 1 < f->tags.n ? "\n" : "", 1);
    }
    if (f->tag_re == NULL)
        return -1;
    f->tag_expr = (char *)e.data;
    /* mod_tags, when loaded, translates Serf's RE2 syntax: prefer it */
    if (hm_self(c->srv->ctx)) {
        rc = hm_filter_eval(c->srv->ctx, "tags", f->tag_expr, hm_self(c->srv->ctx), &err);
        f->use_hook = rc != HM_ERROR;
        if (rc == HM_ERROR && err && strcmp(err, "no such filter") != 0)
            return -1;
    }
    return 0;
}

static int add_member(void *ud, const hm_member_t *m)
{
    mlist_t *l = ud;

    if (l->f && !match(l->f, l->c, m))
        return 0;
    hm_rpc_pack_member(&l->pk, m);
    l->n++;
    return 0;
}

static int members(rpc_conn_t *c, uint64_t seq, mfilter_t *f)
{
    mlist_t l = {.c = c, .f = f};
    hm_buf_t out = {0};
    msgpack_packer pk;

    hm_rpc_packer_init(&l.pk, &l.items);
    hm_members_foreach(c->srv->ctx, add_member, &l);
    hm_rpc_packer_init(&pk, &out);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_str(&pk, "Members");
    msgpack_pack_array(&pk, l.n);
    hm_buf_append(&out, l.items.data, l.items.len);
    rpc_send(c, seq, "", &out);
    hm_buf_free(&out);
    hm_buf_free(&l.items);
    return 0;
}

int rpc_cmd_members(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    return members(c, seq, NULL);
}

int rpc_cmd_members_filtered(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    mfilter_t f;
    int rc;

    if (!is_map(body))
        return bad_body(c, seq);
    if (mfilter_init(&f, c, body) < 0) {
        /* Serf: a filter that does not compile ends the connection */
        mfilter_free(&f);
        return -1;
    }
    rc = members(c, seq, &f);
    mfilter_free(&f);
    return rc;
}

/* --- stats, get-coordinate --------------------------------------------------- */

/* Sections in the order first emitted, each with its key/value pairs. */
typedef struct stats {
    char **names;
    hm_tags_t *kv;
    size_t n;
} stats_t;

static void stat_emit(void *ud, const char *section, const char *key, const char *value)
{
    stats_t *s = ud;
    size_t i;

    for (i = 0; i < s->n && strcmp(s->names[i], section) != 0; i++)
        ;
    if (i == s->n) {
        char **nn = realloc(s->names, (s->n + 1) * sizeof(char *));
        hm_tags_t *nk = realloc(s->kv, (s->n + 1) * sizeof(hm_tags_t));
        if (nn)
            s->names = nn;
        if (nk)
            s->kv = nk;
        if (nn == NULL || nk == NULL || (nn[i] = strdup(section)) == NULL)
            return;
        nk[i] = (hm_tags_t){0};
        s->n++;
    }
    {
        hm_tag_t *v = realloc(s->kv[i].v, (s->kv[i].n + 1) * sizeof(hm_tag_t));
        if (v == NULL)
            return;
        s->kv[i].v = v;
        v[s->kv[i].n].key = strdup(key);
        v[s->kv[i].n].value = strdup(value ? value : "");
        if (v[s->kv[i].n].key && v[s->kv[i].n].value)
            s->kv[i].n++;
    }
}

int rpc_cmd_stats(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    stats_t s = {0};
    hm_buf_t out = {0};
    msgpack_packer pk;
    const hm_member_t *self = hm_self(c->srv->ctx);
    bool have_tags = false;

    hm_stats(c->srv->ctx, stat_emit, &s);
    for (size_t i = 0; i < s.n; i++)
        have_tags |= strcmp(s.names[i], "tags") == 0;
    hm_rpc_packer_init(&pk, &out);
    msgpack_pack_map(&pk, s.n + (!have_tags && self));
    for (size_t i = 0; i < s.n; i++) {
        hm_rpc_pack_str(&pk, s.names[i]);
        hm_rpc_pack_tags(&pk, &s.kv[i]);
    }
    if (!have_tags && self) { /* `serf info` always shows this node's tags */
        hm_rpc_pack_str(&pk, "tags");
        hm_rpc_pack_tags(&pk, &self->tags);
    }
    rpc_send(c, seq, "", &out);
    hm_buf_free(&out);
    for (size_t i = 0; i < s.n; i++) {
        free(s.names[i]);
        rpc_tags_free(&s.kv[i]);
    }
    free(s.names);
    free(s.kv);
    return 0;
}

int rpc_cmd_get_coordinate(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    hm_coord_t co;
    hm_buf_t out = {0};
    msgpack_packer pk;
    char *node;
    bool ok;

    if (!is_map(body) || (node = field_dup(body, "Node")) == NULL)
        return bad_body(c, seq);
    memset(&co, 0, sizeof(co));
    ok = hm_coordinate(c->srv->ctx, node, &co) == 0;
    if (!ok)
        memset(&co, 0, sizeof(co));
    hm_rpc_packer_init(&pk, &out);
    msgpack_pack_map(&pk, 2);
    hm_rpc_pack_str(&pk, "Coord");
    msgpack_pack_map(&pk, 4);
    hm_rpc_pack_str(&pk, "Adjustment");
    msgpack_pack_double(&pk, co.adjustment);
    hm_rpc_pack_str(&pk, "Error");
    msgpack_pack_double(&pk, co.error);
    hm_rpc_pack_str(&pk, "Height");
    msgpack_pack_double(&pk, co.height);
    hm_rpc_pack_str(&pk, "Vec");
    if (ok) {
        size_t dim = sizeof(co.vec) / sizeof(co.vec[0]);
        msgpack_pack_array(&pk, dim);
        for (size_t i = 0; i < dim; i++)
            msgpack_pack_double(&pk, co.vec[i]);
    } else {
        msgpack_pack_nil(&pk);
    }
    hm_rpc_pack_str(&pk, "Ok");
    ok ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    rpc_send(c, seq, "", &out);
    hm_buf_free(&out);
    free(node);
    return 0;
}
