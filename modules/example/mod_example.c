/*
 * mod_example: the template for site-specific hamlet modules.
 *
 * Copy this file, rename "example" everywhere, and build it against the
 * installed headers in one command:
 *
 *     cc -shared -fPIC $(pkg-config --cflags hamlet) -o mod_mine.so mod_mine.c
 *
 * then put mod_mine.so on hamletd's module_path and list it in `modules:`.
 * A module includes only <hamlet/hamlet.h>; everything it may do is there.
 *
 * What this one does, to show each kind of hook:
 *   - declares its config keys (validated by hamletd, defaults filled in);
 *   - answers the query named by `query` (default "example-ping") with
 *     "<reply> from <node>": try `hamlet query example-ping`;
 *   - logs member joins and counts them in a metric;
 *   - logs a heartbeat every `interval` at debug level.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hamlet/hamlet.h>

/* The keys accepted under `example:` in hamlet.yaml. */
static const hm_conf_key_t example_keys[] = {
    {"query", HM_CONF_STRING, "example-ping", 0, 0, NULL, "name of the query answered", NULL},
    {"reply", HM_CONF_STRING, "pong", 0, 0, NULL, "first word of the answer", NULL},
    {"interval", HM_CONF_DURATION, "60s", 1000, 86400000, NULL, "heartbeat log interval", NULL},
    HM_CONF_END,
};

/* Per-module state, kept in the context's data slot. */
typedef struct example {
    hm_ctx_t *ctx;
    char reply[64];
    unsigned long beats;
} example_t;

static int on_query(void *ud, const hm_query_t *q)
{
    example_t *ex = ud;
    const hm_member_t *self = hm_self(ex->ctx);
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "%s from %s", ex->reply, self ? self->name : "?");

    hm_metric_add(ex->ctx, "example.queries", 1);
    return hm_query_respond(ex->ctx, q, buf, (size_t)n) == HM_OK ? HM_OK : HM_ERROR;
}

static void on_member(void *ud, const hm_member_event_t *ev)
{
    example_t *ex = ud;

    if (ev->type != HM_EVENT_MEMBER_JOIN)
        return;
    for (size_t i = 0; i < ev->n; i++)
        hm_log(ex->ctx, HM_LOG_INFO, "member joined: %s", ev->members[i]->name);
    hm_metric_add(ex->ctx, "example.joins", (double)ev->n);
}

static void on_tick(void *ud, uint64_t now_ms)
{
    example_t *ex = ud;
    hm_log(ex->ctx, HM_LOG_DEBUG, "heartbeat %lu at %llu ms, %zu members", ++ex->beats,
           (unsigned long long)now_ms, hm_members_count(ex->ctx));
}

static int example_init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    example_t *ex = calloc(1, sizeof(*ex));

    if (ex == NULL)
        return HM_ERROR;
    ex->ctx = ctx;
    snprintf(ex->reply, sizeof(ex->reply), "%s", hm_conf_str(conf, "reply"));
    hm_ctx_set_data(ctx, ex);
    if (hm_hook_query(ctx, hm_conf_str(conf, "query"), on_query, ex) != HM_OK ||
        hm_hook_member_event(ctx, on_member, ex) != HM_OK ||
        hm_hook_tick(ctx, (uint32_t)hm_conf_ms(conf, "interval"), on_tick, ex) != HM_OK) {
        hm_log(ctx, HM_LOG_ERR, "cannot register hooks");
        return HM_ERROR;
    }
    hm_log(ctx, HM_LOG_INFO, "ready: answering query '%s'", hm_conf_str(conf, "query"));
    return HM_OK;
}

/* SIGHUP: the new section is already validated; take what can change. */
static int example_reload(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    example_t *ex = hm_ctx_data(ctx);
    snprintf(ex->reply, sizeof(ex->reply), "%s", hm_conf_str(conf, "reply"));
    return HM_OK;
}

static void example_fini(hm_ctx_t *ctx)
{
    free(hm_ctx_data(ctx));
    hm_ctx_set_data(ctx, NULL);
}

HM_MODULE = {HM_MODULE_V1, "example",      "1.0",        example_keys,
             example_init, example_reload, example_fini, {0}};
