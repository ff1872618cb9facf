/* Serf's tags file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "filter.h"
#include "tagsfile.h"

void tags_set_free(hm_tags_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free((char *)t->v[i].key);
        free((char *)t->v[i].value);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

int tags_file_load(const char *path, hm_tags_t *out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o, *v;
    const char *k;

    out->v = NULL;
    out->n = 0;
    if (access(path, F_OK) != 0)
        return 1;
    if ((o = json_load_file(path, 0, &je)) == NULL) {
        snprintf(err, errlen, "Failed to decode tags file: %s", je.text);
        return -1;
    }
    if (!json_is_object(o)) {
        snprintf(err, errlen, "Failed to decode tags file: not a JSON object");
        json_decref(o);
        return -1;
    }
    out->v = calloc(json_object_size(o) + 1, sizeof(hm_tag_t));
    if (out->v == NULL)
        goto nomem;
    json_object_foreach(o, k, v)
    {
        if (!json_is_string(v)) {
            snprintf(err, errlen, "Failed to decode tags file: value of '%s' is not a string", k);
            json_decref(o);
            tags_set_free(out);
            return -1;
        }
        out->v[out->n].key = strdup(k);
        out->v[out->n].value = strdup(json_string_value(v));
        out->n++;
        if (!out->v[out->n - 1].key || !out->v[out->n - 1].value)
            goto nomem;
    }
    json_decref(o);
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    json_decref(o);
    tags_set_free(out);
    return -1;
}

typedef struct sb {
    char *p;
    size_t n, cap;
    int bad;
} sb_t;

static void sb_put(sb_t *b, const char *s, size_t n)
{
    if (b->bad)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->bad = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* Go's encodeState.string with HTML escaping (Go 1.19). */
static void go_string(sb_t *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;

    sb_put(b, "\"", 1);
    for (size_t i = 0; u[i]; i++) {
        unsigned char c = u[i];
        char e[8];
        if (c == '\\' || c == '"') {
            e[0] = '\\';
            e[1] = (char)c;
            sb_put(b, e, 2);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            e[0] = '\\';
            e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            sb_put(b, e, 2);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            snprintf(e, sizeof(e), "\\u00%c%c", hex[c >> 4], hex[c & 15]);
            sb_put(b, e, 6);
        } else if (c == 0xe2 && u[i + 1] == 0x80 && (u[i + 2] == 0xa8 || u[i + 2] == 0xa9)) {
            sb_put(b, u[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6); /* JS separators */
            i += 2;
        } else {
            sb_put(b, (const char *)&u[i], 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const hm_tag_t *)a)->key, ((const hm_tag_t *)b)->key);
}

char *tags_file_encode(const hm_tags_t *t)
{
    hm_tag_t *s = malloc((t->n + 1) * sizeof(*s));
    sb_t b = {0};

    if (s == NULL)
        return NULL;
    if (t->n)
        memcpy(s, t->v, t->n * sizeof(*s));
    qsort(s, t->n, sizeof(*s), cmp_tag);
    if (t->n == 0)
        sb_put(&b, "{}", 2);
    for (size_t i = 0; i < t->n; i++) {
        sb_put(&b, i ? ",\n  " : "{\n  ", 4);
        go_string(&b, s[i].key);
        sb_put(&b, ": ", 2);
        go_string(&b, s[i].value);
    }
    if (t->n)
        sb_put(&b, "\n}", 2);
    free(s);
    if (b.bad) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int tags_file_save(const char *path, const hm_tags_t *t, char *err, size_t errlen)
{
    char *text = tags_file_encode(t), *tmp = NULL;
    size_t len;
    int fd = -1, rc = -1;

    if (text == NULL || (tmp = malloc(strlen(path) + 8)) == NULL) {
        snprintf(err, errlen, "Failed to encode tags: out of memory");
        goto out;
    }
    sprintf(tmp, "%s.tmp", path);
    len = strlen(text);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        snprintf(err, errlen, "Failed to write tags file: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "Failed to write tags file: %s", strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(text);
    free(tmp);
    return rc;
}

int tags_equal(const hm_tags_t *a, const hm_tags_t *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const char *v = tags_get(b, a->v[i].key);
        if (v == NULL || strcmp(v, a->v[i].value) != 0)
            return 0;
    }
    return 1;
}
