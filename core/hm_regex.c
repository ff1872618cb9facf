/* RE2 -> POSIX ERE translation (see hm_regex.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_regex.h"

typedef struct ob {
    char *p;
    size_t n, cap;
    bool full;
} ob_t;

static void ob_put(ob_t *o, const char *s, size_t l)
{
    if (o->full || o->n + l + 1 > o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->n, s, l);
    o->n += l;
    o->p[o->n] = 0;
}

static void ob_str(ob_t *o, const char *s)
{
    ob_put(o, s, strlen(s));
}

static void ob_chr(ob_t *o, char c)
{
    ob_put(o, &c, 1);
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Characters ERE gives a meaning: escaped where RE2 meant them literally. */
static bool ere_meta(char c)
{
    return c != 0 && strchr(".[]()*+?{}|^$\\", c) != NULL;
}

/* The members of a Perl class \d \w \s (upper case: negated), or NULL. */
static const char *perl_members(char c, bool *negated)
{
    *negated = c >= 'A' && c <= 'Z';
    switch (c | 0x20) {
    case 'd':
        return "0-9";
    case 'w':
        return "0-9A-Za-z_";
    case 's':
        return "\t\n\f\r ";
    default:
        return NULL;
    }
}

/* \t \n \r \f \v \a as the byte, else 0. */
static char ctrl_char(char c)
{
    static const char from[] = "tnrfva", to[] = "\t\n\r\f\v\a";
    const char *p = c ? strchr(from, c) : NULL;
    return p ? to[p - from] : 0;
}

/* A bracket expression; *sp points after '[' and is left on its ']'.
 * POSIX brackets know no escapes and place ']' first, '-' last, '^' not
 * first: those literals are collected as flags and written where POSIX
 * wants them, everything else (ranges, [:name:]) goes through as is. */
typedef struct bracket {
    char body[512];
    size_t n;
    bool rbr, dash, bslash, caret;
} bracket_t;

static int br_add(bracket_t *b, const char *s, size_t l, const char **err)
{
    if (b->n + l + 1 > sizeof(b->body)) {
        *err = "character class too long";
        return -1;
    }
    memcpy(b->body + b->n, s, l);
    b->n += l;
    b->body[b->n] = 0;
    return 0;
}

/* One escape inside brackets: s points at the character after '\'. */
static int br_escape(bracket_t *b, char c, const char **err)
{
    bool neg;
    const char *pm = perl_members(c, &neg);
    char ch = ctrl_char(c);

    if (pm != NULL) {
        if (neg) {
            *err = "negated class escape inside [...] is not supported";
            return -1;
        }
        return br_add(b, pm, strlen(pm), err);
    }
    if (ch)
        return br_add(b, &ch, 1, err);
    if (c == ']')
        b->rbr = true;
    else if (c == '\\')
        b->bslash = true;
    else if (c == '-')
        b->dash = true;
    else if (c == '^')
        b->caret = true;
    else if (c != 0 && !is_alnum(c))
        return br_add(b, &c, 1, err);
    else {
        *err = "invalid escape sequence in character class";
        return -1;
    }
    return 0;
}

static int bracket(const char **sp, ob_t *o, const char **err)
{
    const char *s = *sp;
    bracket_t b = {.n = 0};
    bool neg = false;

    b.body[0] = 0;
    if (*s == '^') {
        neg = true;
        s++;
    }
    if (*s == ']') { /* first: literal in both syntaxes */
        b.rbr = true;
        s++;
    }
    for (; *s != ']'; s++) {
        int rc = 0;
        if (*s == 0) {
            *err = "missing closing ]";
            return -1;
        }
        if (s[0] == '[' && s[1] == ':') {
            const char *e = strstr(s, ":]");
            if (e == NULL) {
                *err = "invalid character class";
                return -1;
            }
            rc = br_add(&b, s, (size_t)(e + 2 - s), err);
            s = e + 1;
        } else if (*s == '\\') {
            rc = br_escape(&b, *++s, err);
        } else if (*s == '-' && (b.n == 0 || s[1] == ']')) {
            b.dash = true;
        } else {
            rc = br_add(&b, s, 1, err);
        }
        if (rc < 0)
            return -1;
    }
    *sp = s;
    if (b.caret && b.n == 0 && !b.rbr && !b.bslash && !b.dash) {
        ob_str(o, neg ? "[^^]" : "\\^"); /* a caret alone */
        return 0;
    }
    ob_str(o, neg ? "[^" : "[");
    if (b.rbr)
        ob_chr(o, ']');
    ob_str(o, b.body);
    if (b.bslash)
        ob_chr(o, '\\');
    if (b.caret)
        ob_chr(o, '^');
    if (b.dash)
        ob_chr(o, '-');
    ob_chr(o, ']');
    return 0;
}

/* \Q...\E: s points at 'Q'; returns the position of the last consumed. */
static const char *quoted(const char *s, ob_t *o)
{
    const char *e = strstr(s + 1, "\\E");
    const char *end = e ? e : s + strlen(s);

    for (const char *q = s + 1; q < end; q++) {
        if (ere_meta(*q))
            ob_chr(o, '\\');
        ob_chr(o, *q);
    }
    return e ? e + 1 : end - 1;
}

/* An escape outside brackets; *sp points at the backslash. */
static int escape(const char **sp, ob_t *o, const char **err)
{
    const char *s = *sp + 1;
    char c = *s, ch = ctrl_char(c);
    bool neg;
    const char *pm = perl_members(c, &neg);

    *sp = s;
    if (pm != NULL) {
        ob_str(o, neg ? "[^" : "[");
        ob_str(o, pm);
        ob_chr(o, ']');
    } else if (c == 'A' || c == 'z') {
        ob_chr(o, c == 'A' ? '^' : '$');
    } else if (c == 'Q') {
        *sp = quoted(s, o);
    } else if (ch) {
        ob_chr(o, ch);
    } else if (ere_meta(c)) {
        ob_chr(o, '\\');
        ob_chr(o, c);
    } else if (c != 0 && !is_alnum(c)) {
        ob_chr(o, c); /* \- \/ \# ...: the character itself */
    } else {
        *err = c == 0                   ? "trailing backslash at end of expression"
               : (c >= '1' && c <= '9') ? "backreferences are not supported (RE2)"
                                        : "unsupported escape sequence";
        return -1;
    }
    return 0;
}

int hm_re_translate(const char *src, char *out, size_t outlen, bool *icase, const char **err)
{
    ob_t o = {out, 0, outlen, outlen == 0};
    const char *s = src;

    *icase = false;
    if (outlen)
        out[0] = 0;
    if (strncmp(s, "(?i)", 4) == 0) {
        *icase = true;
        s += 4;
    }
    for (; *s; s++) {
        int rc = 0;
        if (s[0] == '(' && s[1] == '?') {
            if (s[2] != ':') {
                *err = s[2] == 'P' ? "named groups are not supported"
                                   : "flag groups other than a leading (?i) are not supported";
                return -1;
            }
            ob_chr(&o, '(');
            s += 2;
        } else if (strchr("*+?}", *s) && s[1] == '?') {
            ob_chr(&o, *s++); /* lazy: the same yes/no answer as greedy */
        } else if (*s == '.') {
            ob_str(&o, "[^\n]");
        } else if (*s == '[') {
            s++;
            rc = bracket(&s, &o, err);
        } else if (*s == '\\') {
            rc = escape(&s, &o, err);
        } else {
            ob_chr(&o, *s);
        }
        if (rc < 0)
            return -1;
    }
    if (o.full) {
        *err = "expression too long";
        return -1;
    }
    return 0;
}

int hm_re_compile(hm_re_t *r, const char *expr, bool anchored, const char **err)
{
    size_t cap = strlen(expr) * 8 + 16;
    char *ere = malloc(cap + 2);
    bool icase;
    int rc = -1;

    r->ok = false;
    if (ere == NULL) {
        *err = "out of memory";
        return -1;
    }
    ere[0] = '^';
    /* Serf's members filter is fmt.Sprintf("^%s$", expr): a (?i) after the
     * "^" still applies to the whole expression in Go, so keep the flag
     * and anchor the rest. */
    if (hm_re_translate(expr, ere + anchored, cap, &icase, err) == 0) {
        if (anchored)
            strcat(ere, "$");
        if (regcomp(&r->re, ere, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)) == 0) {
            r->ok = true;
            rc = 0;
        } else {
            *err = "invalid regular expression";
        }
    }
    free(ere);
    return rc;
}

bool hm_re_match(const hm_re_t *r, const char *s)
{
    return r->ok && regexec(&r->re, s ? s : "", 0, NULL, 0) == 0;
}

void hm_re_free(hm_re_t *r)
{
    if (r->ok)
        regfree(&r->re);
    r->ok = false;
}

int hm_re_match_once(const char *expr, const char *s, bool anchored, const char **err)
{
    hm_re_t r;
    int m;

    if (hm_re_compile(&r, expr, anchored, err) < 0)
        return -1;
    m = hm_re_match(&r, s);
    hm_re_free(&r);
    return m;
}
