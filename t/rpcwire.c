/* Unit tests of the RPC codec (framing scan, input buffer, packers) and of
 * the client's output helpers (Go-compatible JSON, columnize, durations). */
#include <stdlib.h>
#include <string.h>

#include "hm_client.h"
#include "tap.h"

static int scan(const char *hex, size_t *len)
{
    uint8_t b[256];
    size_t n = 0;

    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        b[n++] = (uint8_t)v;
    }
    return hm_rpc_scan(b, n, len);
}

static void test_scan(void)
{
    size_t len = 0;
    uint8_t deep[40];

    ok(scan("82a7436f6d6d616e64a968616e647368616b65a3536571", &len) == HM_RPC_SCAN_MORE,
       "scan: truncated header needs more");
    ok(scan("82a7436f6d6d616e64a968616e647368616b65a353657101", &len) == HM_RPC_SCAN_OK &&
           len == 24,
       "scan: whole header (%zu bytes)", len);
    ok(scan("c0c0", &len) == HM_RPC_SCAN_OK && len == 1, "scan: one object of two");
    ok(scan("c1", &len) == HM_RPC_SCAN_BAD, "scan: reserved byte");
    ok(scan("dd7fffffff", &len) == HM_RPC_SCAN_MORE, "scan: huge array header only: more");
    ok(scan("db00000005616263", &len) == HM_RPC_SCAN_MORE, "scan: str32 short: more");
    ok(scan("c70301616263", &len) == HM_RPC_SCAN_OK && len == 6, "scan: ext8");
    ok(scan("d6ff00000001", &len) == HM_RPC_SCAN_OK && len == 6, "scan: fixext4");
    ok(scan("81a1619291c0", &len) == HM_RPC_SCAN_MORE, "scan: nested, incomplete");
    ok(scan("81a1619291c0c3", &len) == HM_RPC_SCAN_OK && len == 7, "scan: nested, complete");
    memset(deep, 0x91, sizeof(deep));
    deep[39] = 0xc0;
    ok(hm_rpc_scan(deep, sizeof(deep), &len) == HM_RPC_SCAN_BAD, "scan: nesting beyond 32");
    ok(hm_rpc_scan(deep + 10, 30, &len) == HM_RPC_SCAN_OK, "scan: nesting of 29 is fine");
}

static void test_in(void)
{
    hm_rpc_in_t in;
    hm_buf_t b = {0};
    msgpack_object o;
    const char *p;
    size_t n;
    uint64_t seq;
    char *big;

    hm_rpc_in_init(&in);
    hm_rpc_pack_request(&b, "members", 7);
    hm_rpc_in_feed(&in, b.data, 5);
    ok(hm_rpc_in_next(&in, &o) == HM_RPC_SCAN_MORE, "in: partial header");
    hm_rpc_in_feed(&in, b.data + 5, b.len - 5);
    ok(hm_rpc_in_peek(&in, &o) == HM_RPC_SCAN_OK, "in: peek");
    ok(hm_rpc_in_next(&in, &o) == HM_RPC_SCAN_OK, "in: next after peek");
    ok(hm_rpc_field_str(&o, "Command", &p, &n) == 0 && n == 7 && memcmp(p, "members", 7) == 0,
       "in: Command");
    ok(hm_rpc_field_uint(&o, "Seq", &seq) == 0 && seq == 7, "in: Seq");
    ok(hm_rpc_field_uint(&o, "Command", &seq) < 0, "in: wrong type is an error");
    ok(hm_rpc_field_str(&o, "Missing", &p, &n) == 0 && n == 0, "in: missing key is zero");
    ok(hm_rpc_in_pending(&in) == 0, "in: all consumed");
    /* an object that never ends: refused once over the limit */
    big = malloc(HM_RPC_MAX_OBJECT + 16);
    memset(big, 'x', HM_RPC_MAX_OBJECT + 16);
    big[0] = (char)0xdb, big[1] = 0x10, big[2] = big[3] = big[4] = 0;
    hm_rpc_in_feed(&in, big, HM_RPC_MAX_OBJECT + 16);
    ok(hm_rpc_in_next(&in, &o) == HM_RPC_SCAN_BAD, "in: oversized object refused");
    free(big);
    hm_rpc_in_free(&in);
    hm_buf_free(&b);
}

/* A nested object fed one byte at a time: same answer as in one piece, and
 * a response far larger than a request is fine when in->max allows it. */
static void test_resume(void)
{
    hm_buf_t b = {0};
    msgpack_packer pk;
    hm_rpc_in_t in;
    msgpack_object o;
    size_t whole = 0;
    int rc = HM_RPC_SCAN_MORE, fed = 0;

    hm_rpc_packer_init(&pk, &b);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_str(&pk, "Members");
    msgpack_pack_array(&pk, 25000);
    for (int i = 0; i < 25000; i++) {
        msgpack_pack_map(&pk, 2);
        hm_rpc_pack_kstr(&pk, "Name", "a-member-with-a-long-enough-name");
        hm_rpc_pack_str(&pk, "Addr");
        hm_rpc_pack_bin(&pk, "\x7f\0\0\1", 4, false);
    }
    ok(b.len > HM_RPC_MAX_OBJECT, "resume: a %zu-byte response", b.len);
    ok(hm_rpc_scan(b.data, b.len, &whole) == HM_RPC_SCAN_OK && whole == b.len,
       "resume: scanned whole");
    hm_rpc_in_init(&in);
    in.max = 4u << 20;
    for (size_t i = 0; i < b.len && rc == HM_RPC_SCAN_MORE; i += 1000, fed++) {
        hm_rpc_in_feed(&in, b.data + i, b.len - i < 1000 ? b.len - i : 1000);
        rc = hm_rpc_in_next(&in, &o);
    }
    ok(rc == HM_RPC_SCAN_OK && o.type == MSGPACK_OBJECT_MAP &&
           hm_rpc_get(&o, "Members")->via.array.size == 25000,
       "resume: taken after %d pieces", fed);
    hm_rpc_in_free(&in);
    hm_rpc_in_init(&in);
    fed = 0;
    for (size_t i = 0; i < 300; i++) {
        hm_rpc_in_feed(&in, b.data + i, 1);
        fed += hm_rpc_in_next(&in, &o) == HM_RPC_SCAN_MORE;
    }
    is_int(fed, 300, "resume: one byte at a time, always more");
    hm_rpc_in_feed(&in, b.data + 300, b.len - 300);
    ok(hm_rpc_in_next(&in, &o) == HM_RPC_SCAN_BAD, "resume: over the default max: refused");
    hm_rpc_in_free(&in);
    hm_buf_free(&b);
}

static void test_pack(void)
{
    hm_buf_t b = {0};
    msgpack_packer pk;
    char s40[41];

    hm_rpc_packer_init(&pk, &b);
    hm_rpc_pack_bin(&pk, "", 0, false);
    ok(b.len == 2 && b.data[0] == 0xc4 && b.data[1] == 0, "pack: empty []byte is c4 00");
    hm_buf_reset(&b);
    hm_rpc_pack_bin(&pk, NULL, 0, true);
    ok(b.len == 1 && b.data[0] == 0xc0, "pack: nil []byte is c0");
    hm_buf_reset(&b);
    memset(s40, 'a', 40);
    s40[40] = 0;
    hm_rpc_pack_str(&pk, s40);
    ok(b.data[0] == 0xd9 && b.data[1] == 40, "pack: 40-byte string is str8 (RPC handle)");
    hm_buf_reset(&b);
    hm_rpc_pack_response(&b, "", 1);
    ok(b.len == 13 && memcmp(b.data,
                             "\x82\xa5"
                             "Error\xa0\xa3Seq\x01",
                             13) == 0,
       "pack: response header bytes as Serf's");
    hm_buf_free(&b);
}

static void test_json(void)
{
    hm_json_t j = {0};
    hm_tags_t t = {(hm_tag_t[]){{"a", "<b>&\"\\\n"}, {"z", "\xe2\x80\xa8\xff\x01"}}, 2};

    hm_json_open(&j, '{');
    hm_json_key(&j, "m");
    hm_json_tags(&j, &t);
    hm_json_key(&j, "e");
    hm_json_open(&j, '[');
    hm_json_close(&j, ']');
    hm_json_key(&j, "n");
    hm_json_null(&j);
    hm_json_close(&j, '}');
    is_str(hm_json_text(&j),
           "{\n  \"m\": {\n    \"a\": \"\\u003cb\\u003e\\u0026\\\"\\\\\\n\",\n"
           "    \"z\": \"\\u2028\\ufffd\\u0001\"\n  },\n  \"e\": [],\n  \"n\": null\n}",
           "json: Go's MarshalIndent layout and escaping");
    hm_buf_free(&j.out);
}

static void test_columns(void)
{
    char *lines[] = {"n1|127.0.0.1:7946|alive|", "node-two|127.0.0.1:7947|alive|role=db"};
    char *out = hm_columnize(lines, 2);

    is_str(out, "n1        127.0.0.1:7946  alive  \nnode-two  127.0.0.1:7947  alive  role=db",
           "columnize: padded columns, last one not padded");
    free(out);
}

static void test_duration(void)
{
    int64_t ns = 0;

    ok(hm_parse_duration("1s", &ns) == 0 && ns == 1000000000, "duration: 1s");
    ok(hm_parse_duration("1m30s", &ns) == 0 && ns == 90000000000LL, "duration: 1m30s");
    ok(hm_parse_duration("250ms", &ns) == 0 && ns == 250000000, "duration: 250ms");
    ok(hm_parse_duration("1.5h", &ns) == 0 && ns == 5400000000000LL, "duration: 1.5h");
    ok(hm_parse_duration("0", &ns) == 0 && ns == 0, "duration: 0");
    ok(hm_parse_duration("5", &ns) < 0, "duration: missing unit refused");
    ok(hm_parse_duration("", &ns) < 0, "duration: empty refused");
    ok(hm_parse_duration("1x", &ns) < 0, "duration: unknown unit refused");
}

int main(void)
{
    test_scan();
    test_in();
    test_resume();
    test_pack();
    test_json();
    test_columns();
    test_duration();
    return done_testing();
}
