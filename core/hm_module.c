/*
 * Module contexts and the module loader: find mod_NAME.so on the module
 * path, dlopen() it, check the descriptor (ABI major first, then magic,
 * minor and name), validate the module's config section, init in order,
 * fini in reverse.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hm_daemon.h"
#include "hm_log.h"

#define MAX_DIRS 32

/* ---- contexts and the daemon shell -------------------------------------- */

/* Appends c to the array *v of *n contexts: 0, or -1 (no memory, unchanged). */
static int ctx_push(hm_ctx_t ***v, size_t *n, hm_ctx_t *c)
{
    hm_ctx_t **nv = realloc(*v, (*n + 1) * sizeof(*nv));

    if (nv == NULL)
        return -1;
    *v = nv;
    nv[(*n)++] = c;
    return 0;
}

hm_ctx_t *hm_ctx_new(struct hm_daemon *d, const char *name)
{
    hm_ctx_t *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->name = strdup(name)) == NULL || ctx_push(&d->ctxs, &d->nctxs, c) < 0)
        goto fail;
    c->d = d;
    return c;
fail:
    if (c)
        free(c->name);
    free(c);
    return NULL;
}

static void ctx_free(hm_ctx_t *c)
{
    if (c->dl)
        dlclose(c->dl);
    free(c->name);
    free(c->path);
    free(c);
}

struct hm_daemon *hm_daemon_new(struct event_base *base)
{
    struct hm_daemon *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->base = base;
    d->hooks = hm_hooks_new();
    if (d->hooks == NULL || (d->core = hm_ctx_new(d, "agent")) == NULL) {
        hm_daemon_free(d);
        return NULL;
    }
    return d;
}

void hm_daemon_free(struct hm_daemon *d)
{
    if (d == NULL)
        return;
    hm_modules_unload(d);
    /* hooks first: tick timers reference the contexts */
    hm_hooks_free(d->hooks);
    for (size_t i = 0; i < d->nctxs; i++)
        ctx_free(d->ctxs[i]);
    free(d->ctxs);
    free(d->mods);
    free(d);
}

void hm_ctx_set_data(hm_ctx_t *ctx, void *data)
{
    ctx->data = data;
}

void *hm_ctx_data(hm_ctx_t *ctx)
{
    return ctx ? ctx->data : NULL;
}

const char *hm_ctx_module_name(hm_ctx_t *ctx)
{
    return ctx ? ctx->name : "agent";
}

struct hm_daemon *hm_ctx_daemon(hm_ctx_t *ctx)
{
    return ctx ? ctx->d : NULL;
}

struct hm_agent *hm_daemon_agent(struct hm_daemon *d)
{
    return d ? d->agent : NULL;
}

void hm_daemon_set_agent(struct hm_daemon *d, struct hm_agent *a)
{
    d->agent = a;
}

struct event_base *hm_daemon_base(struct hm_daemon *d)
{
    return d ? d->base : NULL;
}

struct event_base *hm_event_base(hm_ctx_t *ctx)
{
    return ctx && ctx->d ? ctx->d->base : NULL;
}

/* ---- module path ----------------------------------------------------------- */

/* <dir of the executable>/../modules, when it exists: the build tree. */
static const char *build_tree_dir(void)
{
    static char dir[PATH_MAX];
    static int done;
    char exe[PATH_MAX];
    ssize_t n;
    char *slash;

    if (done)
        return dir[0] ? dir : NULL;
    done = 1;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0';
    slash = strrchr(exe, '/'); /* the exe's parent: the build tree's top */
    if (slash == NULL)
        return NULL;
    snprintf(slash, sizeof(exe) - (size_t)(slash - exe), "/modules");
    if (realpath(exe, dir) == NULL || access(dir, X_OK) != 0)
        dir[0] = '\0';
    return dir[0] ? dir : NULL;
}

size_t hm_module_path(const hm_conf_node_t *root, const char **dirs, size_t max)
{
    const hm_conf_node_t *mp = hm_conf_get(root, "module_path");
    size_t n = 0;

    if (hm_conf_len(mp) > 0) {
        for (size_t i = 0; i < hm_conf_len(mp) && n < max; i++)
            dirs[n++] = hm_conf_value(hm_conf_at(mp, i));
        return n;
    }
    if (build_tree_dir() && n < max)
        dirs[n++] = build_tree_dir();
    if (n < max)
        dirs[n++] = HM_PKGLIBDIR "/modules";
    return n;
}

static bool valid_name(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

int hm_module_find(const hm_conf_node_t *root, const char *name, char *buf, size_t len)
{
    const char *dirs[MAX_DIRS];
    size_t n = hm_module_path(root, dirs, MAX_DIRS);

    if (!valid_name(name))
        return -1;
    for (size_t i = 0; i < n; i++) {
        snprintf(buf, len, "%s/mod_%s.so", dirs[i], name);
        if (access(buf, R_OK) == 0)
            return 0;
    }
    return -1;
}

static void path_list(const hm_conf_node_t *root, char *buf, size_t len)
{
    const char *dirs[MAX_DIRS];
    size_t n = hm_module_path(root, dirs, MAX_DIRS), o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ":" : "", dirs[i]);
}

/* ---- loading one module ------------------------------------------------------ */

/* dlopen + descriptor checks.  Returns the handle and descriptor, or NULL
 * with "module NAME: reason" in err. */
static void *open_module(const hm_conf_node_t *root, const char *name, const hm_module_t **out,
                         char **pathp, char *err, size_t errlen)
{
    char path[PATH_MAX], dirs[1024];
    void *dl, *sym;
    uint32_t major;
    const hm_module_t *m;

    if (!valid_name(name)) {
        hm_seterr(err, errlen, "module %s: bad module name (use a-z, 0-9, _)", name);
        return NULL;
    }
    if (hm_module_find(root, name, path, sizeof(path)) < 0) {
        path_list(root, dirs, sizeof(dirs));
        hm_seterr(err, errlen, "module %s: mod_%s.so not found in module path %s", name, name,
                  dirs);
        return NULL;
    }
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        hm_seterr(err, errlen, "module %s: cannot load %s: %s", name, path, dlerror());
        return NULL;
    }
    sym = dlsym(dl, HM_MODULE_SYMBOL);
    if (sym == NULL) {
        hm_seterr(err, errlen, "module %s: %s does not export the symbol '%s'", name, path,
                  HM_MODULE_SYMBOL);
        goto fail;
    }
    /* abi_major is the only field whose place is fixed forever: read it
     * alone, before trusting the rest of the layout */
    memcpy(&major, sym, sizeof(major));
    if (major != HM_ABI_MAJOR) {
        hm_seterr(err, errlen, "module %s: ABI version %u, hamletd needs %u (rebuild the module)",
                  name, (unsigned)major, (unsigned)HM_ABI_MAJOR);
        goto fail;
    }
    m = sym;
    if (m->magic != HM_MODULE_MAGIC) {
        hm_seterr(err, errlen, "module %s: %s is not a hamlet module (bad magic)", name, path);
        goto fail;
    }
    if (m->abi_minor > HM_ABI_MINOR) {
        hm_seterr(err, errlen, "module %s: built for ABI %u.%u, hamletd provides %u.%u", name,
                  (unsigned)m->abi_major, (unsigned)m->abi_minor, (unsigned)HM_ABI_MAJOR,
                  (unsigned)HM_ABI_MINOR);
        goto fail;
    }
    if (m->name == NULL || strcmp(m->name, name) != 0) {
        hm_seterr(err, errlen, "module %s: %s calls itself '%s'", name, path,
                  m->name ? m->name : "(null)");
        goto fail;
    }
    if (m->init == NULL) {
        hm_seterr(err, errlen, "module %s: no init function", name);
        goto fail;
    }
    *out = m;
    if (pathp)
        *pathp = strdup(path);
    return dl;
fail:
    dlclose(dl);
    return NULL;
}

/* Validates root[name] (an empty map when absent) against the module's keys. */
static int check_section(hm_conf_node_t *root, const hm_module_t *m, const char *name, char *err,
                         size_t errlen)
{
    hm_conf_node_t *sec = hm_conf_child(root, name);
    char e[1024];

    if (sec == NULL) {
        sec = hm_conf_new(HM_NODE_MAP, NULL, "<default>");
        hm_conf_put(root, name, sec);
    }
    if (hm_conf_validate(sec, m->keys, name, false, e, sizeof(e)) < 0) {
        hm_seterr(err, errlen, "module %s: %s", name, e);
        return -1;
    }
    return 0;
}

/* A non-core key that is not a loaded module: fine if it names a module we
 * can find (its section is validated, the module is not started); else it
 * is an unknown key. */
static int check_foreign(hm_conf_node_t *root, hm_conf_node_t *kid, char *err, size_t errlen)
{
    const hm_module_t *m;
    void *dl;
    char e[1024];
    int r;

    if (!valid_name(kid->key) || hm_module_find(root, kid->key, e, sizeof(e)) < 0) {
        hm_seterr(err, errlen, "%s: %s: unknown key%s%s%s", kid->key_where, kid->key,
                  valid_name(kid->key) ? " (not a core key, and no mod_" : "",
                  valid_name(kid->key) ? kid->key : "",
                  valid_name(kid->key) ? ".so on the module path)" : "");
        return -1;
    }
    dl = open_module(root, kid->key, &m, NULL, err, errlen);
    if (dl == NULL)
        return -1;
    r = check_section(root, m, kid->key, err, errlen);
    dlclose(dl);
    return r;
}

static bool in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static int add_module(struct hm_daemon *d, hm_conf_node_t *root, const char *name, char *err,
                      size_t errlen)
{
    const hm_module_t *m;
    char *path = NULL;
    void *dl = open_module(root, name, &m, &path, err, errlen);
    hm_ctx_t *c;

    if (dl == NULL)
        return -1;
    if (hm_core_key(name)) {
        /* a module named after a core key (tags) works on that key's value,
         * which the core schema validates: it may not declare keys itself */
        if (m->keys && m->keys[0].name) {
            hm_seterr(err, errlen, "module %s: '%s' is a core key, the module cannot declare keys",
                      name, name);
            goto fail;
        }
    } else if (check_section(root, m, name, err, errlen) < 0) {
        goto fail;
    }
    if ((c = hm_ctx_new(d, name)) == NULL || ctx_push(&d->mods, &d->nmods, c) < 0)
        goto fail;
    c->dl = dl;
    c->mod = m;
    c->path = path;
    c->conf = hm_conf_child(root, name);
    return 0;
fail:
    free(path);
    dlclose(dl);
    return -1;
}

/* The names to load: the `modules:` list, or the automatic one. */
static size_t module_list(const hm_conf_node_t *root, char **names, size_t max)
{
    size_t n = 0;
    char buf[PATH_MAX];

    if (hm_conf_isset(root, "modules")) {
        const hm_conf_node_t *l = hm_conf_get(root, "modules");
        for (size_t i = 0; i < hm_conf_len(l) && n < max; i++)
            names[n++] = (char *)hm_conf_value(hm_conf_at(l, i));
        return n;
    }
    /* drop-in: rpc and tags when present, then every module with a section */
    if (hm_module_find(root, "rpc", buf, sizeof(buf)) == 0)
        names[n++] = "rpc";
    if (hm_module_find(root, "tags", buf, sizeof(buf)) == 0)
        names[n++] = "tags";
    for (size_t i = 0; i < hm_conf_len(root) && n < max; i++) {
        const char *k = hm_conf_key_at(root, i);
        /* a section whose module cannot be found stays out of the list and
         * is reported as an unknown key */
        if (!hm_core_key(k) && !in_list(names, n, k) &&
            hm_module_find(root, k, buf, sizeof(buf)) == 0)
            names[n++] = (char *)k;
    }
    return n;
}

int hm_modules_load(struct hm_daemon *d, hm_conf_node_t *root, char *err, size_t errlen)
{
    char *names[128];
    size_t n = module_list(root, names, 128);
    hm_conf_node_t *eff;

    for (size_t i = 0; i < n; i++) {
        if (in_list(names, i, names[i])) {
            hm_seterr(err, errlen, "module %s: listed twice in modules", names[i]);
            return -1;
        }
    }
    /* sections first, so that a misspelt key is reported before a module
     * has been opened */
    for (size_t i = 0; i < root->n; i++) {
        hm_conf_node_t *kid = root->kids[i];
        if (hm_core_key(kid->key) || in_list(names, n, kid->key))
            continue;
        if (check_foreign(root, kid, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (add_module(d, root, names[i], err, errlen) < 0)
            return -1;
    /* record the effective list, so that `hamletd -T` shows it */
    eff = hm_conf_new(HM_NODE_SEQ, NULL, "<modules>");
    for (size_t i = 0; i < d->nmods; i++)
        hm_conf_push(eff, hm_conf_new(HM_NODE_SCALAR, d->mods[i]->name, "<modules>"));
    eff->set = hm_conf_isset(root, "modules");
    eff->decl = hm_conf_get(root, "modules") ? hm_conf_get(root, "modules")->decl : NULL;
    hm_conf_put(root, "modules", eff);
    if (hm_conf_len(hm_conf_get(root, "module_path")) == 0) {
        const char *dirs[MAX_DIRS];
        size_t nd = hm_module_path(root, dirs, MAX_DIRS);
        hm_conf_node_t *mp = hm_conf_new(HM_NODE_SEQ, NULL, "<default>");
        mp->decl = hm_conf_get(root, "module_path") ? hm_conf_get(root, "module_path")->decl : NULL;
        for (size_t i = 0; i < nd; i++)
            hm_conf_push(mp, hm_conf_new(HM_NODE_SCALAR, dirs[i], "<default>"));
        hm_conf_put(root, "module_path", mp);
    }
    return 0;
}

int hm_modules_init(struct hm_daemon *d, char *err, size_t errlen)
{
    for (size_t i = 0; i < d->nmods; i++) {
        hm_ctx_t *c = d->mods[i];
        hm_core_log(HM_LOG_DEBUG, "agent", "module %s %s from %s", c->name,
                    c->mod->version ? c->mod->version : "", c->path);
        if (c->mod->init(c, c->conf) != HM_OK) {
            hm_seterr(err, errlen, "module %s: init failed", c->name);
            hm_hooks_forget(d->hooks, c);
            return -1;
        }
        c->inited = true;
    }
    return 0;
}

int hm_modules_check(struct hm_daemon *d, hm_conf_node_t *root, char *err, size_t errlen)
{
    char *names[128];
    size_t n = 0;

    for (size_t i = 0; i < d->nmods && n < 128; i++)
        names[n++] = d->mods[i]->name;
    for (size_t i = 0; i < root->n; i++) {
        hm_conf_node_t *kid = root->kids[i];
        if (hm_core_key(kid->key) || in_list(names, n, kid->key))
            continue;
        if (check_foreign(root, kid, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < d->nmods; i++)
        if (!hm_core_key(d->mods[i]->name) &&
            check_section(root, d->mods[i]->mod, d->mods[i]->name, err, errlen) < 0)
            return -1;
    return 0;
}

int hm_modules_reload(struct hm_daemon *d, const hm_conf_node_t *root, char *err, size_t errlen)
{
    for (size_t i = 0; i < d->nmods; i++) {
        hm_ctx_t *c = d->mods[i];
        const hm_conf_node_t *sec = hm_conf_get(root, c->name);
        if (c->mod->reload && c->mod->reload(c, sec) != HM_OK) {
            hm_seterr(err, errlen, "module %s: reload failed", c->name);
            return -1;
        }
        c->conf = sec;
    }
    return 0;
}

void hm_modules_unload(struct hm_daemon *d)
{
    for (size_t i = d->nmods; i-- > 0;) {
        hm_ctx_t *c = d->mods[i];
        if (c->inited && c->mod->fini)
            c->mod->fini(c);
        c->inited = false;
        hm_hooks_forget(d->hooks, c);
    }
    /* the handles are closed with the contexts (hm_daemon_free) */
    d->nmods = 0;
}
