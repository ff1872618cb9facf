/*
 * Configuration: YAML parsed with libyaml (event API, so every node keeps
 * its file:line:column), validated against declared key tables, defaults
 * filled in, read by dotted paths.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "hm_daemon.h"
#include "hm_log.h"

#define MAX_DEPTH 64
#define PATH_MAX_LEN 512

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (p == NULL)
        abort(); /* config-time only; nothing sensible to do without memory */
    return p;
}

static char *xstrdup(const char *s)
{
    char *p;
    if (s == NULL)
        return NULL;
    p = strdup(s);
    if (p == NULL)
        abort();
    return p;
}

/* ---- tree ------------------------------------------------------------ */

hm_conf_node_t *hm_conf_new(int kind, const char *value, const char *where)
{
    hm_conf_node_t *n = xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->value = xstrdup(value);
    n->where = xstrdup(where ? where : "");
    return n;
}

void hm_conf_free(hm_conf_node_t *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++)
        hm_conf_free(n->kids[i]);
    free(n->kids);
    free(n->key);
    free(n->key_where);
    free(n->value);
    free(n->where);
    free(n);
}

static void add_kid(hm_conf_node_t *p, hm_conf_node_t *k)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->kids = realloc(p->kids, p->cap * sizeof(*p->kids));
        if (p->kids == NULL)
            abort();
    }
    p->kids[p->n++] = k;
}

hm_conf_node_t *hm_conf_child(const hm_conf_node_t *map, const char *key)
{
    if (map == NULL || map->kind != HM_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->kids[i]->key, key) == 0)
            return map->kids[i];
    return NULL;
}

void hm_conf_put(hm_conf_node_t *map, const char *key, hm_conf_node_t *val)
{
    free(val->key);
    val->key = xstrdup(key);
    if (val->key_where == NULL)
        val->key_where = xstrdup(val->where);
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->kids[i]->key, key) == 0) {
            hm_conf_free(map->kids[i]);
            map->kids[i] = val;
            return;
        }
    }
    add_kid(map, val);
}

void hm_conf_push(hm_conf_node_t *seq, hm_conf_node_t *val)
{
    add_kid(seq, val);
}

/* Walks "a.b.c" from root, creating maps on the way; returns the parent
 * map of the last component and points *last at it. */
static hm_conf_node_t *walk_create(hm_conf_node_t *root, const char *path, char *last,
                                   size_t lastlen, const char *where)
{
    hm_conf_node_t *cur = root;
    const char *p = path, *dot;

    while ((dot = strchr(p, '.')) != NULL) {
        char part[128];
        hm_conf_node_t *next;
        size_t n = (size_t)(dot - p);
        if (n >= sizeof(part))
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        next = hm_conf_child(cur, part);
        if (next == NULL || next->kind == HM_NODE_NULL) {
            next = hm_conf_new(HM_NODE_MAP, NULL, where);
            next->set = true;
            hm_conf_put(cur, part, next);
        } else if (next->kind != HM_NODE_MAP) {
            return NULL;
        }
        cur = next;
        p = dot + 1;
    }
    if (strlen(p) >= lastlen)
        return NULL;
    strcpy(last, p);
    return cur;
}

/* A scalar given by a source (flag, JSON), not a default. */
static hm_conf_node_t *set_scalar(const char *value, const char *where)
{
    hm_conf_node_t *v = hm_conf_new(HM_NODE_SCALAR, value, where);
    v->set = true;
    return v;
}

int hm_conf_set_path(hm_conf_node_t *root, const char *path, const char *value, const char *where)
{
    char last[128];
    hm_conf_node_t *m = walk_create(root, path, last, sizeof(last), where);
    if (m == NULL)
        return -1;
    hm_conf_put(m, last, set_scalar(value, where));
    return 0;
}

/* The list or map at `path` (created, or replacing a null), marked set;
 * NULL when something else is there. */
static hm_conf_node_t *container_at(hm_conf_node_t *root, const char *path, int kind,
                                    const char *where)
{
    char last[128];
    hm_conf_node_t *m = walk_create(root, path, last, sizeof(last), where), *c;
    if (m == NULL)
        return NULL;
    c = hm_conf_child(m, last);
    if (c == NULL || c->kind == HM_NODE_NULL) {
        c = hm_conf_new(kind, NULL, where);
        hm_conf_put(m, last, c);
    } else if (c->kind != kind) {
        return NULL;
    }
    c->set = true;
    return c;
}

int hm_conf_append_path(hm_conf_node_t *root, const char *path, const char *value,
                        const char *where)
{
    hm_conf_node_t *seq = container_at(root, path, HM_NODE_SEQ, where);
    if (seq == NULL)
        return -1;
    hm_conf_push(seq, set_scalar(value, where));
    return 0;
}

int hm_conf_map_path(hm_conf_node_t *root, const char *path, const char *key, const char *value,
                     const char *where)
{
    hm_conf_node_t *map = container_at(root, path, HM_NODE_MAP, where);
    if (map == NULL)
        return -1;
    hm_conf_put(map, key, set_scalar(value, where));
    return 0;
}

/* ---- YAML parsing ------------------------------------------------------ */

typedef struct parser {
    yaml_parser_t yp;
    const char *name;
    char path[PATH_MAX_LEN];
    char last[PATH_MAX_LEN]; /* the key read last, for syntax errors between keys */
    char *err;
    size_t errlen;
    int depth;
} parser_t;

static char *mark_where(const char *name, yaml_mark_t m)
{
    char buf[PATH_MAX_LEN + 64];
    snprintf(buf, sizeof(buf), "%s:%zu:%zu", name, m.line + 1, m.column + 1);
    return xstrdup(buf);
}

static void path_error(parser_t *p, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_error(parser_t *p, yaml_mark_t m, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hm_seterr(p->err, p->errlen, "%s:%zu:%zu: %s: %s", p->name, m.line + 1, m.column + 1,
              p->path[0]   ? p->path
              : p->last[0] ? p->last
                           : "(top level)",
              msg);
}

static int next_event(parser_t *p, yaml_event_t *ev)
{
    if (yaml_parser_parse(&p->yp, ev))
        return 0;
    {
        yaml_mark_t m = p->yp.problem_mark;
        const char *ctx = p->yp.context;
        char msg[400];
        snprintf(msg, sizeof(msg), "YAML syntax error: %s%s%s%s",
                 p->yp.problem ? p->yp.problem : "unknown", ctx ? " (" : "", ctx ? ctx : "",
                 ctx ? ")" : "");
        path_error(p, m, "%s", msg);
    }
    return -1;
}

static bool is_null_scalar(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static hm_conf_node_t *parse_value(parser_t *p, yaml_event_t *ev);

/* A node of the tree placed at M: its file:line:column, for later errors. */
static hm_conf_node_t *node_at(const parser_t *p, int kind, const char *value, yaml_mark_t m)
{
    char *where = mark_where(p->name, m);
    hm_conf_node_t *n = hm_conf_new(kind, value, where);

    free(where);
    return n;
}

/* The next event inside a sequence or mapping: 1, or 0 once its END event
 * (consumed here), or -1 on a syntax error. */
static int next_in(parser_t *p, yaml_event_t *ev, yaml_event_type_t end)
{
    if (next_event(p, ev) < 0)
        return -1;
    if (ev->type != end)
        return 1;
    yaml_event_delete(ev);
    return 0;
}

static hm_conf_node_t *parse_seq(parser_t *p, yaml_event_t *start)
{
    hm_conf_node_t *n = node_at(p, HM_NODE_SEQ, NULL, start->start_mark);
    size_t plen = strlen(p->path);

    for (size_t i = 0;; i++) {
        yaml_event_t ev;
        hm_conf_node_t *v;
        int more = next_in(p, &ev, YAML_SEQUENCE_END_EVENT);
        if (more < 0)
            goto fail;
        if (more == 0)
            break;
        snprintf(p->path + plen, sizeof(p->path) - plen, "[%zu]", i);
        v = parse_value(p, &ev);
        yaml_event_delete(&ev);
        if (v == NULL)
            goto fail;
        p->path[plen] = '\0';
        add_kid(n, v);
    }
    return n;
fail:
    hm_conf_free(n);
    return NULL;
}

static hm_conf_node_t *parse_map(parser_t *p, yaml_event_t *start)
{
    hm_conf_node_t *n = node_at(p, HM_NODE_MAP, NULL, start->start_mark);
    size_t plen = strlen(p->path);

    for (;;) {
        yaml_event_t kev, vev;
        hm_conf_node_t *v;
        const char *key;
        int more = next_in(p, &kev, YAML_MAPPING_END_EVENT);

        if (more < 0)
            goto fail;
        if (more == 0)
            break;
        if (kev.type != YAML_SCALAR_EVENT) {
            path_error(p, kev.start_mark, "mapping keys must be plain strings");
            yaml_event_delete(&kev);
            goto fail;
        }
        key = (const char *)kev.data.scalar.value;
        snprintf(p->path + plen, sizeof(p->path) - plen, "%s%s", plen ? "." : "", key);
        memcpy(p->last, p->path, sizeof(p->last));
        if (hm_conf_child(n, key) != NULL) {
            path_error(p, kev.start_mark, "duplicate key");
            yaml_event_delete(&kev);
            goto fail;
        }
        if (next_event(p, &vev) < 0) {
            yaml_event_delete(&kev);
            goto fail;
        }
        v = parse_value(p, &vev);
        yaml_event_delete(&vev);
        if (v == NULL) {
            yaml_event_delete(&kev);
            goto fail;
        }
        v->key = xstrdup(key);
        v->key_where = mark_where(p->name, kev.start_mark);
        yaml_event_delete(&kev);
        p->path[plen] = '\0';
        add_kid(n, v);
    }
    return n;
fail:
    hm_conf_free(n);
    return NULL;
}

static hm_conf_node_t *parse_value(parser_t *p, yaml_event_t *ev)
{
    hm_conf_node_t *n = NULL;

    if (++p->depth > MAX_DEPTH) {
        path_error(p, ev->start_mark, "nesting too deep");
        p->depth--;
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = node_at(p, is_null_scalar(ev) ? HM_NODE_NULL : HM_NODE_SCALAR,
                    (const char *)ev->data.scalar.value, ev->start_mark);
        n->set = true;
        break;
    case YAML_SEQUENCE_START_EVENT:
        n = parse_seq(p, ev);
        break;
    case YAML_MAPPING_START_EVENT:
        n = parse_map(p, ev);
        break;
    case YAML_ALIAS_EVENT:
        path_error(p, ev->start_mark, "YAML aliases are not supported");
        break;
    default:
        path_error(p, ev->start_mark, "unexpected YAML event");
        break;
    }
    if (n)
        n->set = true;
    p->depth--;
    return n;
}

static hm_conf_node_t *parse_stream(parser_t *p)
{
    yaml_event_t ev;
    hm_conf_node_t *root = NULL;
    bool done = false;

    while (!done) {
        if (next_event(p, &ev) < 0)
            goto fail;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (root != NULL) {
                path_error(p, ev.start_mark, "only one YAML document is allowed");
                yaml_event_delete(&ev);
                goto fail;
            }
            break;
        default:
            root = parse_value(p, &ev);
            if (root == NULL) {
                yaml_event_delete(&ev);
                goto fail;
            }
            if (root->kind == HM_NODE_NULL) {
                root->kind = HM_NODE_MAP;
            } else if (root->kind != HM_NODE_MAP) {
                path_error(p, ev.start_mark, "the configuration must be a mapping of keys");
                yaml_event_delete(&ev);
                goto fail;
            }
            break;
        }
        yaml_event_delete(&ev);
    }
    if (root == NULL) { /* empty file: all defaults */
        char where[PATH_MAX_LEN];
        snprintf(where, sizeof(where), "%s:1:1", p->name);
        root = hm_conf_new(HM_NODE_MAP, NULL, where);
    }
    return root;
fail:
    hm_conf_free(root);
    return NULL;
}

hm_conf_node_t *hm_conf_parse_string(const char *text, size_t len, const char *name, char *err,
                                     size_t errlen)
{
    parser_t p;
    hm_conf_node_t *root;

    memset(&p, 0, sizeof(p));
    p.name = name;
    p.err = err;
    p.errlen = errlen;
    if (!yaml_parser_initialize(&p.yp)) {
        hm_seterr(err, errlen, "%s: cannot initialise the YAML parser", name);
        return NULL;
    }
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);
    root = parse_stream(&p);
    yaml_parser_delete(&p.yp);
    return root;
}

hm_conf_node_t *hm_conf_parse_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, r;
    hm_conf_node_t *root;

    if (f == NULL) {
        hm_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            if (buf == NULL)
                abort();
        }
        r = fread(buf + len, 1, cap - len, f);
        len += r;
    } while (r > 0);
    if (ferror(f)) {
        hm_seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    root = hm_conf_parse_string(buf, len, path, err, errlen);
    free(buf);
    return root;
}

/* ---- value parsing ----------------------------------------------------- */

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (*s == '\0')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Go-style durations ("1h30m", "500ms", "10s"), read in milliseconds.  A bare
 * number is taken as seconds only when it is 0 (ambiguous otherwise). */
static int parse_duration(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"µs", 1e-3},   {"ms", 1},
                 {"s", 1000},  {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    double total = 0;
    const char *p = s;

    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (*p == '\0')
        return -1;
    while (*p) {
        char *end;
        double v;
        size_t best = 0, bi = 0;
        if (!isdigit((unsigned char)*p) && *p != '.')
            return -1;
        v = strtod(p, &end);
        if (end == p)
            return -1;
        p = end;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, l) == 0 && l > best) {
                best = l;
                bi = i;
            }
        }
        if (best == 0)
            return -1;
        total += v * units[bi].ms;
        p += best;
    }
    if (total > 9.2e15)
        return -1;
    *out = (int64_t)(total + 0.5);
    return 0;
}

static int parse_size(const char *s, int64_t *out)
{
    char *end;
    double v;
    int64_t mul = 1;

    if (!isdigit((unsigned char)*s))
        return -1;
    v = strtod(s, &end);
    switch (tolower((unsigned char)*end)) {
    case 'k':
        mul = 1024;
        end++;
        break;
    case 'm':
        mul = 1024 * 1024;
        end++;
        break;
    case 'g':
        mul = 1024 * 1024 * 1024;
        end++;
        break;
    default:
        break;
    }
    if (tolower((unsigned char)*end) == 'b')
        end++;
    if (*end != '\0' || v * (double)mul > 9.2e15)
        return -1;
    *out = (int64_t)(v * (double)mul);
    return 0;
}

/* "host:port", "[v6]:port", "host" or "" (unset). */
static int check_addr(const char *s, char *why, size_t whylen)
{
    const char *port = NULL;

    if (*s == '\0')
        return 0;
    if (*s == '[') {
        const char *e = strchr(s, ']');
        if (e == NULL || e == s + 1) {
            snprintf(why, whylen, "unterminated '[' in IPv6 address");
            return -1;
        }
        if (e[1] == ':')
            port = e + 2;
        else if (e[1] != '\0') {
            snprintf(why, whylen, "expected ':' after ']'");
            return -1;
        }
    } else {
        const char *c = strchr(s, ':');
        if (c && strchr(c + 1, ':')) {
            snprintf(why, whylen, "IPv6 addresses need brackets: [addr]:port");
            return -1;
        }
        if (c == s) {
            snprintf(why, whylen, "missing host");
            return -1;
        }
        if (c)
            port = c + 1;
    }
    if (port) {
        int64_t v;
        if (parse_int(port, &v) < 0 || !isdigit((unsigned char)*port) || v < 1 || v > 65535) {
            snprintf(why, whylen, "bad port '%s' (1..65535)", port);
            return -1;
        }
    }
    return 0;
}

/* "a|b|c" contains s (case-insensitively)?  Copies the canonical spelling. */
static int match_choice(const char *choices, const char *s, char *canon, size_t len)
{
    const char *p = choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (strlen(s) == n && strncasecmp(p, s, n) == 0 && n < len) {
            memcpy(canon, p, n);
            canon[n] = '\0';
            return 0;
        }
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

static const char *type_name(hm_conf_type_t t)
{
    switch (t) {
    case HM_CONF_STRING:
        return "a string";
    case HM_CONF_INT:
        return "an integer";
    case HM_CONF_BOOL:
        return "a boolean";
    case HM_CONF_DURATION:
        return "a duration";
    case HM_CONF_SIZE:
        return "a size";
    case HM_CONF_ADDR:
        return "an address";
    case HM_CONF_ENUM:
        return "one of the listed words";
    case HM_CONF_LIST:
        return "a list of strings";
    case HM_CONF_MAP:
        return "a mapping of strings";
    case HM_CONF_SECTION:
        return "a mapping";
    case HM_CONF_SECTION_LIST:
        return "a list of mappings";
    }
    return "?";
}

static const char *kind_name(int k)
{
    switch (k) {
    case HM_NODE_SCALAR:
        return "a scalar";
    case HM_NODE_SEQ:
        return "a list";
    case HM_NODE_MAP:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* ---- validation -------------------------------------------------------- */

typedef struct vctx {
    char *err;
    size_t errlen;
} vctx_t;

static int verr(vctx_t *v, const char *where, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int verr(vctx_t *v, const char *where, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hm_seterr(v->err, v->errlen, "%s: %s: %s", where && *where ? where : "<config>",
              path && *path ? path : "(top level)", msg);
    return -1;
}

static int validate_map(vctx_t *v, hm_conf_node_t *n, const hm_conf_key_t *keys, const char *path,
                        bool skip_unknown);

static void join_path(char *out, size_t len, const char *path, const char *key)
{
    snprintf(out, len, "%s%s%s", path, *path ? "." : "", key);
}

static void set_value(hm_conf_node_t *n, const char *s)
{
    char *c = xstrdup(s);
    free(n->value);
    n->value = c;
}

static bool ranged(const hm_conf_key_t *k)
{
    return k->min != 0 || k->max != 0;
}

static int check_range(vctx_t *v, hm_conf_node_t *n, const hm_conf_key_t *k, const char *path)
{
    if (ranged(k) && (n->num < k->min || n->num > k->max)) {
        if (k->type == HM_CONF_DURATION)
            return verr(v, n->where, path, "%s out of range [%" PRId64 "ms, %" PRId64 "ms]",
                        n->value, k->min, k->max);
        return verr(v, n->where, path, "%s out of range [%" PRId64 ", %" PRId64 "]", n->value,
                    k->min, k->max);
    }
    return 0;
}

static int validate_scalar(vctx_t *v, hm_conf_node_t *n, const hm_conf_key_t *k, const char *path)
{
    char why[128], canon[128];
    bool b;

    if (n->kind != HM_NODE_SCALAR)
        return verr(v, n->where, path, "expected %s, got %s", type_name(k->type),
                    kind_name(n->kind));
    switch (k->type) {
    case HM_CONF_STRING:
        return 0;
    case HM_CONF_INT:
        if (parse_int(n->value, &n->num) < 0)
            return verr(v, n->where, path, "expected an integer, got '%s'", n->value);
        return check_range(v, n, k, path);
    case HM_CONF_BOOL:
        if (parse_bool(n->value, &b) < 0)
            return verr(v, n->where, path, "expected true or false, got '%s'", n->value);
        n->num = b;
        set_value(n, b ? "true" : "false");
        return 0;
    case HM_CONF_DURATION:
        if (parse_duration(n->value, &n->num) < 0)
            return verr(v, n->where, path, "bad duration '%s' (use e.g. 500ms, 10s, 5m, 24h)",
                        n->value);
        return check_range(v, n, k, path);
    case HM_CONF_SIZE:
        if (parse_size(n->value, &n->num) < 0)
            return verr(v, n->where, path, "bad size '%s' (use e.g. 512, 4k, 1m)", n->value);
        return check_range(v, n, k, path);
    case HM_CONF_ADDR:
        if (check_addr(n->value, why, sizeof(why)) < 0)
            return verr(v, n->where, path, "bad address '%s': %s", n->value, why);
        return 0;
    case HM_CONF_ENUM:
        if (match_choice(k->choices, n->value, canon, sizeof(canon)) < 0) {
            char list[256];
            size_t j = 0;
            for (const char *c = k->choices; *c && j + 3 < sizeof(list); c++) {
                if (*c == '|') {
                    list[j++] = ',';
                    list[j++] = ' ';
                } else {
                    list[j++] = *c;
                }
            }
            list[j] = '\0';
            return verr(v, n->where, path, "bad value '%s', expected one of: %s", n->value, list);
        }
        set_value(n, canon);
        return 0;
    default:
        return 0;
    }
}

static int validate_node(vctx_t *v, hm_conf_node_t *n, const hm_conf_key_t *k, const char *path)
{
    char sub[PATH_MAX_LEN];

    n->decl = k;
    if (n->kind == HM_NODE_NULL) {
        /* `key:` with nothing after it: an empty container, or unset */
        if (k->type == HM_CONF_LIST || k->type == HM_CONF_SECTION_LIST)
            n->kind = HM_NODE_SEQ;
        else if (k->type == HM_CONF_MAP || k->type == HM_CONF_SECTION)
            n->kind = HM_NODE_MAP;
        else
            return verr(v, n->where, path, "missing value (expected %s)", type_name(k->type));
    }
    switch (k->type) {
    case HM_CONF_LIST:
        if (n->kind != HM_NODE_SEQ)
            return verr(v, n->where, path, "expected a list of strings, got %s",
                        kind_name(n->kind));
        for (size_t i = 0; i < n->n; i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            if (n->kids[i]->kind != HM_NODE_SCALAR)
                return verr(v, n->kids[i]->where, sub, "expected a string, got %s",
                            kind_name(n->kids[i]->kind));
        }
        return 0;
    case HM_CONF_MAP:
        if (n->kind != HM_NODE_MAP)
            return verr(v, n->where, path, "expected a mapping of strings, got %s",
                        kind_name(n->kind));
        for (size_t i = 0; i < n->n; i++) {
            join_path(sub, sizeof(sub), path, n->kids[i]->key);
            if (n->kids[i]->kind == HM_NODE_NULL) {
                n->kids[i]->kind = HM_NODE_SCALAR;
                set_value(n->kids[i], "");
            }
            if (n->kids[i]->kind != HM_NODE_SCALAR)
                return verr(v, n->kids[i]->where, sub, "expected a string, got %s",
                            kind_name(n->kids[i]->kind));
        }
        return 0;
    case HM_CONF_SECTION:
        if (n->kind != HM_NODE_MAP)
            return verr(v, n->where, path, "expected a mapping, got %s", kind_name(n->kind));
        return validate_map(v, n, k->children, path, false);
    case HM_CONF_SECTION_LIST:
        if (n->kind != HM_NODE_SEQ)
            return verr(v, n->where, path, "expected a list of mappings, got %s",
                        kind_name(n->kind));
        for (size_t i = 0; i < n->n; i++) {
            hm_conf_node_t *e = n->kids[i];
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            if (e->kind == HM_NODE_NULL)
                e->kind = HM_NODE_MAP;
            if (e->kind != HM_NODE_MAP)
                return verr(v, e->where, sub, "expected a mapping, got %s", kind_name(e->kind));
            if (validate_map(v, e, k->children, sub, false) < 0)
                return -1;
        }
        return 0;
    default:
        return validate_scalar(v, n, k, path);
    }
}

/* A default node for key k (NULL when k has no default). */
static hm_conf_node_t *default_node(const hm_conf_key_t *k, const char *where)
{
    switch (k->type) {
    case HM_CONF_LIST:
    case HM_CONF_SECTION_LIST:
        return hm_conf_new(HM_NODE_SEQ, NULL, where);
    case HM_CONF_MAP:
    case HM_CONF_SECTION:
        return hm_conf_new(HM_NODE_MAP, NULL, where);
    default:
        return k->def ? hm_conf_new(HM_NODE_SCALAR, k->def, where) : NULL;
    }
}

static int validate_map(vctx_t *v, hm_conf_node_t *n, const hm_conf_key_t *keys, const char *path,
                        bool skip_unknown)
{
    char sub[PATH_MAX_LEN];

    for (size_t i = 0; i < n->n; i++) {
        hm_conf_node_t *kid = n->kids[i];
        const hm_conf_key_t *k = NULL;
        for (const hm_conf_key_t *d = keys; d && d->name; d++)
            if (strcmp(d->name, kid->key) == 0)
                k = d;
        join_path(sub, sizeof(sub), path, kid->key);
        if (k == NULL) {
            if (skip_unknown)
                continue;
            return verr(v, kid->key_where, sub, "unknown key");
        }
        if (validate_node(v, kid, k, sub) < 0)
            return -1;
    }
    for (const hm_conf_key_t *d = keys; d && d->name; d++) {
        hm_conf_node_t *def;
        if (hm_conf_child(n, d->name))
            continue;
        def = default_node(d, "<default>");
        if (def == NULL)
            continue;
        def->set = false;
        hm_conf_put(n, d->name, def);
        join_path(sub, sizeof(sub), path, d->name);
        /* defaults are checked too: a bad default is a bug worth reporting */
        if (validate_node(v, def, d, sub) < 0)
            return -1;
    }
    return 0;
}

int hm_conf_validate(hm_conf_node_t *n, const hm_conf_key_t *keys, const char *path,
                     bool skip_unknown, char *err, size_t errlen)
{
    vctx_t v = {err, errlen};
    if (n->kind == HM_NODE_NULL)
        n->kind = HM_NODE_MAP;
    if (n->kind != HM_NODE_MAP)
        return verr(&v, n->where, path, "expected a mapping, got %s", kind_name(n->kind));
    return validate_map(&v, n, keys, path, skip_unknown);
}

/* ---- read access --------------------------------------------------------- */

const hm_conf_node_t *hm_conf_get(const hm_conf_node_t *n, const char *path)
{
    const char *p = path;
    if (n == NULL || path == NULL)
        return NULL;
    while (n && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        const hm_conf_node_t *next = NULL;
        if (n->kind != HM_NODE_MAP)
            return NULL;
        for (size_t i = 0; i < n->n; i++) {
            if (strlen(n->kids[i]->key) == len && strncmp(n->kids[i]->key, p, len) == 0) {
                next = n->kids[i];
                break;
            }
        }
        n = next;
        p = dot ? dot + 1 : p + len;
    }
    return n;
}

const char *hm_conf_str(const hm_conf_node_t *n, const char *path)
{
    n = hm_conf_get(n, path);
    return n && n->kind == HM_NODE_SCALAR ? n->value : NULL;
}

/* A number: the value validation computed (n->num), or the text parsed
 * when the key was not declared; 0 when absent or not a number. */
static int64_t scalar_num(const hm_conf_node_t *n, const char *path,
                          int (*parse)(const char *, int64_t *))
{
    int64_t v = 0;
    n = hm_conf_get(n, path);
    if (n == NULL || n->kind != HM_NODE_SCALAR)
        return 0;
    if (n->decl)
        return n->num;
    return parse(n->value, &v) == 0 ? v : 0;
}

int64_t hm_conf_int(const hm_conf_node_t *n, const char *path)
{
    return scalar_num(n, path, parse_int);
}

bool hm_conf_bool(const hm_conf_node_t *n, const char *path)
{
    bool b = false;
    n = hm_conf_get(n, path);
    if (n == NULL || n->kind != HM_NODE_SCALAR)
        return false;
    return parse_bool(n->value, &b) == 0 && b;
}

int64_t hm_conf_ms(const hm_conf_node_t *n, const char *path)
{
    return scalar_num(n, path, parse_duration);
}

int64_t hm_conf_bytes(const hm_conf_node_t *n, const char *path)
{
    return scalar_num(n, path, parse_size);
}

bool hm_conf_isset(const hm_conf_node_t *n, const char *path)
{
    n = hm_conf_get(n, path);
    return n != NULL && n->set;
}

size_t hm_conf_len(const hm_conf_node_t *n)
{
    return n && (n->kind == HM_NODE_SEQ || n->kind == HM_NODE_MAP) ? n->n : 0;
}

const hm_conf_node_t *hm_conf_at(const hm_conf_node_t *n, size_t i)
{
    return n && i < hm_conf_len(n) ? n->kids[i] : NULL;
}

const char *hm_conf_key_at(const hm_conf_node_t *n, size_t i)
{
    return n && n->kind == HM_NODE_MAP && i < n->n ? n->kids[i]->key : NULL;
}

const char *hm_conf_value(const hm_conf_node_t *n)
{
    return n && n->kind == HM_NODE_SCALAR ? n->value : NULL;
}

const char *hm_conf_where(const hm_conf_node_t *n)
{
    return n ? n->where : "";
}

/* ---- dump (hamletd -T) ---------------------------------------------------- */

/* Plain YAML scalars that read back as the same string; quote the rest. */
static bool plain_ok(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "null", "~"};
    if (*s == '\0' || isspace((unsigned char)*s) || isspace((unsigned char)s[strlen(s) - 1]))
        return false;
    if (strchr("-?:,[]{}#&*!|>'\"%@`", *s))
        return false;
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == '#' || (p[0] == ':' && (p[1] == ' ' || !p[1])))
            return false;
        if (strchr(",[]{}", *p))
            return false;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(s, words[i]) == 0)
            return false;
    return true;
}

/* mode 0: as is (numbers, booleans, words), 1: quoted when needed, 2: quoted */
static void dump_scalar(FILE *out, const char *s, int mode)
{
    if (mode == 0 || (mode == 1 && plain_ok(s))) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static int quote_mode(const hm_conf_node_t *n)
{
    if (n->decl == NULL || n->decl->type == HM_CONF_STRING || n->decl->type == HM_CONF_ADDR ||
        n->decl->type == HM_CONF_LIST || n->decl->type == HM_CONF_MAP)
        return 2;
    return plain_ok(n->value) || n->decl->type == HM_CONF_BOOL ? 0 : 2;
}

static void dump_value(FILE *out, const hm_conf_node_t *n, int indent);

static void dump_entries(FILE *out, const hm_conf_node_t *n, int indent, bool first_inline)
{
    for (size_t i = 0; i < n->n; i++) {
        const hm_conf_node_t *k = n->kids[i];
        bool inl = first_inline && i == 0;
        if (k->decl && k->decl->doc && !inl)
            fprintf(out, "%*s# %s\n", indent, "", k->decl->doc);
        fprintf(out, "%*s", inl ? 0 : indent, "");
        dump_scalar(out, k->key, 1);
        fputc(':', out);
        dump_value(out, k, indent + 2);
    }
}

static void dump_value(FILE *out, const hm_conf_node_t *n, int indent)
{
    switch (n->kind) {
    case HM_NODE_SCALAR:
        fputc(' ', out);
        dump_scalar(out, n->value, quote_mode(n));
        fputc('\n', out);
        break;
    case HM_NODE_SEQ:
        if (n->n == 0) {
            fputs(" []\n", out);
            break;
        }
        fputc('\n', out);
        for (size_t i = 0; i < n->n; i++) {
            const hm_conf_node_t *e = n->kids[i];
            fprintf(out, "%*s- ", indent, "");
            if (e->kind == HM_NODE_MAP && e->n > 0) {
                dump_entries(out, e, indent + 2, true);
            } else if (e->kind == HM_NODE_SCALAR) {
                dump_scalar(out, e->value, 2);
                fputc('\n', out);
            } else {
                fputs(e->kind == HM_NODE_MAP ? "{}\n" : "[]\n", out);
            }
        }
        break;
    case HM_NODE_MAP:
        if (n->n == 0) {
            fputs(" {}\n", out);
            break;
        }
        fputc('\n', out);
        dump_entries(out, n, indent, false);
        break;
    default:
        fputs(" ~\n", out);
        break;
    }
}

void hm_conf_dump(FILE *out, const hm_conf_node_t *n, int indent)
{
    if (n->kind == HM_NODE_MAP)
        dump_entries(out, n, indent, false);
    else
        dump_value(out, n, indent);
}
