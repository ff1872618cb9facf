/*
 * msgpack writer and reader with go-msgpack 0.5.5 default-handle habits
 * (shared/spec/memberlist-wire.md section 1).  See hm_mpack.h.
 */
#include <string.h>

#include "hm_mpack.h"

/* ---- writer ---------------------------------------------------------- */

static int put_be(hm_buf_t *b, uint8_t tag, uint64_t v, int nbytes)
{
    uint8_t tmp[9];
    int i;

    tmp[0] = tag;
    for (i = 0; i < nbytes; i++)
        tmp[1 + i] = (uint8_t)(v >> (8 * (nbytes - 1 - i)));
    return hm_buf_append(b, tmp, (size_t)nbytes + 1);
}

int hm_mp_put_nil(hm_buf_t *b)
{
    uint8_t c = 0xc0;
    return hm_buf_append(b, &c, 1);
}

int hm_mp_put_bool(hm_buf_t *b, bool v)
{
    uint8_t c = v ? 0xc3 : 0xc2;
    return hm_buf_append(b, &c, 1);
}

int hm_mp_put_uint(hm_buf_t *b, uint64_t v)
{
    uint8_t c = (uint8_t)v;

    if (v <= 0x7f)
        return hm_buf_append(b, &c, 1);
    if (v <= 0xff)
        return put_be(b, 0xcc, v, 1);
    if (v <= 0xffff)
        return put_be(b, 0xcd, v, 2);
    if (v <= 0xffffffffu)
        return put_be(b, 0xce, v, 4);
    return put_be(b, 0xcf, v, 8);
}

int hm_mp_put_int(hm_buf_t *b, int64_t v)
{
    uint8_t c = (uint8_t)v;

    /* Go writes non-negative signed values exactly like unsigned ones. */
    if (v >= 0)
        return hm_mp_put_uint(b, (uint64_t)v);
    if (v >= -32)
        return hm_buf_append(b, &c, 1);
    if (v >= INT8_MIN)
        return put_be(b, 0xd0, (uint64_t)v, 1);
    if (v >= INT16_MIN)
        return put_be(b, 0xd1, (uint64_t)v, 2);
    if (v >= INT32_MIN)
        return put_be(b, 0xd2, (uint64_t)v, 4);
    return put_be(b, 0xd3, (uint64_t)v, 8);
}

int hm_mp_put_double(hm_buf_t *b, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    return put_be(b, 0xcb, u, 8);
}

/* The raw family: fixraw, raw16, raw32 (go-msgpack never writes str8). */
static int put_raw_len(hm_buf_t *b, size_t n)
{
    uint8_t c = (uint8_t)(0xa0 | n);

    if (n <= 31)
        return hm_buf_append(b, &c, 1);
    if (n <= 0xffff)
        return put_be(b, 0xda, n, 2);
    if ((uint64_t)n > 0xffffffffu)
        return -1;
    return put_be(b, 0xdb, n, 4);
}

int hm_mp_put_raw(hm_buf_t *b, const void *p, size_t n)
{
    if (put_raw_len(b, n) < 0)
        return -1;
    return hm_buf_append(b, p, n);
}

int hm_mp_put_str(hm_buf_t *b, const char *s)
{
    return hm_mp_put_raw(b, s, s ? strlen(s) : 0);
}

int hm_mp_put_bytes_or_nil(hm_buf_t *b, const void *p, size_t n, bool is_nil)
{
    return is_nil ? hm_mp_put_nil(b) : hm_mp_put_raw(b, p, n);
}

int hm_mp_put_map(hm_buf_t *b, uint32_t n)
{
    uint8_t c = (uint8_t)(0x80 | n);

    if (n <= 15)
        return hm_buf_append(b, &c, 1);
    if (n <= 0xffff)
        return put_be(b, 0xde, n, 2);
    return put_be(b, 0xdf, n, 4);
}

int hm_mp_put_array(hm_buf_t *b, uint32_t n)
{
    uint8_t c = (uint8_t)(0x90 | n);

    if (n <= 15)
        return hm_buf_append(b, &c, 1);
    if (n <= 0xffff)
        return put_be(b, 0xdc, n, 2);
    return put_be(b, 0xdd, n, 4);
}

/* ---- reader ---------------------------------------------------------- */

void hm_mp_reader_init(hm_mp_reader_t *r, const void *p, size_t n)
{
    r->p = p;
    r->end = p ? r->p + n : r->p; /* NULL + 0 is undefined behaviour */
}

static size_t avail(const hm_mp_reader_t *r)
{
    return (size_t)(r->end - r->p);
}

static uint64_t be(const uint8_t *p, int nbytes)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < nbytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* The type of every first byte (peek is on every decoder's path). */
static const uint8_t mp_types[256] = {
    [0x00 ... 0x7f] = HM_MP_UINT,  [0x80 ... 0x8f] = HM_MP_MAP,   [0x90 ... 0x9f] = HM_MP_ARRAY,
    [0xa0 ... 0xbf] = HM_MP_RAW,   [0xc0] = HM_MP_NIL,            [0xc1] = HM_MP_INVALID,
    [0xc2 ... 0xc3] = HM_MP_BOOL,  [0xc4 ... 0xc6] = HM_MP_RAW,   [0xc7 ... 0xc9] = HM_MP_EXT,
    [0xca ... 0xcb] = HM_MP_FLOAT, [0xcc ... 0xcf] = HM_MP_UINT,  [0xd0 ... 0xd3] = HM_MP_INT,
    [0xd4 ... 0xd8] = HM_MP_EXT,   [0xd9 ... 0xdb] = HM_MP_RAW,   [0xdc ... 0xdd] = HM_MP_ARRAY,
    [0xde ... 0xdf] = HM_MP_MAP,   [0xe0 ... 0xff] = HM_MP_INT,
};

hm_mp_type_t hm_mp_peek(const hm_mp_reader_t *r)
{
    if (r->p >= r->end)
        return HM_MP_INVALID;
    return (hm_mp_type_t)mp_types[*r->p];
}

int hm_mp_get_nil(hm_mp_reader_t *r)
{
    if (r->p >= r->end || *r->p != 0xc0)
        return -1;
    r->p++;
    return 0;
}

int hm_mp_get_bool(hm_mp_reader_t *r, bool *v)
{
    if (r->p >= r->end)
        return -1;
    switch (*r->p) {
    case 0xc2:
    case 0x00:
        *v = false;
        break;
    case 0xc3:
    case 0x01:
        *v = true;
        break;
    default:
        return -1;
    }
    r->p++;
    return 0;
}

/*
 * Any integer form.  *neg tells whether the value is negative (then *u holds
 * it as two's complement int64).
 */
static int get_integer(hm_mp_reader_t *r, uint64_t *u, bool *neg)
{
    uint8_t c;
    int nb;

    if (r->p >= r->end)
        return -1;
    c = *r->p;
    if (c <= 0x7f || c >= 0xe0) {
        *u = c <= 0x7f ? c : (uint64_t)(int64_t)(int8_t)c;
        *neg = c >= 0xe0;
        r->p++;
        return 0;
    }
    if (c >= 0xcc && c <= 0xcf) {
        nb = 1 << (c - 0xcc);
        if (avail(r) < (size_t)nb + 1)
            return -1;
        *u = be(r->p + 1, nb);
        *neg = false;
    } else if (c >= 0xd0 && c <= 0xd3) {
        nb = 1 << (c - 0xd0);
        if (avail(r) < (size_t)nb + 1)
            return -1;
        *u = be(r->p + 1, nb);
        /* sign-extend */
        if (nb < 8 && (*u >> (8 * nb - 1)) & 1)
            *u |= ~(uint64_t)0 << (8 * nb);
        *neg = (int64_t)*u < 0;
    } else {
        return -1;
    }
    r->p += nb + 1;
    return 0;
}

int hm_mp_get_uint(hm_mp_reader_t *r, uint64_t *v)
{
    hm_mp_reader_t save = *r;
    uint64_t u;
    bool neg;

    if (get_integer(r, &u, &neg) < 0)
        return -1;
    if (neg) {
        *r = save;
        return -1;
    }
    *v = u;
    return 0;
}

int hm_mp_get_int(hm_mp_reader_t *r, int64_t *v)
{
    hm_mp_reader_t save = *r;
    uint64_t u;
    bool neg;

    if (get_integer(r, &u, &neg) < 0)
        return -1;
    if (!neg && u > (uint64_t)INT64_MAX) {
        *r = save;
        return -1;
    }
    *v = (int64_t)u;
    return 0;
}

int hm_mp_get_double(hm_mp_reader_t *r, double *v)
{
    uint64_t u;
    uint32_t u32;
    float f;
    bool neg;

    if (r->p >= r->end)
        return -1;
    if (*r->p == 0xcb) {
        if (avail(r) < 9)
            return -1;
        u = be(r->p + 1, 8);
        memcpy(v, &u, sizeof(*v));
        r->p += 9;
        return 0;
    }
    if (*r->p == 0xca) {
        if (avail(r) < 5)
            return -1;
        u32 = (uint32_t)be(r->p + 1, 4);
        memcpy(&f, &u32, sizeof(f));
        *v = f;
        r->p += 5;
        return 0;
    }
    if (get_integer(r, &u, &neg) < 0)
        return -1;
    *v = neg ? (double)(int64_t)u : (double)u;
    return 0;
}

int hm_mp_get_raw(hm_mp_reader_t *r, const uint8_t **p, size_t *n)
{
    uint8_t c;
    size_t hl, len;

    if (r->p >= r->end)
        return -1;
    c = *r->p;
    if (c == 0xc0) {
        *p = NULL;
        *n = 0;
        r->p++;
        return 0;
    }
    if (c >= 0xa0 && c <= 0xbf) {
        hl = 1;
        len = c & 0x1f;
    } else if (c == 0xd9 || c == 0xc4) {
        hl = 2;
    } else if (c == 0xda || c == 0xc5) {
        hl = 3;
    } else if (c == 0xdb || c == 0xc6) {
        hl = 5;
    } else {
        return -1;
    }
    if (avail(r) < hl)
        return -1;
    if (hl > 1)
        len = (size_t)be(r->p + 1, (int)hl - 1);
    if (avail(r) - hl < len)
        return -1;
    *p = r->p + hl;
    *n = len;
    r->p += hl + len;
    return 0;
}

static int get_container(hm_mp_reader_t *r, uint32_t *n, uint8_t fix, uint8_t b16)
{
    uint8_t c;

    if (r->p >= r->end)
        return -1;
    c = *r->p;
    if ((c & 0xf0) == fix) {
        *n = c & 0x0f;
        r->p++;
        return 0;
    }
    if (c == b16 || c == b16 + 1) {
        int nb = c == b16 ? 2 : 4;
        if (avail(r) < (size_t)nb + 1)
            return -1;
        *n = (uint32_t)be(r->p + 1, nb);
        r->p += nb + 1;
        return 0;
    }
    return -1;
}

int hm_mp_get_map(hm_mp_reader_t *r, uint32_t *n)
{
    return get_container(r, n, 0x80, 0xde);
}

int hm_mp_get_array(hm_mp_reader_t *r, uint32_t *n)
{
    return get_container(r, n, 0x90, 0xdc);
}

/*
 * Size of the header of the object at p and the number of payload bytes and
 * child objects that follow it.  -1 on an invalid byte.
 */
static int object_shape(uint8_t c, const uint8_t *p, size_t av, size_t *hl, uint64_t *payload,
                        uint64_t *children)
{
    static const uint8_t fixext[5] = {1, 2, 4, 8, 16};
    int nb;

    *payload = *children = 0;
    *hl = 1;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 0;
    if (c <= 0x8f) {
        *children = 2 * (uint64_t)(c & 0x0f);
        return 0;
    }
    if (c <= 0x9f) {
        *children = c & 0x0f;
        return 0;
    }
    if (c <= 0xbf) {
        *payload = c & 0x1f;
        return 0;
    }
    switch (c) {
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        *payload = 1u << (c - 0xcc);
        return 0;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        *payload = 1u << (c - 0xd0);
        return 0;
    case 0xca:
        *payload = 4;
        return 0;
    case 0xcb:
        *payload = 8;
        return 0;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        *payload = 1 + (uint64_t)fixext[c - 0xd4];
        return 0;
    case 0xc4:
    case 0xd9:
    case 0xc7:
        nb = 1;
        break;
    case 0xc5:
    case 0xda:
    case 0xc8:
    case 0xdc:
    case 0xde:
        nb = 2;
        break;
    case 0xc6:
    case 0xdb:
    case 0xc9:
    case 0xdd:
    case 0xdf:
        nb = 4;
        break;
    default:
        return -1;
    }
    *hl = 1 + (size_t)nb;
    if (av < *hl)
        return 1; /* header cut off */
    *payload = be(p + 1, nb);
    if (c == 0xc7 || c == 0xc8 || c == 0xc9)
        *payload += 1; /* ext type byte */
    if (c == 0xdc || c == 0xdd) {
        *children = *payload;
        *payload = 0;
    } else if (c == 0xde || c == 0xdf) {
        *children = 2 * *payload;
        *payload = 0;
    }
    return 0;
}

/*
 * Walks one whole object without recursion (a counter of pending objects
 * replaces the stack, so nesting depth costs nothing).  1 = complete, 0 =
 * input ends inside it, -1 = invalid byte.  On 1, *next is past it.
 */
static int walk(const uint8_t *p, const uint8_t *end, const uint8_t **next)
{
    uint64_t pending = 1, payload, children;
    size_t hl;
    int rc;

    while (pending > 0) {
        if (p >= end)
            return 0;
        rc = object_shape(*p, p, (size_t)(end - p), &hl, &payload, &children);
        if (rc < 0)
            return -1;
        if (rc > 0 || (size_t)(end - p) < hl || (uint64_t)(end - p) - hl < payload)
            return 0;
        p += hl + payload;
        pending = pending - 1 + children;
    }
    *next = p;
    return 1;
}

int hm_mp_skip(hm_mp_reader_t *r)
{
    const uint8_t *next;

    if (walk(r->p, r->end, &next) != 1)
        return -1;
    r->p = next;
    return 0;
}

int hm_mp_complete(const hm_mp_reader_t *r, size_t *used)
{
    const uint8_t *next = NULL;
    int rc = walk(r->p, r->end, &next);

    if (rc == 1 && used)
        *used = (size_t)(next - r->p);
    return rc;
}

bool hm_mp_raw_eq(const uint8_t *p, size_t n, const char *s)
{
    size_t l = strlen(s);
    return l == n && (n == 0 || memcmp(p, s, n) == 0);
}
