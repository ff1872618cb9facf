/* hm_lzw and the compression envelope: Go compress/lzw vectors from serf. */
#include <stdio.h>

#include "hm_mlwire.h"
#include "tap.h"
#include "wire_util.h"

/* shared/spec/memberlist-wire.md 3.4.1 */
static const char *ACK150 =
    "0282a75061796c6f6164da00820184aa41646a7573746d656e74cb0000000000000000a54572726f72cb3ff8"
    "000000000000a6486569676874cb3ee4f8b588e368f1a356656398cb0000000000000000cb00000000000000"
    "00cb0000000000000000cb0000000000000000cb0000000000000000cb0000000000000000cb000000000000"
    "0000cb0000000000000000a55365714e6f01";
static const char *PKT113 =
    "0982a4416c676f00a3427566da00620005083a05254c1e366fc290d10640500042aa82905153670e9d3665dc"
    "d05906a0a3c78ea58ac891f346ceb21ff83e763485a44c9a336836fa2087af16a27168e28db252660c268e2a"
    "3b020d3a5465d18f473d26151a9469d35253cac471f2264040";

static hm_buf_t b, o;

static void vec(const char *plain, size_t n, const char *hex)
{
    hm_buf_reset(&b);
    ok(hm_lzw_encode((const uint8_t *)plain, n, &b) == 0 && buf_is_hex(&b, hex),
       "encode %zu bytes \"%.12s\"", n, plain);
    hm_buf_reset(&o);
    ok(hm_lzw_decode(b.data, b.len, &o, 1 << 20) == 0 && o.len == n &&
           (n == 0 || memcmp(o.data, plain, n) == 0),
       "decode back");
}

static void test_vectors(void)
{
    vec("", 0, "000302");
    vec("a", 1, "00c30404");
    vec("aaaaaaaaaa", 10, "00c3081c483020");
    vec("TOBEORNOTTOBEORTOBEORNOT", 24, "00a93c1152e48914274fa80824687061c183090302");
}

static void test_ack_packet(void)
{
    size_t n, pn, used;
    uint8_t *plain = unhex(ACK150, &n), *pkt = unhex(PKT113, &pn);

    is_int(pn, 113, "captured packet is 113 bytes");
    hm_buf_reset(&b);
    ok(hm_ml_put_compress(&b, plain, n) == 0 && buf_is_hex(&b, PKT113),
       "150-byte ackResp compresses to the captured 113-byte packet");
    hm_buf_reset(&o);
    ok(pkt[0] == HM_ML_COMPRESS && hm_ml_get_compress(pkt + 1, pn - 1, &o, &used) == 0 &&
           used == pn - 1 && o.len == n && memcmp(o.data, plain, n) == 0,
       "captured packet decompresses to the ackResp");
    /* Algo must be 0 */
    pkt[7] = 1;
    hm_buf_reset(&o);
    ok(hm_ml_get_compress(pkt + 1, pn - 1, &o, &used) < 0, "unknown Algo rejected");
    pkt[7] = 0;
    hm_buf_reset(&o);
    ok(hm_ml_get_compress(pkt + 1, pn - 10, &o, &used) < 0, "truncated envelope rejected");
    free(plain);
    free(pkt);
}

static uint64_t rng = 88172645463325252ull;

static uint32_t xr(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* Checks the structure of an encoded stream: how many CLEAR codes it has,
 * walking it with the same width rules as the decoder. */
static int count_clears(const uint8_t *p, size_t n)
{
    uint32_t acc = 0, nb = 0, w = 9, hi = 257, ov = 512, code, last = 0xffff;
    size_t pos = 0;
    int clears = 0;

    for (;;) {
        while (nb < w) {
            if (pos >= n)
                return -1;
            acc |= (uint32_t)p[pos++] << nb;
            nb += 8;
        }
        code = acc & ((1u << w) - 1);
        acc >>= w;
        nb -= w;
        if (code == 256) {
            clears++;
            w = 9, hi = 257, ov = 512, last = 0xffff;
            continue;
        }
        if (code == 257)
            return clears;
        last = code;
        hi++;
        if (hi >= ov) {
            if (w == 12)
                hi--, last = 0xffff;
            else
                w++, ov <<= 1;
        }
        (void)last;
    }
}

static void test_random(void)
{
    static const size_t sizes[] = {2, 3, 100, 511, 4096, 20000, 100000, 300000};
    size_t s, i, n;
    uint8_t *in;
    int bad = 0, resets_seen = 0, clears;

    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int kind;
        for (kind = 0; kind < 3; kind++) {
            n = sizes[s];
            in = malloc(n);
            for (i = 0; i < n; i++) {
                /* kind 0: random bytes; 1: small alphabet (long matches); 2: text-like */
                uint32_t r = xr();
                in[i] = kind == 0   ? (uint8_t)r
                        : kind == 1 ? (uint8_t)('a' + r % 3)
                                    : (uint8_t)(" etaoinshrdlu"[r % 13]);
            }
            hm_buf_reset(&b);
            hm_buf_reset(&o);
            if (hm_lzw_encode(in, n, &b) < 0 || hm_lzw_decode(b.data, b.len, &o, n) < 0 ||
                o.len != n || memcmp(o.data, in, n) != 0) {
                bad++;
                diag("round trip failed: size %zu kind %d", n, kind);
            }
            clears = count_clears(b.data, b.len);
            if (clears > 1)
                resets_seen++;
            if (clears < 1)
                bad++;
            free(in);
        }
    }
    is_int(bad, 0, "random round trips (sizes up to 300000, three alphabets)");
    ok(resets_seen >= 6, "table resets (>4095 codes) exercised: %d streams", resets_seen);

    /* output limit honoured */
    in = calloc(1, 10000);
    hm_buf_reset(&b);
    hm_lzw_encode(in, 10000, &b);
    hm_buf_reset(&o);
    ok(hm_lzw_decode(b.data, b.len, &o, 9999) < 0, "decode beyond max_out refused");
    hm_buf_reset(&o);
    ok(hm_lzw_decode(b.data, b.len, &o, 10000) == 0 && o.len == 10000, "exactly max_out ok");
    free(in);
}

static void test_malformed(void)
{
    static const uint8_t noeof[] = {0x00, 0xc3, 0x00}; /* CLEAR 'a' then zero bits */
    uint8_t bad_code[3];
    size_t k;
    int fails = 0;

    hm_buf_reset(&o);
    ok(hm_lzw_decode(noeof, 2, &o, 100) < 0, "stream without EOF rejected");
    hm_buf_reset(&o);
    ok(hm_lzw_decode(NULL, 0, &o, 100) < 0, "empty stream rejected");
    /* CLEAR then code 300 (> hi): invalid code.  LSB packing: 256 | 300 << 9 */
    {
        uint32_t v = 256u | 300u << 9;
        bad_code[0] = (uint8_t)v;
        bad_code[1] = (uint8_t)(v >> 8);
        bad_code[2] = (uint8_t)(v >> 16);
    }
    hm_buf_reset(&o);
    ok(hm_lzw_decode(bad_code, 3, &o, 100) < 0, "invalid code rejected");
    /* CLEAR then code 258 right after CLEAR (no previous code): invalid */
    {
        uint32_t v = 256u | 258u << 9 | 257u << 18;
        uint8_t s[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
        hm_buf_reset(&o);
        ok(hm_lzw_decode(s, 4, &o, 100) < 0, "first code after CLEAR above 257 rejected");
    }
    /* no leading CLEAR (older Go writers) is fine */
    {
        uint32_t v = 'a' | 257u << 9;
        uint8_t s[3] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16)};
        hm_buf_reset(&o);
        ok(hm_lzw_decode(s, 3, &o, 100) == 0 && o.len == 1 && o.data[0] == 'a',
           "stream without leading CLEAR accepted");
    }
    /* every truncation of a real stream fails */
    hm_buf_reset(&b);
    hm_lzw_encode((const uint8_t *)"TOBEORNOTTOBEORTOBEORNOT", 24, &b);
    for (k = 0; k < b.len - 1; k++) {
        hm_buf_reset(&o);
        if (hm_lzw_decode(b.data, k, &o, 100) == 0)
            fails++;
    }
    is_int(fails, 0, "every truncated stream rejected");
    /* trailing garbage after EOF is ignored (Go stops at EOF) */
    hm_buf_append(&b, "\xff\xff", 2);
    hm_buf_reset(&o);
    ok(hm_lzw_decode(b.data, b.len, &o, 100) == 0 && o.len == 24, "bytes after EOF ignored");
}

/* A compressed compound, as serf sends gossip when compression helps. */
static void test_envelope_roundtrip(void)
{
    uint8_t msg[600];
    size_t i, used;

    for (i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i % 7);
    hm_buf_reset(&b);
    ok(hm_ml_put_compress(&b, msg, sizeof(msg)) == 0 && b.len < sizeof(msg), "compress 600 B");
    ok(b.data[1] == 0x82 && b.data[2] == 0xa4 &&
           memcmp(b.data + 3,
                  "Algo\x00\xa3"
                  "Buf",
                  9) == 0,
       "envelope keys sorted: Algo 0, Buf");
    hm_buf_append(&b, "\x06trailing", 9); /* stream: next object follows */
    hm_buf_reset(&o);
    ok(hm_ml_get_compress(b.data + 1, b.len - 1, &o, &used) == 0 && o.len == sizeof(msg) &&
           memcmp(o.data, msg, sizeof(msg)) == 0 && used == b.len - 1 - 9,
       "decompress; used stops at the object end");
}

int main(void)
{
    test_vectors();
    test_ack_packet();
    test_random();
    test_malformed();
    test_envelope_roundtrip();
    hm_buf_free(&b);
    hm_buf_free(&o);
    return done_testing();
}
