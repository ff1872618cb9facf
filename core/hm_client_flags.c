/* `hamlet` flag parsing in Go's `flag` style (errors on stderr, usage on
 * stdout, as serf's CLI), tags, durations, connecting. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hm_client.h"

static const hm_flag_t *find_flag(const hm_flag_t *flags, const hm_flag_t *rpcflags,
                                  const char *name, size_t n)
{
    for (const hm_flag_t *f = flags; f && f->name; f++)
        if (strlen(f->name) == n && strncmp(f->name, name, n) == 0)
            return f;
    for (const hm_flag_t *f = rpcflags; f && f->name; f++)
        if (strlen(f->name) == n && strncmp(f->name, name, n) == 0)
            return f;
    return NULL;
}

/* strconv.ParseBool */
static int parse_bool(const char *s, bool *v)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};

    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, t[i]) == 0) {
            *v = true;
            return 0;
        }
        if (strcmp(s, f[i]) == 0) {
            *v = false;
            return 0;
        }
    }
    return -1;
}

static int list_add(hm_strlist_t *l, const char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

    if (v == NULL)
        return -1;
    l->v = v;
    if ((v[l->n] = strdup(s)) == NULL)
        return -1;
    l->n++;
    return 0;
}

void hm_strlist_free(hm_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int set_value(const hm_flag_t *f, const char *val)
{
    char *end;

    switch (f->type) {
    case HM_FLAG_BOOL:
        if (parse_bool(val, f->ptr) < 0) {
            fprintf(stderr, "invalid boolean value \"%s\" for -%s: parse error\n", val, f->name);
            return -1;
        }
        return 0;
    case HM_FLAG_STR:
        *(const char **)f->ptr = val;
        return 0;
    case HM_FLAG_INT:
        errno = 0;
        *(long *)f->ptr = strtol(val, &end, 0);
        if (errno || *end || end == val)
            break;
        return 0;
    case HM_FLAG_DURATION:
        if (hm_parse_duration(val, f->ptr) < 0)
            break;
        return 0;
    case HM_FLAG_LIST:
        return list_add(f->ptr, val);
    }
    fprintf(stderr, "invalid value \"%s\" for flag -%s: parse error\n", val, f->name);
    return -1;
}

int hm_flags_parse(const hm_flag_t *flags, hm_rpc_opts_t *rpc, int argc, char **argv,
                   const char *help)
{
    hm_flag_t rpcflags[3] = {{0}};
    int i;

    if (rpc) {
        rpc->addr = getenv("SERF_RPC_ADDR");
        if (rpc->addr == NULL || rpc->addr[0] == '\0')
            rpc->addr = "127.0.0.1:7373";
        rpc->auth = getenv("SERF_RPC_AUTH");
        if (rpc->auth == NULL)
            rpc->auth = "";
        rpcflags[0] = (hm_flag_t){"rpc-addr", HM_FLAG_STR, &rpc->addr};
        rpcflags[1] = (hm_flag_t){"rpc-auth", HM_FLAG_STR, &rpc->auth};
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *name, *eq;
        const hm_flag_t *f;
        size_t n;

        if (a[0] != '-' || a[1] == '\0')
            break;
        name = a + 1 + (a[1] == '-');
        if (name == a + 2 && name[0] == '\0')
            return i + 1; /* "--" ends the flags */
        if (name[0] == '-' || name[0] == '=') {
            fprintf(stderr, "bad flag syntax: %s\n", a);
            printf("%s\n", help);
            return -1;
        }
        eq = strchr(name, '=');
        n = eq ? (size_t)(eq - name) : strlen(name);
        f = find_flag(flags, rpcflags, name, n);
        if (f == NULL) {
            if ((n == 1 && name[0] == 'h') || (n == 4 && strncmp(name, "help", 4) == 0)) {
                fprintf(stderr, "%s\n", help); /* as serf's CLI does for -h */
                return -2;
            }
            fprintf(stderr, "flag provided but not defined: -%.*s\n", (int)n, name);
            printf("%s\n", help);
            return -1;
        }
        if (eq == NULL && f->type == HM_FLAG_BOOL) {
            *(bool *)f->ptr = true;
            continue;
        }
        if (eq == NULL && i + 1 >= argc) {
            fprintf(stderr, "flag needs an argument: -%s\n", f->name);
            printf("%s\n", help);
            return -1;
        }
        if (set_value(f, eq ? eq + 1 : argv[++i]) < 0) {
            printf("%s\n", help);
            return -1;
        }
    }
    return i;
}

/* time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?unit)+ or "0". */
int hm_parse_duration(const char *s, int64_t *ns)
{
    static const struct {
        const char *u;
        double mult;
    } units[] = {{"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
                 {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
    double total = 0;
    int neg = 0;

    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (*s == '\0')
        return -1;
    while (*s) {
        char *end;
        double v;
        size_t best = 0, k, bi = 0;

        if (!((*s >= '0' && *s <= '9') || *s == '.'))
            return -1;
        v = strtod(s, &end);
        if (end == s)
            return -1;
        s = end;
        for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
            size_t l = strlen(units[k].u);
            if (strncmp(s, units[k].u, l) == 0 && l > best) {
                best = l;
                bi = k;
            }
        }
        if (best == 0)
            return -1; /* missing or unknown unit */
        total += v * units[bi].mult;
        s += best;
    }
    if (total > 9.2e18)
        return -1;
    *ns = (int64_t)(neg ? -total : total);
    return 0;
}

void hm_tags_free(hm_tags_t *t)
{
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

int hm_parse_tags(const hm_strlist_t *l, hm_tags_t *out)
{
    out->v = calloc(l->n ? l->n : 1, sizeof(hm_tag_t));
    out->n = 0;
    if (out->v == NULL)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        char *eq = strchr(l->v[i], '=');
        size_t k;

        if (eq == NULL || eq == l->v[i]) {
            printf("Error: Invalid tag: '%s'\n", l->v[i]);
            hm_tags_free(out);
            return -1;
        }
        *eq = '\0'; /* the list owns the string: split it in place */
        for (k = 0; k < out->n && strcmp(out->v[k].key, l->v[i]) != 0; k++)
            ;
        out->v[k].key = l->v[i];
        out->v[k].value = eq + 1;
        if (k == out->n)
            out->n++;
    }
    return 0;
}

int hm_cli_connect(hm_rpcc_t *c, const hm_rpc_opts_t *o)
{
    if (hm_rpcc_connect(c, o->addr, o->auth) != HM_RPCC_OK) {
        printf("Error connecting to Serf agent: %s\n", c->err);
        hm_rpcc_close(c);
        return -1;
    }
    return 0;
}
