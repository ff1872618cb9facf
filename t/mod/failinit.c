/* Test fixture: a module whose init fails. */
#include <hamlet/hamlet.h>

static int init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    (void)conf;
    hm_log(ctx, HM_LOG_ERR, "cannot start: no widget");
    return HM_ERROR;
}

HM_MODULE = {HM_MODULE_V1, "failinit", "1.0", NULL, init, NULL, NULL, {0}};
