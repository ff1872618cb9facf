/* Serf's tag filters and the targeting expression. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "hm_regex.h"

const char *tags_get(const hm_tags_t *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].key, key) == 0)
            return t->v[i].value;
    return NULL;
}

static int serf_one(const char *f, size_t len, const hm_member_t *m, bool anchored,
                    const char **err)
{
    char *s = strndup(f, len), *eq;
    const char *v;
    hm_re_t re;
    int rc;

    if (s == NULL) {
        *err = "out of memory";
        return -1;
    }
    if ((eq = strchr(s, '=')) == NULL || eq == s) {
        free(s);
        *err = "tag filter must be KEY=REGEXP";
        return -1;
    }
    *eq = 0;
    if (hm_re_compile(&re, eq + 1, anchored, err) < 0) {
        free(s);
        return -1;
    }
    v = tags_get(&m->tags, s);
    rc = hm_re_match(&re, v ? v : "");
    hm_re_free(&re);
    free(s);
    return rc;
}

int tags_serf_match(const char *filters, const hm_member_t *m, bool anchored, const char **err)
{
    const char *p = filters;
    int all = 1;

    /* Every filter is checked, even after a miss, so a bad one is always
     * reported (Serf compiles them all before matching). */
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 0) {
            int rc = serf_one(p, len, m, anchored, err);
            if (rc < 0)
                return -1;
            all &= rc;
        }
        p += len + (nl ? 1 : 0);
    }
    return all;
}

/* ---- targeting expression ---- */

typedef enum { OP_PRESENT, OP_EQ, OP_NE, OP_RE, OP_NRE, OP_LT, OP_LE, OP_GT, OP_GE } op_t;

typedef struct term {
    bool neg;
    op_t op;
    char *key;
    char **vals; /* OP_EQ/OP_NE alternatives */
    size_t nvals;
    hm_re_t re;
    double num;
} term_t;

struct tags_expr {
    term_t *t;
    size_t n;
};

typedef struct lex {
    const char *s;
    const char *err;
} lex_t;

static void skip_ws(lex_t *l)
{
    while (*l->s == ' ' || *l->s == '\t')
        l->s++;
}

static bool key_char(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("_-./:@", c) != NULL);
}

/* A value up to ',' (or also '|' when `alts`), or a "quoted" string. */
static char *read_value(lex_t *l, bool alts)
{
    char *v = malloc(strlen(l->s) + 1);
    size_t n = 0;

    if (v == NULL) {
        l->err = "out of memory";
        return NULL;
    }
    skip_ws(l);
    if (*l->s == '"') {
        for (l->s++; *l->s && *l->s != '"'; l->s++) {
            if (*l->s == '\\' && l->s[1])
                l->s++;
            v[n++] = *l->s;
        }
        if (*l->s != '"') {
            free(v);
            l->err = "unterminated quoted value";
            return NULL;
        }
        l->s++;
    } else {
        while (*l->s && *l->s != ',' && !(alts && *l->s == '|'))
            v[n++] = *l->s++;
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
    }
    v[n] = 0;
    return v;
}

static int parse_op(lex_t *l, op_t *op)
{
    static const struct {
        const char *tok;
        op_t op;
    } ops[] = {{"!=", OP_NE}, {"!~", OP_NRE}, {"<=", OP_LE}, {">=", OP_GE},
               {"=", OP_EQ},  {"~", OP_RE},   {"<", OP_LT},  {">", OP_GT}};

    skip_ws(l);
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].tok);
        if (strncmp(l->s, ops[i].tok, n) == 0) {
            *op = ops[i].op;
            l->s += n;
            return 1;
        }
    }
    *op = OP_PRESENT;
    return 0;
}

static int parse_term(lex_t *l, term_t *t)
{
    const char *k;
    char *v, *end;

    skip_ws(l);
    while (*l->s == '!') {
        t->neg = !t->neg;
        l->s++;
        skip_ws(l);
    }
    k = l->s;
    while (key_char(*l->s))
        l->s++;
    if (l->s == k) {
        l->err = "expected a tag name";
        return -1;
    }
    if ((t->key = strndup(k, (size_t)(l->s - k))) == NULL) {
        l->err = "out of memory";
        return -1;
    }
    if (!parse_op(l, &t->op))
        return 0;
    if (t->op == OP_EQ || t->op == OP_NE) {
        do {
            char **nv;
            if (*l->s == '|')
                l->s++;
            if ((v = read_value(l, true)) == NULL)
                return -1;
            nv = realloc(t->vals, (t->nvals + 1) * sizeof(*nv));
            if (nv == NULL) {
                free(v);
                l->err = "out of memory";
                return -1;
            }
            t->vals = nv;
            t->vals[t->nvals++] = v;
            skip_ws(l);
        } while (*l->s == '|');
        return 0;
    }
    if ((v = read_value(l, false)) == NULL)
        return -1;
    if (t->op == OP_RE || t->op == OP_NRE) {
        int rc = hm_re_compile(&t->re, v, true, &l->err);
        free(v);
        return rc;
    }
    t->num = strtod(v, &end);
    if (*v == 0 || *end != 0 || isnan(t->num)) {
        free(v);
        l->err = "expected a number after a comparison";
        return -1;
    }
    free(v);
    return 0;
}

void tags_expr_free(tags_expr_t *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->t[i].key);
        for (size_t j = 0; j < e->t[i].nvals; j++)
            free(e->t[i].vals[j]);
        free(e->t[i].vals);
        hm_re_free(&e->t[i].re);
    }
    free(e->t);
    free(e);
}

tags_expr_t *tags_expr_parse(const char *src, const char **err)
{
    tags_expr_t *e = calloc(1, sizeof(*e));
    lex_t l = {src, NULL};

    if (e == NULL) {
        *err = "out of memory";
        return NULL;
    }
    skip_ws(&l);
    if (*l.s == 0) /* the empty expression matches everyone */
        return e;
    for (;;) {
        term_t *nt = realloc(e->t, (e->n + 1) * sizeof(*nt));
        if (nt == NULL) {
            l.err = "out of memory";
            goto fail;
        }
        e->t = nt;
        memset(&e->t[e->n], 0, sizeof(e->t[0]));
        e->n++;
        if (parse_term(&l, &e->t[e->n - 1]) < 0)
            goto fail;
        skip_ws(&l);
        if (*l.s == 0)
            return e;
        if (*l.s != ',') {
            l.err = "expected ',' between terms";
            goto fail;
        }
        l.s++;
    }
fail:
    *err = l.err;
    tags_expr_free(e);
    return NULL;
}

/* The value a key names: a tag, or a member field for @name/@status/@addr. */
static const char *lookup(const hm_member_t *m, const char *key, char *buf, size_t len)
{
    if (strcmp(key, "@name") == 0)
        return m->name;
    if (strcmp(key, "@status") == 0)
        return hm_status_name(m->status);
    if (strcmp(key, "@addr") == 0) {
        if (m->addr.len != 4 && m->addr.len != 16)
            return NULL;
        return inet_ntop(m->addr.len == 4 ? AF_INET : AF_INET6, m->addr.ip, buf, (socklen_t)len);
    }
    return tags_get(&m->tags, key);
}

static bool term_eval(const term_t *t, const hm_member_t *m)
{
    char buf[64], *end;
    const char *v = lookup(m, t->key, buf, sizeof(buf));
    bool r = false;
    double x;

    switch (t->op) {
    case OP_PRESENT:
        r = v != NULL;
        break;
    case OP_EQ:
    case OP_NE:
        for (size_t i = 0; i < t->nvals && !r; i++)
            r = fnmatch(t->vals[i], v ? v : "", 0) == 0;
        if (t->op == OP_NE)
            r = !r;
        break;
    case OP_RE:
    case OP_NRE:
        r = hm_re_match(&t->re, v ? v : "");
        if (t->op == OP_NRE)
            r = !r;
        break;
    default:
        if (v == NULL || *v == 0)
            break;
        x = strtod(v, &end);
        if (*end != 0 || isnan(x))
            break;
        r = t->op == OP_LT   ? x < t->num
            : t->op == OP_LE ? x <= t->num
            : t->op == OP_GT ? x > t->num
                             : x >= t->num;
    }
    return t->neg ? !r : r;
}

bool tags_expr_eval(const tags_expr_t *e, const hm_member_t *m)
{
    for (size_t i = 0; i < e->n; i++)
        if (!term_eval(&e->t[i], m))
            return false;
    return true;
}

int tags_expr_match(const char *src, const hm_member_t *m, const char **err)
{
    tags_expr_t *e = tags_expr_parse(src, err);
    int rc;

    if (e == NULL)
        return -1;
    rc = tags_expr_eval(e, m);
    tags_expr_free(e);
    return rc;
}
