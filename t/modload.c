/* The module loader against the fixtures in t/mod/: a good module, wrong
 * ABI, bad magic, missing symbol, failing init, missing file, unknown key in
 * a module section, automatic module list, sections of modules not loaded. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_daemon.h"
#include "hm_log.h"
#include "tap.h"

static char err[2048], lines[8192], moddir[1024];

static void on_log(void *ud, hm_log_level_t lvl, const char *line)
{
    (void)ud, (void)lvl;
    strncat(lines, strstr(line, "] ") ? strstr(line, "] ") + 2 : line,
            sizeof(lines) - strlen(lines) - 2);
    strcat(lines, "\n");
}

/* Builds a daemon from `body` (module_path is prepended); returns 0 when
 * core validation, loading and init all succeed. */
static int run(const char *body, struct hm_daemon **dout, hm_conf_node_t **rout)
{
    char yaml[8192];
    struct hm_daemon *d = hm_daemon_new(NULL);
    hm_conf_node_t *root;
    int r = -1;

    snprintf(yaml, sizeof(yaml), "module_path: [\"%s\"]\n%s", moddir, body);
    err[0] = lines[0] = '\0';
    hm_hook_log(d->core, on_log, NULL);
    hm_log_attach(d);
    root = hm_conf_parse_string(yaml, strlen(yaml), "t.yaml", err, sizeof(err));
    if (root && hm_conf_validate(root, hm_core_keys, "", true, err, sizeof(err)) == 0 &&
        hm_modules_load(d, root, err, sizeof(err)) == 0 &&
        hm_modules_init(d, err, sizeof(err)) == 0)
        r = 0;
    if (dout && r == 0) {
        *dout = d;
        *rout = root;
        return 0;
    }
    hm_daemon_free(d);
    hm_log_attach(NULL);
    hm_conf_free(root);
    return r;
}

static void refused(const char *body, const char *expect, const char *what)
{
    char want[4096];
    snprintf(want, sizeof(want), expect, moddir, moddir);
    ok(run(body, NULL, NULL) < 0, "%s: refused", what);
    is_str(err, want, "%s: message", what);
}

int main(void)
{
    struct hm_daemon *d;
    hm_conf_node_t *root;
    hm_user_event_t ev = {.name = "deploy"};
    const char *bd = getenv("top_builddir");

    snprintf(moddir, sizeof(moddir), "%s/t/mod", bd ? bd : ".");
    hm_log_set_output(NULL);

    ok(run("modules: [good]\ngood:\n  greeting: hi\n  count: 3\n", &d, &root) == 0,
       "good module loads and initialises (%s)", err);
    ok(strstr(lines, "good: init greeting=hi count=3\n") != NULL, "init got its validated section");
    is_int(d->nmods, 1, "one module");
    hm_run_user_event(d, &ev);
    ok(strstr(lines, "good: user event deploy\n") != NULL, "its hook runs");
    ok(hm_modules_reload(d, root, err, sizeof(err)) == 0, "reload");
    ok(strstr(lines, "good: reload greeting=hi") != NULL, "reload got the section");
    hm_modules_unload(d);
    ok(strstr(lines, "good: fini\n") != NULL, "fini at unload");
    lines[0] = 0;
    hm_run_user_event(d, &ev);
    is_str(lines, "", "hooks forgotten after unload");
    hm_daemon_free(d);
    hm_log_attach(NULL);
    hm_conf_free(root);

    ok(run("good: {}\n", &d, &root) == 0, "automatic list: a section loads its module");
    is_int(d->nmods, 1, "automatic list: just good (no rpc/tags in the fixture dir)");
    is_str(hm_conf_value(hm_conf_at(hm_conf_get(root, "modules"), 0)), "good",
           "effective module list recorded");
    is_str(hm_conf_str(root, "good.greeting"), "hello", "module defaults filled in");
    hm_daemon_free(d);
    hm_log_attach(NULL);
    hm_conf_free(root);

    ok(run("modules: []\ngood:\n  count: 2\n", &d, &root) == 0,
       "explicit empty list: a findable module's section is validated, not loaded (%s)", err);
    is_int(d->nmods, 0, "nothing loaded");
    ok(strstr(lines, "init") == NULL, "no init ran");
    hm_daemon_free(d);
    hm_log_attach(NULL);
    hm_conf_free(root);

    ok(run("modules: [profile, good]\nprofile: wan\n", &d, &root) == 0, "two modules (%s)", err);
    ok(strstr(lines, "profile: init") && strstr(lines, "good: init") &&
           strstr(lines, "profile: init") < strstr(lines, "good: init"),
       "modules initialise in the order listed");
    hm_modules_unload(d);
    ok(strstr(lines, "good: fini") != NULL, "fini on unload");
    hm_daemon_free(d);
    hm_log_attach(NULL);
    hm_conf_free(root);
    ok(run("modules: [good, profile]\nprofile: wan\n", &d, &root) == 0,
       "the same two in the other order (%s)", err);
    ok(strstr(lines, "good: init") < strstr(lines, "profile: init"), "order follows the list");
    hm_daemon_free(d);
    hm_log_attach(NULL);
    hm_conf_free(root);
    ok(run("modules: [profile]\nprofile: wan\n", &d, &root) == 0,
       "a module named after a core key loads (%s)", err);
    ok(strstr(lines, "profile: init with core value wan\n") != NULL,
       "its conf is the core key's value");
    hm_daemon_free(d);
    hm_log_attach(NULL);
    hm_conf_free(root);
    refused("modules: [bind]\n",
            "module bind: 'bind' is a core key, the module cannot declare keys",
            "a module named after a core key may not declare keys");

    refused("modules: [badabi]\n",
            "module badabi: ABI version 99, hamletd needs 1 (rebuild the module)", "wrong ABI");
    refused("modules: [badmagic]\n",
            "module badmagic: %s/mod_badmagic.so is not a hamlet module (bad magic)", "bad magic");
    refused("modules: [nosym]\n",
            "module nosym: %s/mod_nosym.so does not export the symbol 'hm_module'",
            "missing symbol");
    refused("modules: [good, failinit]\n", "module failinit: init failed", "failing init");
    ok(strstr(lines, "good: init") && strstr(lines, "failinit: cannot start: no widget") &&
           strstr(lines, "good: fini"),
       "modules before the failing one were initialised, then finalised");
    refused("modules: [nothere]\n", "module nothere: mod_nothere.so not found in module path %s",
            "missing file");
    refused("modules: [good]\ngood:\n  greting: hi\n",
            "module good: t.yaml:4:3: good.greting: unknown key", "unknown key in a section");
    refused("modules: [good]\ngood:\n  count: 11\n",
            "module good: t.yaml:4:10: good.count: 11 out of range [1, 10]",
            "bad value in a section");
    refused("modules: []\ngood:\n  cont: 2\n", "module good: t.yaml:4:3: good.cont: unknown key",
            "unknown key in the section of a module not loaded");
    refused("bogus: 1\n",
            "t.yaml:2:1: bogus: unknown key (not a core key, and no mod_bogus.so on the module "
            "path)",
            "unknown top-level key");
    refused("Bad-Key: 1\n", "t.yaml:2:1: Bad-Key: unknown key", "unknown key, not a module name");
    refused("modules: [good, good]\n", "module good: listed twice in modules", "listed twice");
    refused("modules: [\"../x\"]\n", "module ../x: bad module name (use a-z, 0-9, _)",
            "module name with a path");
    return done_testing();
}
