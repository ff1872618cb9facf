/* The Serf RPC codec: framing scan, msgpack-c packers, decoding helpers. */
#include <stdlib.h>
#include <string.h>

#include "hm_rpcwire.h"

/* --- framing ------------------------------------------------------------ */

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Size of the fixed part of the object starting with byte `b` (tag and
 * length fields), the number of bytes of the length field, and how many
 * child objects follow (for arrays and maps).  Returns -1 for 0xc1. */
static int head(uint8_t b, size_t *fixed, size_t *lenbytes, int *kind)
{
    /* kind: 0 scalar with fixed size, 1 payload of length field, 2 array,
     * 3 map, 4 ext (length field + type byte + payload) */
    *lenbytes = 0;
    *kind = 0;
    *fixed = 1;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;
    if (b >= 0x80 && b <= 0x8f) {
        *kind = 3;
        return 0;
    }
    if (b >= 0x90 && b <= 0x9f) {
        *kind = 2;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        *kind = 1;
        return 0;
    }
    /* one line per msgpack type byte reads best */
    /* clang-format off */
    switch (b) {
    case 0xc4: case 0xd9: *kind = 1; *lenbytes = 1; break;
    case 0xc5: case 0xda: *kind = 1; *lenbytes = 2; break;
    case 0xc6: case 0xdb: *kind = 1; *lenbytes = 4; break;
    case 0xc7: *kind = 4; *lenbytes = 1; break;
    case 0xc8: *kind = 4; *lenbytes = 2; break;
    case 0xc9: *kind = 4; *lenbytes = 4; break;
    case 0xca: *fixed = 5; break;
    case 0xcb: *fixed = 9; break;
    case 0xcc: case 0xd0: *fixed = 2; break;
    case 0xcd: case 0xd1: *fixed = 3; break;
    case 0xce: case 0xd2: *fixed = 5; break;
    case 0xcf: case 0xd3: *fixed = 9; break;
    case 0xd4: *fixed = 3; break;
    case 0xd5: *fixed = 4; break;
    case 0xd6: *fixed = 6; break;
    case 0xd7: *fixed = 10; break;
    case 0xd8: *fixed = 18; break;
    case 0xdc: *kind = 2; *lenbytes = 2; break;
    case 0xdd: *kind = 2; *lenbytes = 4; break;
    case 0xde: *kind = 3; *lenbytes = 2; break;
    case 0xdf: *kind = 3; *lenbytes = 4; break;
    default:
        return -1; /* 0xc1 */
    }
    /* clang-format on */
    return 0;
}

void hm_rpc_scan_reset(hm_rpc_scan_t *st)
{
    st->off = 0;
    st->depth = 0;
    st->left[0] = 1;
}

/* Walks whole elements only: the state changes once an element is entirely
 * present, so a MORE result can be resumed when more bytes arrive (a large
 * response read in many chunks is scanned once, not once per chunk). */
int hm_rpc_scan_resume(const uint8_t *p, size_t n, hm_rpc_scan_t *st)
{
    while (st->depth >= 0) {
        size_t fixed, lb, next;
        int kind;
        uint64_t len;

        if (st->left[st->depth] == 0) {
            st->depth--;
            continue;
        }
        if (st->off >= n)
            return HM_RPC_SCAN_MORE;
        if (head(p[st->off], &fixed, &lb, &kind) < 0)
            return HM_RPC_SCAN_BAD;
        if (n - st->off < fixed + lb)
            return HM_RPC_SCAN_MORE;
        len = lb ? be(p + st->off + 1, lb) : (uint64_t)(p[st->off] & (kind == 1 ? 0x1f : 0x0f));
        next = st->off + fixed + lb;
        if (kind == 1 || kind == 4) {
            len += kind == 4 ? 1 : 0;
            if (len > n - next)
                return HM_RPC_SCAN_MORE;
            next += len;
        } else if ((kind == 2 || kind == 3) && st->depth == HM_RPC_MAX_DEPTH) {
            return HM_RPC_SCAN_BAD;
        }
        st->left[st->depth]--;
        st->off = next;
        if (kind == 2 || kind == 3)
            st->left[++st->depth] = kind == 3 ? 2 * len : len;
    }
    return HM_RPC_SCAN_OK;
}

int hm_rpc_scan(const uint8_t *p, size_t n, size_t *objlen)
{
    hm_rpc_scan_t st;
    int rc;

    hm_rpc_scan_reset(&st);
    rc = hm_rpc_scan_resume(p, n, &st);
    if (rc == HM_RPC_SCAN_OK)
        *objlen = st.off;
    return rc;
}

void hm_rpc_in_init(hm_rpc_in_t *in)
{
    memset(in, 0, sizeof(*in));
    in->max = HM_RPC_MAX_OBJECT;
    hm_rpc_scan_reset(&in->scan);
}

void hm_rpc_in_free(hm_rpc_in_t *in)
{
    hm_buf_free(&in->buf);
    if (in->zone)
        msgpack_zone_free(in->zone);
    in->zone = NULL;
    in->off = 0;
}

int hm_rpc_in_feed(hm_rpc_in_t *in, const void *p, size_t n)
{
    /* Compact before growing so a long-lived connection stays small. */
    if (in->off > 0 && (in->off == in->buf.len || in->off > 4096)) {
        memmove(in->buf.data, in->buf.data + in->off, in->buf.len - in->off);
        in->buf.len -= in->off;
        in->off = 0;
    }
    return hm_buf_append(&in->buf, p, n);
}

size_t hm_rpc_in_pending(const hm_rpc_in_t *in)
{
    return in->buf.len - in->off;
}

static int in_take(hm_rpc_in_t *in, msgpack_object *obj, bool consume)
{
    const uint8_t *p = in->buf.data + in->off;
    size_t n = in->buf.len - in->off, len, used = 0;
    int rc = hm_rpc_scan_resume(p, n, &in->scan);

    if (rc == HM_RPC_SCAN_MORE)
        return n > in->max ? HM_RPC_SCAN_BAD : HM_RPC_SCAN_MORE;
    len = in->scan.off;
    hm_rpc_scan_reset(&in->scan); /* the next call starts a new object */
    if (rc != HM_RPC_SCAN_OK || len > in->max)
        return HM_RPC_SCAN_BAD;
    if (in->zone)
        msgpack_zone_clear(in->zone);
    else if ((in->zone = msgpack_zone_new(4096)) == NULL)
        return HM_RPC_SCAN_BAD;
    if (msgpack_unpack((const char *)p, len, &used, in->zone, obj) != MSGPACK_UNPACK_SUCCESS ||
        used != len)
        return HM_RPC_SCAN_BAD;
    if (consume)
        in->off += len;
    return HM_RPC_SCAN_OK;
}

int hm_rpc_in_next(hm_rpc_in_t *in, msgpack_object *obj)
{
    return in_take(in, obj, true);
}

int hm_rpc_in_peek(hm_rpc_in_t *in, msgpack_object *obj)
{
    return in_take(in, obj, false);
}

/* --- encoding ------------------------------------------------------------ */

static int buf_write(void *data, const char *p, size_t n)
{
    return hm_buf_append(data, p, n);
}

void hm_rpc_packer_init(msgpack_packer *pk, hm_buf_t *out)
{
    msgpack_packer_init(pk, out, buf_write);
}

int hm_rpc_pack_strn(msgpack_packer *pk, const void *s, size_t n)
{
    return msgpack_pack_str_with_body(pk, s, n);
}

int hm_rpc_pack_str(msgpack_packer *pk, const char *s)
{
    return hm_rpc_pack_strn(pk, s ? s : "", s ? strlen(s) : 0);
}

int hm_rpc_pack_bin(msgpack_packer *pk, const void *p, size_t n, bool nil_if_null)
{
    if (p == NULL && nil_if_null)
        return msgpack_pack_nil(pk);
    return msgpack_pack_bin_with_body(pk, p ? p : "", p ? n : 0);
}

int hm_rpc_pack_kstr(msgpack_packer *pk, const char *key, const char *val)
{
    return hm_rpc_pack_str(pk, key) | hm_rpc_pack_str(pk, val);
}

int hm_rpc_pack_kuint(msgpack_packer *pk, const char *key, uint64_t v)
{
    return hm_rpc_pack_str(pk, key) | msgpack_pack_uint64(pk, v);
}

int hm_rpc_pack_request(hm_buf_t *out, const char *command, uint64_t seq)
{
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, out);
    return msgpack_pack_map(&pk, 2) | hm_rpc_pack_kstr(&pk, "Command", command) |
           hm_rpc_pack_kuint(&pk, "Seq", seq);
}

int hm_rpc_pack_response(hm_buf_t *out, const char *error, uint64_t seq)
{
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, out);
    return msgpack_pack_map(&pk, 2) | hm_rpc_pack_kstr(&pk, "Error", error) |
           hm_rpc_pack_kuint(&pk, "Seq", seq);
}

int hm_rpc_pack_tags(msgpack_packer *pk, const hm_tags_t *t)
{
    int rc = msgpack_pack_map(pk, t ? t->n : 0);

    for (size_t i = 0; t && i < t->n; i++)
        rc |= hm_rpc_pack_kstr(pk, t->v[i].key, t->v[i].value);
    return rc;
}

/* Keys in the order Serf's encoder writes them (bytewise sorted). */
int hm_rpc_pack_member(msgpack_packer *pk, const hm_member_t *m)
{
    int rc = msgpack_pack_map(pk, 11);

    rc |= hm_rpc_pack_str(pk, "Addr");
    rc |= hm_rpc_pack_bin(pk, m->addr.ip, m->addr.len == 16 ? 16 : 4, false);
    rc |= hm_rpc_pack_kuint(pk, "DelegateCur", m->vsn[5]);
    rc |= hm_rpc_pack_kuint(pk, "DelegateMax", m->vsn[4]);
    rc |= hm_rpc_pack_kuint(pk, "DelegateMin", m->vsn[3]);
    rc |= hm_rpc_pack_kstr(pk, "Name", m->name);
    rc |= hm_rpc_pack_kuint(pk, "Port", m->addr.port);
    rc |= hm_rpc_pack_kuint(pk, "ProtocolCur", m->vsn[2]);
    rc |= hm_rpc_pack_kuint(pk, "ProtocolMax", m->vsn[1]);
    rc |= hm_rpc_pack_kuint(pk, "ProtocolMin", m->vsn[0]);
    rc |= hm_rpc_pack_kstr(pk, "Status", hm_status_name(m->status));
    rc |= hm_rpc_pack_str(pk, "Tags");
    return rc | hm_rpc_pack_tags(pk, &m->tags);
}

/* --- decoding ------------------------------------------------------------ */

bool hm_rpc_is_raw(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN;
}

int hm_rpc_raw(const msgpack_object *o, const char **p, size_t *n)
{
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        *p = o->via.str.ptr;
        *n = o->via.str.size;
        return 0;
    case MSGPACK_OBJECT_BIN:
        *p = o->via.bin.ptr;
        *n = o->via.bin.size;
        return 0;
    case MSGPACK_OBJECT_NIL:
        *p = NULL;
        *n = 0;
        return 0;
    default:
        return -1;
    }
}

bool hm_rpc_raw_eq(const msgpack_object *o, const char *s)
{
    const char *p;
    size_t n;

    return hm_rpc_is_raw(o) && hm_rpc_raw(o, &p, &n) == 0 && n == strlen(s) && memcmp(p, s, n) == 0;
}

char *hm_rpc_strdup(const msgpack_object *o)
{
    const char *p;
    size_t n;
    char *s;

    if (hm_rpc_raw(o, &p, &n) < 0 || (s = malloc(n + 1)) == NULL)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

const msgpack_object *hm_rpc_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (hm_rpc_raw_eq(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

int hm_rpc_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *v = o->via.u64;
        return 0;
    }
    return -1;
}

int hm_rpc_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return 0;
    }
    return -1;
}

int hm_rpc_bool(const msgpack_object *o, bool *v)
{
    if (o->type == MSGPACK_OBJECT_BOOLEAN) {
        *v = o->via.boolean;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= 1) {
        *v = o->via.u64 == 1;
        return 0;
    }
    return -1;
}

int hm_rpc_double(const msgpack_object *o, double *v)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *v = o->via.f64;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *v = (double)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *v = (double)o->via.i64;
        return 0;
    default:
        return -1;
    }
}

int hm_rpc_field_str(const msgpack_object *map, const char *key, const char **p, size_t *n)
{
    const msgpack_object *o = hm_rpc_get(map, key);

    *p = NULL;
    *n = 0;
    return o ? hm_rpc_raw(o, p, n) : 0;
}

int hm_rpc_field_uint(const msgpack_object *map, const char *key, uint64_t *v)
{
    const msgpack_object *o = hm_rpc_get(map, key);

    *v = 0;
    return o && o->type != MSGPACK_OBJECT_NIL ? hm_rpc_uint(o, v) : 0;
}

int hm_rpc_field_int(const msgpack_object *map, const char *key, int64_t *v)
{
    const msgpack_object *o = hm_rpc_get(map, key);

    *v = 0;
    return o && o->type != MSGPACK_OBJECT_NIL ? hm_rpc_int(o, v) : 0;
}

int hm_rpc_field_bool(const msgpack_object *map, const char *key, bool *v)
{
    const msgpack_object *o = hm_rpc_get(map, key);

    *v = false;
    return o && o->type != MSGPACK_OBJECT_NIL ? hm_rpc_bool(o, v) : 0;
}
