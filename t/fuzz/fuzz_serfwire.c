/*
 * libFuzzer harness for the Serf layer: the first byte is the Serf message
 * type as in a memberlist user message; every decoder also runs on the
 * rest, and every decoded collection is iterated to its end.
 */
#include <stdlib.h>
#include <string.h>

#include "hm_serfwire.h"
#include "fuzz.h"

static void walk_strs(const hm_serf_seq_t *s)
{
    hm_mp_reader_t it;
    hm_ml_str_t v;
    uint32_t i;

    hm_mp_reader_init(&it, s->p, s->n);
    for (i = 0; i < s->count; i++)
        CHECK(hm_serf_next_str(&it, &v) == 0);
    CHECK(it.p == it.end);
}

static void walk_pairs(const hm_serf_seq_t *s)
{
    hm_mp_reader_t it;
    hm_ml_str_t k, v;
    uint32_t i;

    hm_mp_reader_init(&it, s->p, s->n);
    for (i = 0; i < s->count; i++)
        CHECK(hm_serf_next_pair(&it, &k, &v) == 0);
    CHECK(it.p == it.end);
}

static int on_event(void *ud, uint64_t ltime, const hm_serf_event_t *ev)
{
    (*(size_t *)ud) += ev->name.n + ev->payload_len + (size_t)(ltime & 1);
    return 0;
}

static int on_tag(void *ud, hm_ml_str_t k, hm_ml_str_t v)
{
    (*(size_t *)ud) += k.n + v.n;
    return 0;
}

static void query(const uint8_t *p, size_t n)
{
    hm_serf_query_t q, q2;
    hm_serf_filter_t f;
    hm_mp_reader_t it;
    const uint8_t *fp;
    size_t fn;
    uint32_t i;
    hm_buf_t b = {0};

    if (hm_serf_get_query(p, n, &q) < 0)
        return;
    hm_mp_reader_init(&it, q.filters.p, q.filters.n);
    for (i = 0; i < q.filters.count; i++) {
        CHECK(hm_mp_get_raw(&it, &fp, &fn) == 0);
        if (hm_serf_get_filter(fp, fn, &f) == 0 && f.type == HM_SERF_FILTER_NODE) {
            walk_strs(&f.nodes);
            hm_serf_node_filter_has(&f, "n1");
        }
    }
    CHECK(hm_serf_put_query(&b, &q) == 0);
    CHECK(hm_serf_get_query(b.data + 1, b.len - 1, &q2) == 0);
    CHECK(q.ltime == q2.ltime && q.id == q2.id && q.flags == q2.flags &&
          q.timeout_ns == q2.timeout_ns && q.filters.count == q2.filters.count &&
          q.payload_len == q2.payload_len && q.name.n == q2.name.n);
    hm_buf_free(&b);
}

static void decode_as(uint8_t type, const uint8_t *p, size_t n)
{
    hm_serf_intent_t in;
    hm_serf_user_event_t ue;
    hm_serf_query_response_t qr;
    hm_serf_push_pull_view_t pv;
    hm_serf_key_response_t kr;
    hm_serf_member_t mb;
    hm_addr_t a;
    hm_ml_str_t s;
    const uint8_t *ip;
    size_t il, sum = 0;

    switch (type) {
    case HM_SERF_LEAVE:
    case HM_SERF_JOIN:
        hm_serf_get_intent(p, n, &in);
        break;
    case HM_SERF_PUSH_PULL:
        if (hm_serf_get_push_pull(p, n, &pv) == 0) {
            walk_strs(&pv.left);
            CHECK(hm_serf_pp_events(&pv, on_event, &sum) == 0);
        }
        break;
    case HM_SERF_USER_EVENT:
        hm_serf_get_user_event(p, n, &ue);
        break;
    case HM_SERF_QUERY:
        query(p, n);
        break;
    case HM_SERF_QUERY_RESPONSE:
        hm_serf_get_query_response(p, n, &qr);
        break;
    case HM_SERF_CONFLICT_RESPONSE:
        if (hm_serf_get_conflict_response(p, n, &mb) == 0 && mb.present)
            walk_pairs(&mb.tags);
        break;
    case HM_SERF_KEY_REQUEST:
        hm_serf_get_key_request(p, n, &ip, &il);
        break;
    case HM_SERF_KEY_RESPONSE:
        if (hm_serf_get_key_response(p, n, &kr) == 0)
            walk_strs(&kr.keys);
        break;
    case HM_SERF_RELAY:
        if (hm_serf_get_relay(p, n, &a, &s, &ip, &il) == 0) {
            CHECK(ip >= p && ip + il == p + n);
            if (il > 0)
                decode_as(ip[0], ip + 1, il - 1);
        }
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hm_coord_t c;
    hm_serf_filter_t f;
    size_t sum = 0;
    uint8_t t;

    if (size < 1)
        return 0;
    decode_as(data[0], data + 1, size - 1);
    for (t = 0; t <= HM_SERF_RELAY; t++)
        decode_as(t, data + 1, size - 1);
    hm_serf_get_tags(data, size, on_tag, &sum);
    hm_serf_get_coord(data, size, &c);
    if (hm_serf_get_filter(data, size, &f) == 0 && f.type == HM_SERF_FILTER_NODE)
        walk_strs(&f.nodes);
    return 0;
}
