/* Handler environment and stdin, as Serf builds them. */
#define _GNU_SOURCE /* asprintf, pipe2 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"

void handlers_tag_env_name(const char *key, char *out, size_t len)
{
    size_t i = 0;

    /* strings.ToUpper then [^A-Z0-9_] -> "_" per rune; for ASCII that is
     * per byte.  (A multi-byte rune becomes one '_' in Go.) */
    for (const unsigned char *p = (const unsigned char *)key; *p && i + 1 < len; p++) {
        unsigned char c = *p;
        if (c >= 0x80) {
            /* skip UTF-8 continuation bytes: one '_' per rune */
            while ((p[1] & 0xc0) == 0x80)
                p++;
            out[i++] = '_';
            continue;
        }
        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 'a' + 'A');
        out[i++] = ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') ? (char)c : '_';
    }
    out[i] = 0;
}

static const char *tag_value(const hm_tags_t *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].key, key) == 0)
            return t->v[i].value;
    return NULL;
}

typedef struct envb {
    char **v;
    size_t n, cap;
    int bad;
} envb_t;

static size_t name_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Adds "K=V", replacing an earlier entry for K. */
static void env_set(envb_t *e, char *kv)
{
    size_t nl;

    if (kv == NULL) {
        e->bad = 1;
        return;
    }
    nl = name_len(kv);
    for (size_t i = 0; i < e->n; i++) {
        if (name_len(e->v[i]) == nl && strncmp(e->v[i], kv, nl) == 0) {
            free(e->v[i]);
            e->v[i] = kv;
            return;
        }
    }
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        char **v = realloc(e->v, cap * sizeof(*v));
        if (v == NULL) {
            free(kv);
            e->bad = 1;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = kv;
    e->v[e->n] = NULL;
}

static char *kv_fmt(const char *k, const char *v)
{
    char *s;
    return asprintf(&s, "%s=%s", k, v) < 0 ? NULL : s;
}

char **handlers_env(char *const *base, const hm_member_t *self, const handler_event_t *ev)
{
    envb_t e = {0};
    const char *role = self ? tag_value(&self->tags, "role") : NULL;
    char num[32];

    for (size_t i = 0; base && base[i]; i++)
        env_set(&e, strdup(base[i]));
    env_set(&e, kv_fmt("SERF_EVENT", ev->type));
    env_set(&e, kv_fmt("SERF_SELF_NAME", self ? self->name : ""));
    env_set(&e, kv_fmt("SERF_SELF_ROLE", role ? role : ""));
    for (size_t i = 0; self && i < self->tags.n; i++) {
        char name[256] = "SERF_TAG_";
        handlers_tag_env_name(self->tags.v[i].key, name + 9, sizeof(name) - 9);
        env_set(&e, kv_fmt(name, self->tags.v[i].value));
    }
    snprintf(num, sizeof(num), "%" PRIu64, ev->ltime);
    if (strcmp(ev->type, "user") == 0) {
        env_set(&e, kv_fmt("SERF_USER_EVENT", ev->name ? ev->name : ""));
        env_set(&e, kv_fmt("SERF_USER_LTIME", num));
    } else if (strcmp(ev->type, "query") == 0) {
        env_set(&e, kv_fmt("SERF_QUERY_NAME", ev->name ? ev->name : ""));
        env_set(&e, kv_fmt("SERF_QUERY_LTIME", num));
    }
    if (e.bad || e.v == NULL) {
        handlers_env_free(e.v);
        return NULL;
    }
    return e.v;
}

void handlers_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

void handlers_ip_string(const hm_addr_t *a, char *buf, size_t len)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (a->len == 4)
        inet_ntop(AF_INET, a->ip, buf, (socklen_t)len);
    else if (a->len == 16 && memcmp(a->ip, mapped, 12) == 0)
        inet_ntop(AF_INET, a->ip + 12, buf, (socklen_t)len);
    else if (a->len == 16)
        inet_ntop(AF_INET6, a->ip, buf, (socklen_t)len);
    else
        snprintf(buf, len, "<nil>"); /* Go prints a nil IP so */
}

/* eventClean: tab -> "\t", newline -> "\n". */
static int put_clean(hm_buf_t *b, const char *s)
{
    for (; *s; s++) {
        int rc = *s == '\t'   ? hm_buf_append(b, "\\t", 2)
                 : *s == '\n' ? hm_buf_append(b, "\\n", 2)
                              : hm_buf_append(b, s, 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int member_line(hm_buf_t *b, const hm_member_t *m)
{
    hm_buf_t tags = {0};
    const char *role = tag_value(&m->tags, "role");
    char ip[64];
    int rc = 0;

    for (size_t i = 0; i < m->tags.n && rc == 0; i++) {
        if (i)
            rc |= hm_buf_append(&tags, ",", 1);
        rc |= hm_buf_append(&tags, m->tags.v[i].key, strlen(m->tags.v[i].key));
        rc |= hm_buf_append(&tags, "=", 1);
        rc |= hm_buf_append(&tags, m->tags.v[i].value, strlen(m->tags.v[i].value));
    }
    rc |= hm_buf_append(&tags, "", 1); /* NUL */
    handlers_ip_string(&m->addr, ip, sizeof(ip));
    if (rc < 0 || put_clean(b, m->name) < 0 || hm_buf_append(b, "\t", 1) < 0 ||
        hm_buf_append(b, ip, strlen(ip)) < 0 || hm_buf_append(b, "\t", 1) < 0 ||
        put_clean(b, role ? role : "") < 0 || hm_buf_append(b, "\t", 1) < 0 ||
        put_clean(b, (const char *)tags.data) < 0 || hm_buf_append(b, "\n", 1) < 0)
        rc = -1;
    hm_buf_free(&tags);
    return rc;
}

int handlers_stdin(const handler_event_t *ev, hm_buf_t *out)
{
    if (strncmp(ev->type, "member-", 7) == 0) {
        for (size_t i = 0; i < ev->n; i++)
            if (member_line(out, ev->members[i]) < 0)
                return -1;
        return 0;
    }
    if (ev->len == 0)
        return 0;
    if (hm_buf_append(out, ev->payload, ev->len) < 0)
        return -1;
    if (ev->payload[ev->len - 1] != '\n')
        return hm_buf_append(out, "\n", 1);
    return 0;
}
