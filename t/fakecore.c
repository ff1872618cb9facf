/* A fake core for module tests (see fakecore.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "fakecore.h"

fakecore_t fc;

struct hm_ctx {
    void *data;
};
static struct hm_ctx the_ctx;

struct hm_conf_node {
    char *key, *value;
    int kind; /* 0 scalar, 1 map, 2 list */
    struct hm_conf_node **kids;
    size_t n;
};

hm_ctx_t *fc_ctx(void)
{
    return &the_ctx;
}

/* ---- module.h ---- */
void hm_ctx_set_data(hm_ctx_t *ctx, void *data)
{
    ctx->data = data;
}

void *hm_ctx_data(hm_ctx_t *ctx)
{
    return ctx->data;
}

const char *hm_ctx_module_name(hm_ctx_t *ctx)
{
    return "test";
}

/* ---- conf ---- */
static hm_conf_node_t *node(int kind, const char *key, const char *value)
{
    hm_conf_node_t *n = calloc(1, sizeof(*n));
    n->kind = kind;
    n->key = key ? strdup(key) : NULL;
    n->value = value ? strdup(value) : NULL;
    return n;
}

static void add(hm_conf_node_t *p, hm_conf_node_t *k)
{
    p->kids = realloc(p->kids, (p->n + 1) * sizeof(*p->kids));
    p->kids[p->n++] = k;
}

hm_conf_node_t *fc_map(void)
{
    return node(1, NULL, NULL);
}

const hm_conf_node_t *hm_conf_get(const hm_conf_node_t *n, const char *path)
{
    for (size_t i = 0; n && i < n->n; i++)
        if (n->kids[i]->key && strcmp(n->kids[i]->key, path) == 0)
            return n->kids[i];
    return NULL;
}

void fc_set(hm_conf_node_t *map, const char *key, const char *value)
{
    add(map, node(0, key, value));
}

void fc_list_add(hm_conf_node_t *map, const char *key, const char *value)
{
    hm_conf_node_t *l = (hm_conf_node_t *)hm_conf_get(map, key);
    if (l == NULL) {
        l = node(2, key, NULL);
        add(map, l);
    }
    add(l, node(0, NULL, value));
}

hm_conf_node_t *fc_section_add(hm_conf_node_t *map, const char *key)
{
    hm_conf_node_t *l = (hm_conf_node_t *)hm_conf_get(map, key), *s = fc_map();
    if (l == NULL) {
        l = node(2, key, NULL);
        add(map, l);
    }
    add(l, s);
    return s;
}

void fc_defaults(hm_conf_node_t *map, const hm_conf_key_t *keys)
{
    for (size_t i = 0; keys && keys[i].name; i++)
        if (keys[i].def && !hm_conf_get(map, keys[i].name) && keys[i].type != HM_CONF_LIST &&
            keys[i].type != HM_CONF_SECTION_LIST)
            fc_set(map, keys[i].name, keys[i].def);
}

void fc_free(hm_conf_node_t *n)
{
    for (size_t i = 0; n && i < n->n; i++)
        fc_free(n->kids[i]);
    if (n) {
        free(n->kids);
        free(n->key);
        free(n->value);
        free(n);
    }
}

const char *hm_conf_str(const hm_conf_node_t *n, const char *path)
{
    const hm_conf_node_t *c = hm_conf_get(n, path);
    return c ? c->value : NULL;
}

int64_t hm_conf_int(const hm_conf_node_t *n, const char *path)
{
    const char *v = hm_conf_str(n, path);
    return v ? strtoll(v, NULL, 10) : 0;
}

bool hm_conf_bool(const hm_conf_node_t *n, const char *path)
{
    const char *v = hm_conf_str(n, path);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0);
}

int64_t hm_conf_ms(const hm_conf_node_t *n, const char *path)
{
    const char *v = hm_conf_str(n, path);
    char *end;
    double x;
    if (v == NULL)
        return 0;
    x = strtod(v, &end);
    if (strcmp(end, "s") == 0)
        x *= 1000;
    else if (strcmp(end, "m") == 0)
        x *= 60000;
    return (int64_t)x;
}

int64_t hm_conf_bytes(const hm_conf_node_t *n, const char *path)
{
    return hm_conf_int(n, path);
}

bool hm_conf_isset(const hm_conf_node_t *n, const char *path)
{
    return hm_conf_get(n, path) != NULL;
}

size_t hm_conf_len(const hm_conf_node_t *n)
{
    return n ? n->n : 0;
}

const hm_conf_node_t *hm_conf_at(const hm_conf_node_t *n, size_t i)
{
    return n && i < n->n ? n->kids[i] : NULL;
}

const char *hm_conf_key_at(const hm_conf_node_t *n, size_t i)
{
    return n && i < n->n ? n->kids[i]->key : NULL;
}

const char *hm_conf_value(const hm_conf_node_t *n)
{
    return n ? n->value : NULL;
}

const char *hm_conf_where(const hm_conf_node_t *n)
{
    return "test.yaml:1:1";
}

/* ---- api ---- */
void hm_vlog(hm_ctx_t *ctx, hm_log_level_t level, const char *fmt, va_list ap)
{
    static const char *lv[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERR"};
    char line[900];
    size_t used = strlen(fc.logs);
    vsnprintf(line, sizeof(line), fmt, ap);
    snprintf(fc.last_log, sizeof(fc.last_log), "[%s] %s", lv[level], line);
    if (used + strlen(fc.last_log) + 2 < sizeof(fc.logs))
        snprintf(fc.logs + used, sizeof(fc.logs) - used, "%s\n", fc.last_log);
}

void hm_log(hm_ctx_t *ctx, hm_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hm_vlog(ctx, level, fmt, ap);
    va_end(ap);
}

struct event_base *hm_event_base(hm_ctx_t *ctx)
{
    return fc.base;
}

const hm_member_t *hm_self(hm_ctx_t *ctx)
{
    return &fc.self;
}

size_t hm_members_count(hm_ctx_t *ctx)
{
    return fc.members;
}

int hm_query_respond(hm_ctx_t *ctx, const hm_query_t *q, const void *buf, size_t len)
{
    fc_response_t *r;
    if (fc.respond_rc != 0)
        return fc.respond_rc;
    if (fc.nresponses >= FC_MAX || len > sizeof(r->data))
        return HM_ERROR;
    r = &fc.responses[fc.nresponses++];
    r->id = q->id;
    memcpy(r->data, buf, len);
    r->len = len;
    return HM_OK;
}

int hm_query_send(hm_ctx_t *ctx, const hm_query_params_t *p, hm_query_reply_fn fn, void *ud,
                  uint32_t *id_out)
{
    fc.sent = *p;
    snprintf(fc.sent_name, sizeof(fc.sent_name), "%s", p->name);
    if (p->len <= sizeof(fc.sent_payload))
        memcpy(fc.sent_payload, p->payload, p->len);
    fc.sent.name = fc.sent_name;
    fc.sent.payload = fc.sent_payload;
    fc.sent_fn = fn;
    fc.sent_ud = ud;
    return HM_OK;
}

void hm_metric_add(hm_ctx_t *ctx, const char *name, double delta)
{
    fc.metric_sum += delta;
}

/* ---- hooks ---- */
static int named(fc_named_t *v, size_t *n, const char *name, void *fn, void *ud)
{
    if (*n >= FC_MAX)
        return HM_ERROR;
    snprintf(v[*n].name, sizeof(v[*n].name), "%s", name ? name : "");
    v[*n].fn = fn;
    v[*n].ud = ud;
    (*n)++;
    return HM_OK;
}

void *fc_named_fn(fc_named_t *v, size_t n, const char *name, void **ud)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name ? name : "") == 0) {
            *ud = v[i].ud;
            return v[i].fn;
        }
    return NULL;
}

int hm_hook_packet_out(hm_ctx_t *ctx, hm_packet_fn fn, void *ud)
{
    fc.packet_out = fn;
    fc.transform_ud = ud;
    return HM_OK;
}

int hm_hook_packet_in(hm_ctx_t *ctx, hm_packet_fn fn, void *ud)
{
    fc.packet_in = fn;
    return HM_OK;
}

int hm_hook_stream_out(hm_ctx_t *ctx, hm_stream_out_fn fn, void *ud)
{
    fc.stream_out = fn;
    return HM_OK;
}

int hm_hook_stream_in(hm_ctx_t *ctx, hm_stream_in_fn fn, void *ud)
{
    fc.stream_in = fn;
    return HM_OK;
}

int hm_hook_member_event(hm_ctx_t *ctx, hm_member_event_fn fn, void *ud)
{
    fc.member_fn = fn;
    fc.member_ud = ud;
    return HM_OK;
}

int hm_hook_user_event(hm_ctx_t *ctx, hm_user_event_fn fn, void *ud)
{
    fc.user_fn = fn;
    fc.user_ud = ud;
    return HM_OK;
}

int hm_hook_query(hm_ctx_t *ctx, const char *name, hm_query_fn fn, void *ud)
{
    return named(fc.queries, &fc.nqueries, name, (void *)fn, ud);
}

int hm_hook_filter(hm_ctx_t *ctx, const char *name, hm_filter_fn fn, void *ud)
{
    return named(fc.filters, &fc.nfilters, name, (void *)fn, ud);
}

int hm_hook_rpc(hm_ctx_t *ctx, const char *command, hm_rpc_fn fn, void *ud)
{
    return named(fc.rpcs, &fc.nrpcs, command, (void *)fn, ud);
}

int hm_hook_metrics(hm_ctx_t *ctx, hm_metrics_fn fn, void *ud)
{
    fc.metrics_fn = fn;
    fc.metrics_ud = ud;
    return HM_OK;
}

void hm_hook_set_packet_overhead(hm_ctx_t *ctx, size_t bytes)
{
    fc.overhead = bytes;
}

int fc_query(const char *name, const hm_query_t *q)
{
    void *ud;
    hm_query_fn fn = (hm_query_fn)fc_named_fn(fc.queries, fc.nqueries, name, &ud);
    return fn ? fn(ud, q) : HM_DECLINED;
}

static const char *metric_name;
static double metric_value;

static void emit(void *ud, const char *name, double value)
{
    if (strcmp(name, metric_name) == 0)
        metric_value += value;
}

double fc_metric(const char *name)
{
    metric_name = name;
    metric_value = 0;
    if (fc.metrics_fn)
        fc.metrics_fn(fc.metrics_ud, emit, NULL);
    return metric_value;
}
