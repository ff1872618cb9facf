/* `hamlet` output: columnize-style tables and Go-style indented JSON. */
#include <stdlib.h>
#include <string.h>

#include "hm_client.h"

/* --- columns ------------------------------------------------------------- */

typedef struct cell {
    const char *p;
    size_t n;
} cell_t;

static size_t split_cells(const char *line, cell_t *cells, size_t max)
{
    size_t k = 0;

    for (;;) {
        const char *bar = strchr(line, '|'), *end = bar ? bar : line + strlen(line);
        const char *b = line;
        while (b < end && (*b == ' ' || *b == '\t' || *b == '\n'))
            b++;
        while (end > b && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
            end--;
        if (k < max)
            cells[k++] = (cell_t){b, (size_t)(end - b)};
        if (bar == NULL)
            return k;
        line = bar + 1;
    }
}

/* Width in characters (runes), as columnize counts it. */
static size_t runes(const char *p, size_t n)
{
    size_t r = 0;
    for (size_t i = 0; i < n; i++)
        r += ((unsigned char)p[i] & 0xc0) != 0x80;
    return r;
}

#define MAXCOLS 16

char *hm_columnize(char *const *lines, size_t n)
{
    size_t widths[MAXCOLS] = {0}, ncols = 0;
    hm_buf_t out = {0};
    cell_t cells[MAXCOLS];

    for (size_t i = 0; i < n; i++) {
        size_t k = split_cells(lines[i], cells, MAXCOLS);
        for (size_t c = 0; c < k; c++)
            if (runes(cells[c].p, cells[c].n) > widths[c])
                widths[c] = runes(cells[c].p, cells[c].n);
        ncols = k > ncols ? k : ncols;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = split_cells(lines[i], cells, MAXCOLS);
        for (size_t c = 0; c < k; c++) {
            hm_buf_append(&out, cells[c].p, cells[c].n);
            if (c + 1 == k)
                break;
            for (size_t w = runes(cells[c].p, cells[c].n); w < widths[c]; w++)
                hm_buf_append(&out, " ", 1);
            hm_buf_append(&out, "  ", 2);
        }
        if (i + 1 < n)
            hm_buf_append(&out, "\n", 1);
    }
    hm_buf_append(&out, "", 1);
    if (out.data == NULL)
        return strdup("");
    return (char *)out.data;
}

/* --- JSON ---------------------------------------------------------------- */

static void put(hm_json_t *j, const char *s)
{
    hm_buf_append(&j->out, s, strlen(s));
}

static void newline(hm_json_t *j)
{
    put(j, "\n");
    for (int i = 0; i < j->depth; i++)
        put(j, "  ");
}

/* Separator and indentation before a value or a key. */
static void before(hm_json_t *j)
{
    if (j->is_key) {
        j->is_key = false;
        return;
    }
    if (j->depth > 0) {
        if (!j->first)
            put(j, ",");
        newline(j);
    }
    j->first = false;
}

void hm_json_open(hm_json_t *j, char bracket)
{
    char s[2] = {bracket, 0};

    before(j);
    put(j, s);
    j->depth++;
    j->first = true;
}

void hm_json_close(hm_json_t *j, char bracket)
{
    char s[2] = {bracket, 0};
    bool empty = j->first;

    j->depth--;
    if (!empty)
        newline(j);
    put(j, s);
    j->first = false;
}

/* Length of a valid UTF-8 sequence at p (Go's rules), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c, min;

    if (p[0] < 0xc2 || p[0] > 0xf4)
        return 0;
    len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (len > n)
        return 0;
    c = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

void hm_json_str(hm_json_t *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    char esc[8];

    before(j);
    put(j, "\"");
    for (size_t i = 0; i < n;) {
        unsigned char b = p[i];
        uint32_t cp;
        size_t l;

        if (b < 0x80) {
            if (b == '"' || b == '\\') {
                esc[0] = '\\', esc[1] = (char)b, esc[2] = 0;
                put(j, esc);
            } else if (b == '\n' || b == '\r' || b == '\t') {
                put(j, b == '\n' ? "\\n" : b == '\r' ? "\\r" : "\\t");
            } else if (b < 0x20 || b == '<' || b == '>' || b == '&') {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[b >> 4], esc[5] = hex[b & 15], esc[6] = 0;
                put(j, esc);
            } else {
                hm_buf_append(&j->out, &b, 1);
            }
            i++;
            continue;
        }
        l = utf8_len(p + i, n - i, &cp);
        if (l == 0) {
            put(j, "\\ufffd");
            i++;
        } else if (cp == 0x2028 || cp == 0x2029) {
            put(j, cp == 0x2028 ? "\\u2028" : "\\u2029");
            i += l;
        } else {
            hm_buf_append(&j->out, p + i, l);
            i += l;
        }
    }
    put(j, "\"");
}

void hm_json_cstr(hm_json_t *j, const char *s)
{
    hm_json_str(j, s, strlen(s));
}

void hm_json_key(hm_json_t *j, const char *key)
{
    hm_json_cstr(j, key);
    put(j, ": ");
    j->is_key = true;
}

void hm_json_uint(hm_json_t *j, uint64_t v)
{
    char s[24];

    before(j);
    snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
    put(j, s);
}

void hm_json_null(hm_json_t *j)
{
    before(j);
    put(j, "null");
}

void hm_json_tags(hm_json_t *j, const hm_tags_t *t)
{
    if (t == NULL) {
        hm_json_null(j);
        return;
    }
    hm_json_open(j, '{');
    for (size_t i = 0; i < t->n; i++) {
        hm_json_key(j, t->v[i].key);
        hm_json_cstr(j, t->v[i].value);
    }
    hm_json_close(j, '}');
}

const char *hm_json_text(hm_json_t *j)
{
    hm_buf_append(&j->out, "", 1);
    j->out.len--;
    return (const char *)j->out.data;
}

/* --- tags out of msgpack maps --------------------------------------------- */

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(((const hm_tag_t *)a)->key, ((const hm_tag_t *)b)->key);
}

void hm_tags_sort(hm_tags_t *t)
{
    if (t->n > 1)
        qsort(t->v, t->n, sizeof(hm_tag_t), tag_cmp);
}

/* Keys and values are copied to NUL-terminated strings in one block after
 * the array, so a single free() of t->v releases everything. */
int hm_obj_tags(const msgpack_object *o, hm_tags_t *out)
{
    size_t n, bytes = 0;
    char *s;

    out->v = NULL;
    out->n = 0;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return -1;
    n = o->via.map.size;
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t l1, l2;
        if (hm_rpc_raw(&o->via.map.ptr[i].key, &p, &l1) < 0 ||
            hm_rpc_raw(&o->via.map.ptr[i].val, &p, &l2) < 0)
            return -1;
        bytes += l1 + l2 + 2;
    }
    out->v = malloc(n * sizeof(hm_tag_t) + bytes + 1);
    if (out->v == NULL)
        return -1;
    s = (char *)(out->v + n);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *kv[2] = {&o->via.map.ptr[i].key, &o->via.map.ptr[i].val};
        for (int k = 0; k < 2; k++) {
            const char *p;
            size_t l;
            hm_rpc_raw(kv[k], &p, &l);
            if (l)
                memcpy(s, p, l);
            s[l] = '\0';
            if (k == 0)
                out->v[i].key = s;
            else
                out->v[i].value = s;
            s += l + 1;
        }
    }
    out->n = n;
    hm_tags_sort(out);
    return 0;
}
