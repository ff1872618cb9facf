/* mod_tags as the daemon drives it (through a fake core): the three filter
 * evaluators it registers, errors reported as HM_ERROR with a reason, the
 * expression cache surviving a change of expression. */
#include <string.h>

#include "fakecore.h"
#include "tap.h"

extern const hm_module_t hm_module;

static int eval(const char *filter, const char *expr, const hm_member_t *m, const char **err)
{
    void *ud;
    hm_filter_fn fn = (hm_filter_fn)fc_named_fn(fc.filters, fc.nfilters, filter, &ud);
    return fn ? fn(ud, expr, m, err) : -99;
}

int main(void)
{
    hm_conf_node_t *conf = fc_map();
    hm_tag_t t[] = {{"role", "web"}, {"cpu", "8"}};
    hm_member_t m = {.name = "w1", .tags = {t, 2}, .status = HM_STATUS_ALIVE};
    const char *err = NULL;

    ok(hm_module.keys == NULL, "no keys: the section name is the core's tags map");
    is_int(hm_module.init(fc_ctx(), conf), HM_OK, "init");
    is_int(fc.nfilters, 3, "three filters registered");
    is_int(eval("tags", "role=w", &m, &err), 0, "tags: anchored (members)");
    is_int(eval("tags-query", "role=w", &m, &err), 1, "tags-query: unanchored");
    is_int(eval("tags", "role=(", &m, &err), HM_ERROR, "bad regexp: HM_ERROR");
    ok(err && *err, "with a reason (%s)", err ? err : "");
    is_int(eval("expr", "role=web,cpu>=4", &m, &err), 1, "expr");
    is_int(eval("expr", "role=web,cpu>=16", &m, &err), 0, "another expr (cache replaced)");
    is_int(eval("expr", "role=web,cpu>=4", &m, &err), 1, "first again");
    is_int(eval("expr", "cpu>=", &m, &err), HM_ERROR, "bad expr: HM_ERROR");
    is_int(eval("expr", "role=web", &m, &err), 1, "still works after an error");
    hm_module.fini(fc_ctx());
    fc_free(conf);
    return done_testing();
}
