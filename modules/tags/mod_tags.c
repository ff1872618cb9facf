/*
 * mod_tags: filter evaluators for the hook table and the tags file.
 *   "tags"       Serf's members filter: KEY=RE lines, anchored ^RE$
 *   "tags-query" Serf's query filter: KEY=RE lines, unanchored
 *   "expr"       the targeting expression (filter.h)
 * With `tags_file`, tags are restored from the file at start and the file
 * is rewritten (Serf's format, 0600) whenever this node's tags change.
 */
#include <stdlib.h>
#include <string.h>

#include <hamlet/hamlet.h>

#include "filter.h"
#include "tagsfile.h"

typedef struct mod_tags {
    hm_ctx_t *ctx;
    char *file;
    hm_tags_t saved; /* what the file holds */
    char *expr_src;  /* one-entry cache: a listing evaluates one expression */
    tags_expr_t *expr;
} mod_tags_t;

static const hm_conf_key_t tags_keys[] = {
    {"tags_file", HM_CONF_STRING, NULL, 0, 0, NULL,
     "Serf tags file (JSON object): restored at start, rewritten when tags change", NULL},
    HM_CONF_END,
};

static int filter_members(void *ud, const char *expr, const hm_member_t *m, const char **err)
{
    int rc = tags_serf_match(expr, m, true, err);
    return rc < 0 ? HM_ERROR : rc;
}

static int filter_query(void *ud, const char *expr, const hm_member_t *m, const char **err)
{
    int rc = tags_serf_match(expr, m, false, err);
    return rc < 0 ? HM_ERROR : rc;
}

static int filter_expr(void *ud, const char *src, const hm_member_t *m, const char **err)
{
    mod_tags_t *t = ud;

    if (t->expr_src == NULL || strcmp(t->expr_src, src) != 0) {
        tags_expr_t *e = tags_expr_parse(src, err);
        if (e == NULL)
            return HM_ERROR;
        tags_expr_free(t->expr);
        free(t->expr_src);
        t->expr = e;
        t->expr_src = strdup(src);
        if (t->expr_src == NULL) {
            tags_expr_free(t->expr);
            t->expr = NULL;
            *err = "out of memory";
            return HM_ERROR;
        }
    }
    return tags_expr_eval(t->expr, m) ? 1 : 0;
}

static int copy_tags(const hm_tags_t *from, hm_tags_t *to)
{
    to->n = 0;
    to->v = calloc(from->n + 1, sizeof(hm_tag_t));
    if (to->v == NULL)
        return -1;
    for (size_t i = 0; i < from->n; i++) {
        to->v[i].key = strdup(from->v[i].key);
        to->v[i].value = strdup(from->v[i].value);
        to->n++;
        if (!to->v[i].key || !to->v[i].value)
            return -1;
    }
    return 0;
}

/* Our own update (tags changed by RPC, reload...) rewrites the file. */
static void on_member_event(void *ud, const hm_member_event_t *ev)
{
    mod_tags_t *t = ud;
    const hm_member_t *self = hm_self(t->ctx);
    char err[256];

    if (t->file == NULL || self == NULL)
        return;
    if (ev->type != HM_EVENT_MEMBER_UPDATE && ev->type != HM_EVENT_MEMBER_JOIN)
        return;
    for (size_t i = 0; i < ev->n; i++) {
        if (strcmp(ev->members[i]->name, self->name) != 0)
            continue;
        if (tags_equal(&self->tags, &t->saved))
            return;
        if (tags_file_save(t->file, &self->tags, err, sizeof(err)) < 0) {
            hm_log(t->ctx, HM_LOG_ERR, "agent: %s", err);
            return;
        }
        tags_set_free(&t->saved);
        if (copy_tags(&self->tags, &t->saved) < 0)
            tags_set_free(&t->saved);
        return;
    }
}

static int tags_init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    mod_tags_t *t = calloc(1, sizeof(*t));
    const char *file = hm_conf_str(conf, "tags_file");
    char err[256];
    int rc;

    if (t == NULL)
        return HM_ERROR;
    t->ctx = ctx;
    hm_ctx_set_data(ctx, t);
    if (hm_hook_filter(ctx, "tags", filter_members, t) < 0 ||
        hm_hook_filter(ctx, "tags-query", filter_query, t) < 0 ||
        hm_hook_filter(ctx, "expr", filter_expr, t) < 0)
        return HM_ERROR;
    if (file == NULL || *file == 0)
        return HM_OK;
    if ((t->file = strdup(file)) == NULL)
        return HM_ERROR;
    rc = tags_file_load(file, &t->saved, err, sizeof(err));
    if (rc < 0) {
        hm_log(ctx, HM_LOG_ERR, "agent: %s", err);
        return HM_ERROR;
    }
    if (rc == 0) {
        hm_log(ctx, HM_LOG_INFO, "agent: Restored %zu tag(s) from %s", t->saved.n, file);
        if (t->saved.n > 0 && hm_tags_update(ctx, &t->saved, NULL, 0) < 0) {
            hm_log(ctx, HM_LOG_ERR, "agent: could not apply the tags of %s", file);
            return HM_ERROR;
        }
    }
    return hm_hook_member_event(ctx, on_member_event, t) < 0 ? HM_ERROR : HM_OK;
}

static void tags_fini(hm_ctx_t *ctx)
{
    mod_tags_t *t = hm_ctx_data(ctx);

    if (t == NULL)
        return;
    tags_set_free(&t->saved);
    tags_expr_free(t->expr);
    free(t->expr_src);
    free(t->file);
    free(t);
    hm_ctx_set_data(ctx, NULL);
}

HM_MODULE = {HM_MODULE_V1, "tags", "0.1.0", tags_keys, tags_init, NULL, tags_fini, {NULL}};
