/*
 * mod_tags: filter evaluators for the hook table.
 *   "tags"       Serf's members filter: KEY=RE lines, anchored ^RE$
 *   "tags-query" Serf's query filter: KEY=RE lines, unanchored
 *   "expr"       the targeting expression (filter.h)
 * The module declares no keys: its name is also the core's `tags` map.
 * The tags file (core key `tags_file`, `-tags-file`) is Serf's JSON object,
 * read and written by the core (core/hm_tagsfile.c) for that key.
 */
#include <stdlib.h>
#include <string.h>

#include <hamlet/hamlet.h>

#include "filter.h"

typedef struct mod_tags {
    char *expr_src; /* one-entry cache: a listing evaluates one expression */
    tags_expr_t *expr;
} mod_tags_t;

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
        char *copy;
        if (e == NULL)
            return HM_ERROR;
        if ((copy = strdup(src)) == NULL) {
            tags_expr_free(e);
            *err = "out of memory";
            return HM_ERROR;
        }
        tags_expr_free(t->expr);
        free(t->expr_src);
        t->expr = e;
        t->expr_src = copy;
    }
    return tags_expr_eval(t->expr, m) ? 1 : 0;
}

static int tags_init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    mod_tags_t *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return HM_ERROR;
    hm_ctx_set_data(ctx, t);
    if (hm_hook_filter(ctx, "tags", filter_members, t) < 0 ||
        hm_hook_filter(ctx, "tags-query", filter_query, t) < 0 ||
        hm_hook_filter(ctx, "expr", filter_expr, t) < 0)
        return HM_ERROR;
    return HM_OK;
}

static void tags_fini(hm_ctx_t *ctx)
{
    mod_tags_t *t = hm_ctx_data(ctx);

    if (t == NULL)
        return;
    tags_expr_free(t->expr);
    free(t->expr_src);
    free(t);
    hm_ctx_set_data(ctx, NULL);
}

HM_MODULE = {HM_MODULE_V1, "tags", "0.1.0", NULL, tags_init, NULL, tags_fini, {NULL}};
