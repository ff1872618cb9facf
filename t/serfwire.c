/* hm_serfwire: Serf messages, tags, coordinates, push/pull state. */
#include <config.h>

#include <stdio.h>

#include "hm_serfwire.h"
#include "tap.h"
#include "wire_util.h"

static hm_buf_t b;

/* serf-wire.md 2.1, observed */
static void test_intents(void)
{
    hm_serf_intent_t m;

    hm_buf_reset(&b);
    ok(hm_serf_put_join(&b, 1, "n2") == 0 && buf_is_hex(&b, "0182a54c54696d6501a44e6f6465a26e32"),
       "join bytes as captured");
    ok(hm_serf_get_intent(b.data + 1, b.len - 1, &m) == 0 && m.ltime == 1 && str_is(m.node, "n2") &&
           !m.prune,
       "join decodes");
    hm_buf_reset(&b);
    ok(hm_serf_put_leave(&b, 4, "n3", false) == 0 &&
           buf_is_hex(&b, "0083a54c54696d6504a44e6f6465a26e33a55072756e65c2"),
       "leave bytes as captured");
    ok(hm_serf_get_intent(b.data + 1, b.len - 1, &m) == 0 && m.ltime == 4 && str_is(m.node, "n3"),
       "leave decodes");
    hm_buf_reset(&b);
    hm_serf_put_leave(&b, 70000, "n3", true);
    ok(hm_serf_get_intent(b.data + 1, b.len - 1, &m) == 0 && m.prune && m.ltime == 70000,
       "prune leave round trip");
    ok(hm_serf_get_intent(b.data + 1, 5, &m) < 0, "truncated leave rejected");
}

static void test_user_event(void)
{
    hm_serf_user_event_t e = {.ltime = 34, .name = S("deploy"), .cc = true}, d;

    hm_buf_reset(&b);
    ok(hm_serf_put_user_event(&b, &e) == 0 &&
           buf_is_hex(&b, "0384a24343c3a54c54696d6522a44e616d65a66465706c6f79a75061796c6f6164c0"),
       "user event without payload: Payload c0");
    ok(hm_serf_get_user_event(b.data + 1, b.len - 1, &d) == 0 && d.ltime == 34 && d.cc &&
           str_is(d.name, "deploy") && d.payload == NULL,
       "user event decodes");
    e.payload = (const uint8_t *)"v1.2";
    e.payload_len = 4;
    e.cc = false;
    hm_buf_reset(&b);
    hm_serf_put_user_event(&b, &e);
    ok(hm_serf_get_user_event(b.data + 1, b.len - 1, &d) == 0 && !d.cc && d.payload_len == 4 &&
           memcmp(d.payload, "v1.2", 4) == 0,
       "user event with payload round trip");
}

static void test_filters_query(void)
{
    hm_buf_t elems = {0};
    uint32_t count = 0;
    const char *names[] = {"n4", "n1"};
    hm_serf_query_t q = {0}, d;
    hm_serf_filter_t f;
    hm_mp_reader_t it;
    hm_ml_str_t s;
    const uint8_t *fp;
    size_t fn;

    ok(hm_serf_add_node_filter(&elems, &count, names, 2) == 0 &&
           hm_serf_add_tag_filter(&elems, &count, "role", "w.*") == 0 && count == 2,
       "build node + tag filters");
    ok(elems.len == 1 + 8 + 1 + 20 && elems.data[0] == 0xa8 &&
           memcmp(elems.data + 1, "\x00\x92\xa2n4\xa2n1", 8) == 0,
       "node filter bytes 00 92 a2 n4 a2 n1");
    ok(elems.data[9] == 0xb4 && memcmp(elems.data + 10,
                                       "\x01\x82\xa4"
                                       "Expr\xa3w.*\xa3Tag\xa4role",
                                       20) == 0,
       "tag filter bytes 01 82 Expr w.* Tag role");

    q.ltime = 7;
    q.id = 0x7fffffff;
    hm_ml_addr_from_raw(&q.addr, (const uint8_t *)"\x7f\0\0\1", 4, 7946);
    q.source_node = S("n1");
    q.filters.p = elems.data;
    q.filters.n = elems.len;
    q.filters.count = count;
    q.flags = HM_SERF_QUERY_FLAG_ACK;
    q.relay_factor = 2;
    q.timeout_ns = 3200000000ll;
    q.name = S("uptime");
    hm_buf_reset(&b);
    ok(hm_serf_put_query(&b, &q) == 0 && b.data[0] == HM_SERF_QUERY && b.data[1] == 0x8b,
       "query: 11 keys");
    ok(memmem(b.data, b.len, "\xa7Timeout\xce\xbe\xbc\x20\x00", 13) != NULL,
       "Timeout 3.2 s written ce bebc2000");
    ok(memmem(b.data, b.len, "\xa7Payload\xc0", 9) != NULL, "nil payload c0");
    ok(hm_serf_get_query(b.data + 1, b.len - 1, &d) == 0 && d.ltime == 7 && d.id == 0x7fffffff &&
           d.addr.len == 4 && d.addr.port == 7946 && str_is(d.source_node, "n1") && d.flags == 1 &&
           d.relay_factor == 2 && d.timeout_ns == 3200000000ll && str_is(d.name, "uptime") &&
           d.filters.count == 2,
       "query round trip");
    hm_mp_reader_init(&it, d.filters.p, d.filters.n);
    ok(hm_mp_get_raw(&it, &fp, &fn) == 0 && hm_serf_get_filter(fp, fn, &f) == 0 &&
           f.type == HM_SERF_FILTER_NODE && f.nodes.count == 2 &&
           hm_serf_node_filter_has(&f, "n1") && !hm_serf_node_filter_has(&f, "n"),
       "node filter decodes and matches exactly");
    ok(hm_mp_get_raw(&it, &fp, &fn) == 0 && hm_serf_get_filter(fp, fn, &f) == 0 &&
           f.type == HM_SERF_FILTER_TAG && str_is(f.tag, "role") && str_is(f.expr, "w.*"),
       "tag filter decodes");
    hm_mp_reader_init(&it, f.nodes.p, f.nodes.n);
    ok(f.nodes.p == NULL && !hm_serf_node_filter_has(&f, "role"), "tag filter has no nodes");
    (void)s;
    {
        hm_buf_t bare = {0};
        ok(hm_serf_put_node_filter(&bare, names, 2) == 0 && bare.len == 8 &&
               memcmp(bare.data, elems.data + 1, 8) == 0,
           "bare node filter = element contents");
        hm_buf_reset(&bare);
        ok(hm_serf_put_tag_filter(&bare, "role", "w.*") == 0 && bare.len == 20 &&
               memcmp(bare.data, elems.data + 10, 20) == 0,
           "bare tag filter = element contents");
        hm_buf_free(&bare);
    }
    ok(hm_serf_get_filter((const uint8_t *)"\x02\x80", 2, &f) < 0, "unknown filter type");
    ok(hm_serf_get_filter((const uint8_t *)"\x00\x92\xa1", 3, &f) < 0, "truncated node filter");
    ok(hm_serf_get_filter(NULL, 0, &f) < 0, "empty filter");

    q.filters.count = 0;
    hm_buf_reset(&b);
    hm_serf_put_query(&b, &q);
    ok(memmem(b.data, b.len,
              "\xa7"
              "Filters\xc0",
              9) != NULL,
       "no filters: Filters c0");
    ok(hm_serf_get_query(b.data + 1, b.len - 1, &d) == 0 && d.filters.count == 0 &&
           d.filters.p == NULL,
       "nil filters decode");
    /* a filter element that is not a byte string */
    {
        size_t n;
        uint8_t *p = unhex("81a746696c746572739101", &n);
        ok(hm_serf_get_query(p, n, &d) < 0, "non-raw filter element rejected");
        free(p);
    }
    hm_buf_free(&elems);
}

static void test_query_response_relay(void)
{
    hm_serf_query_response_t r = {.ltime = 7, .id = 42, .from = S("n2"), .flags = 1}, d;
    hm_addr_t dest, dd;
    hm_ml_str_t dn;
    const uint8_t *inner;
    size_t ilen;

    hm_buf_reset(&b);
    ok(hm_serf_put_query_response(&b, &r) == 0 &&
           buf_is_hex(&b, "0585a5466c61677301a446726f6da26e32a24944"
                          "2aa54c54696d6507a75061796c6f6164c0"),
       "query ack bytes");
    ok(hm_serf_get_query_response(b.data + 1, b.len - 1, &d) == 0 && d.flags == 1 && d.id == 42 &&
           d.ltime == 7 && str_is(d.from, "n2") && d.payload == NULL,
       "query ack decodes");

    hm_ml_addr_from_raw(&dest, (const uint8_t *)"\x7f\0\0\1", 4, 7946);
    hm_buf_t inner_b = {0};
    r.flags = 0;
    r.payload = (const uint8_t *)"up";
    r.payload_len = 2;
    hm_serf_put_query_response(&inner_b, &r);
    hm_buf_reset(&b);
    ok(hm_serf_put_relay(&b, &dest, "n1", inner_b.data, inner_b.len) == 0 &&
           b.len == 46 + inner_b.len &&
           memcmp(b.data,
                  "\x09\x82\xa8"
                  "DestAddr\x83\xa2IP\xa4\x7f\x00\x00\x01\xa4Port\xcd\x1f\x0a"
                  "\xa4Zone\xa0\xa8"
                  "DestName\xa2n1\x05\x85",
                  48) == 0,
       "relay header bytes as captured");
    ok(hm_serf_get_relay(b.data + 1, b.len - 1, &dd, &dn, &inner, &ilen) == 0 && dd.len == 4 &&
           dd.port == 7946 && str_is(dn, "n1") && ilen == inner_b.len &&
           memcmp(inner, inner_b.data, ilen) == 0,
       "relay decodes, inner message intact");
    ok(hm_serf_get_query_response(inner + 1, ilen - 1, &d) == 0 && d.payload_len == 2,
       "relayed response decodes");
    ok(hm_serf_get_relay(b.data + 1, 20, &dd, &dn, &inner, &ilen) < 0, "truncated relay");
    hm_buf_free(&inner_b);
}

static int tag_collect(void *ud, hm_ml_str_t k, hm_ml_str_t v)
{
    hm_buf_t *o = ud;

    hm_buf_append(o, k.p, k.n);
    hm_buf_append(o, "=", 1);
    hm_buf_append(o, v.p, v.n);
    hm_buf_append(o, ";", 1);
    return 0;
}

static const char *collect_tags(const uint8_t *p, size_t n, int *rc)
{
    static hm_buf_t o;

    hm_buf_reset(&o);
    *rc = hm_serf_get_tags(p, n, tag_collect, &o);
    hm_buf_append(&o, "", 1);
    hm_buf_append(&o, "\0", 1);
    return (const char *)o.data;
}

static void test_tags(void)
{
    hm_tag_t tv[] = {{"role", "web"}, {"dc", "east"}};
    hm_tags_t tags = {tv, 2}, none = {NULL, 0};
    size_t n;
    uint8_t *p;
    int rc;
    static char big[600];

    hm_buf_reset(&b);
    ok(hm_serf_put_tags(&b, &none) == 0 && buf_is_hex(&b, "ff80"), "no tags: ff 80");
    hm_buf_reset(&b);
    ok(hm_serf_put_tags(&b, &tags) == 0 && buf_is_hex(&b, "ff82a26463a465617374a4726f6c65a3776562"),
       "tags written with sorted keys");
    /* Go's (random) order from the capture decodes the same */
    p = unhex("ff82a4726f6c65a3776562a26463a465617374", &n);
    is_str(collect_tags(p, n, &rc), "role=web;dc=east;", "captured meta decodes");
    ok(rc == 0, "captured meta rc 0");
    free(p);
    is_str(collect_tags((const uint8_t *)"", 0, &rc), "role=;", "empty meta: role=\"\"");
    is_str(collect_tags((const uint8_t *)"db", 2, &rc), "role=db;", "legacy meta: role tag");
    collect_tags((const uint8_t *)"\xff\x82\xa1"
                                  "a\xa1"
                                  "b\xa1",
                 7, &rc);
    ok(rc < 0, "truncated tag map rejected");
    memset(big, 'x', sizeof(big) - 1);
    tv[0].value = big;
    hm_buf_reset(&b);
    ok(hm_serf_put_tags(&b, &tags) < 0 && b.len == 0, "meta over 512 bytes refused");
}

/* The coordinate of the captured ackResp (memberlist-wire.md 3.4.1). */
static const char *COORD130 =
    "0184aa41646a7573746d656e74cb0000000000000000a54572726f72cb3ff8000000000000a6486569676874"
    "cb3ee4f8b588e368f1a356656398cb0000000000000000cb0000000000000000cb0000000000000000cb0000"
    "000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000";

static void test_coord(void)
{
    size_t n;
    uint8_t *p = unhex(COORD130, &n);
    hm_coord_t c;

    ok(n == 130 && hm_serf_get_coord(p, n, &c) == 0 && c.error == 1.5 && c.height == 1e-5 &&
           c.adjustment == 0 && c.vec[7] == 0,
       "captured coordinate decodes (new client: error 1.5, height 1e-5)");
    hm_buf_reset(&b);
    ok(hm_serf_put_coord(&b, &c) == 0 && buf_is_hex(&b, COORD130), "re-encodes byte for byte");
    c.vec[3] = -0.25;
    c.adjustment = 1e-3;
    hm_buf_reset(&b);
    hm_serf_put_coord(&b, &c);
    {
        hm_coord_t d;
        ok(hm_serf_get_coord(b.data, b.len, &d) == 0 && d.vec[3] == -0.25 && d.adjustment == 1e-3,
           "round trip");
    }
    p[0] = 2;
    ok(hm_serf_get_coord(p, n, &c) < 0, "ping version 2 rejected");
    ok(hm_serf_get_coord(p, 0, &c) < 0, "empty payload rejected");
    free(p);
    p = unhex("0181a356656392cb0000000000000000cb0000000000000000", &n);
    ok(hm_serf_get_coord(p, n, &c) < 0, "2-dimensional coordinate rejected");
    free(p);
}

static int ev_count(void *ud, uint64_t ltime, const hm_serf_event_t *ev)
{
    hm_buf_t *o = ud;
    char tmp[64];

    snprintf(tmp, sizeof(tmp), "%llu:%.*s:%zu;", (unsigned long long)ltime, (int)ev->name.n,
             ev->name.p, ev->payload ? ev->payload_len : (size_t)-1);
    hm_buf_append(o, tmp, strlen(tmp));
    return 0;
}

static void test_push_pull(void)
{
    hm_serf_event_slot_t slots[512];
    hm_serf_event_t evs[2] = {{S("deploy"), NULL, 0}, {S("x"), (const uint8_t *)"pl", 2}};
    hm_serf_status_ltime_t st[2] = {{S("n1"), 3}, {S("n2"), 300}};
    hm_ml_str_t left[1] = {S("n3")};
    hm_serf_push_pull_t pp = {.ltime = 9,
                              .event_ltime = 34,
                              .query_ltime = 7,
                              .status = st,
                              .n_status = 2,
                              .left = left,
                              .n_left = 1,
                              .slots = slots,
                              .n_slots = 512};
    hm_serf_push_pull_view_t v;
    hm_buf_t o = {0};
    hm_mp_reader_t it;
    hm_ml_str_t k;
    uint64_t lt;
    size_t i;
    int bad = 0;

    memset(slots, 0, sizeof(slots));
    slots[34].present = true;
    slots[34].ltime = 34;
    slots[34].events = evs;
    slots[34].n = 2;
    hm_buf_reset(&b);
    ok(hm_serf_put_push_pull(&b, &pp) == 0, "encode serf push/pull");
    ok(memcmp(b.data,
              "\x02\x86\xaa"
              "EventLTime\x22\xa6"
              "Events\xdc\x02\x00\xc0",
              25) == 0,
       "starts 02 86 EventLTime 34 Events dc 0200 c0 ...");
    ok(hm_serf_get_push_pull(b.data + 1, b.len - 1, &v) == 0 && v.ltime == 9 &&
           v.event_ltime == 34 && v.query_ltime == 7 && v.status.count == 2 && v.left.count == 1 &&
           v.events.count == 512,
       "decode clocks and collections");
    hm_mp_reader_init(&it, v.status.p, v.status.n);
    ok(hm_serf_next_ltime(&it, &k, &lt) == 0 && str_is(k, "n1") && lt == 3 &&
           hm_serf_next_ltime(&it, &k, &lt) == 0 && str_is(k, "n2") && lt == 300,
       "StatusLTimes iterate");
    hm_mp_reader_init(&it, v.left.p, v.left.n);
    ok(hm_serf_next_str(&it, &k) == 0 && str_is(k, "n3"), "LeftMembers iterate");
    ok(hm_serf_pp_events(&v, ev_count, &o) == 0 && hm_buf_append(&o, "", 1) == 0 &&
           hm_buf_append(&o, "\0", 1) == 0,
       "walk events");
    is_str((const char *)o.data, "34:deploy:18446744073709551615;34:x:2;",
           "events with their slot LTime (nil payload kept nil)");
    for (i = 1; i < b.len - 1; i += (i < 100 ? 1 : 37))
        if (hm_serf_get_push_pull(b.data + 1, i, &v) == 0)
            bad++;
    is_int(bad, 0, "truncations rejected");
    /* StatusLTimes with a non-string key */
    {
        size_t n;
        uint8_t *p = unhex("81ac5374617475734c54696d65738101a26e31", &n);
        ok(hm_serf_get_push_pull(p, n, &v) < 0, "non-string StatusLTimes key rejected");
        free(p);
    }
    hm_buf_free(&o);
}

static void test_keys(void)
{
    const uint8_t *key;
    size_t len;
    hm_serf_key_response_t r;
    const char *keys[] = {"QUJD", "REVG"};
    hm_mp_reader_t it;
    hm_ml_str_t s;

    hm_buf_reset(&b);
    ok(hm_serf_put_key_request(&b, NULL, 0) == 0 && buf_is_hex(&b, "0781a34b6579a0"),
       "list-keys request: Key a0");
    ok(hm_serf_get_key_request(b.data + 1, b.len - 1, &key, &len) == 0 && len == 0 && key != NULL,
       "empty non-nil key decodes");
    hm_buf_reset(&b);
    hm_serf_put_key_request(&b, (const uint8_t *)"0123456789abcdef", 16);
    ok(hm_serf_get_key_request(b.data + 1, b.len - 1, &key, &len) == 0 && len == 16 &&
           key[15] == 'f',
       "16-byte key round trip");
    hm_buf_reset(&b);
    ok(hm_serf_put_key_response(&b, true, "", NULL, 0, "") == 0 &&
           buf_is_hex(&b,
                      "0884a44b657973c0a74d657373616765a0aa5072696d6172794b6579a0a6526573756c74c3"),
       "key response (install): Keys nil");
    hm_buf_reset(&b);
    hm_serf_put_key_response(&b, true, "", keys, 2, "QUJD");
    ok(hm_serf_get_key_response(b.data + 1, b.len - 1, &r) == 0 && r.result && r.keys.count == 2 &&
           str_is(r.primary_key, "QUJD"),
       "list-keys response round trip");
    hm_mp_reader_init(&it, r.keys.p, r.keys.n);
    ok(hm_serf_next_str(&it, &s) == 0 && hm_serf_next_str(&it, &s) == 0 && str_is(s, "REVG"),
       "keys iterate");
}

static void test_conflict(void)
{
    hm_tag_t tv[] = {{"role", "web"}};
    hm_member_t m = {
        .name = "n1", .tags = {tv, 1}, .status = HM_STATUS_ALIVE, .vsn = {1, 5, 2, 2, 5, 5}};
    hm_serf_member_t d;
    hm_mp_reader_t it;
    hm_ml_str_t k, v;

    hm_ml_addr_from_raw(&m.addr, (const uint8_t *)"\x7f\0\0\1", 4, 7946);
    hm_buf_reset(&b);
    ok(hm_serf_put_conflict_response(&b, &m) == 0 && b.data[0] == 6 && b.data[1] == 0x8b,
       "conflict response: Member with 11 keys");
    ok(hm_serf_get_conflict_response(b.data + 1, b.len - 1, &d) == 0 && d.present &&
           str_is(d.name, "n1") && d.addr.port == 7946 && d.status == 1 &&
           memcmp(d.vsn, m.vsn, 6) == 0 && d.tags.count == 1,
       "Member round trip");
    hm_mp_reader_init(&it, d.tags.p, d.tags.n);
    ok(hm_serf_next_pair(&it, &k, &v) == 0 && str_is(k, "role") && str_is(v, "web"), "Member tags");
    hm_buf_reset(&b);
    ok(hm_serf_put_conflict_response(&b, NULL) == 0 && buf_is_hex(&b, "06c0"), "unknown: c0");
    ok(hm_serf_get_conflict_response(b.data + 1, b.len - 1, &d) == 0 && !d.present,
       "nil Member decodes as not present");
}

int main(void)
{
    test_intents();
    test_user_event();
    test_filters_query();
    test_query_response_relay();
    test_tags();
    test_coord();
    test_push_pull();
    test_keys();
    test_conflict();
    hm_buf_free(&b);
    return done_testing();
}
