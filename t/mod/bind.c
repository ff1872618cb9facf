/* Test fixture: a module named after a core key that declares keys anyway
 * (refused: the core owns that key). */
#include <hamlet/hamlet.h>

static const hm_conf_key_t keys[] = {
    {"port", HM_CONF_INT, "1", 0, 0, NULL, "a key the core would not know", NULL},
    HM_CONF_END,
};

static int init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    (void)ctx, (void)conf;
    return HM_OK;
}

HM_MODULE = {HM_MODULE_V1, "bind", "1.0", keys, init, NULL, NULL, {0}};
