/*
 * The hook table: one list per hook kind, in registration order.  Modules
 * register through <hamlet/hook.h>; the agent and the daemon run them
 * through hm_hooks.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "hm_daemon.h"
#include "hm_log.h"

enum {
    K_PKT_OUT,
    K_PKT_IN,
    K_STR_OUT,
    K_STR_IN,
    K_MEMBER,
    K_USER,
    K_QUERY,
    K_FILTER,
    K_RPC,
    K_HTTP,
    K_METRICS,
    K_LOG,
    K_TICK,
    K_COUNT
};

typedef union hook_fn {
    hm_packet_fn packet;
    hm_stream_out_fn stream_out;
    hm_stream_in_fn stream_in;
    hm_member_event_fn member;
    hm_user_event_fn user;
    hm_query_fn query;
    hm_filter_fn filter;
    hm_rpc_fn rpc;
    hm_http_fn http;
    hm_metrics_fn metrics;
    hm_log_fn log;
    hm_tick_fn tick;
} hook_fn_t;

typedef struct hook {
    hm_ctx_t *ctx;
    char *name; /* named handlers; NULL = catch-all */
    hook_fn_t fn;
    void *ud;
    uint32_t interval_ms; /* ticks */
    uint64_t next_due;
    struct event *ev;
} hook_t;

typedef struct metric {
    char *name;
    double value;
} metric_t;

/* Arrays of pointers: a hook's address stays put (tick timers keep it). */
struct hm_hooks {
    hook_t **v[K_COUNT];
    size_t n[K_COUNT];
    metric_t *metrics;
    size_t nmetrics;
};

hm_hooks_t *hm_hooks_new(void)
{
    return calloc(1, sizeof(hm_hooks_t));
}

static void hook_clear(hook_t *h)
{
    if (h->ev)
        event_free(h->ev);
    free(h->name);
    free(h);
}

void hm_hooks_free(hm_hooks_t *hs)
{
    if (hs == NULL)
        return;
    for (int k = 0; k < K_COUNT; k++) {
        for (size_t i = 0; i < hs->n[k]; i++)
            hook_clear(hs->v[k][i]);
        free(hs->v[k]);
    }
    for (size_t i = 0; i < hs->nmetrics; i++)
        free(hs->metrics[i].name);
    free(hs->metrics);
    free(hs);
}

void hm_hooks_forget(hm_hooks_t *hs, hm_ctx_t *ctx)
{
    for (int k = 0; k < K_COUNT; k++) {
        size_t j = 0;
        for (size_t i = 0; i < hs->n[k]; i++) {
            if (hs->v[k][i]->ctx == ctx)
                hook_clear(hs->v[k][i]);
            else
                hs->v[k][j++] = hs->v[k][i];
        }
        hs->n[k] = j;
    }
}

static hm_hooks_t *table(struct hm_daemon *d)
{
    return d ? d->hooks : NULL;
}

static hook_t *add(hm_ctx_t *ctx, int kind, const char *name, void *ud)
{
    hm_hooks_t *hs;
    hook_t **v, *h;

    if (ctx == NULL || ctx->d == NULL || (hs = ctx->d->hooks) == NULL)
        return NULL;
    v = realloc(hs->v[kind], (hs->n[kind] + 1) * sizeof(*v));
    if (v == NULL)
        return NULL;
    hs->v[kind] = v;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->ctx = ctx;
    h->ud = ud;
    if (name && (h->name = strdup(name)) == NULL) {
        free(h);
        return NULL;
    }
    v[hs->n[kind]++] = h;
    return h;
}

#define REGISTER(kind, field, name)                                                                \
    do {                                                                                           \
        hook_t *h_;                                                                                \
        if (fn == NULL || (h_ = add(ctx, kind, name, ud)) == NULL)                                 \
            return HM_ERROR;                                                                       \
        h_->fn.field = fn;                                                                         \
        return HM_OK;                                                                              \
    } while (0)

int hm_hook_packet_out(hm_ctx_t *ctx, hm_packet_fn fn, void *ud)
{
    REGISTER(K_PKT_OUT, packet, NULL);
}

int hm_hook_packet_in(hm_ctx_t *ctx, hm_packet_fn fn, void *ud)
{
    REGISTER(K_PKT_IN, packet, NULL);
}

int hm_hook_stream_out(hm_ctx_t *ctx, hm_stream_out_fn fn, void *ud)
{
    REGISTER(K_STR_OUT, stream_out, NULL);
}

int hm_hook_stream_in(hm_ctx_t *ctx, hm_stream_in_fn fn, void *ud)
{
    REGISTER(K_STR_IN, stream_in, NULL);
}

int hm_hook_member_event(hm_ctx_t *ctx, hm_member_event_fn fn, void *ud)
{
    REGISTER(K_MEMBER, member, NULL);
}

int hm_hook_user_event(hm_ctx_t *ctx, hm_user_event_fn fn, void *ud)
{
    REGISTER(K_USER, user, NULL);
}

int hm_hook_query(hm_ctx_t *ctx, const char *name, hm_query_fn fn, void *ud)
{
    REGISTER(K_QUERY, query, name);
}

int hm_hook_filter(hm_ctx_t *ctx, const char *name, hm_filter_fn fn, void *ud)
{
    if (name == NULL)
        return HM_ERROR;
    REGISTER(K_FILTER, filter, name);
}

int hm_hook_rpc(hm_ctx_t *ctx, const char *command, hm_rpc_fn fn, void *ud)
{
    if (command == NULL)
        return HM_ERROR;
    REGISTER(K_RPC, rpc, command);
}

int hm_hook_http(hm_ctx_t *ctx, const char *path, hm_http_fn fn, void *ud)
{
    if (path == NULL)
        return HM_ERROR;
    REGISTER(K_HTTP, http, path);
}

int hm_hook_metrics(hm_ctx_t *ctx, hm_metrics_fn fn, void *ud)
{
    REGISTER(K_METRICS, metrics, NULL);
}

int hm_hook_log(hm_ctx_t *ctx, hm_log_fn fn, void *ud)
{
    REGISTER(K_LOG, log, NULL);
}

uint64_t hm_now_ms(hm_ctx_t *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    hook_t *h = arg;
    (void)fd;
    (void)what;
    h->fn.tick(h->ud, hm_now_ms(NULL));
}

int hm_hook_tick(hm_ctx_t *ctx, uint32_t interval_ms, hm_tick_fn fn, void *ud)
{
    hook_t *h;

    if (fn == NULL || interval_ms == 0 || (h = add(ctx, K_TICK, NULL, ud)) == NULL)
        return HM_ERROR;
    h->fn.tick = fn;
    h->interval_ms = interval_ms;
    h->next_due = hm_now_ms(ctx) + interval_ms;
    /* with a loop, a libevent timer per hook drives it */
    if (ctx->d->base) {
        struct timeval tv = {interval_ms / 1000, (interval_ms % 1000) * 1000};
        h->ev = event_new(ctx->d->base, -1, EV_PERSIST, on_tick, h);
        if (h->ev == NULL || event_add(h->ev, &tv) < 0)
            return HM_ERROR;
    }
    return HM_OK;
}

void hm_hook_set_packet_overhead(hm_ctx_t *ctx, size_t bytes)
{
    if (ctx)
        ctx->overhead = bytes;
}

/* ---- runners ------------------------------------------------------------- */

static int run_transform(struct hm_daemon *d, int kind, const uint8_t *in, size_t len,
                         hm_buf_t *out)
{
    hm_hooks_t *hs = table(d);
    hm_buf_t a = {0}, b = {0};
    const uint8_t *cur = in;
    size_t curlen = len;
    bool changed = false;
    int r = HM_DECLINED;

    if (hs == NULL || hs->n[kind] == 0)
        return HM_DECLINED;
    for (size_t i = 0; i < hs->n[kind]; i++) {
        hook_t *h = hs->v[kind][i];
        hm_buf_reset(&b);
        r = kind == K_STR_OUT ? h->fn.stream_out(h->ud, cur, curlen, &b)
                              : h->fn.packet(h->ud, cur, curlen, &b);
        if (r == HM_DECLINED)
            continue;
        if (r != HM_OK)
            goto done;
        /* the result becomes the next hook's input */
        hm_buf_t t = a;
        a = b;
        b = t;
        cur = a.data;
        curlen = a.len;
        changed = true;
    }
    r = HM_DECLINED;
    if (changed) {
        r = hm_buf_append(out, cur, curlen) < 0 ? HM_ERROR : HM_OK;
    }
done:
    hm_buf_free(&a);
    hm_buf_free(&b);
    return r;
}

int hm_run_packet_out(struct hm_daemon *d, const uint8_t *in, size_t len, hm_buf_t *out)
{
    return run_transform(d, K_PKT_OUT, in, len, out);
}

int hm_run_packet_in(struct hm_daemon *d, const uint8_t *in, size_t len, hm_buf_t *out)
{
    return run_transform(d, K_PKT_IN, in, len, out);
}

int hm_run_stream_out(struct hm_daemon *d, const uint8_t *in, size_t len, hm_buf_t *out)
{
    return run_transform(d, K_STR_OUT, in, len, out);
}

int hm_run_stream_in(struct hm_daemon *d, const uint8_t *in, size_t len, hm_buf_t *out,
                     size_t *consumed)
{
    hm_hooks_t *hs = table(d);

    for (size_t i = 0; hs && i < hs->n[K_STR_IN]; i++) {
        hook_t *h = hs->v[K_STR_IN][i];
        int r = h->fn.stream_in(h->ud, in, len, out, consumed);
        if (r != HM_DECLINED)
            return r;
    }
    return HM_DECLINED;
}

bool hm_hooks_have_transforms(struct hm_daemon *d)
{
    hm_hooks_t *hs = table(d);
    return hs && (hs->n[K_PKT_OUT] || hs->n[K_PKT_IN] || hs->n[K_STR_OUT] || hs->n[K_STR_IN]);
}

size_t hm_hooks_packet_overhead(struct hm_daemon *d)
{
    size_t sum = 0;
    for (size_t i = 0; d && i < d->nctxs; i++)
        sum += d->ctxs[i]->overhead;
    return sum;
}

void hm_run_member_event(struct hm_daemon *d, const hm_member_event_t *ev)
{
    hm_hooks_t *hs = table(d);
    for (size_t i = 0; hs && i < hs->n[K_MEMBER]; i++)
        hs->v[K_MEMBER][i]->fn.member(hs->v[K_MEMBER][i]->ud, ev);
}

void hm_run_user_event(struct hm_daemon *d, const hm_user_event_t *ev)
{
    hm_hooks_t *hs = table(d);
    for (size_t i = 0; hs && i < hs->n[K_USER]; i++)
        hs->v[K_USER][i]->fn.user(hs->v[K_USER][i]->ud, ev);
}

int hm_run_query(struct hm_daemon *d, const hm_query_t *q, bool catch_all)
{
    hm_hooks_t *hs = table(d);
    int res = HM_DECLINED;

    if (hs == NULL)
        return HM_DECLINED;
    for (size_t i = 0; i < hs->n[K_QUERY]; i++) {
        hook_t *h = hs->v[K_QUERY][i];
        if (h->name == NULL || q->name == NULL || strcmp(h->name, q->name) != 0)
            continue;
        if (h->fn.query(h->ud, q) != HM_DECLINED) {
            res = HM_OK;
            break;
        }
    }
    for (size_t i = 0; catch_all && i < hs->n[K_QUERY]; i++) {
        hook_t *h = hs->v[K_QUERY][i];
        if (h->name == NULL && h->fn.query(h->ud, q) == HM_OK)
            res = HM_OK;
    }
    return res;
}

void hm_run_tick(struct hm_daemon *d, uint64_t now_ms)
{
    hm_hooks_t *hs = table(d);
    for (size_t i = 0; hs && i < hs->n[K_TICK]; i++) {
        hook_t *h = hs->v[K_TICK][i];
        if (now_ms < h->next_due)
            continue;
        h->next_due = now_ms + h->interval_ms;
        h->fn.tick(h->ud, now_ms);
    }
}

void hm_metric_add(hm_ctx_t *ctx, const char *name, double delta)
{
    hm_hooks_t *hs = ctx && ctx->d ? ctx->d->hooks : NULL;
    metric_t *m;

    if (hs == NULL || name == NULL)
        return;
    for (size_t i = 0; i < hs->nmetrics; i++) {
        if (strcmp(hs->metrics[i].name, name) == 0) {
            hs->metrics[i].value += delta;
            return;
        }
    }
    m = realloc(hs->metrics, (hs->nmetrics + 1) * sizeof(*m));
    if (m == NULL)
        return;
    hs->metrics = m;
    m[hs->nmetrics].name = strdup(name);
    if (m[hs->nmetrics].name == NULL)
        return;
    m[hs->nmetrics++].value = delta;
}

void hm_run_metrics(struct hm_daemon *d, hm_metric_emit_fn emit, void *ud)
{
    hm_hooks_t *hs = table(d);
    if (hs == NULL)
        return;
    for (size_t i = 0; i < hs->nmetrics; i++)
        emit(ud, hs->metrics[i].name, hs->metrics[i].value);
    for (size_t i = 0; i < hs->n[K_METRICS]; i++)
        hs->v[K_METRICS][i]->fn.metrics(hs->v[K_METRICS][i]->ud, emit, ud);
}

bool hm_hooks_have_log(struct hm_daemon *d)
{
    hm_hooks_t *hs = table(d);
    return hs && hs->n[K_LOG] > 0;
}

void hm_run_log(struct hm_daemon *d, hm_log_level_t lvl, const char *line)
{
    hm_hooks_t *hs = table(d);
    for (size_t i = 0; hs && i < hs->n[K_LOG]; i++)
        hs->v[K_LOG][i]->fn.log(hs->v[K_LOG][i]->ud, lvl, line);
}

static hook_t *named(hm_hooks_t *hs, int kind, const char *name, size_t *from)
{
    for (size_t i = *from; hs && i < hs->n[kind]; i++) {
        if (strcmp(hs->v[kind][i]->name, name) == 0) {
            *from = i + 1;
            return hs->v[kind][i];
        }
    }
    return NULL;
}

int hm_run_rpc(struct hm_daemon *d, const char *command, void *request)
{
    size_t at = 0;
    hook_t *h;
    while ((h = named(table(d), K_RPC, command, &at)) != NULL) {
        int r = h->fn.rpc(h->ud, request);
        if (r != HM_DECLINED)
            return r;
    }
    return HM_DECLINED;
}

int hm_run_http(struct hm_daemon *d, const char *path, void *request)
{
    size_t at = 0;
    hook_t *h;
    while ((h = named(table(d), K_HTTP, path, &at)) != NULL) {
        int r = h->fn.http(h->ud, request);
        if (r != HM_DECLINED)
            return r;
    }
    return HM_DECLINED;
}

int hm_filter_eval(hm_ctx_t *ctx, const char *name, const char *expr, const hm_member_t *m,
                   const char **err)
{
    size_t at = 0;
    hook_t *h;
    hm_hooks_t *hs = ctx && ctx->d ? ctx->d->hooks : NULL;

    while (name && (h = named(hs, K_FILTER, name, &at)) != NULL) {
        int r = h->fn.filter(h->ud, expr, m, err);
        if (r != HM_DECLINED)
            return r;
    }
    if (err)
        *err = "no such filter";
    return HM_ERROR;
}

/* Public dispatch for the modules that serve RPC and HTTP (<hamlet/hook.h>). */
int hm_rpc_dispatch(hm_ctx_t *ctx, const char *command, void *request)
{
    return hm_run_rpc(ctx ? ctx->d : NULL, command, request);
}

int hm_http_dispatch(hm_ctx_t *ctx, const char *path, void *request)
{
    return hm_run_http(ctx ? ctx->d : NULL, path, request);
}

void hm_metrics_collect(hm_ctx_t *ctx, hm_metric_emit_fn emit, void *ud)
{
    hm_run_metrics(ctx ? ctx->d : NULL, emit, ud);
}
