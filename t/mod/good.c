/* Test fixture: a well-formed module with a config section and hooks. */
#include <stdlib.h>
#include <string.h>

#include <hamlet/hamlet.h>

static const hm_conf_key_t keys[] = {
    {"greeting", HM_CONF_STRING, "hello", 0, 0, NULL, "what init logs", NULL},
    {"count", HM_CONF_INT, "1", 1, 10, NULL, "a bounded number", NULL},
    HM_CONF_END,
};

static void on_user(void *ud, const hm_user_event_t *ev)
{
    hm_log(ud, HM_LOG_INFO, "user event %s", ev->name);
}

static int init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    hm_log(ctx, HM_LOG_INFO, "init greeting=%s count=%lld", hm_conf_str(conf, "greeting"),
           (long long)hm_conf_int(conf, "count"));
    hm_ctx_set_data(ctx, strdup("data"));
    return hm_hook_user_event(ctx, on_user, ctx);
}

static int reload(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    hm_log(ctx, HM_LOG_INFO, "reload greeting=%s", hm_conf_str(conf, "greeting"));
    return strcmp(hm_conf_str(conf, "greeting"), "refuse") == 0 ? HM_ERROR : HM_OK;
}

static void fini(hm_ctx_t *ctx)
{
    hm_log(ctx, HM_LOG_INFO, "fini");
    free(hm_ctx_data(ctx));
}

HM_MODULE = {HM_MODULE_V1, "good", "1.0", keys, init, reload, fini, {0}};
