/* Test fixture: right ABI number, wrong magic (not a hamlet descriptor). */
#include <hamlet/hamlet.h>

static int init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    (void)ctx, (void)conf;
    return HM_OK;
}

HM_MODULE = {HM_ABI_MAJOR, HM_ABI_MINOR, 0x12345678, "badmagic", "1.0",
             NULL,         init,         NULL,       NULL,       {0}};
