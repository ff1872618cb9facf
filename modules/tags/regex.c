/* RE2 -> POSIX ERE translation for Serf's tag filters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regex.h"

typedef struct out {
    char *p;
    size_t n, cap;
    bool overflow;
} out_t;

static void put(out_t *o, const char *s)
{
    size_t l = strlen(s);
    if (o->n + l + 1 > o->cap) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->n, s, l + 1);
    o->n += l;
}

static void putc_(out_t *o, char c)
{
    char s[2] = {c, 0};
    put(o, s);
}

/* ERE metacharacters: escaped when they must stay literal. */
static bool ere_special(char c)
{
    return c && strchr(".[]()*+?{}|^$\\", c) != NULL;
}

/* The class body (without brackets) of a Perl class escape, or NULL. */
static const char *perl_class(char c, bool *neg)
{
    *neg = c >= 'A' && c <= 'Z';
    switch (c) {
    case 'd':
    case 'D':
        return "0-9";
    case 'w':
    case 'W':
        return "0-9A-Za-z_";
    case 's':
    case 'S':
        return "\t\n\f\r ";
    default:
        return NULL;
    }
}

/* Single-character escapes Go knows: \t \n \r \f \v \a. */
static char ctrl_escape(char c)
{
    switch (c) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'v':
        return '\v';
    case 'a':
        return '\a';
    default:
        return 0;
    }
}

/* Inside [...]: copies the class, translating escapes.  *sp points after
 * '['.  POSIX wants ']' first and has no escapes, so a literal ']' or '\\'
 * is moved to the front and '-' to the end. */
static int translate_class(const char **sp, out_t *o, const char **err)
{
    const char *s = *sp;
    char body[1024] = "";
    bool neg = false, close_br = false, dash = false, bslash = false, caret = false;
    size_t bl = 0;

    if (*s == '^') {
        neg = true;
        s++;
    }
    if (*s == ']') { /* a leading ] is literal in both syntaxes */
        close_br = true;
        s++;
    }
    for (;; s++) {
        char c = *s, add[1024] = "";
        if (c == 0) {
            *err = "missing closing ]";
            return -1;
        }
        if (c == ']')
            break;
        if (c == '[' && s[1] == ':') { /* [:alpha:] is the same in both */
            const char *e = strstr(s, ":]");
            if (e == NULL || (size_t)(e - s + 2) >= sizeof(add)) {
                *err = "invalid character class";
                return -1;
            }
            memcpy(add, s, (size_t)(e - s + 2));
            add[e - s + 2] = 0;
            s = e + 1;
        } else if (c == '\\') {
            bool pn;
            const char *pc;
            c = *++s;
            if ((pc = perl_class(c, &pn)) != NULL) {
                if (pn) {
                    *err = "negated class escape inside [...] is not supported";
                    return -1;
                }
                snprintf(add, sizeof(add), "%s", pc);
            } else if (ctrl_escape(c)) {
                add[0] = ctrl_escape(c);
                add[1] = 0;
            } else if (c == ']') {
                close_br = true;
            } else if (c == '\\') {
                bslash = true;
            } else if (c == '-') {
                dash = true;
            } else if (c == '^') {
                caret = true;
            } else if (c && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9'))) {
                add[0] = c;
                add[1] = 0;
            } else {
                *err = "invalid escape sequence in character class";
                return -1;
            }
        } else if (c == '-' && (s[1] == ']' || bl == 0)) {
            dash = true; /* a literal dash at either edge */
        } else {
            add[0] = c;
            add[1] = 0;
        }
        if (bl + strlen(add) + 1 > sizeof(body)) {
            *err = "character class too long";
            return -1;
        }
        memcpy(body + bl, add, strlen(add) + 1);
        bl += strlen(add);
    }
    if (caret && !body[0] && !close_br && !bslash && !dash) {
        put(o, neg ? "[^^]" : "\\^"); /* [\^] alone: just a literal caret */
        *sp = s;
        return 0;
    }
    put(o, neg ? "[^" : "[");
    if (close_br)
        putc_(o, ']');
    put(o, body);
    if (bslash)
        putc_(o, '\\');
    if (caret) /* not first any more: literal */
        putc_(o, '^');
    if (dash)
        putc_(o, '-');
    put(o, "]");
    *sp = s; /* at the closing ']' */
    return 0;
}

int tags_re_translate(const char *src, char *buf, size_t outlen, bool *icase, const char **err)
{
    out_t o = {buf, 0, outlen, false};
    const char *s = src;

    *icase = false;
    buf[0] = 0;
    if (strncmp(s, "(?i)", 4) == 0) {
        *icase = true;
        s += 4;
    }
    for (; *s; s++) {
        char c = *s;
        if (c == '(' && s[1] == '?') {
            if (s[2] == ':') {
                putc_(&o, '(');
                s += 2;
                continue;
            }
            *err = s[2] == 'P' ? "named groups are not supported"
                               : "flag groups other than a leading (?i) are not supported";
            return -1;
        }
        if ((c == '*' || c == '+' || c == '?' || c == '}') && s[1] == '?') {
            putc_(&o, c); /* lazy: same match/no-match answer as greedy */
            s++;
            continue;
        }
        if (c == '.') {
            put(&o, "[^\n]");
            continue;
        }
        if (c == '[') {
            s++;
            if (translate_class(&s, &o, err) < 0)
                return -1;
            continue;
        }
        if (c != '\\') {
            putc_(&o, c);
            continue;
        }
        c = *++s;
        bool pn;
        const char *pc = perl_class(c, &pn);
        if (pc) {
            put(&o, pn ? "[^" : "[");
            put(&o, pc);
            put(&o, "]");
        } else if (c == 'A') {
            putc_(&o, '^');
        } else if (c == 'z') {
            putc_(&o, '$');
        } else if (c == 'Q') {
            const char *e = strstr(s + 1, "\\E");
            const char *end = e ? e : s + 1 + strlen(s + 1);
            for (const char *q = s + 1; q < end; q++) {
                if (ere_special(*q))
                    putc_(&o, '\\');
                putc_(&o, *q);
            }
            s = e ? e + 1 : end - 1;
        } else if (ctrl_escape(c)) {
            putc_(&o, ctrl_escape(c));
        } else if (ere_special(c)) {
            putc_(&o, '\\');
            putc_(&o, c);
        } else if (c &&
                   !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            putc_(&o, c); /* \- \/ \# ...: the character itself */
        } else if (c == 0) {
            *err = "trailing backslash at end of expression";
            return -1;
        } else {
            *err = c >= '1' && c <= '9' ? "backreferences are not supported (RE2)"
                                        : "unsupported escape sequence";
            return -1;
        }
    }
    if (o.overflow) {
        *err = "expression too long";
        return -1;
    }
    return 0;
}

int tags_re_compile(tags_re_t *r, const char *expr, bool anchored, const char **err)
{
    size_t cap = strlen(expr) * 8 + 16;
    char *ere = malloc(cap), *full = malloc(cap + 4);
    bool icase;
    int rc = -1;

    r->ok = false;
    if (ere == NULL || full == NULL) {
        *err = "out of memory";
        goto out;
    }
    if (tags_re_translate(expr, ere, cap, &icase, err) < 0)
        goto out;
    /* Serf's members filter: fmt.Sprintf("^%s$", expr) -- the flag group
     * is then not leading any more, and Go rejects nothing for it; keep the
     * flag and anchor the rest. */
    snprintf(full, cap + 4, "%s%s%s", anchored ? "^" : "", ere, anchored ? "$" : "");
    if (regcomp(&r->re, full, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)) != 0) {
        *err = "invalid regular expression";
        goto out;
    }
    r->ok = true;
    rc = 0;
out:
    free(ere);
    free(full);
    return rc;
}

bool tags_re_match(const tags_re_t *r, const char *s)
{
    return r->ok && regexec(&r->re, s, 0, NULL, 0) == 0;
}

void tags_re_free(tags_re_t *r)
{
    if (r->ok)
        regfree(&r->re);
    r->ok = false;
}
