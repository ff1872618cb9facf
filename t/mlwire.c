/* hm_mlwire: memberlist messages against packets captured from serf 0.9.4. */
#include <stdio.h>
#include <zlib.h>

#include "hm_mlwire.h"
#include "tap.h"
#include "wire_util.h"

/* shared/spec/memberlist-wire.md 4.1: Node n2, SeqNo 1, 127.0.0.1:7946, n1 */
static const char *PING61 =
    "0085a44e6f6465a26e32a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465"
    "a26e31aa536f75726365506f7274cd1f0a";
/* 4.6: gossip compound of two alives with CRC */
static const char *CRC156 =
    "0c88c4c4360702004d00440486a441646472a47f000001ab496e6361726e6174696f6e01a44d657461b3ff82a4"
    "726f6c65a3776562a26463a465617374a44e6f6465a26e31a4506f7274cd1f0aa356736ea601050202050504"
    "86a441646472a47f000001ab496e6361726e6174696f6e01a44d657461aaff81a4726f6c65a26462a44e6f64"
    "65a26e32a4506f7274cd1f0ba356736ea6010502020505";
/* 3.4.1: a real ackResp carrying a Vivaldi coordinate */
static const char *ACK150 =
    "0282a75061796c6f6164da00820184aa41646a7573746d656e74cb0000000000000000a54572726f72cb3ff8"
    "000000000000a6486569676874cb3ee4f8b588e368f1a356656398cb0000000000000000cb00000000000000"
    "00cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb000000000000"
    "0000cb0000000000000000a55365714e6f01";
/* 6.2: push/pull header Join true, Nodes 2, UserStateLen 13825 */
static const char *PPHDR = "83a44a6f696ec3a54e6f64657302ac5573657253746174654c656ecd3601";

static hm_buf_t b;

static void test_ping(void)
{
    size_t n, k;
    uint8_t *p = unhex(PING61, &n);
    hm_ml_ping_t m;
    int bad = 0;

    is_int(n, 61, "ping vector is 61 bytes");
    ok(p[0] == HM_ML_PING && hm_ml_get_ping(p + 1, n - 1, &m) == 0, "decode real ping");
    ok(str_is(m.node, "n2") && m.seq_no == 1 && str_is(m.source_node, "n1"), "ping names/seq");
    ok(m.source.len == 4 && memcmp(m.source.ip, "\x7f\0\0\1", 4) == 0 && m.source.port == 7946,
       "ping source 127.0.0.1:7946");
    hm_buf_reset(&b);
    ok(hm_ml_put_ping(&b, &m) == 0 && buf_is_hex(&b, PING61), "re-encode ping byte for byte");

    for (k = 1; k < n - 1; k++)
        if (hm_ml_get_ping(p + 1, k, &m) == 0)
            bad++;
    is_int(bad, 0, "every truncated ping is rejected");

    /* omitempty: no source at all */
    memset(&m, 0, sizeof(m));
    m.node = S("n2");
    m.seq_no = 300;
    hm_buf_reset(&b);
    ok(hm_ml_put_ping(&b, &m) == 0 && buf_is_hex(&b, "0082a44e6f6465a26e32a55365714e6fcd012c"),
       "ping without Source* fields omits them");
    free(p);
}

static void test_ping_tolerance(void)
{
    size_t n;
    uint8_t *p;
    hm_ml_ping_t m;

    /* struct as array, Go declaration order: SeqNo Node SourceAddr SourcePort SourceNode */
    p = unhex("9507a26e32a47f000001cd1f0aa26e31c3", &n);
    ok(hm_ml_get_ping(p, n, &m) == 0 && m.seq_no == 7 && str_is(m.node, "n2") &&
           m.source.port == 7946 && str_is(m.source_node, "n1") && m.source.len == 4,
       "ping as positional array");
    free(p);
    /* keys out of order, an unknown key with a nested value, str8 key and value */
    p = unhex("84a3466f6f92c0a178d905536571446fcd0102d9044e6f6465d9026e33a5426f67757381a17801", &n);
    ok(hm_ml_get_ping(p, n, &m) == 0 && str_is(m.node, "n3") && m.seq_no == 0 && m.source.len == 0,
       "unknown keys skipped, str8 accepted, misspelled key ignored");
    free(p);
    p = unhex("82a55365714e6fcd0102a44e6f6465a26e33", &n);
    ok(hm_ml_get_ping(p, n, &m) == 0 && m.seq_no == 258 && str_is(m.node, "n3"),
       "keys in any order");
    free(p);
    p = unhex("81a55365714e6fa131", &n);
    ok(hm_ml_get_ping(p, n, &m) < 0, "SeqNo as string rejected");
    free(p);
    p = unhex("81a55365714e6fcf0000000100000000", &n);
    ok(hm_ml_get_ping(p, n, &m) < 0, "SeqNo above uint32 rejected");
    free(p);
    p = unhex("81a55365714e6fc0", &n);
    ok(hm_ml_get_ping(p, n, &m) == 0 && m.seq_no == 0, "nil value leaves zero");
    free(p);
    p = unhex("81aa536f7572636541646472a3010203", &n);
    ok(hm_ml_get_ping(p, n, &m) < 0, "3-byte address rejected");
    free(p);
    p = unhex("8101a131", &n);
    ok(hm_ml_get_ping(p, n, &m) < 0, "non-string key rejected");
    free(p);
    p = unhex("c0", &n);
    ok(hm_ml_get_ping(p, n, &m) == 0 && m.node.n == 0, "nil struct is all zero");
    free(p);
    ok(hm_ml_get_ping(NULL, 0, &m) < 0, "empty body rejected");
}

static void test_compound_crc(void)
{
    size_t n, plen, lens[8];
    uint8_t *p = unhex(CRC156, &n);
    const uint8_t *payload, *parts[8];
    hm_ml_alive_t a[2];
    hm_buf_t enc[2] = {{0}, {0}}, comp = {0};
    int cnt, i;

    is_int(n, 156, "compound vector is 156 bytes");
    ok(p[0] == HM_ML_HAS_CRC && hm_ml_check_crc(p + 1, n - 1, &payload, &plen) == 0 &&
           plen == 151 && payload == p + 5,
       "CRC 0x88c4c436 verified");
    cnt = hm_ml_split_compound(payload + 1, plen - 1, parts, lens, 8);
    ok(payload[0] == HM_ML_COMPOUND && cnt == 2 && lens[0] == 77 && lens[1] == 68,
       "compound of 2 parts (77, 68 bytes)");
    for (i = 0; i < 2; i++)
        ok(parts[i][0] == HM_ML_ALIVE && hm_ml_get_alive(parts[i] + 1, lens[i] - 1, &a[i]) == 0,
           "decode alive %d", i + 1);
    ok(str_is(a[0].node, "n1") && a[0].incarnation == 1 && a[0].addr.port == 7946 &&
           a[0].addr.len == 4 && a[0].meta_len == 19 && a[0].meta[0] == 0xff,
       "alive n1 fields");
    ok(a[0].has_vsn && memcmp(a[0].vsn, "\x01\x05\x02\x02\x05\x05", 6) == 0, "alive n1 vsn");
    ok(str_is(a[1].node, "n2") && a[1].addr.port == 7947 && a[1].meta_len == 10, "alive n2");
    for (i = 0; i < 2; i++) {
        ok(hm_ml_put_alive(&enc[i], &a[i]) == 0 && enc[i].len == lens[i] &&
               memcmp(enc[i].data, parts[i], lens[i]) == 0,
           "re-encode alive %d byte for byte", i + 1);
    }
    ok(hm_ml_put_compound(&comp, enc, 2) == 0 && comp.len == plen &&
           memcmp(comp.data, payload, plen) == 0,
       "re-encode compound");
    {
        hm_buf_t cat = {0}, c2 = {0};
        uint32_t cl[2] = {(uint32_t)enc[0].len, (uint32_t)enc[1].len};
        hm_buf_append(&cat, enc[0].data, enc[0].len);
        hm_buf_append(&cat, enc[1].data, enc[1].len);
        ok(hm_ml_put_compound_cat(&c2, cat.data, cl, 2) == 0 && c2.len == plen &&
               memcmp(c2.data, payload, plen) == 0,
           "compound from parts laid end to end: the same bytes");
        cl[1] = 0x10000;
        hm_buf_reset(&c2);
        ok(hm_ml_put_compound_cat(&c2, cat.data, cl, 2) < 0 && c2.len == 0,
           "end to end: a part over 65535 bytes refused");
        ok(hm_ml_put_compound_cat(&c2, cat.data, cl, 256) < 0, "end to end: 256 parts refused");
        hm_buf_free(&cat);
        hm_buf_free(&c2);
    }
    hm_buf_reset(&b);
    ok(hm_ml_put_crc(&b, comp.data, comp.len) == 0 && buf_is_hex(&b, CRC156),
       "re-encode CRC envelope: 156 bytes identical");

    p[40] ^= 1;
    ok(hm_ml_check_crc(p + 1, n - 1, &payload, &plen) < 0, "flipped bit fails the CRC");
    ok(hm_ml_check_crc(p + 1, 3, &payload, &plen) < 0, "short CRC envelope rejected");
    /* truncated tail: keep the parts before */
    cnt = hm_ml_split_compound(comp.data + 1, comp.len - 2, parts, lens, 8);
    is_int(cnt, 1, "truncated compound keeps the first part");
    {
        static const uint8_t shortlen[] = {3, 0, 1, 0};
        ok(hm_ml_split_compound(shortlen, sizeof(shortlen), parts, lens, 8) < 0,
           "truncated length table rejected");
        ok(hm_ml_split_compound(shortlen, 0, parts, lens, 8) < 0, "empty compound rejected");
    }
    cnt = hm_ml_split_compound(comp.data + 1, comp.len - 1, parts, lens, 1);
    is_int(cnt, 1, "split honours max");
    {
        hm_buf_t many[256];
        memset(many, 0, sizeof(many));
        hm_buf_reset(&b);
        ok(hm_ml_put_compound(&b, many, 256) < 0, "more than 255 parts refused");
    }
    hm_buf_free(&enc[0]);
    hm_buf_free(&enc[1]);
    hm_buf_free(&comp);
    free(p);
}

static void test_ack(void)
{
    size_t n;
    uint8_t *p = unhex(ACK150, &n);
    hm_ml_ack_t m;

    is_int(n, 150, "ack vector is 150 bytes");
    ok(hm_ml_get_ack(p + 1, n - 1, &m) == 0 && m.seq_no == 1 && m.payload_len == 130 &&
           m.payload[0] == 1 && m.payload[1] == 0x84,
       "decode ack with coordinate payload");
    hm_buf_reset(&b);
    ok(hm_ml_put_ack(&b, &m) == 0 && buf_is_hex(&b, ACK150), "re-encode ack byte for byte");
    memset(&m, 0, sizeof(m));
    m.seq_no = 9;
    hm_buf_reset(&b);
    ok(hm_ml_put_ack(&b, &m) == 0 && buf_is_hex(&b, "0282a75061796c6f6164c0a55365714e6f09"),
       "relayed ack: nil payload");
    ok(hm_ml_get_ack(b.data + 1, b.len - 1, &m) == 0 && m.payload == NULL && m.seq_no == 9,
       "nil payload decodes as NULL");
    free(p);
}

static void test_small_messages(void)
{
    hm_ml_accuse_t s = {.incarnation = 3, .node = S("n2"), .from = S("n1")}, s2;
    hm_ml_nack_t nk = {.seq_no = 70000}, nk2;
    hm_ml_indirect_ping_t ip, ip2;
    hm_ml_str_t e;

    hm_buf_reset(&b);
    ok(hm_ml_put_suspect(&b, &s) == 0 &&
           buf_is_hex(&b, "0383a446726f6da26e31ab496e6361726e6174696f6e03a44e6f6465a26e32"),
       "suspect bytes");
    ok(hm_ml_get_accuse(b.data + 1, b.len - 1, &s2) == 0 && s2.incarnation == 3 &&
           str_is(s2.node, "n2") && str_is(s2.from, "n1"),
       "suspect decodes");
    hm_buf_reset(&b);
    ok(hm_ml_put_dead(&b, &s) == 0 && b.data[0] == HM_ML_DEAD, "dead type byte");
    hm_buf_reset(&b);
    ok(hm_ml_put_nack(&b, &nk) == 0 && buf_is_hex(&b, "0b81a55365714e6fce00011170"), "nack");
    ok(hm_ml_get_nack(b.data + 1, b.len - 1, &nk2) == 0 && nk2.seq_no == 70000, "nack decodes");
    hm_buf_reset(&b);
    ok(hm_ml_put_err(&b, "boom") == 0 && buf_is_hex(&b, "0d81a54572726f72a4626f6f6d"), "err");
    ok(hm_ml_get_err(b.data + 1, b.len - 1, &e) == 0 && str_is(e, "boom"), "err decodes");

    memset(&ip, 0, sizeof(ip));
    ip.seq_no = 5;
    ip.node = S("n3");
    ip.nack = true;
    hm_ml_addr_from_raw(&ip.target, (const uint8_t *)"\x7f\0\0\3", 4, 7948);
    hm_buf_reset(&b);
    ok(hm_ml_put_indirect_ping(&b, &ip) == 0 &&
           buf_is_hex(&b, "0185a44e61636bc3a44e6f6465a26e33a4506f7274cd1f0ca55365714e6f05a6546172"
                          "676574a47f000003"),
       "indirect ping without source");
    ip.source_node = S("n1");
    hm_ml_addr_from_raw(&ip.source, (const uint8_t *)"\x7f\0\0\1", 4, 7946);
    hm_buf_reset(&b);
    ok(hm_ml_put_indirect_ping(&b, &ip) == 0 && b.data[1] == 0x88, "with source: 8 keys");
    ok(hm_ml_get_indirect_ping(b.data + 1, b.len - 1, &ip2) == 0 && ip2.seq_no == 5 && ip2.nack &&
           str_is(ip2.node, "n3") && ip2.target.port == 7948 && ip2.target.ip[3] == 3 &&
           ip2.source.port == 7946 && str_is(ip2.source_node, "n1"),
       "indirect ping round trip");
}

static void test_alive_forms(void)
{
    hm_ml_alive_t a = {0}, a2;
    uint8_t ip6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    size_t n;
    uint8_t *p;

    a.node = S("x");
    a.incarnation = 1;
    hm_ml_addr_from_raw(&a.addr, ip6, 16, 1);
    hm_buf_reset(&b);
    ok(hm_ml_put_alive(&b, &a) == 0 && hm_ml_get_alive(b.data + 1, b.len - 1, &a2) == 0 &&
           a2.addr.len == 16 && a2.meta == NULL && !a2.has_vsn,
       "alive with 16-byte address, nil meta and vsn");
    ok(b.len > 3 && memcmp(b.data + b.len - 5, "\xa3Vsn\xc0", 5) == 0, "nil Vsn written c0");
    /* Vsn as an array of ints (Go accepts it) */
    p = unhex("81a356736e9601050202050a", &n);
    ok(hm_ml_get_alive(p, n, &a2) == 0 && a2.has_vsn && a2.vsn[5] == 10, "Vsn as int array");
    free(p);
    p = unhex("81a356736e93010502", &n);
    ok(hm_ml_get_alive(p, n, &a2) == 0 && !a2.has_vsn && a2.vsn[1] == 5, "short Vsn kept");
    free(p);
    ok(hm_ml_addr_from_raw(&a.addr, ip6, 5, 1) < 0 && a.addr.len == 0, "5-byte address bad");
}

/* An alive body as a six-key fixmap in sorted order, each value in the
 * form given (hex): the form the fast decoder reads in place, or one it
 * leaves to the general decoder.  Both must give the same fields. */
static int alive_from(const char *addr, const char *inc, const char *meta, const char *node,
                      const char *port, const char *vsn, hm_ml_alive_t *out)
{
    char hex[512];
    uint8_t *p;
    size_t n;
    int rc;

    snprintf(
        hex, sizeof(hex),
        "86a441646472%sab496e6361726e6174696f6e%sa44d657461%sa44e6f6465%sa4506f7274%sa356736e%s",
        addr, inc, meta, node, port, vsn);
    p = unhex(hex, &n);
    rc = hm_ml_get_alive(p, n, out);
    free(p);
    return rc;
}

static bool alive_is(const hm_ml_alive_t *a, uint32_t inc, size_t meta_len, bool has_vsn)
{
    static const uint8_t lo[4] = {127, 0, 0, 1}, vsn[6] = {1, 5, 2, 2, 5, 5};
    return a->incarnation == inc && a->node.n == 2 && memcmp(a->node.p, "n1", 2) == 0 &&
           a->addr.len == 4 && memcmp(a->addr.ip, lo, 4) == 0 && a->addr.port == 7946 &&
           a->meta_len == meta_len && (meta_len > 0) == (a->meta != NULL) &&
           a->has_vsn == has_vsn && (!has_vsn || memcmp(a->vsn, vsn, 6) == 0);
}

static void test_alive_encodings(void)
{
    static const char *A4 = "a47f000001", *N1 = "a26e31", *P = "cd1f0a", *V6 = "a6010502020505";
    hm_ml_alive_t a;
    char hex[512];
    uint8_t *p;
    size_t n, k, bad = 0;

    ok(alive_from(A4, "05", "c0", N1, P, V6, &a) == 0 && alive_is(&a, 5, 0, true),
       "alive: fixint, fixstr, nil meta");
    ok(alive_from("c4047f000001", "ce00000005", "a2ff80", "d9026e31", P, "c406010502020505", &a) ==
               0 &&
           alive_is(&a, 5, 2, true),
       "alive: bin8 address and Vsn, uint32 incarnation, str8 name, 2-byte meta");
    ok(alive_from(A4, "cc05", "c0", N1, "cd1f0a", V6, &a) == 0 && alive_is(&a, 5, 0, true),
       "alive: uint8 incarnation");
    ok(alive_from(A4, "d200000005", "c0", N1, P, V6, &a) == 0 && alive_is(&a, 5, 0, true),
       "alive: int32 incarnation (general decoder)");
    ok(alive_from(A4, "05", "c0", N1, P, "96010502020505", &a) == 0 && alive_is(&a, 5, 0, true),
       "alive: Vsn as an int array (general decoder)");
    ok(alive_from(A4, "05", "c0", N1, P, "a3010502", &a) == 0 && alive_is(&a, 5, 0, false) &&
           a.vsn[2] == 2 && a.vsn[3] == 0,
       "alive: 3-byte Vsn kept, zero-padded, not counted as versions");
    ok(alive_from(A4, "cf0000000100000000", "c0", N1, P, V6, &a) < 0,
       "alive: incarnation above uint32 rejected");
    ok(alive_from(A4, "05", "c0", N1, "ce00011170", V6, &a) < 0, "alive: port 70000 rejected");
    ok(alive_from("a37f0000", "05", "c0", N1, P, V6, &a) < 0, "alive: 3-byte address rejected");
    snprintf(
        hex, sizeof(hex),
        "86a441646472%sab496e6361726e6174696f6e%sa44d657461%sa44e6f6465%sa4506f7274%sa356736e%s",
        A4, "05", "a2ff80", N1, P, V6);
    p = unhex(hex, &n);
    for (k = 0; k < n; k++)
        bad += hm_ml_get_alive(p, k, &a) == 0;
    is_int((int)bad, 0, "alive: every truncation rejected");
    free(p);
}

typedef struct {
    int count;
    char names[4][8];
    uint8_t states[4];
} seen_t;

static int on_node(void *ud, const hm_ml_push_node_t *node)
{
    seen_t *s = ud;

    if (s->count < 4) {
        snprintf(s->names[s->count], 8, "%.*s", (int)node->name.n, node->name.p);
        s->states[s->count] = node->state;
    }
    s->count++;
    return 0;
}

static void test_push_pull(void)
{
    hm_ml_push_node_t nodes[2];
    hm_ml_push_header_t hdr;
    static uint8_t us[13825];
    const uint8_t *ustate;
    size_t used, hl, k;
    uint8_t *hp = unhex(PPHDR, &hl);
    seen_t seen = {0};
    int rc, again = 0, calls_early = 0;

    memset(nodes, 0, sizeof(nodes));
    nodes[0].name = S("n1");
    hm_ml_addr_from_raw(&nodes[0].addr, (const uint8_t *)"\x7f\0\0\1", 4, 7946);
    nodes[0].meta = (const uint8_t *)"\xff\x80";
    nodes[0].meta_len = 2;
    nodes[0].incarnation = 1;
    memcpy(nodes[0].vsn, "\x01\x05\x02\x02\x05\x05", 6);
    nodes[0].has_vsn = true;
    nodes[1] = nodes[0];
    nodes[1].name = S("n2");
    nodes[1].state = HM_ML_STATE_LEFT;
    us[0] = 2;
    us[13824] = 0x77;

    hm_buf_reset(&b);
    ok(hm_ml_put_push_pull(&b, true, nodes, 2, us, sizeof(us)) == 0, "encode push/pull");
    ok(b.data[0] == HM_ML_PUSH_PULL && b.len > hl && memcmp(b.data + 1, hp, hl) == 0,
       "header bytes equal the captured header");
    ok(memcmp(b.data + 1 + hl,
              "\x87\xa4"
              "Addr\xa4\x7f\0\0\1\xab"
              "Incarnation\x01\xa4Meta\xa2\xff\x80"
              "\xa4Name\xa2n1\xa4Port\xcd\x1f\x0a\xa5State\x00\xa3Vsn\xa6\x01\x05\x02\x02\x05\x05",
              66) == 0,
       "node state bytes, keys sorted");
    rc = hm_ml_get_push_pull(b.data + 1, b.len - 1, &hdr, on_node, &seen, &ustate, &used);
    ok(rc == 0 && hdr.join && hdr.nodes == 2 && hdr.user_state_len == 13825 && used == b.len - 1 &&
           ustate[0] == 2 && ustate[13824] == 0x77,
       "decode complete push/pull");
    ok(seen.count == 2 && strcmp(seen.names[1], "n2") == 0 && seen.states[1] == 3,
       "node callback per node");

    /* incremental: every prefix says "need more", callbacks only once complete */
    for (k = 0; k < b.len - 1; k += (k < 200 ? 1 : 997)) {
        seen.count = 0;
        rc = hm_ml_get_push_pull(b.data + 1, k, &hdr, on_node, &seen, &ustate, &used);
        if (rc != 1)
            again++;
        calls_early += seen.count;
    }
    is_int(again, 0, "every prefix needs more");
    is_int(calls_early, 0, "no node callback before the message is complete");
    /* header from the capture alone */
    ok(hm_ml_get_push_pull(hp, hl, &hdr, NULL, NULL, &ustate, &used) == 1 && hdr.nodes == 2,
       "captured header alone: need more");
    {
        size_t n;
        uint8_t *p = unhex("83a44a6f696ec3a54e6f646573ffac5573657253746174654c656e00", &n);
        ok(hm_ml_get_push_pull(p, n, &hdr, NULL, NULL, &ustate, &used) < 0,
           "negative Nodes rejected");
        free(p);
        p = unhex("83a44a6f696ec2a54e6f64657301ac5573657253746174654c656e0081a55374617465a131", &n);
        ok(hm_ml_get_push_pull(p, n, &hdr, NULL, NULL, &ustate, &used) < 0,
           "malformed node state rejected");
        free(p);
    }
    free(hp);
}

static void test_user_stream(void)
{
    const uint8_t *msg;
    size_t len, used, k;
    int bad = 0;

    hm_buf_reset(&b);
    ok(hm_ml_put_user_stream(&b, "\x03hello", 6) == 0 &&
           buf_is_hex(&b, "0881aa557365724d73674c656e060368656c6c6f"),
       "reliable user message bytes");
    ok(hm_ml_get_user_stream(b.data + 1, b.len - 1, &msg, &len, &used) == 0 && len == 6 &&
           msg[1] == 'h' && used == b.len - 1,
       "reliable user message decodes");
    for (k = 0; k < b.len - 1; k++)
        if (hm_ml_get_user_stream(b.data + 1, k, &msg, &len, &used) != 1)
            bad++;
    is_int(bad, 0, "prefixes need more");
    ok(hm_ml_msg_complete(b.data + 1, b.len - 1, &used) == 0 && used == 13, "msg_complete");
    ok(hm_ml_msg_complete(b.data + 1, 5, &used) == 1, "msg_complete: need more");
    hm_buf_reset(&b);
    ok(hm_ml_put_user(&b, "\x01\x82", 2) == 0 && buf_is_hex(&b, "080182"), "UDP user message");
}

/* The CRC comes from ISA-L when configure found it: the same CRC-32 as
 * zlib's (what Go's crc32.ChecksumIEEE computes) at every length and
 * alignment its folding loops distinguish. */
static void test_crc_lengths(void)
{
    uint8_t data[1500];
    size_t n, bad = 0, i;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 131 + 7);
    for (n = 0; n + 3 <= sizeof(data); n++) {
        const uint8_t *p = data + n % 3;
        uint32_t want = (uint32_t)crc32(0L, p, (uInt)n), got;
        hm_buf_reset(&b);
        if (hm_ml_put_crc(&b, p, n) < 0 || b.len != n + 5) {
            bad++;
            continue;
        }
        got = (uint32_t)b.data[1] << 24 | (uint32_t)b.data[2] << 16 | (uint32_t)b.data[3] << 8 |
              b.data[4];
        bad += got != want;
    }
    is_int((int)bad, 0, "CRC envelope equals zlib's crc32 at lengths 0..1497, 3 alignments");
}

int main(void)
{
    test_ping();
    test_ping_tolerance();
    test_compound_crc();
    test_crc_lengths();
    test_ack();
    test_small_messages();
    test_alive_forms();
    test_alive_encodings();
    test_push_pull();
    test_user_stream();
    hm_buf_free(&b);
    return done_testing();
}
