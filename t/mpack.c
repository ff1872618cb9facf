/* hm_mpack: go-msgpack default-handle writer, tolerant bounded reader. */
#include <math.h>
#include <stdio.h>

#include "hm_mpack.h"
#include "tap.h"
#include "wire_util.h"

static hm_buf_t b;

#define W(call, hex, what)                                                                         \
    do {                                                                                           \
        hm_buf_reset(&b);                                                                          \
        ok((call) == 0 && buf_is_hex(&b, hex), "write %s", what);                                  \
    } while (0)

static void test_writer(void)
{
    static uint8_t big[70000];

    W(hm_mp_put_nil(&b), "c0", "nil");
    W(hm_mp_put_bool(&b, false), "c2", "false");
    W(hm_mp_put_bool(&b, true), "c3", "true");
    W(hm_mp_put_uint(&b, 0), "00", "uint 0");
    W(hm_mp_put_uint(&b, 127), "7f", "uint 127");
    W(hm_mp_put_uint(&b, 128), "cc80", "uint 128");
    W(hm_mp_put_uint(&b, 255), "ccff", "uint 255");
    W(hm_mp_put_uint(&b, 256), "cd0100", "uint 256");
    W(hm_mp_put_uint(&b, 7946), "cd1f0a", "uint 7946");
    W(hm_mp_put_uint(&b, 65536), "ce00010000", "uint 65536");
    W(hm_mp_put_uint(&b, 0x100000000ull), "cf0000000100000000", "uint 2^32");
    W(hm_mp_put_int(&b, 200), "ccc8", "int 200 written as unsigned");
    W(hm_mp_put_int(&b, 3200000000ll), "cebebc2000", "int 3.2e9 (Timeout)");
    W(hm_mp_put_int(&b, -1), "ff", "int -1");
    W(hm_mp_put_int(&b, -32), "e0", "int -32");
    W(hm_mp_put_int(&b, -33), "d0df", "int -33");
    W(hm_mp_put_int(&b, -129), "d1ff7f", "int -129");
    W(hm_mp_put_int(&b, -40000), "d2ffff63c0", "int -40000");
    W(hm_mp_put_int(&b, INT64_MIN), "d38000000000000000", "int min");
    W(hm_mp_put_double(&b, 1.5), "cb3ff8000000000000", "double 1.5");
    W(hm_mp_put_str(&b, "n1"), "a26e31", "fixraw");
    W(hm_mp_put_str(&b, ""), "a0", "empty raw");
    W(hm_mp_put_bytes_or_nil(&b, NULL, 0, true), "c0", "nil bytes");
    W(hm_mp_put_bytes_or_nil(&b, "", 0, false), "a0", "empty bytes");
    W(hm_mp_put_map(&b, 15), "8f", "fixmap 15");
    W(hm_mp_put_map(&b, 16), "de0010", "map16");
    W(hm_mp_put_map(&b, 70000), "df00011170", "map32");
    W(hm_mp_put_array(&b, 3), "93", "fixarray");
    W(hm_mp_put_array(&b, 512), "dc0200", "array16 (event buffer)");
    W(hm_mp_put_array(&b, 65536), "dd00010000", "array32");

    hm_buf_reset(&b);
    ok(hm_mp_put_raw(&b, big, 31) == 0 && b.len == 32 && b.data[0] == 0xbf, "raw 31 fixraw");
    hm_buf_reset(&b);
    ok(hm_mp_put_raw(&b, big, 32) == 0 && b.len == 35 && b.data[0] == 0xda && b.data[2] == 32,
       "raw 32 is raw16, never str8");
    hm_buf_reset(&b);
    ok(hm_mp_put_raw(&b, big, 255) == 0 && b.data[0] == 0xda, "raw 255 is raw16");
    hm_buf_reset(&b);
    ok(hm_mp_put_raw(&b, big, 65535) == 0 && b.data[0] == 0xda && b.len == 65538, "raw 65535");
    hm_buf_reset(&b);
    ok(hm_mp_put_raw(&b, big, 65536) == 0 && b.data[0] == 0xdb && b.len == 65541,
       "raw 65536 is raw32");
}

static hm_mp_reader_t rd(const char *hex, uint8_t **keep)
{
    size_t n;
    hm_mp_reader_t r;

    free(*keep);
    *keep = unhex(hex, &n);
    hm_mp_reader_init(&r, *keep, n);
    return r;
}

static void test_reader(void)
{
    uint8_t *k = NULL;
    hm_mp_reader_t r;
    uint64_t u;
    int64_t i;
    double d;
    bool bo;
    const uint8_t *p;
    size_t n, used;
    uint32_t cnt;

    r = rd("cd1f0a", &k);
    ok(hm_mp_peek(&r) == HM_MP_UINT && hm_mp_get_uint(&r, &u) == 0 && u == 7946, "uint16");
    ok(r.p == r.end, "cursor advanced");
    r = rd("d1ff7f", &k);
    ok(hm_mp_get_uint(&r, &u) < 0 && r.p == k, "negative into uint rejected, cursor kept");
    ok(hm_mp_get_int(&r, &i) == 0 && i == -129, "int16");
    r = rd("d0 05", &k);
    r = rd("d005", &k);
    ok(hm_mp_get_uint(&r, &u) == 0 && u == 5, "positive int8 into uint");
    r = rd("cfffffffffffffffff", &k);
    ok(hm_mp_get_uint(&r, &u) == 0 && u == UINT64_MAX, "uint64 max");
    r = rd("cfffffffffffffffff", &k);
    ok(hm_mp_get_int(&r, &i) < 0, "uint64 max into int rejected");
    r = rd("cd1f", &k);
    ok(hm_mp_get_uint(&r, &u) < 0, "truncated uint16");
    r = rd("01", &k);
    ok(hm_mp_get_bool(&r, &bo) == 0 && bo, "fixint 1 as bool");
    r = rd("c2", &k);
    ok(hm_mp_get_bool(&r, &bo) == 0 && !bo, "false");
    r = rd("02", &k);
    ok(hm_mp_get_bool(&r, &bo) < 0, "2 is not a bool");
    r = rd("ca3fc00000", &k);
    ok(hm_mp_get_double(&r, &d) == 0 && d == 1.5, "float32");
    r = rd("cb3ee4f8b588e368f1", &k);
    ok(hm_mp_get_double(&r, &d) == 0 && fabs(d - 1e-5) < 1e-12, "float64 (Height 1e-5)");
    r = rd("fb", &k);
    ok(hm_mp_get_double(&r, &d) == 0 && d == -5, "int as double");
    r = rd("d9026e31", &k);
    ok(hm_mp_peek(&r) == HM_MP_RAW && hm_mp_get_raw(&r, &p, &n) == 0 && n == 2 &&
           hm_mp_raw_eq(p, n, "n1"),
       "str8 accepted");
    r = rd("c403010203", &k);
    ok(hm_mp_get_raw(&r, &p, &n) == 0 && n == 3 && p[2] == 3, "bin8 accepted");
    r = rd("c5000101", &k);
    ok(hm_mp_get_raw(&r, &p, &n) == 0 && n == 1, "bin16 accepted");
    r = rd("c0", &k);
    ok(hm_mp_get_raw(&r, &p, &n) == 0 && n == 0 && p == NULL, "nil raw");
    r = rd("a56e31", &k);
    ok(hm_mp_get_raw(&r, &p, &n) < 0 && r.p == k, "raw longer than input rejected");
    r = rd("dbffffffff00", &k);
    ok(hm_mp_get_raw(&r, &p, &n) < 0, "raw32 with huge length rejected");
    r = rd("de0002", &k);
    ok(hm_mp_get_map(&r, &cnt) == 0 && cnt == 2, "map16 header");
    r = rd("dd00000003", &k);
    ok(hm_mp_get_array(&r, &cnt) == 0 && cnt == 3, "array32 header");
    r = rd("dc00", &k);
    ok(hm_mp_get_array(&r, &cnt) < 0, "truncated array16 header");

    /* skip / complete */
    r = rd("82a161938001c0a162d70100000000000000007b", &k);
    ok(hm_mp_complete(&r, &used) == 1 && used == 19, "complete nested map with fixext8");
    ok(hm_mp_skip(&r) == 0 && hm_mp_get_uint(&r, &u) == 0 && u == 0x7b, "skip nested");
    r = rd("82a16193800102", &k);
    ok(hm_mp_complete(&r, &used) == 0, "truncated map: need more");
    ok(hm_mp_skip(&r) < 0 && r.p == k, "skip of truncated map fails, cursor kept");
    r = rd("92c1c0", &k);
    ok(hm_mp_complete(&r, &used) == -1, "0xc1 invalid");
    r = rd("ddffffffff00", &k);
    ok(hm_mp_complete(&r, &used) == 0, "huge array count on short input: need more");
    r = rd("c7020a0102", &k);
    ok(hm_mp_complete(&r, &used) == 1 && used == 5 && hm_mp_peek(&r) == HM_MP_EXT, "ext8");
    {
        /* 100000 nested arrays: no recursion, no stack overflow */
        size_t deep = 100000, j;
        uint8_t *dp = malloc(deep + 1);
        for (j = 0; j < deep; j++)
            dp[j] = 0x91;
        dp[deep] = 0xc0;
        hm_mp_reader_init(&r, dp, deep + 1);
        ok(hm_mp_skip(&r) == 0 && r.p == r.end, "deep nesting skipped iteratively");
        free(dp);
    }
    r = rd("", &k);
    ok(hm_mp_peek(&r) == HM_MP_INVALID && hm_mp_get_nil(&r) < 0 && hm_mp_skip(&r) < 0,
       "empty input");
    ok(hm_mp_raw_eq((const uint8_t *)"ab", 2, "ab") &&
           !hm_mp_raw_eq((const uint8_t *)"ab", 1, "ab"),
       "raw_eq");
    free(k);
}

/* Round trip of every integer form through writer and reader. */
static void test_roundtrip(void)
{
    static const int64_t vals[] = {0,
                                   1,
                                   127,
                                   128,
                                   255,
                                   256,
                                   65535,
                                   65536,
                                   -1,
                                   -32,
                                   -33,
                                   -128,
                                   -129,
                                   -32768,
                                   -32769,
                                   INT32_MIN,
                                   (int64_t)INT32_MIN - 1,
                                   INT64_MAX,
                                   INT64_MIN};
    size_t j;
    int bad = 0;
    hm_mp_reader_t r;
    int64_t v;

    for (j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
        hm_buf_reset(&b);
        hm_mp_put_int(&b, vals[j]);
        hm_mp_reader_init(&r, b.data, b.len);
        if (hm_mp_get_int(&r, &v) < 0 || v != vals[j] || r.p != r.end)
            bad++;
    }
    is_int(bad, 0, "int round trips");
}

int main(void)
{
    test_writer();
    test_reader();
    test_roundtrip();
    hm_buf_free(&b);
    return done_testing();
}
