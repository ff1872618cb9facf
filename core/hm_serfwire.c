/*
 * Serf 0.9.4 message codecs (see hm_serfwire.h, shared/spec/serf-wire.md).
 * Struct maps are written with keys in bytewise order as go-msgpack does;
 * decoding goes through field tables and hm_ml_get_fields (any key order,
 * unknown keys skipped, struct-as-array in Go declaration order).
 */
#include <stdlib.h>
#include <string.h>

#include "hm_serfwire.h"

/* ---- helpers -------------------------------------------------------------- */

static int put_type(hm_buf_t *b, uint8_t t)
{
    return hm_buf_append(b, &t, 1);
}

static int kv_uint(hm_buf_t *b, const char *k, uint64_t v)
{
    return hm_ml_put_key(b, k) | hm_mp_put_uint(b, v);
}

static int kv_int(hm_buf_t *b, const char *k, int64_t v)
{
    return hm_ml_put_key(b, k) | hm_mp_put_int(b, v);
}

static int kv_bool(hm_buf_t *b, const char *k, bool v)
{
    return hm_ml_put_key(b, k) | hm_mp_put_bool(b, v);
}

static int kv_str(hm_buf_t *b, const char *k, hm_ml_str_t s)
{
    return hm_ml_put_key(b, k) | hm_mp_put_raw(b, s.p, s.n);
}

static int kv_cstr(hm_buf_t *b, const char *k, const char *s)
{
    return hm_ml_put_key(b, k) | hm_mp_put_str(b, s);
}

static int kv_bytes(hm_buf_t *b, const char *k, const uint8_t *p, size_t n)
{
    return hm_ml_put_key(b, k) | hm_mp_put_bytes_or_nil(b, p, n, p == NULL);
}

static hm_ml_str_t cs(const char *s)
{
    hm_ml_str_t r = {s, s ? strlen(s) : 0};
    return r;
}

static int decode(const uint8_t *p, size_t n, const char *const *f, int nf, hm_ml_field_fn fn,
                  void *m)
{
    hm_mp_reader_t r;

    hm_mp_reader_init(&r, p, n);
    return hm_ml_get_struct(&r, f, nf, fn, m);
}

/* One whole body, decoded from a field table (see hm_ml_get_fields). */
static int decode_fields(const uint8_t *p, size_t n, const hm_ml_field_t *f, int nf, void *m)
{
    hm_mp_reader_t r;

    hm_mp_reader_init(&r, p, n);
    return hm_ml_get_fields(&r, f, nf, m);
}

#define NFIELDS(t) ((int)(sizeof(t) / sizeof((t)[0])))

/*
 * Reads an array (or nil) whose elements must each pass `check`, recording
 * the encoded element region in *s.  check == NULL: elements are skipped.
 */
typedef int (*elem_check_fn)(hm_mp_reader_t *r);

static int get_seq(hm_mp_reader_t *r, hm_serf_seq_t *s, bool is_map, elem_check_fn check)
{
    uint32_t n, i;
    uint64_t items;

    memset(s, 0, sizeof(*s));
    if (hm_mp_peek(r) == HM_MP_NIL)
        return hm_mp_get_nil(r);
    if ((is_map ? hm_mp_get_map(r, &n) : hm_mp_get_array(r, &n)) < 0)
        return -1;
    s->p = r->p;
    s->count = n;
    items = is_map ? 2 * (uint64_t)n : n;
    for (i = 0; i < items; i++)
        if ((check ? check(r) : hm_mp_skip(r)) < 0)
            return -1;
    s->n = (size_t)(r->p - s->p);
    return 0;
}

static int check_raw(hm_mp_reader_t *r)
{
    const uint8_t *p;
    size_t n;

    return hm_mp_get_raw(r, &p, &n);
}

int hm_serf_next_str(hm_mp_reader_t *it, hm_ml_str_t *s)
{
    return hm_ml_get_str(it, s);
}

int hm_serf_next_pair(hm_mp_reader_t *it, hm_ml_str_t *k, hm_ml_str_t *v)
{
    if (hm_ml_get_str(it, k) < 0)
        return -1;
    return hm_ml_get_str(it, v);
}

int hm_serf_next_ltime(hm_mp_reader_t *it, hm_ml_str_t *k, uint64_t *ltime)
{
    if (hm_ml_get_str(it, k) < 0)
        return -1;
    if (hm_mp_peek(it) == HM_MP_NIL) {
        *ltime = 0;
        return hm_mp_get_nil(it);
    }
    return hm_mp_get_uint(it, ltime);
}

/* string -> string map, as in tags and Member.Tags */
static int check_str_map(hm_mp_reader_t *r, hm_serf_seq_t *s)
{
    return get_seq(r, s, true, check_raw);
}

static int check_ltime_pair(hm_mp_reader_t *r)
{
    /* called for keys and values alternately: accept raw or uint or nil */
    uint64_t u;

    if (hm_mp_peek(r) == HM_MP_RAW || hm_mp_peek(r) == HM_MP_NIL)
        return check_raw(r);
    return hm_mp_get_uint(r, &u);
}

/* ---- join / leave ------------------------------------------------------------ */

int hm_serf_put_join(hm_buf_t *b, uint64_t ltime, const char *node)
{
    return put_type(b, HM_SERF_JOIN) | hm_mp_put_map(b, 2) | kv_uint(b, "LTime", ltime) |
           kv_cstr(b, "Node", node);
}

int hm_serf_put_leave(hm_buf_t *b, uint64_t ltime, const char *node, bool prune)
{
    return put_type(b, HM_SERF_LEAVE) | hm_mp_put_map(b, 3) | kv_uint(b, "LTime", ltime) |
           kv_cstr(b, "Node", node) | kv_bool(b, "Prune", prune);
}

static const hm_ml_field_t intent_fields[] = {
    HM_MLF(hm_serf_intent_t, "LTime", HM_MLF_U64, ltime),
    HM_MLF(hm_serf_intent_t, "Node", HM_MLF_STR, node),
    HM_MLF(hm_serf_intent_t, "Prune", HM_MLF_BOOL, prune),
};

int hm_serf_get_intent(const uint8_t *p, size_t n, hm_serf_intent_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_fields(p, n, intent_fields, NFIELDS(intent_fields), m);
}

/* ---- user event ------------------------------------------------------------------ */

int hm_serf_put_user_event(hm_buf_t *b, const hm_serf_user_event_t *m)
{
    return put_type(b, HM_SERF_USER_EVENT) | hm_mp_put_map(b, 4) | kv_bool(b, "CC", m->cc) |
           kv_uint(b, "LTime", m->ltime) | kv_str(b, "Name", m->name) |
           kv_bytes(b, "Payload", m->payload, m->payload_len);
}

static const hm_ml_field_t uev_fields[] = {
    HM_MLF(hm_serf_user_event_t, "LTime", HM_MLF_U64, ltime),
    HM_MLF(hm_serf_user_event_t, "Name", HM_MLF_STR, name),
    HM_MLF2(hm_serf_user_event_t, "Payload", HM_MLF_BYTES, payload, payload_len),
    HM_MLF(hm_serf_user_event_t, "CC", HM_MLF_BOOL, cc),
};

int hm_serf_get_user_event(const uint8_t *p, size_t n, hm_serf_user_event_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_fields(p, n, uev_fields, NFIELDS(uev_fields), m);
}

/* ---- query ------------------------------------------------------------------------- */

int hm_serf_put_query(hm_buf_t *b, const hm_serf_query_t *m)
{
    int rc = put_type(b, HM_SERF_QUERY) | hm_mp_put_map(b, 11);

    rc |= kv_bytes(b, "Addr", m->addr.len ? m->addr.ip : NULL, m->addr.len);
    rc |= hm_ml_put_key(b, "Filters");
    if (m->filters.count == 0)
        rc |= hm_mp_put_nil(b);
    else
        rc |= hm_mp_put_array(b, m->filters.count) | hm_buf_append(b, m->filters.p, m->filters.n);
    rc |= kv_uint(b, "Flags", m->flags);
    rc |= kv_uint(b, "ID", m->id);
    rc |= kv_uint(b, "LTime", m->ltime);
    rc |= kv_str(b, "Name", m->name);
    rc |= kv_bytes(b, "Payload", m->payload, m->payload_len);
    rc |= kv_uint(b, "Port", m->addr.port);
    rc |= kv_uint(b, "RelayFactor", m->relay_factor);
    rc |= kv_str(b, "SourceNode", m->source_node);
    rc |= kv_int(b, "Timeout", m->timeout_ns);
    return rc;
}

static int query_filters(hm_mp_reader_t *r, void *m)
{
    return get_seq(r, &((hm_serf_query_t *)m)->filters, false, check_raw);
}

static const hm_ml_field_t query_fields[] = {
    HM_MLF(hm_serf_query_t, "LTime", HM_MLF_U64, ltime),
    HM_MLF(hm_serf_query_t, "ID", HM_MLF_U32, id),
    HM_MLF(hm_serf_query_t, "Addr", HM_MLF_IP, addr),
    HM_MLF(hm_serf_query_t, "Port", HM_MLF_U16, addr.port),
    HM_MLF(hm_serf_query_t, "SourceNode", HM_MLF_STR, source_node),
    HM_MLF_CUSTOM("Filters", query_filters),
    HM_MLF(hm_serf_query_t, "Flags", HM_MLF_U32, flags),
    HM_MLF(hm_serf_query_t, "RelayFactor", HM_MLF_U8, relay_factor),
    HM_MLF(hm_serf_query_t, "Timeout", HM_MLF_I64, timeout_ns),
    HM_MLF(hm_serf_query_t, "Name", HM_MLF_STR, name),
    HM_MLF2(hm_serf_query_t, "Payload", HM_MLF_BYTES, payload, payload_len),
};

int hm_serf_get_query(const uint8_t *p, size_t n, hm_serf_query_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_fields(p, n, query_fields, NFIELDS(query_fields), m);
}

/* ---- filters ------------------------------------------------------------------------ */

int hm_serf_put_node_filter(hm_buf_t *b, const char *const *names, size_t n)
{
    size_t i;
    int rc = put_type(b, HM_SERF_FILTER_NODE) | hm_mp_put_array(b, (uint32_t)n);

    for (i = 0; i < n; i++)
        rc |= hm_mp_put_str(b, names[i]);
    return rc;
}

int hm_serf_put_tag_filter(hm_buf_t *b, const char *tag, const char *expr)
{
    return put_type(b, HM_SERF_FILTER_TAG) | hm_mp_put_map(b, 2) | kv_cstr(b, "Expr", expr) |
           kv_cstr(b, "Tag", tag);
}

/* Wraps the filter built in f as one raw element of `elems`. */
static int add_filter_elem(hm_buf_t *elems, uint32_t *count, hm_buf_t *f, int rc)
{
    if (rc == 0)
        rc = hm_mp_put_raw(elems, f->data, f->len);
    if (rc == 0)
        (*count)++;
    hm_buf_free(f);
    return rc;
}

int hm_serf_add_node_filter(hm_buf_t *elems, uint32_t *count, const char *const *names, size_t n)
{
    hm_buf_t f = {0};

    return add_filter_elem(elems, count, &f, hm_serf_put_node_filter(&f, names, n));
}

int hm_serf_add_tag_filter(hm_buf_t *elems, uint32_t *count, const char *tag, const char *expr)
{
    hm_buf_t f = {0};

    return add_filter_elem(elems, count, &f, hm_serf_put_tag_filter(&f, tag, expr));
}

static const hm_ml_field_t tagf_fields[] = {
    HM_MLF(hm_serf_filter_t, "Tag", HM_MLF_STR, tag),
    HM_MLF(hm_serf_filter_t, "Expr", HM_MLF_STR, expr),
};

int hm_serf_get_filter(const uint8_t *p, size_t n, hm_serf_filter_t *f)
{
    hm_mp_reader_t r;

    memset(f, 0, sizeof(*f));
    if (n < 1)
        return -1;
    f->type = p[0];
    hm_mp_reader_init(&r, p + 1, n - 1);
    switch (p[0]) {
    case HM_SERF_FILTER_NODE:
        return get_seq(&r, &f->nodes, false, check_raw);
    case HM_SERF_FILTER_TAG:
        return hm_ml_get_fields(&r, tagf_fields, NFIELDS(tagf_fields), f);
    default:
        return -1;
    }
}

bool hm_serf_node_filter_has(const hm_serf_filter_t *f, const char *name)
{
    hm_mp_reader_t it;
    hm_ml_str_t s;
    uint32_t i;

    if (f->type != HM_SERF_FILTER_NODE)
        return false;
    hm_mp_reader_init(&it, f->nodes.p, f->nodes.n);
    for (i = 0; i < f->nodes.count; i++) {
        if (hm_serf_next_str(&it, &s) < 0)
            return false;
        if (hm_mp_raw_eq((const uint8_t *)s.p, s.n, name))
            return true;
    }
    return false;
}

/* ---- query response ------------------------------------------------------------------ */

int hm_serf_put_query_response(hm_buf_t *b, const hm_serf_query_response_t *m)
{
    return put_type(b, HM_SERF_QUERY_RESPONSE) | hm_mp_put_map(b, 5) |
           kv_uint(b, "Flags", m->flags) | kv_str(b, "From", m->from) | kv_uint(b, "ID", m->id) |
           kv_uint(b, "LTime", m->ltime) | kv_bytes(b, "Payload", m->payload, m->payload_len);
}

static const hm_ml_field_t qr_fields[] = {
    HM_MLF(hm_serf_query_response_t, "LTime", HM_MLF_U64, ltime),
    HM_MLF(hm_serf_query_response_t, "ID", HM_MLF_U32, id),
    HM_MLF(hm_serf_query_response_t, "From", HM_MLF_STR, from),
    HM_MLF(hm_serf_query_response_t, "Flags", HM_MLF_U32, flags),
    HM_MLF2(hm_serf_query_response_t, "Payload", HM_MLF_BYTES, payload, payload_len),
};

int hm_serf_get_query_response(const uint8_t *p, size_t n, hm_serf_query_response_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_fields(p, n, qr_fields, NFIELDS(qr_fields), m);
}

/* ---- relay --------------------------------------------------------------------------- */

int hm_serf_put_relay(hm_buf_t *b, const hm_addr_t *dest, const char *dest_name,
                      const uint8_t *inner, size_t inner_len)
{
    int rc = put_type(b, HM_SERF_RELAY) | hm_mp_put_map(b, 2);

    rc |= hm_ml_put_key(b, "DestAddr") | hm_mp_put_map(b, 3);
    rc |= kv_bytes(b, "IP", dest->len ? dest->ip : NULL, dest->len);
    rc |= kv_uint(b, "Port", dest->port);
    rc |= kv_cstr(b, "Zone", "");
    rc |= kv_cstr(b, "DestName", dest_name);
    rc |= hm_buf_append(b, inner, inner_len);
    return rc;
}

typedef struct {
    hm_addr_t *addr;
    hm_ml_str_t *name;
} relay_t;

static const char *const udpaddr_fields[] = {"IP", "Port", "Zone"};

static int udpaddr_field(hm_mp_reader_t *r, int idx, void *vm)
{
    hm_addr_t *a = vm;
    const uint8_t *p;
    size_t n;
    int64_t port;

    switch (idx) {
    case 0:
        if (hm_mp_get_raw(r, &p, &n) < 0)
            return -1;
        return hm_ml_addr_from_raw(a, p, n, a->port);
    case 1:
        if (hm_mp_get_int(r, &port) < 0 || port < 0 || port > 65535)
            return -1;
        a->port = (uint16_t)port;
        return 0;
    default:
        return hm_mp_skip(r); /* IPv6 zone: not used on loopback/LAN here */
    }
}

static const char *const relay_fields[] = {"DestAddr", "DestName"};

static int relay_field(hm_mp_reader_t *r, int idx, void *vm)
{
    relay_t *m = vm;

    if (idx == 0)
        return hm_ml_get_struct(r, udpaddr_fields, 3, udpaddr_field, m->addr);
    return hm_ml_get_str(r, m->name);
}

int hm_serf_get_relay(const uint8_t *p, size_t n, hm_addr_t *dest, hm_ml_str_t *dest_name,
                      const uint8_t **inner, size_t *inner_len)
{
    hm_mp_reader_t r;
    relay_t m = {dest, dest_name};

    memset(dest, 0, sizeof(*dest));
    memset(dest_name, 0, sizeof(*dest_name));
    hm_mp_reader_init(&r, p, n);
    if (hm_ml_get_struct(&r, relay_fields, 2, relay_field, &m) < 0)
        return -1;
    *inner = r.p;
    *inner_len = (size_t)(r.end - r.p);
    return 0;
}

/* ---- push/pull ---------------------------------------------------------------------------- */

static int put_event_slot(hm_buf_t *b, const hm_serf_event_slot_t *s)
{
    size_t i;
    int rc;

    if (!s->present)
        return hm_mp_put_nil(b);
    rc = hm_mp_put_map(b, 2) | hm_ml_put_key(b, "Events");
    if (s->events == NULL)
        rc |= hm_mp_put_nil(b);
    else
        rc |= hm_mp_put_array(b, (uint32_t)s->n);
    for (i = 0; s->events && i < s->n; i++) {
        const hm_serf_event_t *e = &s->events[i];
        rc |= hm_mp_put_map(b, 2) | kv_str(b, "Name", e->name) |
              kv_bytes(b, "Payload", e->payload, e->payload_len);
    }
    rc |= kv_uint(b, "LTime", s->ltime);
    return rc;
}

int hm_serf_put_push_pull(hm_buf_t *b, const hm_serf_push_pull_t *m)
{
    size_t i;
    int rc = put_type(b, HM_SERF_PUSH_PULL) | hm_mp_put_map(b, 6);

    rc |= kv_uint(b, "EventLTime", m->event_ltime);
    rc |= hm_ml_put_key(b, "Events");
    if (m->slots == NULL)
        rc |= hm_mp_put_nil(b);
    else
        rc |= hm_mp_put_array(b, (uint32_t)m->n_slots);
    for (i = 0; m->slots && i < m->n_slots; i++)
        rc |= put_event_slot(b, &m->slots[i]);
    rc |= kv_uint(b, "LTime", m->ltime);
    rc |= hm_ml_put_key(b, "LeftMembers");
    if (m->left == NULL)
        rc |= hm_mp_put_nil(b);
    else
        rc |= hm_mp_put_array(b, (uint32_t)m->n_left);
    for (i = 0; m->left && i < m->n_left; i++)
        rc |= hm_mp_put_raw(b, m->left[i].p, m->left[i].n);
    rc |= kv_uint(b, "QueryLTime", m->query_ltime);
    rc |= hm_ml_put_key(b, "StatusLTimes");
    if (m->status == NULL)
        rc |= hm_mp_put_nil(b);
    else
        rc |= hm_mp_put_map(b, (uint32_t)m->n_status);
    for (i = 0; m->status && i < m->n_status; i++)
        rc |= hm_mp_put_raw(b, m->status[i].name.p, m->status[i].name.n) |
              hm_mp_put_uint(b, m->status[i].ltime);
    return rc;
}

/* userEvent {Name, Payload} */
static const hm_ml_field_t ev_fields[] = {
    HM_MLF(hm_serf_event_t, "Name", HM_MLF_STR, name),
    HM_MLF2(hm_serf_event_t, "Payload", HM_MLF_BYTES, payload, payload_len),
};

/* userEvents {LTime, Events}: collects the events array region. */
typedef struct {
    uint64_t ltime;
    hm_serf_seq_t events;
} slot_view_t;

static int check_event(hm_mp_reader_t *r)
{
    hm_serf_event_t e;

    memset(&e, 0, sizeof(e));
    return hm_ml_get_fields(r, ev_fields, NFIELDS(ev_fields), &e);
}

static int slot_events(hm_mp_reader_t *r, void *m)
{
    return get_seq(r, &((slot_view_t *)m)->events, false, check_event);
}

static const hm_ml_field_t slot_fields[] = {
    HM_MLF(slot_view_t, "LTime", HM_MLF_U64, ltime),
    HM_MLF_CUSTOM("Events", slot_events),
};

static int check_slot(hm_mp_reader_t *r)
{
    slot_view_t s;

    memset(&s, 0, sizeof(s));
    return hm_ml_get_fields(r, slot_fields, NFIELDS(slot_fields), &s);
}

static int pp_status(hm_mp_reader_t *r, void *m)
{
    return get_seq(r, &((hm_serf_push_pull_view_t *)m)->status, true, check_ltime_pair);
}

static int pp_left(hm_mp_reader_t *r, void *m)
{
    return get_seq(r, &((hm_serf_push_pull_view_t *)m)->left, false, check_raw);
}

static int pp_events(hm_mp_reader_t *r, void *m)
{
    return get_seq(r, &((hm_serf_push_pull_view_t *)m)->events, false, check_slot);
}

static const hm_ml_field_t pp_fields[] = {
    HM_MLF(hm_serf_push_pull_view_t, "LTime", HM_MLF_U64, ltime),
    HM_MLF_CUSTOM("StatusLTimes", pp_status),
    HM_MLF_CUSTOM("LeftMembers", pp_left),
    HM_MLF(hm_serf_push_pull_view_t, "EventLTime", HM_MLF_U64, event_ltime),
    HM_MLF_CUSTOM("Events", pp_events),
    HM_MLF(hm_serf_push_pull_view_t, "QueryLTime", HM_MLF_U64, query_ltime),
};

int hm_serf_get_push_pull(const uint8_t *p, size_t n, hm_serf_push_pull_view_t *v)
{
    hm_mp_reader_t it;
    hm_ml_str_t k;
    uint64_t lt;
    uint32_t i;

    memset(v, 0, sizeof(*v));
    if (decode_fields(p, n, pp_fields, NFIELDS(pp_fields), v) < 0)
        return -1;
    /* StatusLTimes keys must be strings (the check above let keys and values
     * each be either); re-walk it strictly. */
    hm_mp_reader_init(&it, v->status.p, v->status.n);
    for (i = 0; i < v->status.count; i++)
        if (hm_serf_next_ltime(&it, &k, &lt) < 0)
            return -1;
    return 0;
}

int hm_serf_pp_events(const hm_serf_push_pull_view_t *v, hm_serf_event_fn fn, void *ud)
{
    hm_mp_reader_t it, eit;
    slot_view_t s;
    hm_serf_event_t e;
    uint32_t i, j;

    hm_mp_reader_init(&it, v->events.p, v->events.n);
    for (i = 0; i < v->events.count; i++) {
        memset(&s, 0, sizeof(s));
        if (hm_mp_peek(&it) == HM_MP_NIL) {
            it.p++;
            continue;
        }
        if (hm_ml_get_fields(&it, slot_fields, NFIELDS(slot_fields), &s) < 0)
            return -1;
        hm_mp_reader_init(&eit, s.events.p, s.events.n);
        for (j = 0; j < s.events.count; j++) {
            memset(&e, 0, sizeof(e));
            if (hm_ml_get_fields(&eit, ev_fields, NFIELDS(ev_fields), &e) < 0 ||
                fn(ud, s.ltime, &e) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- tags -------------------------------------------------------------------------------- */

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const hm_tag_t *)a)->key, ((const hm_tag_t *)b)->key);
}

/* Writes a string map with keys sorted. */
static int put_tag_map(hm_buf_t *b, const hm_tags_t *tags)
{
    hm_tag_t *sorted = NULL;
    size_t i, n = tags ? tags->n : 0;
    int rc;

    if (n > 0) {
        sorted = malloc(n * sizeof(*sorted));
        if (sorted == NULL)
            return -1;
        memcpy(sorted, tags->v, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), cmp_tag);
    }
    rc = hm_mp_put_map(b, (uint32_t)n);
    for (i = 0; i < n; i++)
        rc |= hm_mp_put_str(b, sorted[i].key) | hm_mp_put_str(b, sorted[i].value);
    free(sorted);
    return rc;
}

int hm_serf_put_tags(hm_buf_t *b, const hm_tags_t *tags)
{
    size_t start = b->len;
    uint8_t magic = HM_SERF_TAG_MAGIC;

    if (hm_buf_append(b, &magic, 1) < 0 || put_tag_map(b, tags) < 0 ||
        b->len - start > HM_SERF_META_MAX) {
        b->len = start;
        return -1;
    }
    return 0;
}

int hm_serf_get_tags(const uint8_t *meta, size_t n, hm_serf_tag_fn fn, void *ud)
{
    hm_mp_reader_t r;
    hm_ml_str_t k, v;
    uint32_t cnt, i;

    if (n == 0 || meta[0] != HM_SERF_TAG_MAGIC) {
        k = cs("role");
        v.p = (const char *)meta;
        v.n = n;
        return fn(ud, k, v) < 0 ? -1 : 0;
    }
    hm_mp_reader_init(&r, meta + 1, n - 1);
    if (hm_mp_peek(&r) == HM_MP_NIL)
        return hm_mp_get_nil(&r);
    if (hm_mp_get_map(&r, &cnt) < 0)
        return -1;
    for (i = 0; i < cnt; i++) {
        if (hm_serf_next_pair(&r, &k, &v) < 0 || fn(ud, k, v) < 0)
            return -1;
    }
    return 0;
}

/* ---- coordinate -------------------------------------------------------------------------- */

int hm_serf_put_coord(hm_buf_t *b, const hm_coord_t *c)
{
    int i, rc;

    rc = put_type(b, HM_SERF_PING_VERSION) | hm_mp_put_map(b, 4);
    rc |= hm_ml_put_key(b, "Adjustment") | hm_mp_put_double(b, c->adjustment);
    rc |= hm_ml_put_key(b, "Error") | hm_mp_put_double(b, c->error);
    rc |= hm_ml_put_key(b, "Height") | hm_mp_put_double(b, c->height);
    rc |= hm_ml_put_key(b, "Vec") | hm_mp_put_array(b, HM_SERF_COORD_DIM);
    for (i = 0; i < HM_SERF_COORD_DIM; i++)
        rc |= hm_mp_put_double(b, c->vec[i]);
    return rc;
}

typedef struct {
    hm_coord_t *c;
    uint32_t dim;
} coord_view_t;

static const char *const coord_fields[] = {"Vec", "Error", "Adjustment", "Height"};

static int coord_field(hm_mp_reader_t *r, int idx, void *vm)
{
    coord_view_t *v = vm;
    uint32_t n, i;
    double d;

    switch (idx) {
    case 0:
        if (hm_mp_get_array(r, &n) < 0)
            return -1;
        v->dim = n;
        for (i = 0; i < n; i++) {
            if (hm_mp_get_double(r, &d) < 0)
                return -1;
            if (i < HM_SERF_COORD_DIM)
                v->c->vec[i] = d;
        }
        return 0;
    case 1:
        return hm_mp_get_double(r, &v->c->error);
    case 2:
        return hm_mp_get_double(r, &v->c->adjustment);
    default:
        return hm_mp_get_double(r, &v->c->height);
    }
}

int hm_serf_get_coord(const uint8_t *p, size_t n, hm_coord_t *c)
{
    coord_view_t v = {c, 0};

    memset(c, 0, sizeof(*c));
    if (n < 1 || p[0] != HM_SERF_PING_VERSION)
        return -1;
    if (decode(p + 1, n - 1, coord_fields, 4, coord_field, &v) < 0)
        return -1;
    return v.dim == HM_SERF_COORD_DIM ? 0 : -1;
}

/* ---- key request / response -------------------------------------------------------------- */

int hm_serf_put_key_request(hm_buf_t *b, const uint8_t *key, size_t n)
{
    return put_type(b, HM_SERF_KEY_REQUEST) | hm_mp_put_map(b, 1) |
           kv_bytes(b, "Key", key ? key : (const uint8_t *)"", n);
}

typedef struct {
    const uint8_t *p;
    size_t n;
} bytes_t;

static const hm_ml_field_t keyreq_fields[] = {HM_MLF2(bytes_t, "Key", HM_MLF_BYTES, p, n)};

int hm_serf_get_key_request(const uint8_t *p, size_t n, const uint8_t **key, size_t *len)
{
    bytes_t k = {0};

    if (decode_fields(p, n, keyreq_fields, 1, &k) < 0)
        return -1;
    *key = k.p;
    *len = k.n;
    return 0;
}

int hm_serf_put_key_response(hm_buf_t *b, bool result, const char *message, const char *const *keys,
                             size_t n_keys, const char *primary_key)
{
    size_t i;
    int rc = put_type(b, HM_SERF_KEY_RESPONSE) | hm_mp_put_map(b, 4);

    rc |= hm_ml_put_key(b, "Keys");
    if (keys == NULL)
        rc |= hm_mp_put_nil(b);
    else
        rc |= hm_mp_put_array(b, (uint32_t)n_keys);
    for (i = 0; keys && i < n_keys; i++)
        rc |= hm_mp_put_str(b, keys[i]);
    rc |= kv_cstr(b, "Message", message);
    rc |= kv_cstr(b, "PrimaryKey", primary_key);
    rc |= kv_bool(b, "Result", result);
    return rc;
}

static int keyresp_keys(hm_mp_reader_t *r, void *m)
{
    return get_seq(r, &((hm_serf_key_response_t *)m)->keys, false, check_raw);
}

static const hm_ml_field_t keyresp_fields[] = {
    HM_MLF(hm_serf_key_response_t, "Result", HM_MLF_BOOL, result),
    HM_MLF(hm_serf_key_response_t, "Message", HM_MLF_STR, message),
    HM_MLF_CUSTOM("Keys", keyresp_keys),
    HM_MLF(hm_serf_key_response_t, "PrimaryKey", HM_MLF_STR, primary_key),
};

int hm_serf_get_key_response(const uint8_t *p, size_t n, hm_serf_key_response_t *m)
{
    memset(m, 0, sizeof(*m));
    return decode_fields(p, n, keyresp_fields, NFIELDS(keyresp_fields), m);
}

/* ---- conflict response (Member) ----------------------------------------------------------- */

int hm_serf_put_conflict_response(hm_buf_t *b, const hm_member_t *m)
{
    int rc = put_type(b, HM_SERF_CONFLICT_RESPONSE);

    if (m == NULL)
        return rc | hm_mp_put_nil(b);
    rc |= hm_mp_put_map(b, 11);
    rc |= kv_bytes(b, "Addr", m->addr.len ? m->addr.ip : NULL, m->addr.len);
    rc |= kv_uint(b, "DelegateCur", m->vsn[5]);
    rc |= kv_uint(b, "DelegateMax", m->vsn[4]);
    rc |= kv_uint(b, "DelegateMin", m->vsn[3]);
    rc |= kv_cstr(b, "Name", m->name);
    rc |= kv_uint(b, "Port", m->addr.port);
    rc |= kv_uint(b, "ProtocolCur", m->vsn[2]);
    rc |= kv_uint(b, "ProtocolMax", m->vsn[1]);
    rc |= kv_uint(b, "ProtocolMin", m->vsn[0]);
    rc |= kv_int(b, "Status", m->status);
    rc |= hm_ml_put_key(b, "Tags") | put_tag_map(b, &m->tags);
    return rc;
}

static int member_tags(hm_mp_reader_t *r, void *m)
{
    return check_str_map(r, &((hm_serf_member_t *)m)->tags);
}

/* ProtocolMin .. DelegateCur -> vsn[0..5] */
static const hm_ml_field_t member_fields[] = {
    HM_MLF(hm_serf_member_t, "Name", HM_MLF_STR, name),
    HM_MLF(hm_serf_member_t, "Addr", HM_MLF_IP, addr),
    HM_MLF(hm_serf_member_t, "Port", HM_MLF_U16, addr.port),
    HM_MLF_CUSTOM("Tags", member_tags),
    HM_MLF(hm_serf_member_t, "Status", HM_MLF_LEN8, status),
    HM_MLF(hm_serf_member_t, "ProtocolMin", HM_MLF_U8, vsn[0]),
    HM_MLF(hm_serf_member_t, "ProtocolMax", HM_MLF_U8, vsn[1]),
    HM_MLF(hm_serf_member_t, "ProtocolCur", HM_MLF_U8, vsn[2]),
    HM_MLF(hm_serf_member_t, "DelegateMin", HM_MLF_U8, vsn[3]),
    HM_MLF(hm_serf_member_t, "DelegateMax", HM_MLF_U8, vsn[4]),
    HM_MLF(hm_serf_member_t, "DelegateCur", HM_MLF_U8, vsn[5]),
};

int hm_serf_get_conflict_response(const uint8_t *p, size_t n, hm_serf_member_t *m)
{
    hm_mp_reader_t r;

    memset(m, 0, sizeof(*m));
    hm_mp_reader_init(&r, p, n);
    if (hm_mp_peek(&r) == HM_MP_NIL)
        return 0; /* present stays false */
    if (hm_ml_get_fields(&r, member_fields, NFIELDS(member_fields), m) < 0)
        return -1;
    m->present = true;
    return 0;
}
