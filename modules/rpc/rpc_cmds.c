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

int rpc_obj_strs(const msgpack_object *o, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    *out = calloc(o->via.array.size + 1, sizeof(char *));
    if (*out == NULL)
        return -1;
    for (uint32_t i = 0; i < o->via.array.size; i++)
        if (((*out)[(*n)++] = hm_rpc_strdup(&o->via.array.ptr[i])) == NULL)
            return -1;
    return 0;
}

void rpc_strs_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
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
    rc = hm_user_event(c->srv->ctx, name, p, n, coalesce);
    rpc_send(c, seq, rc == HM_OK ? "" : rpc_api_error(c->srv, "failed to send user event"), NULL);
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
    rc = hm_force_leave(c->srv->ctx, node, prune);
    rpc_send(c, seq,
             rc == HM_OK ? "" : rpc_api_error(c->srv, "timed out broadcasting node removal"),
             NULL);
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
    size_t n = 0, joined = 0;
    char **addrs = NULL, err[1024] = "";
    bool replay;
    hm_buf_t out = {0};
    int rc;

    if (!is_map(body) || hm_rpc_field_bool(body, "Replay", &replay) < 0)
        return bad_body(c, seq);
    if (rpc_obj_strs(hm_rpc_get(body, "Existing"), &addrs, &n) == 0) {
        rc = hm_join(c->srv->ctx, (const char *const *)addrs, n, replay, &joined, err, sizeof(err));
        if (rc != HM_OK && err[0] == '\0')
            snprintf(err, sizeof(err), "join failed");
        pack_num(&out, joined);
        rpc_send(c, seq, rc == HM_OK ? "" : err, &out);
        rc = 0;
    } else {
        rc = bad_body(c, seq);
    }
    rpc_strs_free(addrs, n);
    hm_buf_free(&out);
    return rc;
}

int rpc_cmd_tags(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    hm_tags_t set = {0};
    char **dv = NULL;
    size_t nd = 0;
    int rc;

    if (!is_map(body) || rpc_obj_tags(hm_rpc_get(body, "Tags"), &set) < 0) {
        rpc_tags_free(&set);
        return bad_body(c, seq);
    }
    if (rpc_obj_strs(hm_rpc_get(body, "DeleteTags"), &dv, &nd) == 0) {
        rc = hm_tags_update(c->srv->ctx, &set, (const char *const *)dv, nd);
        rpc_send(c, seq, rc == HM_OK ? "" : rpc_api_error(c->srv, "failed to update tags"), NULL);
        rc = 0;
    } else {
        rc = bad_body(c, seq);
    }
    rpc_strs_free(dv, nd);
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
    if (hm_leave(c->srv->ctx) != HM_OK) {
        rpc_send(c, seq, rpc_api_error(c->srv, "Leave failed"), NULL);
        return 0;
    }
    c->leave_pending = true;
    c->leave_seq = seq;
    return 0;
}

/* --- members ------------------------------------------------------------- */

/* One condition of a member listing.  A filter of the hook table decides
 * when a module serves it (mod_tags: "tags" for KEY=RE, "expr" for @name and
 * @status, with Serf's RE2 syntax); otherwise a local POSIX regexp, anchored
 * as Serf anchors ("^" + RE + "$", no grouping). */
typedef struct mcond {
    const char *filter; /* "tags" or "expr" */
    char *expr;
    bool hook;
    int field; /* local: 0 name, 1 status, 2 the tag `key` */
    char *key;
    regex_t re;
    bool have_re;
} mcond_t;

typedef struct mfilter {
    mcond_t *v;
    size_t n;
} mfilter_t;

typedef struct mlist {
    rpc_conn_t *c;
    mfilter_t *f;
    msgpack_packer pk;
    hm_buf_t items;
    size_t n;
} mlist_t;

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

static bool cond_match(mcond_t *k, rpc_conn_t *c, const hm_member_t *m)
{
    const char *err = NULL, *v;

    if (k->hook)
        return hm_filter_eval(c->srv->ctx, k->filter, k->expr, m, &err) == 1;
    v = k->field == 0   ? (m->name ? m->name : "")
        : k->field == 1 ? hm_status_name(m->status)
                        : tag_value(m, k->key);
    return regexec(&k->re, v, 0, NULL, 0) == 0;
}

static bool match(mfilter_t *f, rpc_conn_t *c, const hm_member_t *m)
{
    for (size_t i = 0; i < f->n; i++)
        if (!cond_match(&f->v[i], c, m))
            return false;
    return true;
}

static void mfilter_free(mfilter_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        if (f->v[i].have_re)
            regfree(&f->v[i].re);
        free(f->v[i].expr);
        free(f->v[i].key);
    }
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

/* `@name~"RE"` with the quoting of mod_tags' expressions. */
static char *field_expr(const char *field, const char *re)
{
    hm_buf_t b = {0};

    hm_buf_append(&b, field, strlen(field));
    hm_buf_append(&b, "~\"", 2);
    for (const char *p = re; *p; p++) {
        if (*p == '"' || *p == '\\')
            hm_buf_append(&b, "\\", 1);
        hm_buf_append(&b, p, 1);
    }
    hm_buf_append(&b, "\"", 2); /* with the NUL */
    return (char *)b.data;
}

/* Adds a condition; -1 when its expression is bad (Serf then closes). */
static int cond_add(mfilter_t *f, rpc_conn_t *c, const char *filter, char *expr, int field,
                    const char *key, const char *re)
{
    const hm_member_t *self = hm_self(c->srv->ctx);
    const char *err = NULL;
    mcond_t *k;
    int rc = HM_ERROR;

    if (expr == NULL)
        return -1;
    k = &f->v[f->n++];
    memset(k, 0, sizeof(*k));
    k->filter = filter;
    k->expr = expr;
    k->field = field;
    if (self) /* ask once: is there such a filter, and is the expression good? */
        rc = hm_filter_eval(c->srv->ctx, filter, expr, self, &err);
    if (rc != HM_ERROR) {
        k->hook = true;
        return 0;
    }
    if (self && err && strcmp(err, "no such filter") != 0)
        return -1;
    if (key && (k->key = strdup(key)) == NULL)
        return -1;
    if (anchored(&k->re, re) < 0)
        return -1;
    k->have_re = true;
    return 0;
}

static int mfilter_init(mfilter_t *f, rpc_conn_t *c, const msgpack_object *body)
{
    char *name = field_dup(body, "Name"), *status = field_dup(body, "Status");
    hm_tags_t tags = {0};
    int rc = -1;

    memset(f, 0, sizeof(*f));
    if (name == NULL || status == NULL || rpc_obj_tags(hm_rpc_get(body, "Tags"), &tags) < 0 ||
        (f->v = calloc(tags.n + 2, sizeof(mcond_t))) == NULL)
        goto out;
    rc = 0;
    if (name[0])
        rc = cond_add(f, c, "expr", field_expr("@name", name), 0, NULL, name);
    if (rc == 0 && status[0])
        rc = cond_add(f, c, "expr", field_expr("@status", status), 1, NULL, status);
    for (size_t i = 0; rc == 0 && i < tags.n; i++) {
        size_t l = strlen(tags.v[i].key) + strlen(tags.v[i].value) + 2;
        char *e = malloc(l);
        if (e)
            snprintf(e, l, "%s=%s", tags.v[i].key, tags.v[i].value);
        rc = cond_add(f, c, "tags", e, 2, tags.v[i].key, tags.v[i].value);
    }
out:
    free(name);
    free(status);
    rpc_tags_free(&tags);
    return rc;
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
