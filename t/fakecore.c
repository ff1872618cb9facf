/* The core for module tests: real libhmcore, cluster doubles (see fakecore.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "../core/hm_log.h"
#include "fakecore.h"

fakecore_t fc;

/* The one module linked into the test. */
extern const hm_module_t hm_module;

static struct hm_daemon *the_d;
static hm_ctx_t *the_ctx, *obs_ctx;

/* A real log observer: keeps every line the real logger formats. */
static void on_log(void *ud, hm_log_level_t level, const char *line)
{
    size_t used = strlen(fc.logs);
    (void)ud;
    (void)level;
    snprintf(fc.last_log, sizeof(fc.last_log), "%s", line);
    if (used + strlen(line) + 2 < sizeof(fc.logs))
        snprintf(fc.logs + used, sizeof(fc.logs) - used, "%s\n", line);
}

static void fc_cleanup(void)
{
    hm_log_attach(NULL);
    hm_daemon_free(the_d);
}

struct hm_daemon *fc_daemon(void)
{
    if (the_d == NULL) {
        the_d = hm_daemon_new(fc.base);
        the_ctx = hm_ctx_new(the_d, hm_module.name);
        obs_ctx = hm_ctx_new(the_d, "fakecore");
        if (the_d == NULL || the_ctx == NULL || obs_ctx == NULL ||
            hm_hook_log(obs_ctx, on_log, NULL) != HM_OK) {
            fprintf(stderr, "fakecore: cannot build the daemon shell\n");
            exit(2);
        }
        hm_log_attach(the_d);
        /* lines go to the test's stderr at debug level and above */
        hm_log_set_level(HM_LOG_DEBUG);
        atexit(fc_cleanup);
    }
    the_d->base = fc.base; /* the test may create its base later */
    return the_d;
}

hm_ctx_t *fc_ctx(void)
{
    fc_daemon();
    return the_ctx;
}

void fc_reset(void)
{
    /* what unloading leaves behind: no hooks, no overhead, no data */
    hm_hooks_forget(fc_daemon()->hooks, the_ctx);
    the_ctx->overhead = 0;
    the_ctx->data = NULL;
    memset(&fc, 0, sizeof(fc));
}

int fc_hooks(const char *kind)
{
    return hm_hooks_count(fc_daemon(), kind);
}

/* ---- config: real nodes, real validation ---- */
#define WHERE "test.yaml:1:1"

hm_conf_node_t *fc_map(void)
{
    return hm_conf_new(HM_NODE_MAP, NULL, WHERE);
}

void fc_set(hm_conf_node_t *map, const char *key, const char *value)
{
    hm_conf_set_path(map, key, value, WHERE);
}

void fc_list_add(hm_conf_node_t *map, const char *key, const char *value)
{
    hm_conf_append_path(map, key, value, WHERE);
}

hm_conf_node_t *fc_section_add(hm_conf_node_t *map, const char *key)
{
    hm_conf_node_t *l = hm_conf_child(map, key), *s = fc_map();
    if (l == NULL) {
        l = hm_conf_new(HM_NODE_SEQ, NULL, WHERE);
        hm_conf_put(map, key, l);
    }
    s->set = l->set = true;
    hm_conf_push(l, s);
    return s;
}

int fc_defaults(hm_conf_node_t *map, const hm_conf_key_t *keys)
{
    char err[512];
    int rc = hm_conf_validate(map, keys, "", false, err, sizeof(err));
    if (rc != 0)
        printf("# fakecore: config refused: %s\n", err);
    return rc;
}

void fc_free(hm_conf_node_t *n)
{
    hm_conf_free(n);
}

/* ---- driving the real hook table ---- */
int fc_query(const char *name, const hm_query_t *q)
{
    if (name && strcmp(name, q->name ? q->name : "") != 0)
        return HM_ERROR;
    return hm_run_query(fc_daemon(), q, name == NULL);
}

static const char *metric_name;
static double metric_value;

static void emit(void *ud, const char *name, double value)
{
    (void)ud;
    if (strcmp(name, metric_name) == 0)
        metric_value += value;
}

double fc_metric(const char *name)
{
    metric_name = name;
    metric_value = 0;
    hm_run_metrics(fc_daemon(), emit, NULL);
    return metric_value;
}

/* ---- test doubles: the cluster half of <hamlet/api.h> (the agent's) ---- */
const hm_member_t *hm_self(hm_ctx_t *ctx)
{
    (void)ctx;
    return &fc.self;
}

size_t hm_members_count(hm_ctx_t *ctx)
{
    (void)ctx;
    return fc.members;
}

int hm_query_respond(hm_ctx_t *ctx, const hm_query_t *q, const void *buf, size_t len)
{
    fc_response_t *r;
    (void)ctx;
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
    (void)ctx;
    (void)id_out;
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

char *fc_slurp(const char *path)
{
    static char b[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(b, 1, sizeof(b) - 1, f) : 0;

    if (f)
        fclose(f);
    b[n] = 0;
    return b;
}
