/* Serf's tags file, byte for byte as Go 1.19's encoding/json writes it. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "hm_tagsfile.h"

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t l)
{
    if (b->oom)
        return;
    if (b->n + l + 1 > b->cap) {
        size_t cap = (b->n + l + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, l);
    b->n += l;
    b->p[b->n] = 0;
}

/* Length of the valid UTF-8 sequence at u (1..4), 0 if invalid (Go's
 * utf8.DecodeRuneInString returning RuneError of width 1). */
static size_t utf8_len(const unsigned char *u)
{
    unsigned char c = u[0];
    size_t l;
    unsigned lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf)
        l = 2;
    else if (c >= 0xe0 && c <= 0xef)
        l = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        l = 4;
    else
        return 0;
    /* second byte bounds exclude overlongs, surrogates and > U+10FFFF */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i < l; i++)
        if (u[i] < 0x80 || u[i] > 0xbf)
            return 0;
    return l;
}

/* encodeState.string(s, escapeHTML=true) of Go 1.19. */
static void go_string(sbuf_t *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;

    sb_add(b, "\"", 1);
    for (size_t i = 0; u[i];) {
        unsigned char c = u[i];
        size_t l;
        if (c < 0x80) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '"' || c == '\\')
                sb_add(b, (char[]){'\\', (char)c}, 2);
            else if (c == '\n' || c == '\r' || c == '\t')
                sb_add(b, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t", 2);
            else if (c < 0x20 || c == '<' || c == '>' || c == '&')
                sb_add(b, e, 6);
            else
                sb_add(b, (const char *)&u[i], 1);
            i++;
        } else if ((l = utf8_len(&u[i])) == 0) {
            sb_add(b, "\\ufffd", 6);
            i++;
        } else if (l == 3 && c == 0xe2 && u[i + 1] == 0x80 && (u[i + 2] & 0xfe) == 0xa8) {
            sb_add(b, u[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            i += 3;
        } else {
            sb_add(b, (const char *)&u[i], l);
            i += l;
        }
    }
    sb_add(b, "\"", 1);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const hm_tag_t *)a)->key, ((const hm_tag_t *)b)->key);
}

char *hm_tagsfile_encode(const hm_tags_t *t)
{
    hm_tag_t *v = malloc((t->n + 1) * sizeof(*v));
    sbuf_t b = {0};

    if (v == NULL)
        return NULL;
    if (t->n)
        memcpy(v, t->v, t->n * sizeof(*v));
    qsort(v, t->n, sizeof(*v), by_key);
    /* MarshalIndent: "{}" when empty, else one "  key": "value" a line */
    sb_add(&b, t->n ? "{\n  " : "{}", t->n ? 4 : 2);
    for (size_t i = 0; i < t->n; i++) {
        if (i)
            sb_add(&b, ",\n  ", 4);
        go_string(&b, v[i].key);
        sb_add(&b, ": ", 2);
        go_string(&b, v[i].value);
    }
    if (t->n)
        sb_add(&b, "\n}", 2);
    free(v);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int hm_tagsfile_save(const char *path, const hm_tags_t *t, char *err, size_t errlen)
{
    char *text = hm_tagsfile_encode(t), *tmp = malloc(strlen(path) + 5);
    size_t len = text ? strlen(text) : 0;
    int fd = -1, rc = -1;

    if (text == NULL || tmp == NULL) {
        snprintf(err, errlen, "Failed to encode tags: out of memory");
        goto out;
    }
    sprintf(tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0 ||
        (fd = -1, rename(tmp, path) != 0)) {
        snprintf(err, errlen, "Failed to write tags file: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(text);
    free(tmp);
    return rc;
}

int hm_tagsfile_load(const char *path, hm_tagsfile_set_fn set, void *ud, char *err,
                     size_t errlen)
{
    json_error_t je;
    json_t *o, *v;
    const char *k;
    int rc = 0;

    if (access(path, F_OK) != 0)
        return 1;
    /* DECODE_ANY: a file holding `null` leaves Go's map empty, no error */
    if ((o = json_load_file(path, JSON_DECODE_ANY, &je)) == NULL) {
        snprintf(err, errlen, "Failed to decode tags file: %s", je.text);
        return -1;
    }
    if (!json_is_object(o) && !json_is_null(o)) {
        snprintf(err, errlen, "Failed to decode tags file: not a JSON object");
        rc = -1;
    }
    json_object_foreach(o, k, v)
    {
        if (rc < 0)
            break;
        if (!json_is_string(v)) {
            snprintf(err, errlen, "Failed to decode tags file: value of '%s' is not a string", k);
            rc = -1;
        } else if (set(ud, k, json_string_value(v)) < 0) {
            snprintf(err, errlen, "Failed to load tags file: out of memory");
            rc = -1;
        }
    }
    json_decref(o);
    return rc;
}
