/* Hand-written msgpack for the few keyring payloads: the gossip handle's
 * raw-string family only, so Serf decodes them exactly as its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyq.h"

static int put_u8(hm_buf_t *b, uint8_t c)
{
    return hm_buf_append(b, &c, 1);
}

static int put_be(hm_buf_t *b, uint8_t tag, uint64_t v, int bytes)
{
    uint8_t t[9];
    t[0] = tag;
    for (int i = 0; i < bytes; i++)
        t[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return hm_buf_append(b, t, (size_t)bytes + 1);
}

static int put_raw(hm_buf_t *b, const void *p, size_t n)
{
    int rc;
    if (n <= 31)
        rc = put_u8(b, (uint8_t)(0xa0 | n));
    else if (n <= 0xffff)
        rc = put_be(b, 0xda, n, 2);
    else
        rc = put_be(b, 0xdb, n, 4);
    return rc < 0 ? -1 : hm_buf_append(b, p, n);
}

static int put_str(hm_buf_t *b, const char *s)
{
    return put_raw(b, s, strlen(s));
}

static size_t raw_hdr(size_t n)
{
    return n <= 31 ? 1 : n <= 0xffff ? 3 : 5;
}

static size_t uint_size(uint64_t v)
{
    return v <= 0x7f ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffffu ? 5 : 9;
}

int crypto_keyreq_encode(const uint8_t *key, size_t len, hm_buf_t *out)
{
    if (put_u8(out, CRYPTO_MSG_KEY_REQUEST) < 0 || put_u8(out, 0x81) < 0 || put_str(out, "Key") < 0)
        return -1;
    return put_raw(out, key, len);
}

int crypto_keyresp_encode(const crypto_keyresp_t *r, hm_buf_t *out)
{
    if (put_u8(out, CRYPTO_MSG_KEY_RESPONSE) < 0 || put_u8(out, 0x84) < 0)
        return -1;
    if (put_str(out, "Keys") < 0)
        return -1;
    if (r->keys == NULL) {
        if (put_u8(out, 0xc0) < 0)
            return -1;
    } else {
        int rc = r->nkeys <= 15 ? put_u8(out, (uint8_t)(0x90 | r->nkeys))
                                : put_be(out, 0xdc, r->nkeys, 2);
        if (rc < 0)
            return -1;
        for (size_t i = 0; i < r->nkeys; i++)
            if (put_str(out, r->keys[i]) < 0)
                return -1;
    }
    if (put_str(out, "Message") < 0 || put_str(out, r->message ? r->message : "") < 0 ||
        put_str(out, "PrimaryKey") < 0 || put_str(out, r->primary ? r->primary : "") < 0 ||
        put_str(out, "Result") < 0 || put_u8(out, r->result ? 0xc3 : 0xc2) < 0)
        return -1;
    return 0;
}

/* --- a bounds-checked reader for what Go's decoder would accept --- */

typedef struct rd {
    const uint8_t *p;
    size_t n, i;
} rd_t;

static int rd_be(rd_t *r, int bytes, uint64_t *v)
{
    if (r->n - r->i < (size_t)bytes)
        return -1;
    *v = 0;
    for (int k = 0; k < bytes; k++)
        *v = *v << 8 | r->p[r->i++];
    return 0;
}

/* A string or byte slice: fixstr, str8/16/32, bin8/16/32 or nil. */
static int rd_raw(rd_t *r, const uint8_t **s, size_t *len)
{
    uint64_t n;
    uint8_t t;

    if (r->i >= r->n)
        return -1;
    t = r->p[r->i++];
    if ((t & 0xe0) == 0xa0)
        n = t & 0x1f;
    else if (t == 0xc0)
        n = 0;
    else if ((t == 0xd9 || t == 0xc4) && rd_be(r, 1, &n) == 0)
        ;
    else if ((t == 0xda || t == 0xc5) && rd_be(r, 2, &n) == 0)
        ;
    else if ((t == 0xdb || t == 0xc6) && rd_be(r, 4, &n) == 0)
        ;
    else
        return -1;
    if (r->n - r->i < n)
        return -1;
    *s = r->p + r->i;
    *len = (size_t)n;
    r->i += (size_t)n;
    return 0;
}

static int rd_container(rd_t *r, int map, size_t *count)
{
    uint64_t n;
    uint8_t t;

    if (r->i >= r->n)
        return -1;
    t = r->p[r->i++];
    if (map && (t & 0xf0) == 0x80)
        n = t & 0x0f;
    else if (!map && (t & 0xf0) == 0x90)
        n = t & 0x0f;
    else if (t == (map ? 0xde : 0xdc) && rd_be(r, 2, &n) == 0)
        ;
    else if (t == (map ? 0xdf : 0xdd) && rd_be(r, 4, &n) == 0)
        ;
    else if (t == 0xc0)
        n = 0;
    else
        return -1;
    if (n > r->n - r->i) /* every element takes at least a byte */
        return -1;
    *count = (size_t)n;
    return 0;
}

static int rd_skip(rd_t *r, int depth);

static int rd_skip_n(rd_t *r, size_t n, int depth)
{
    for (size_t k = 0; k < n; k++)
        if (rd_skip(r, depth) < 0)
            return -1;
    return 0;
}

static int rd_skip(rd_t *r, int depth)
{
    static const uint8_t fixed[] = {[0xcc - 0xc0] = 1, [0xcd - 0xc0] = 2, [0xce - 0xc0] = 4,
                                    [0xcf - 0xc0] = 8, [0xd0 - 0xc0] = 1, [0xd1 - 0xc0] = 2,
                                    [0xd2 - 0xc0] = 4, [0xd3 - 0xc0] = 8, [0xca - 0xc0] = 4,
                                    [0xcb - 0xc0] = 8};
    const uint8_t *s;
    size_t len;
    uint8_t t;

    if (depth > 32 || r->i >= r->n)
        return -1;
    t = r->p[r->i];
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
        r->i++;
        return 0;
    }
    if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb || (t >= 0xc4 && t <= 0xc6))
        return rd_raw(r, &s, &len);
    if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
        if (rd_container(r, 1, &len) < 0)
            return -1;
        return rd_skip_n(r, len * 2, depth + 1);
    }
    if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
        if (rd_container(r, 0, &len) < 0)
            return -1;
        return rd_skip_n(r, len, depth + 1);
    }
    if (t >= 0xca && t <= 0xd3 && fixed[t - 0xc0]) {
        if (r->n - r->i < 1u + fixed[t - 0xc0])
            return -1;
        r->i += 1u + fixed[t - 0xc0];
        return 0;
    }
    return -1; /* ext types and the rest: not in these payloads */
}

static int key_is(const uint8_t *s, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(s, name, len) == 0;
}

int crypto_keyreq_decode(const uint8_t *p, size_t n, const uint8_t **key, size_t *klen)
{
    rd_t r = {p, n, 1};
    size_t cnt;

    *key = NULL;
    *klen = 0;
    if (n < 1 || p[0] != CRYPTO_MSG_KEY_REQUEST || rd_container(&r, 1, &cnt) < 0)
        return -1;
    for (size_t k = 0; k < cnt; k++) {
        const uint8_t *s;
        size_t len;
        if (rd_raw(&r, &s, &len) < 0)
            return -1;
        if (key_is(s, len, "Key")) {
            if (rd_raw(&r, key, klen) < 0)
                return -1;
        } else if (rd_skip(&r, 0) < 0) {
            return -1;
        }
    }
    return 0;
}

static char *dup_raw(const uint8_t *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = 0;
    }
    return d;
}

int crypto_keyresp_decode(const uint8_t *p, size_t n, crypto_keyresp_dec_t *out, const char **err)
{
    rd_t r = {p, n, 1};
    size_t cnt;

    memset(out, 0, sizeof(*out));
    if (n < 1 || p[0] != CRYPTO_MSG_KEY_RESPONSE) {
        *err = "type";
        return -1;
    }
    *err = "decode";
    if (rd_container(&r, 1, &cnt) < 0)
        return -1;
    for (size_t k = 0; k < cnt; k++) {
        const uint8_t *s, *v;
        size_t len, vlen;
        if (rd_raw(&r, &s, &len) < 0)
            goto fail;
        if (key_is(s, len, "Result")) {
            if (r.i >= r.n || (r.p[r.i] != 0xc2 && r.p[r.i] != 0xc3 && r.p[r.i] > 1))
                goto fail;
            out->result = r.p[r.i] == 0xc3 || r.p[r.i] == 1;
            r.i++;
        } else if (key_is(s, len, "Message") || key_is(s, len, "PrimaryKey")) {
            char **dst = key_is(s, len, "Message") ? &out->message : &out->primary;
            if (rd_raw(&r, &v, &vlen) < 0)
                goto fail;
            free(*dst);
            if ((*dst = dup_raw(v, vlen)) == NULL)
                goto fail;
        } else if (key_is(s, len, "Keys")) {
            size_t nk;
            if (out->keys != NULL)
                goto fail;
            if (r.i < r.n && r.p[r.i] == 0xc0) { /* nil: not a list response */
                r.i++;
                continue;
            }
            if (rd_container(&r, 0, &nk) < 0)
                goto fail;
            out->keys = calloc(nk + 1, sizeof(char *));
            if (out->keys == NULL)
                goto fail;
            for (size_t j = 0; j < nk; j++) {
                if (rd_raw(&r, &v, &vlen) < 0 || (out->keys[j] = dup_raw(v, vlen)) == NULL)
                    goto fail;
                out->nkeys++;
            }
        } else if (rd_skip(&r, 0) < 0) {
            goto fail;
        }
    }
    if ((out->message == NULL && (out->message = strdup("")) == NULL) ||
        (out->primary == NULL && (out->primary = strdup("")) == NULL))
        goto fail;
    *err = NULL;
    return 0;
fail:
    crypto_keyresp_dec_free(out);
    return -1;
}

void crypto_keyresp_dec_free(crypto_keyresp_dec_t *d)
{
    for (size_t i = 0; i < d->nkeys; i++)
        free(d->keys[i]);
    free(d->keys);
    free(d->message);
    free(d->primary);
    memset(d, 0, sizeof(*d));
}

size_t crypto_qresp_size(uint64_t ltime, uint32_t id, const char *from, size_t payload_len)
{
    size_t fl = strlen(from);
    /* [5] + fixmap(5) + "Flags" 0 + "From" s + "ID" u + "LTime" u + "Payload" raw */
    return 1 + 1 + 6 + 1 + 5 + raw_hdr(fl) + fl + 3 + uint_size(id) + 6 + uint_size(ltime) + 8 +
           raw_hdr(payload_len) + payload_len;
}

int crypto_keylist_fit(const char *const *keys, size_t nkeys, const char *primary, uint64_t ltime,
                       uint32_t id, const char *from, size_t limit, hm_buf_t *out, size_t *shown,
                       char *msgbuf, size_t msglen)
{
    crypto_keyresp_t r = {true, "", keys, nkeys, primary};
    size_t max = limit / CRYPTO_MIN_ENCODED_KEY;

    msgbuf[0] = 0;
    /* Serf's loop starts at i = limit/25 and only shrinks after a failed
     * attempt, so the first try always carries every key. */
    for (size_t i = max + 1; i-- > 0;) {
        hm_buf_reset(out);
        if (crypto_keyresp_encode(&r, out) < 0)
            return -1;
        if (crypto_qresp_size(ltime, id, from, out->len) <= limit) {
            *shown = r.nkeys;
            return 0;
        }
        r.nkeys = i < nkeys ? i : nkeys;
        snprintf(msgbuf, msglen, "truncated key list response, showing first %zu of %zu keys", i,
                 nkeys);
        r.message = msgbuf;
    }
    return -1;
}

/* --- origin side --- */

static crypto_keyop_entry_t *entry_get(crypto_keyop_entry_t **v, size_t *n, const char *name)
{
    crypto_keyop_entry_t *e;

    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].name, name) == 0)
            return &(*v)[i];
    e = realloc(*v, (*n + 1) * sizeof(**v));
    if (e == NULL)
        return NULL;
    *v = e;
    e = &e[*n];
    if ((e->name = strdup(name)) == NULL)
        return NULL;
    e->text = NULL;
    e->count = 0;
    (*n)++;
    return e;
}

static void set_message(crypto_keyop_result_t *r, const char *from, const char *text)
{
    crypto_keyop_entry_t *e = entry_get(&r->messages, &r->nmessages, from);
    if (e != NULL) {
        free(e->text);
        e->text = strdup(text);
    }
}

/* Go's %v of a []byte: "[1 2 3]". */
static void bytes_v(const uint8_t *p, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    o += (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? " " : "", p[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

int crypto_keyop_add(crypto_keyop_result_t *r, const char *from, const uint8_t *p, size_t n)
{
    crypto_keyresp_dec_t d;
    const char *err;
    char text[1100], bv[1024];

    r->num_resp++;
    if (crypto_keyresp_decode(p, n, &d, &err) < 0) {
        bytes_v(p, n, bv, sizeof(bv));
        snprintf(text, sizeof(text), "%s: %s",
                 strcmp(err, "type") == 0 ? "Invalid key query response type"
                                          : "Failed to decode key query response",
                 bv);
        set_message(r, from, text);
        r->num_err++;
        goto next;
    }
    if (!d.result) {
        set_message(r, from, d.message);
        r->num_err++;
    }
    if (d.result && d.message[0])
        set_message(r, from, d.message);
    for (size_t i = 0; i < d.nkeys; i++) {
        crypto_keyop_entry_t *e = entry_get(&r->keys, &r->nkeys, d.keys[i]);
        if (e)
            e->count++;
    }
    {
        crypto_keyop_entry_t *e = entry_get(&r->primaries, &r->nprimaries, d.primary);
        if (e)
            e->count++;
    }
    crypto_keyresp_dec_free(&d);
next:
    return r->num_resp == r->num_nodes;
}

const char *crypto_keyop_error(const crypto_keyop_result_t *r, char *buf, size_t len)
{
    if (r->num_err != 0)
        snprintf(buf, len, "%d/%d nodes reported failure", r->num_err, r->num_nodes);
    else if (r->num_resp != r->num_nodes)
        snprintf(buf, len, "%d/%d nodes reported success", r->num_resp, r->num_nodes);
    else
        return NULL;
    return buf;
}

static void entries_free(crypto_keyop_entry_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].text);
    }
    free(v);
}

void crypto_keyop_free(crypto_keyop_result_t *r)
{
    entries_free(r->messages, r->nmessages);
    entries_free(r->keys, r->nkeys);
    entries_free(r->primaries, r->nprimaries);
    memset(r, 0, sizeof(*r));
}
