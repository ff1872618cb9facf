/*
 * memberlist 0.2.2 message bodies and envelopes (see hm_mlwire.h and
 * shared/spec/memberlist-wire.md).  Encoders write struct maps exactly as
 * go-msgpack does (keys sorted, omitempty honoured); decoders take keys in
 * any order, skip unknown ones and also accept Go's struct-as-array form.
 */
#ifdef HAVE_CONFIG_H /* not in out-of-tree builds of the wire codecs (t/fuzz.sh): zlib then */
#include <config.h>
#endif

#include <string.h>
#ifdef HAVE_ISAL
#include <isa-l/crc.h>
#else
#include <zlib.h>
#endif

#include "hm_mlwire.h"
#include "hm_mpack.h"

/* ---- decoding helpers shared with hm_serfwire.c ------------------------ */

/* Key k equals the NUL-terminated field name f (no strlen: most keys
 * differ at the first byte). */
static bool key_is(const uint8_t *k, size_t kl, const char *f)
{
    size_t i;

    for (i = 0; i < kl; i++)
        if (f[i] == 0 || (uint8_t)f[i] != k[i])
            return false;
    return f[kl] == 0;
}

/* Index of key k in fields, nf if absent.  The search starts at `hint`,
 * the field after the previous key: senders write the fields in one fixed
 * order, so the first candidate usually matches. */
static int field_index(const uint8_t *k, size_t kl, const char *const *fields, int nf, int hint)
{
    int j, idx = hint;

    for (j = 0; j < nf; j++, idx++) {
        if (idx >= nf)
            idx = 0;
        if (key_is(k, kl, fields[idx]))
            return idx;
    }
    return nf;
}

int hm_ml_get_struct(hm_mp_reader_t *r, const char *const *fields, int nf, hm_ml_field_fn fn,
                     void *m)
{
    uint32_t n, i;
    const uint8_t *k;
    size_t kl;
    int idx, hint = 0;

    if (hm_mp_peek(r) == HM_MP_NIL)
        return hm_mp_get_nil(r); /* Go decodes nil into a zero struct */
    if (hm_mp_peek(r) == HM_MP_ARRAY) {
        if (hm_mp_get_array(r, &n) < 0)
            return -1;
        for (i = 0; i < n; i++) {
            if (i >= (uint32_t)nf) {
                if (hm_mp_skip(r) < 0)
                    return -1;
            } else if (hm_mp_peek(r) == HM_MP_NIL) {
                r->p++;
            } else if (fn(r, (int)i, m) < 0) {
                return -1;
            }
        }
        return 0;
    }
    if (hm_mp_get_map(r, &n) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (hm_mp_peek(r) != HM_MP_RAW || hm_mp_get_raw(r, &k, &kl) < 0)
            return -1;
        idx = field_index(k, kl, fields, nf, hint);
        hint = idx + 1 < nf ? idx + 1 : 0;
        if (idx == nf) {
            if (hm_mp_skip(r) < 0)
                return -1;
        } else if (hm_mp_peek(r) == HM_MP_NIL) {
            r->p++; /* nil leaves the zero value */
        } else if (fn(r, idx, m) < 0) {
            return -1;
        }
    }
    return 0;
}

int hm_ml_get_u64(hm_mp_reader_t *r, uint64_t *v)
{
    return hm_mp_get_uint(r, v);
}

int hm_ml_get_u32(hm_mp_reader_t *r, uint32_t *v)
{
    uint64_t u;

    if (hm_mp_get_uint(r, &u) < 0 || u > UINT32_MAX)
        return -1;
    *v = (uint32_t)u;
    return 0;
}

int hm_ml_get_u16(hm_mp_reader_t *r, uint16_t *v)
{
    uint64_t u;

    if (hm_mp_get_uint(r, &u) < 0 || u > UINT16_MAX)
        return -1;
    *v = (uint16_t)u;
    return 0;
}

int hm_ml_get_u8(hm_mp_reader_t *r, uint8_t *v)
{
    uint64_t u;

    if (hm_mp_get_uint(r, &u) < 0 || u > UINT8_MAX)
        return -1;
    *v = (uint8_t)u;
    return 0;
}

int hm_ml_get_str(hm_mp_reader_t *r, hm_ml_str_t *s)
{
    const uint8_t *p;
    size_t n;

    if (hm_mp_get_raw(r, &p, &n) < 0)
        return -1;
    s->p = (const char *)p;
    s->n = n;
    return 0;
}

int hm_ml_get_bytes(hm_mp_reader_t *r, const uint8_t **p, size_t *n)
{
    return hm_mp_get_raw(r, p, n);
}

/* Go int fields (Nodes, UserStateLen, State): non-negative, fits uint32. */
static int get_len(hm_mp_reader_t *r, uint32_t *v)
{
    int64_t i;

    if (hm_mp_get_int(r, &i) < 0 || i < 0 || i > UINT32_MAX)
        return -1;
    *v = (uint32_t)i;
    return 0;
}

/* []uint8: raw bytes as Go writes them, or an array of small ints. */
static int get_vsn(hm_mp_reader_t *r, uint8_t vsn[6], bool *has)
{
    const uint8_t *p;
    size_t n;
    uint32_t an, i;
    uint8_t v;

    memset(vsn, 0, 6);
    if (hm_mp_peek(r) == HM_MP_ARRAY) {
        if (hm_mp_get_array(r, &an) < 0)
            return -1;
        for (i = 0; i < an; i++) {
            if (hm_ml_get_u8(r, &v) < 0)
                return -1;
            if (i < 6)
                vsn[i] = v;
        }
        *has = an >= 6;
        return 0;
    }
    if (hm_mp_get_raw(r, &p, &n) < 0)
        return -1;
    if (n) /* nil gives p == NULL (the fast paths pass nil through) */
        memcpy(vsn, p, n < 6 ? n : 6);
    *has = n >= 6;
    return 0;
}

int hm_ml_addr_from_raw(hm_addr_t *a, const uint8_t *p, size_t n, uint16_t port)
{
    memset(a->ip, 0, sizeof(a->ip));
    a->port = port;
    if (n != 0 && n != 4 && n != 16) {
        a->len = 0;
        return -1;
    }
    if (n)
        memcpy(a->ip, p, n);
    a->len = (uint8_t)n;
    return 0;
}

static int get_addr_ip(hm_mp_reader_t *r, hm_addr_t *a)
{
    const uint8_t *p;
    size_t n;

    if (hm_mp_get_raw(r, &p, &n) < 0)
        return -1;
    return hm_ml_addr_from_raw(a, p, n, a->port);
}

typedef struct fields_ctx {
    const hm_ml_field_t *f;
    uint8_t *m;
} fields_ctx_t;

static int table_field(hm_mp_reader_t *r, int idx, void *vc)
{
    fields_ctx_t *c = vc;
    const hm_ml_field_t *f = &c->f[idx];
    uint8_t *at = c->m + f->off, *at2 = c->m + f->off2;
    uint32_t v;

    switch (f->type) {
    case HM_MLF_U8:
        return hm_ml_get_u8(r, at);
    case HM_MLF_U16:
        return hm_ml_get_u16(r, (uint16_t *)at);
    case HM_MLF_U32:
        return hm_ml_get_u32(r, (uint32_t *)at);
    case HM_MLF_U64:
        return hm_ml_get_u64(r, (uint64_t *)at);
    case HM_MLF_I64:
        return hm_mp_get_int(r, (int64_t *)at);
    case HM_MLF_DOUBLE:
        return hm_mp_get_double(r, (double *)at);
    case HM_MLF_LEN:
        return get_len(r, (uint32_t *)at);
    case HM_MLF_LEN8:
        if (get_len(r, &v) < 0 || v > UINT8_MAX)
            return -1;
        *at = (uint8_t)v;
        return 0;
    case HM_MLF_BOOL:
        return hm_mp_get_bool(r, (bool *)at);
    case HM_MLF_STR:
        return hm_ml_get_str(r, (hm_ml_str_t *)at);
    case HM_MLF_BYTES:
        return hm_ml_get_bytes(r, (const uint8_t **)at, (size_t *)at2);
    case HM_MLF_IP:
        return get_addr_ip(r, (hm_addr_t *)at);
    case HM_MLF_VSN:
        return get_vsn(r, at, (bool *)at2);
    case HM_MLF_FN:
        return f->fn(r, c->m);
    default:
        return -1;
    }
}

int hm_ml_get_fields(hm_mp_reader_t *r, const hm_ml_field_t *f, int nf, void *m)
{
    const char *names[HM_ML_MAX_FIELDS];
    fields_ctx_t c = {f, m};

    if (nf > HM_ML_MAX_FIELDS)
        return -1;
    for (int i = 0; i < nf; i++)
        names[i] = f[i].name;
    return hm_ml_get_struct(r, names, nf, table_field, &c);
}

#define NFIELDS(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* Whole body must be one struct; trailing bytes are tolerated (Go reads
 * from a stream and ignores what follows). */
static int decode_body(const uint8_t *p, size_t n, const hm_ml_field_t *f, int nf, void *m)
{
    hm_mp_reader_t r;

    hm_mp_reader_init(&r, p, n);
    return hm_ml_get_fields(&r, f, nf, m);
}

/* ---- encoding helpers -------------------------------------------------- */

static int put_type(hm_buf_t *b, uint8_t t)
{
    return hm_buf_append(b, &t, 1);
}

int hm_ml_put_key(hm_buf_t *b, const char *k)
{
    return hm_mp_put_str(b, k);
}

static int put_kv_uint(hm_buf_t *b, const char *k, uint64_t v)
{
    return hm_ml_put_key(b, k) | hm_mp_put_uint(b, v);
}

static int put_kv_str(hm_buf_t *b, const char *k, hm_ml_str_t s)
{
    return hm_ml_put_key(b, k) | hm_mp_put_raw(b, s.p, s.n);
}

static int put_kv_bytes(hm_buf_t *b, const char *k, const uint8_t *p, size_t n, bool is_nil)
{
    return hm_ml_put_key(b, k) | hm_mp_put_bytes_or_nil(b, p, n, is_nil);
}

static int put_kv_ip(hm_buf_t *b, const char *k, const hm_addr_t *a)
{
    return put_kv_bytes(b, k, a->ip, a->len, a->len == 0);
}

static int put_kv_vsn(hm_buf_t *b, const uint8_t vsn[6], bool has)
{
    return put_kv_bytes(b, "Vsn", vsn, 6, !has);
}

/* Every put_* helper returns 0 or -1, so OR-ing results keeps -1 sticky. */

/* ---- ping (0) ---------------------------------------------------------- */

/* ping and indirectPing name their sender in up to three keys, each left
 * out when unknown (Go's omitempty): how many, and the pairs, in Go's
 * sorted key order. */
static unsigned source_keys(const hm_addr_t *src, hm_ml_str_t node)
{
    return (src->len > 0) + (node.n > 0) + (src->port != 0);
}

static int put_kv_source(hm_buf_t *b, const hm_addr_t *src, hm_ml_str_t node)
{
    int rc = 0;

    if (src->len > 0)
        rc |= put_kv_ip(b, "SourceAddr", src);
    if (node.n > 0)
        rc |= put_kv_str(b, "SourceNode", node);
    if (src->port != 0)
        rc |= put_kv_uint(b, "SourcePort", src->port);
    return rc;
}

int hm_ml_put_ping(hm_buf_t *b, const hm_ml_ping_t *m)
{
    int rc = put_type(b, HM_ML_PING);

    rc |= hm_mp_put_map(b, 2u + source_keys(&m->source, m->source_node));
    rc |= put_kv_str(b, "Node", m->node);
    rc |= put_kv_uint(b, "SeqNo", m->seq_no);
    rc |= put_kv_source(b, &m->source, m->source_node);
    return rc;
}

/* Go declaration order, for the struct-as-array form. */
static const hm_ml_field_t ping_fields[] = {
    HM_MLF(hm_ml_ping_t, "SeqNo", HM_MLF_U32, seq_no),
    HM_MLF(hm_ml_ping_t, "Node", HM_MLF_STR, node),
    HM_MLF(hm_ml_ping_t, "SourceAddr", HM_MLF_IP, source),
    HM_MLF(hm_ml_ping_t, "SourcePort", HM_MLF_U16, source.port),
    HM_MLF(hm_ml_ping_t, "SourceNode", HM_MLF_STR, source_node),
};

int hm_ml_get_ping(const uint8_t *p, size_t n, hm_ml_ping_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_body(p, n, ping_fields, NFIELDS(ping_fields), m);
}

/* ---- indirectPing (1) -------------------------------------------------- */

int hm_ml_put_indirect_ping(hm_buf_t *b, const hm_ml_indirect_ping_t *m)
{
    int rc = put_type(b, HM_ML_INDIRECT_PING);

    rc |= hm_mp_put_map(b, 5u + source_keys(&m->source, m->source_node));
    rc |= hm_ml_put_key(b, "Nack") | hm_mp_put_bool(b, m->nack);
    rc |= put_kv_str(b, "Node", m->node);
    rc |= put_kv_uint(b, "Port", m->target.port);
    rc |= put_kv_uint(b, "SeqNo", m->seq_no);
    rc |= put_kv_source(b, &m->source, m->source_node);
    rc |= put_kv_ip(b, "Target", &m->target);
    return rc;
}

static const hm_ml_field_t iping_fields[] = {
    HM_MLF(hm_ml_indirect_ping_t, "SeqNo", HM_MLF_U32, seq_no),
    HM_MLF(hm_ml_indirect_ping_t, "Target", HM_MLF_IP, target),
    HM_MLF(hm_ml_indirect_ping_t, "Port", HM_MLF_U16, target.port),
    HM_MLF(hm_ml_indirect_ping_t, "Node", HM_MLF_STR, node),
    HM_MLF(hm_ml_indirect_ping_t, "Nack", HM_MLF_BOOL, nack),
    HM_MLF(hm_ml_indirect_ping_t, "SourceAddr", HM_MLF_IP, source),
    HM_MLF(hm_ml_indirect_ping_t, "SourcePort", HM_MLF_U16, source.port),
    HM_MLF(hm_ml_indirect_ping_t, "SourceNode", HM_MLF_STR, source_node),
};

int hm_ml_get_indirect_ping(const uint8_t *p, size_t n, hm_ml_indirect_ping_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_body(p, n, iping_fields, NFIELDS(iping_fields), m);
}

/* ---- ackResp (2), nackResp (11) ---------------------------------------- */

int hm_ml_put_ack(hm_buf_t *b, const hm_ml_ack_t *m)
{
    int rc = put_type(b, HM_ML_ACK);

    rc |= hm_mp_put_map(b, 2);
    rc |= put_kv_bytes(b, "Payload", m->payload, m->payload_len, m->payload == NULL);
    rc |= put_kv_uint(b, "SeqNo", m->seq_no);
    return rc;
}

static const hm_ml_field_t ack_fields[] = {
    HM_MLF(hm_ml_ack_t, "SeqNo", HM_MLF_U32, seq_no),
    HM_MLF2(hm_ml_ack_t, "Payload", HM_MLF_BYTES, payload, payload_len),
};

int hm_ml_get_ack(const uint8_t *p, size_t n, hm_ml_ack_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_body(p, n, ack_fields, NFIELDS(ack_fields), m);
}

int hm_ml_put_nack(hm_buf_t *b, const hm_ml_nack_t *m)
{
    return put_type(b, HM_ML_NACK) | hm_mp_put_map(b, 1) | put_kv_uint(b, "SeqNo", m->seq_no);
}

static const hm_ml_field_t nack_fields[] = {HM_MLF(hm_ml_nack_t, "SeqNo", HM_MLF_U32, seq_no)};

int hm_ml_get_nack(const uint8_t *p, size_t n, hm_ml_nack_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_body(p, n, nack_fields, NFIELDS(nack_fields), m);
}

/* ---- suspect (3), dead (5) --------------------------------------------- */

static int put_accuse(hm_buf_t *b, uint8_t type, const hm_ml_accuse_t *m)
{
    int rc = put_type(b, type);

    rc |= hm_mp_put_map(b, 3);
    rc |= put_kv_str(b, "From", m->from);
    rc |= put_kv_uint(b, "Incarnation", m->incarnation);
    rc |= put_kv_str(b, "Node", m->node);
    return rc;
}

int hm_ml_put_suspect(hm_buf_t *b, const hm_ml_accuse_t *m)
{
    return put_accuse(b, HM_ML_SUSPECT, m);
}

int hm_ml_put_dead(hm_buf_t *b, const hm_ml_accuse_t *m)
{
    return put_accuse(b, HM_ML_DEAD, m);
}

static const hm_ml_field_t accuse_fields[] = {
    HM_MLF(hm_ml_accuse_t, "Incarnation", HM_MLF_U32, incarnation),
    HM_MLF(hm_ml_accuse_t, "Node", HM_MLF_STR, node),
    HM_MLF(hm_ml_accuse_t, "From", HM_MLF_STR, from),
};

int hm_ml_get_accuse(const uint8_t *p, size_t n, hm_ml_accuse_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_body(p, n, accuse_fields, NFIELDS(accuse_fields), m);
}

/* ---- alive (4) ---------------------------------------------------------- */

int hm_ml_put_alive(hm_buf_t *b, const hm_ml_alive_t *m)
{
    int rc = put_type(b, HM_ML_ALIVE);

    rc |= hm_mp_put_map(b, 6);
    rc |= put_kv_ip(b, "Addr", &m->addr);
    rc |= put_kv_uint(b, "Incarnation", m->incarnation);
    rc |= put_kv_bytes(b, "Meta", m->meta, m->meta_len, m->meta == NULL);
    rc |= put_kv_str(b, "Node", m->node);
    rc |= put_kv_uint(b, "Port", m->addr.port);
    rc |= put_kv_vsn(b, m->vsn, m->has_vsn);
    return rc;
}

static const hm_ml_field_t alive_fields[] = {
    HM_MLF(hm_ml_alive_t, "Incarnation", HM_MLF_U32, incarnation),
    HM_MLF(hm_ml_alive_t, "Node", HM_MLF_STR, node),
    HM_MLF(hm_ml_alive_t, "Addr", HM_MLF_IP, addr),
    HM_MLF(hm_ml_alive_t, "Port", HM_MLF_U16, addr.port),
    HM_MLF2(hm_ml_alive_t, "Meta", HM_MLF_BYTES, meta, meta_len),
    HM_MLF2(hm_ml_alive_t, "Vsn", HM_MLF_VSN, vsn, has_vsn),
};

/* Inlined whatever GCC's size heuristics think: a call per field was
 * a third of the fast path's instructions. */
#define FAST_READER static inline __attribute__((always_inline))

/* The fast path's readers: one msgpack form each of what memberlist and
 * hamlet write (a raw as nil, fixstr, str8 or bin8; an unsigned integer
 * as a fixint or uint8..uint32), straight-line on a pointer.  Anything
 * else returns false and the message goes to the general decoder, which
 * takes every form. */
FAST_READER bool fast_key(const uint8_t **pp, const uint8_t *end, const char *k, size_t kl)
{
    if ((size_t)(end - *pp) < kl || memcmp(*pp, k, kl) != 0)
        return false;
    *pp += kl;
    return true;
}

#define FAST_KEY(pp, end, k) fast_key(pp, end, k, sizeof(k) - 1)

FAST_READER bool fast_raw(const uint8_t **pp, const uint8_t *end, const uint8_t **out, size_t *len)
{
    const uint8_t *p = *pp;
    size_t n, hl;

    if (p >= end)
        return false;
    if ((*p & 0xe0) == 0xa0) {
        n = *p & 0x1f;
        hl = 1;
    } else if (*p == 0xc0) {
        *out = NULL;
        *len = 0;
        *pp = p + 1;
        return true;
    } else if ((*p == 0xc4 || *p == 0xd9) && end - p >= 2) {
        n = p[1];
        hl = 2;
    } else {
        return false;
    }
    if ((size_t)(end - p) - hl < n)
        return false;
    *out = p + hl;
    *len = n;
    *pp = p + hl + n;
    return true;
}

FAST_READER bool fast_uint(const uint8_t **pp, const uint8_t *end, uint32_t max, uint32_t *v)
{
    const uint8_t *p = *pp;
    size_t avail = (size_t)(end - p);

    if (avail >= 1 && *p <= 0x7f) {
        *v = *p;
        *pp = p + 1;
    } else if (avail >= 2 && *p == 0xcc) {
        *v = p[1];
        *pp = p + 2;
    } else if (avail >= 3 && *p == 0xcd) {
        *v = (uint32_t)p[1] << 8 | p[2];
        *pp = p + 3;
    } else if (avail >= 5 && *p == 0xce) {
        *v = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        *pp = p + 5;
    } else {
        return false;
    }
    return *v <= max;
}

/* Vsn as get_vsn() leaves it from a raw of n bytes. */
FAST_READER void fast_vsn(uint8_t vsn[6], bool *has, const uint8_t *p, size_t n)
{
    *has = n >= 6;
    if (n >= 6) {
        memcpy(vsn, p, 6); /* the usual case: one fixed-size copy */
        return;
    }
    memset(vsn, 0, 6);
    if (n)
        memcpy(vsn, p, n);
}

/* The form every memberlist and hamlet sender writes: a fixmap of the six
 * keys in go-msgpack's sorted order.  Alive messages are most of what a
 * busy node decodes: this checks the key bytes in place and reads the
 * values in the forms above (about 210 instructions with the address,
 * where the general readers took 520).  Any other form (keys reordered,
 * unknown keys, the array form, wider encodings) returns -1 and takes the
 * general decoder.  push_node_fast() below reads a node state the same
 * way: the two key chains mirror two wire structs, as alive_fields and
 * pns_fields do for the general decoder (one reader for both, through
 * out-parameters or a struct, cost 3-4% more instructions). */
static int alive_fast(const uint8_t *p, size_t n, hm_ml_alive_t *m)
{
    const uint8_t *end = p + n, *ip, *node, *vsn;
    size_t iplen, vlen;
    uint32_t port;

    if (n < 1 || *p++ != 0x86)
        return -1;
    if (!FAST_KEY(&p, end,
                  "\xa4"
                  "Addr") ||
        !fast_raw(&p, end, &ip, &iplen) ||
        !FAST_KEY(&p, end,
                  "\xab"
                  "Incarnation") ||
        !fast_uint(&p, end, UINT32_MAX, &m->incarnation) ||
        !FAST_KEY(&p, end,
                  "\xa4"
                  "Meta") ||
        !fast_raw(&p, end, &m->meta, &m->meta_len) ||
        !FAST_KEY(&p, end,
                  "\xa4"
                  "Node") ||
        !fast_raw(&p, end, &node, &m->node.n) ||
        !FAST_KEY(&p, end,
                  "\xa4"
                  "Port") ||
        !fast_uint(&p, end, UINT16_MAX, &port) ||
        !FAST_KEY(&p, end,
                  "\xa3"
                  "Vsn") ||
        !fast_raw(&p, end, &vsn, &vlen))
        return -1;
    m->node.p = (const char *)node;
    fast_vsn(m->vsn, &m->has_vsn, vsn, vlen);
    return hm_ml_addr_from_raw(&m->addr, ip, iplen, (uint16_t)port);
}

int hm_ml_get_alive(const uint8_t *p, size_t n, hm_ml_alive_t *m)
{
    if (alive_fast(p, n, m) == 0) /* it sets every field */
        return 0;
    memset(m, 0, sizeof(*m));
    return decode_body(p, n, alive_fields, NFIELDS(alive_fields), m);
}

/* ---- user (8), err (13) ------------------------------------------------- */

int hm_ml_put_user(hm_buf_t *b, const void *p, size_t n)
{
    return put_type(b, HM_ML_USER) | hm_buf_append(b, p, n);
}

int hm_ml_put_err(hm_buf_t *b, const char *msg)
{
    return put_type(b, HM_ML_ERR) | hm_mp_put_map(b, 1) | hm_ml_put_key(b, "Error") |
           hm_mp_put_str(b, msg);
}

static const hm_ml_field_t err_fields[] = {{.name = "Error", .type = HM_MLF_STR}};

int hm_ml_get_err(const uint8_t *p, size_t n, hm_ml_str_t *msg)
{
    memset(msg, 0, sizeof(*msg));
    return decode_body(p, n, err_fields, 1, msg);
}

/* Reliable user message on a stream: [8]{UserMsgLen}[bytes]. */
int hm_ml_put_user_stream(hm_buf_t *b, const void *p, size_t n)
{
    return put_type(b, HM_ML_USER) | hm_mp_put_map(b, 1) | hm_ml_put_key(b, "UserMsgLen") |
           hm_mp_put_uint(b, n) | hm_buf_append(b, p, n);
}

static const hm_ml_field_t umh_fields[] = {{.name = "UserMsgLen", .type = HM_MLF_LEN}};

int hm_ml_get_user_stream(const uint8_t *p, size_t n, const uint8_t **msg, size_t *len,
                          size_t *used)
{
    hm_mp_reader_t r;
    uint32_t ulen = 0;
    size_t hl;
    int rc;

    hm_mp_reader_init(&r, p, n);
    rc = hm_mp_complete(&r, &hl);
    if (rc <= 0)
        return rc < 0 ? -1 : 1;
    if (hm_ml_get_fields(&r, umh_fields, 1, &ulen) < 0)
        return -1;
    if (n - hl < ulen)
        return 1;
    *msg = p + hl;
    *len = ulen;
    *used = hl + ulen;
    return 0;
}

/* ---- compound (7) -------------------------------------------------------- */

/* Check the n part lengths, reserve the whole compound and write its
 * header, [7][n][len16...]: the parts go at the pointer returned (NULL
 * when refused), *body their total length. */
static uint8_t *compound_head(hm_buf_t *b, const uint32_t *lens, size_t n, size_t *body)
{
    size_t i;
    uint8_t *w;

    if (n > 255)
        return NULL;
    for (*body = 0, i = 0; i < n; i++) {
        if (lens[i] > 0xffff)
            return NULL;
        *body += lens[i];
    }
    if (hm_buf_reserve(b, 2 + 2 * n + *body) < 0)
        return NULL;
    w = b->data + b->len;
    *w++ = HM_ML_COMPOUND;
    *w++ = (uint8_t)n;
    for (i = 0; i < n; i++) {
        *w++ = (uint8_t)(lens[i] >> 8);
        *w++ = (uint8_t)lens[i];
    }
    return w;
}

/* One reservation and one copy: a gossip packet is a compound of up to
 * ~20 parts, built five times a second per node. */
int hm_ml_put_compound_cat(hm_buf_t *b, const uint8_t *bytes, const uint32_t *lens, size_t n)
{
    size_t body;
    uint8_t *w = compound_head(b, lens, n, &body);

    if (w == NULL)
        return -1;
    if (body)
        memcpy(w, bytes, body);
    b->len += 2 + 2 * n + body;
    return 0;
}

int hm_ml_put_compound(hm_buf_t *b, const hm_buf_t *parts, size_t n)
{
    uint32_t lens[255] = {0}; /* (zeroed: GCC cannot see that only lens[0..n) is read) */
    size_t i, body;
    uint8_t *w;

    if (n > 255)
        return -1;
    for (i = 0; i < n; i++) /* a length over 0xffff stays over it (refused), not wrapped */
        lens[i] = parts[i].len > 0xffff ? 0x10000 : (uint32_t)parts[i].len;
    if ((w = compound_head(b, lens, n, &body)) == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        if (parts[i].len)
            memcpy(w, parts[i].data, parts[i].len);
        w += parts[i].len;
    }
    b->len += 2 + 2 * n + body;
    return 0;
}

int hm_ml_split_compound(const uint8_t *p, size_t n, const uint8_t **out, size_t *out_len,
                         size_t max)
{
    size_t count, i, off, len, got = 0;

    if (n < 1)
        return -1;
    count = p[0];
    if (n - 1 < 2 * count)
        return -1; /* memberlist: "truncated len slice", whole packet dropped */
    off = 1 + 2 * count;
    for (i = 0; i < count && got < max; i++) {
        len = (size_t)p[1 + 2 * i] << 8 | p[2 + 2 * i];
        if (n - off < len)
            break; /* truncated: keep the parts before */
        out[got] = p + off;
        out_len[got] = len;
        got++;
        off += len;
    }
    return (int)got;
}

/* ---- CRC envelope (12) ------------------------------------------------------ */

#ifdef HAVE_ISAL
static uint32_t crc_of(const uint8_t *p, size_t n)
{
    return crc32_gzip_refl(0, p, n); /* the same IEEE CRC-32 as zlib's crc32() */
}
#else
static uint32_t crc_of(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);

    /* zlib takes uInt lengths; feed large buffers in slices */
    while (n > 0) {
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}
#endif

int hm_ml_put_crc(hm_buf_t *b, const uint8_t *p, size_t n)
{
    uint32_t c = crc_of(p, n);
    uint8_t hdr[5] = {HM_ML_HAS_CRC, (uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8),
                      (uint8_t)c};

    return hm_buf_append(b, hdr, 5) | hm_buf_append(b, p, n);
}

int hm_ml_check_crc(const uint8_t *p, size_t n, const uint8_t **payload, size_t *plen)
{
    uint32_t want;

    if (n < 4)
        return -1;
    want = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (crc_of(p + 4, n - 4) != want)
        return -1;
    *payload = p + 4;
    *plen = n - 4;
    return 0;
}

/* ---- compression envelope (9) ------------------------------------------------ */

int hm_ml_put_compress(hm_buf_t *b, const uint8_t *msg, size_t n)
{
    hm_buf_t z = {0};
    int rc;

    if (hm_lzw_encode(msg, n, &z) < 0) {
        hm_buf_free(&z);
        return -1;
    }
    rc = put_type(b, HM_ML_COMPRESS) | hm_mp_put_map(b, 2) | hm_ml_put_key(b, "Algo") |
         hm_mp_put_uint(b, 0) | hm_ml_put_key(b, "Buf") | hm_mp_put_raw(b, z.data, z.len);
    hm_buf_free(&z);
    return rc;
}

typedef struct {
    uint8_t algo;
    const uint8_t *buf;
    size_t len;
} compress_t;

static const hm_ml_field_t compress_fields[] = {
    HM_MLF(compress_t, "Algo", HM_MLF_U8, algo),
    HM_MLF2(compress_t, "Buf", HM_MLF_BYTES, buf, len),
};

int hm_ml_get_compress(const uint8_t *body, size_t n, hm_buf_t *out, size_t *used)
{
    hm_mp_reader_t r;
    compress_t m = {0};

    hm_mp_reader_init(&r, body, n);
    if (hm_ml_get_fields(&r, compress_fields, 2, &m) < 0)
        return -1;
    if (m.algo != 0)
        return -1; /* only LZW exists */
    if (hm_lzw_decode(m.buf, m.len, out, HM_ML_MAX_DECOMPRESS) < 0)
        return -1;
    if (used)
        *used = (size_t)(r.p - body);
    return 0;
}

int hm_ml_msg_complete(const uint8_t *p, size_t n, size_t *used)
{
    hm_mp_reader_t r;
    int rc;

    hm_mp_reader_init(&r, p, n);
    rc = hm_mp_complete(&r, used);
    return rc == 1 ? 0 : rc == 0 ? 1 : -1;
}

/* ---- push/pull (6) ------------------------------------------------------------ */

static int put_push_node(hm_buf_t *b, const hm_ml_push_node_t *s)
{
    int rc = hm_mp_put_map(b, 7);

    rc |= put_kv_ip(b, "Addr", &s->addr);
    rc |= put_kv_uint(b, "Incarnation", s->incarnation);
    rc |= put_kv_bytes(b, "Meta", s->meta, s->meta_len, s->meta == NULL);
    rc |= put_kv_str(b, "Name", s->name);
    rc |= put_kv_uint(b, "Port", s->addr.port);
    rc |= put_kv_uint(b, "State", s->state);
    rc |= put_kv_vsn(b, s->vsn, s->has_vsn);
    return rc;
}

int hm_ml_put_push_pull_head(hm_buf_t *b, bool join, size_t n, size_t user_len)
{
    int rc = put_type(b, HM_ML_PUSH_PULL);

    rc |= hm_mp_put_map(b, 3);
    rc |= hm_ml_put_key(b, "Join") | hm_mp_put_bool(b, join);
    rc |= put_kv_uint(b, "Nodes", n);
    rc |= put_kv_uint(b, "UserStateLen", user_len);
    return rc;
}

int hm_ml_put_push_pull(hm_buf_t *b, bool join, const hm_ml_push_node_t *nodes, size_t n,
                        const uint8_t *user_state, size_t user_len)
{
    size_t i;
    int rc = hm_ml_put_push_pull_head(b, join, n, user_len);

    for (i = 0; i < n && rc == 0; i++)
        rc |= put_push_node(b, &nodes[i]);
    rc |= hm_buf_append(b, user_state, user_len);
    return rc;
}

static const hm_ml_field_t pph_fields[] = {
    HM_MLF(hm_ml_push_header_t, "Nodes", HM_MLF_LEN, nodes),
    HM_MLF(hm_ml_push_header_t, "UserStateLen", HM_MLF_LEN, user_state_len),
    HM_MLF(hm_ml_push_header_t, "Join", HM_MLF_BOOL, join),
};

static const hm_ml_field_t pns_fields[] = {
    HM_MLF(hm_ml_push_node_t, "Name", HM_MLF_STR, name),
    HM_MLF(hm_ml_push_node_t, "Addr", HM_MLF_IP, addr),
    HM_MLF(hm_ml_push_node_t, "Port", HM_MLF_U16, addr.port),
    HM_MLF2(hm_ml_push_node_t, "Meta", HM_MLF_BYTES, meta, meta_len),
    HM_MLF(hm_ml_push_node_t, "Incarnation", HM_MLF_U32, incarnation),
    HM_MLF(hm_ml_push_node_t, "State", HM_MLF_LEN8, state),
    HM_MLF2(hm_ml_push_node_t, "Vsn", HM_MLF_VSN, vsn, has_vsn),
};

/* Decode one complete struct at the cursor: 1 need more, 0 ok, -1 bad. */
static int get_complete_struct(hm_mp_reader_t *r, const hm_ml_field_t *fields, int nf, void *m)
{
    size_t used;
    hm_mp_reader_t sub;
    int rc = hm_mp_complete(r, &used);

    if (rc <= 0)
        return rc == 0 ? 1 : -1;
    hm_mp_reader_init(&sub, r->p, used);
    if (hm_ml_get_fields(&sub, fields, nf, m) < 0)
        return -1;
    r->p += used;
    return 0;
}

/* The node state as memberlist and hamlet write it (a fixmap of seven keys
 * in sorted order), decoded in place; -1 sends the caller to the general
 * path (which also tells an incomplete struct from a bad one).  A join
 * into a 10,000-node cluster reads 10,000 of these, twice. */
static int push_node_fast(hm_mp_reader_t *r, hm_ml_push_node_t *m)
{
    const uint8_t *p = r->p, *end = r->end, *ip, *name, *vsn;
    size_t iplen, vlen;
    uint32_t port, state;

    if (p >= end || *p++ != 0x87)
        return -1;
    if (!FAST_KEY(&p, end,
                  "\xa4"
                  "Addr") ||
        !fast_raw(&p, end, &ip, &iplen) ||
        !FAST_KEY(&p, end,
                  "\xab"
                  "Incarnation") ||
        !fast_uint(&p, end, UINT32_MAX, &m->incarnation) ||
        !FAST_KEY(&p, end,
                  "\xa4"
                  "Meta") ||
        !fast_raw(&p, end, &m->meta, &m->meta_len) ||
        !FAST_KEY(&p, end,
                  "\xa4"
                  "Name") ||
        !fast_raw(&p, end, &name, &m->name.n) ||
        !FAST_KEY(&p, end,
                  "\xa4"
                  "Port") ||
        !fast_uint(&p, end, UINT16_MAX, &port) ||
        !FAST_KEY(&p, end,
                  "\xa5"
                  "State") ||
        !fast_uint(&p, end, UINT8_MAX, &state) ||
        !FAST_KEY(&p, end,
                  "\xa3"
                  "Vsn") ||
        !fast_raw(&p, end, &vsn, &vlen) ||
        hm_ml_addr_from_raw(&m->addr, ip, iplen, (uint16_t)port) < 0)
        return -1;
    m->name.p = (const char *)name;
    m->state = (uint8_t)state;
    fast_vsn(m->vsn, &m->has_vsn, vsn, vlen);
    r->p = p;
    return 0;
}

static int parse_push_pull(const uint8_t *p, size_t n, hm_ml_push_header_t *hdr, hm_ml_node_fn fn,
                           void *ud, const uint8_t **user_state, size_t *used)
{
    hm_mp_reader_t r;
    hm_ml_push_node_t node;
    uint32_t i;
    int rc;

    hm_mp_reader_init(&r, p, n);
    memset(hdr, 0, sizeof(*hdr));
    rc = get_complete_struct(&r, pph_fields, NFIELDS(pph_fields), hdr);
    if (rc != 0)
        return rc;
    for (i = 0; i < hdr->nodes; i++) {
        memset(&node, 0, sizeof(node));
        if (push_node_fast(&r, &node) < 0) {
            memset(&node, 0, sizeof(node));
            rc = get_complete_struct(&r, pns_fields, NFIELDS(pns_fields), &node);
            if (rc != 0)
                return rc;
        }
        if (fn && fn(ud, &node) < 0)
            return -1;
    }
    if ((size_t)(r.end - r.p) < hdr->user_state_len)
        return 1;
    *user_state = r.p;
    *used = (size_t)(r.p - p) + hdr->user_state_len;
    return 0;
}

int hm_ml_get_push_pull(const uint8_t *p, size_t n, hm_ml_push_header_t *hdr, hm_ml_node_fn fn,
                        void *ud, const uint8_t **user_state, size_t *used)
{
    const uint8_t *us;
    size_t u;
    int rc;

    /* First pass without callbacks, so a caller that retries with more
     * bytes never sees a node twice. */
    rc = parse_push_pull(p, n, hdr, NULL, NULL, &us, &u);
    if (rc != 0 || fn == NULL) {
        if (rc == 0) {
            *user_state = us;
            *used = u;
        }
        return rc;
    }
    return parse_push_pull(p, n, hdr, fn, ud, user_state, used);
}
