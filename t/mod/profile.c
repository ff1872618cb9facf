/* Test fixture: a module named after a core key (as mod_tags is): no keys
 * of its own, its conf is the core key's validated value. */
#include <hamlet/hamlet.h>

static int init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    hm_log(ctx, HM_LOG_INFO, "init with core value %s", hm_conf_value(conf));
    return HM_OK;
}

HM_MODULE = {HM_MODULE_V1, "profile", "1.0", NULL, init, NULL, NULL, {0}};
