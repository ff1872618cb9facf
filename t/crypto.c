/* mod_crypto's pure parts: AES-GCM vectors, memberlist's envelope (v0/v1),
 * the keyring and its file, the key query payloads, the transforms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "../modules/crypto/aesgcm.h"
#include "../modules/crypto/keyq.h"
#include "../modules/crypto/keyring.h"
#include "../modules/crypto/transform.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static int eq_hex(const uint8_t *p, size_t n, const char *h)
{
    uint8_t b[512];
    size_t m = unhex(h, b);
    return m == n && memcmp(p, b, n) == 0;
}

/* The GCM paper's test cases (McGrew & Viega), 96-bit IVs. */
static const struct {
    const char *name, *k, *iv, *p, *a, *c, *t;
} vec[] = {
    {"AES-128 case 1", "00000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {"AES-128 case 2", "00000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"},
    {"AES-128 case 3", "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
     "49a6b525b16aedf5aa0de657ba637b391aafd255",
     "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5a"
     "ac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"AES-128 case 4 (AAD)", "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
     "49a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5a"
     "ac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"AES-192 case 8", "000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "98e7247c07f0fe411c267e4384b0f600", "2ff58d80033927ab8ef4d4587514f0fb"},
    {"AES-256 case 14", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"AES-256 case 16 (AAD)", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
     "49a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
     "56828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static void test_vectors(void)
{
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        uint8_t k[32], iv[12], p[64], a[32], c[64], t[16], out[64];
        size_t kl = unhex(vec[i].k, k), ivl = unhex(vec[i].iv, iv), pl = unhex(vec[i].p, p),
               al = unhex(vec[i].a, a);
        ok(crypto_gcm_encrypt(k, kl, iv, ivl, a, al, p, pl, c, t) == 0 && eq_hex(c, pl, vec[i].c) &&
               eq_hex(t, 16, vec[i].t),
           "%s: ciphertext and tag", vec[i].name);
        ok(crypto_gcm_decrypt(k, kl, iv, ivl, a, al, c, pl, out, t) == 0 && memcmp(out, p, pl) == 0,
           "%s: decrypts", vec[i].name);
        t[0] ^= 1;
        ok(crypto_gcm_decrypt(k, kl, iv, ivl, a, al, c, pl, out, t) < 0,
           "%s: flipped tag bit rejected", vec[i].name);
    }
}

static void test_envelope(void)
{
    uint8_t key[16], nonce[12], k2[32];
    hm_buf_t b = {0}, o = {0};
    const char *msg = "hello memberlist";

    unhex("feffe9928665731c6d6a8f9467308308", key);
    unhex("cafebabefacedbaddecaf888", nonce);
    memset(k2, 7, sizeof(k2));

    /* v1: [1][nonce][GCM(msg)] -- same bytes as raw GCM with that nonce. */
    ok(crypto_seal(1, key, 16, nonce, (const uint8_t *)msg, 16, NULL, 0, &b) == 0, "v1 seal");
    is_int(b.len, 16 + 29, "v1 adds 29 bytes");
    is_int(b.data[0], 1, "v1 version byte");
    ok(memcmp(b.data + 1, nonce, 12) == 0, "v1 nonce follows the version");
    {
        uint8_t c[16], t[16];
        crypto_gcm_encrypt(key, 16, nonce, 12, NULL, 0, (const uint8_t *)msg, 16, c, t);
        ok(memcmp(b.data + 13, c, 16) == 0 && memcmp(b.data + 29, t, 16) == 0,
           "v1 body is ciphertext||tag");
    }
    ok(crypto_open(key, 16, b.data, b.len, NULL, 0, &o) == 0 && o.len == 16 &&
           memcmp(o.data, msg, 16) == 0,
       "v1 opens");
    hm_buf_reset(&o);
    ok(crypto_open(k2, 32, b.data, b.len, NULL, 0, &o) < 0, "v1 wrong key fails");

    /* v0: PKCS7-style pad to 16, always at least one byte. */
    for (size_t n = 0; n <= 33; n += 11) {
        hm_buf_reset(&b);
        hm_buf_reset(&o);
        ok(crypto_seal(0, k2, 32, NULL, (const uint8_t *)"0123456789abcdef0123456789abcdefX", n,
                       NULL, 0, &b) == 0 &&
               b.len == 1 + 12 + (n / 16 + 1) * 16 + 16,
           "v0 seal of %zu bytes pads to %zu", n, (n / 16 + 1) * 16);
        ok(crypto_open(k2, 32, b.data, b.len, NULL, 0, &o) == 0 && o.len == n &&
               memcmp(o.data, "0123456789abcdef0123456789abcdefX", n) == 0,
           "v0 open of %zu bytes strips the pad", n);
    }
    /* Too short for the version, unknown version. */
    hm_buf_reset(&o);
    ok(crypto_open(k2, 32, b.data, 44, NULL, 0, &o) < 0, "v0 shorter than 45 rejected");
    b.data[0] = 2;
    ok(crypto_open(k2, 32, b.data, b.len, NULL, 0, &o) < 0, "version 2 rejected");
    ok(crypto_open(k2, 32, b.data, 0, NULL, 0, &o) < 0, "empty rejected");
    /* Additional data is authenticated. */
    hm_buf_reset(&b);
    crypto_seal(1, key, 16, NULL, (const uint8_t *)"x", 1, (const uint8_t *)"\x0a\0\0\0\x1e", 5,
                &b);
    hm_buf_reset(&o);
    ok(crypto_open(key, 16, b.data, b.len, (const uint8_t *)"\x0a\0\0\0\x1e", 5, &o) == 0,
       "AD matches");
    ok(crypto_open(key, 16, b.data, b.len, (const uint8_t *)"\x0a\0\0\0\x1f", 5, &o) < 0,
       "AD mismatch rejected");
    hm_buf_free(&b);
    hm_buf_free(&o);
}

/* Envelopes built independently (Python's `cryptography` AESGCM following
 * memberlist's security.go: version byte, nonce, PKCS7-style pad for v0,
 * the 5 header bytes as AD on streams), nonce 000102..0b. */
#define XK "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4="
#define XMSG "0082a44e6f6465a16aa55365714e6f2a"
#define XV1                                                                                        \
    "01000102030405060708090a0b022ebfdd2444fc4b02ffc0f58bbf1733e3738d18ebc1fc8aa906b5834ddd61df"
#define XV0                                                                                        \
    "00000102030405060708090a0b022ebfdd2444fc4b02ffc0f58bbf17334a3ba8d9e2975c51006cb62a6e2d7d83c"  \
    "e22a9187015f22237a907f03896597a"
#define XST                                                                                        \
    "0a0000002d01000102030405060708090a0b022ebfdd2444fc4b02ffc0f58bbf17338614747c65879cafead8d06"  \
    "8234185b0"

static void test_independent(void)
{
    crypto_key_t k;
    const char *err;
    uint8_t msg[16], nonce[12], v1[64], v0[80], st[64];
    size_t v1n = unhex(XV1, v1), v0n = unhex(XV0, v0), stn = unhex(XST, st), used;
    hm_buf_t b = {0};
    crypto_state_t s = {0};

    crypto_key_parse(XK, &k, &err);
    unhex(XMSG, msg);
    unhex("000102030405060708090a0b", nonce);
    crypto_seal(1, k.k, k.len, nonce, msg, 16, NULL, 0, &b);
    ok(b.len == v1n && memcmp(b.data, v1, v1n) == 0, "v1 seal = independent v1 bytes");
    hm_buf_reset(&b);
    crypto_seal(0, k.k, k.len, nonce, msg, 16, NULL, 0, &b);
    ok(b.len == v0n && memcmp(b.data, v0, v0n) == 0, "v0 seal = independent v0 bytes (pad 16)");
    hm_buf_reset(&b);
    ok(crypto_open(k.k, k.len, v0, v0n, NULL, 0, &b) == 0 && b.len == 16 &&
           memcmp(b.data, msg, 16) == 0,
       "independent v0 opens, pad removed");
    crypto_keyring_add(&s.ring, k.k, k.len, &err);
    s.verify_incoming = true;
    hm_buf_reset(&b);
    ok(crypto_stream_in(&s, st, stn, &b, &used) == HM_OK && used == stn && b.len == 16 &&
           memcmp(b.data, msg, 16) == 0,
       "independent stream frame opens (AD = header)");
    crypto_keyring_free(&s.ring);
    hm_buf_free(&b);
}

static void test_keyring(void)
{
    crypto_keyring_t kr = {0};
    crypto_key_t a, b, c;
    const char *err = NULL;
    char path[] = "/tmp/hm-crypto-XXXXXX", file[64], text[512], enc[CRYPTO_B64_MAX];
    FILE *f;
    struct stat sb;
    size_t n;

    ok(crypto_key_parse("QHOYjmYlxSCBhdfiolhtDQ==", &a, &err) == 0 && a.len == 16, "16-byte key");
    ok(crypto_key_parse("5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=", &b, &err) == 0 &&
           b.len == 32,
       "32-byte key");
    ok(crypto_key_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &c, &err) == 0 && c.len == 24,
       "24-byte key");
    ok(crypto_key_parse("AAAA", &c, &err) < 0 &&
           strcmp(err, "key size must be 16, 24 or 32 bytes") == 0,
       "3-byte key: Serf's size error");
    ok(crypto_key_parse("QHOYjmYlxSCBhdfiolhtDQ=", &c, &err) < 0, "bad padding rejected");
    ok(crypto_key_parse("QHOYjmYlxSCBhdfiolhtDR==", &c, &err) < 0,
       "non-zero trailing bits rejected (Go strict)");
    crypto_b64_encode(b.k, b.len, enc);
    is_str(enc, "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=", "base64 round trip");

    ok(crypto_keyring_add(&kr, a.k, a.len, &err) == 0 && kr.n == 1, "add first = primary");
    ok(crypto_keyring_add(&kr, b.k, b.len, &err) == 0 && kr.n == 2 &&
           crypto_keyring_primary(&kr)->len == 16,
       "add second keeps primary");
    ok(crypto_keyring_add(&kr, b.k, b.len, &err) == 0 && kr.n == 2, "re-adding is a no-op");
    ok(crypto_keyring_add(&kr, b.k, 5, &err) < 0, "bad size refused");
    ok(crypto_keyring_use(&kr, c.k, 3, &err) < 0 &&
           strcmp(err, "Requested key is not in the keyring") == 0,
       "use unknown key");
    ok(crypto_keyring_remove(&kr, a.k, a.len, &err) < 0 &&
           strcmp(err, "Removing the primary key is not allowed") == 0,
       "cannot remove primary");
    ok(crypto_keyring_use(&kr, b.k, b.len, &err) == 0 && kr.v[0].len == 32 && kr.v[1].len == 16,
       "use moves the key first");

    ok(mkdtemp(path) != NULL, "temp dir");
    snprintf(file, sizeof(file), "%s/keyring", path);
    ok(crypto_keyring_save(&kr, file, text, sizeof(text)) == 0, "save");
    f = fopen(file, "r");
    n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = 0;
    if (f)
        fclose(f);
    is_str(text,
           "[\n  \"5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=\",\n"
           "  \"QHOYjmYlxSCBhdfiolhtDQ==\"\n]",
           "file written as Serf's json.MarshalIndent");
    ok(stat(file, &sb) == 0 && (sb.st_mode & 0777) == 0600, "mode 0600");
    {
        crypto_keyring_t k2 = {0};
        ok(crypto_keyring_load(&k2, file, text, sizeof(text)) == 0 && k2.n == 2 &&
               k2.v[0].len == 32,
           "load back, primary first");
        crypto_keyring_free(&k2);
        f = fopen(file, "w");
        fputs("[]", f);
        fclose(f);
        ok(crypto_keyring_load(&k2, file, text, sizeof(text)) < 0 &&
               strcmp(text, "Keyring file contains no keys") == 0,
           "empty keyring file refused");
        crypto_keyring_free(&k2);
        f = fopen(file, "w");
        fputs("[\"AAAA\"]", f);
        fclose(f);
        ok(crypto_keyring_load(&k2, file, text, sizeof(text)) < 0, "bad key in file refused");
        crypto_keyring_free(&k2);
        unlink(file);
        ok(crypto_keyring_load(&k2, file, text, sizeof(text)) < 0, "missing file refused");
        crypto_keyring_free(&k2);
    }
    ok(crypto_keyring_remove(&kr, a.k, a.len, &err) == 0 && kr.n == 1, "remove secondary");
    ok(crypto_keyring_remove(&kr, a.k, a.len, &err) == 0 && kr.n == 1,
       "removing an absent key succeeds");
    rmdir(path);
    crypto_keyring_free(&kr);
}

static void test_keyq(void)
{
    hm_buf_t b = {0};
    const uint8_t *k;
    size_t kl;
    uint8_t key[16];
    crypto_keyresp_dec_t d;
    const char *err;

    memset(key, 0xab, 16);
    crypto_keyreq_encode(key, 16, &b);
    ok(eq_hex(b.data, b.len,
              "0781a34b6579b0"
              "abababababababababababababababab"),
       "keyRequest bytes: [7]{Key: raw}");
    ok(crypto_keyreq_decode(b.data, b.len, &k, &kl) == 0 && kl == 16 && k[0] == 0xab,
       "keyRequest decodes");
    hm_buf_reset(&b);
    crypto_keyreq_encode(key, 0, &b);
    ok(eq_hex(b.data, b.len, "0781a34b6579a0"), "list-keys request carries Key a0");
    /* Go's decoder also accepts bin8 and str8 for []byte. */
    {
        static const uint8_t bin[] = {7, 0x81, 0xa3, 'K', 'e', 'y', 0xc4, 2, 1, 2};
        ok(crypto_keyreq_decode(bin, sizeof(bin), &k, &kl) == 0 && kl == 2 && k[1] == 2,
           "bin8 key accepted");
        ok(crypto_keyreq_decode(bin, sizeof(bin) - 1, &k, &kl) < 0, "truncated rejected");
    }

    hm_buf_reset(&b);
    crypto_keyresp_t r = {true, "", NULL, 0, ""};
    crypto_keyresp_encode(&r, &b);
    ok(eq_hex(b.data, b.len,
              "0884a44b657973c0a74d657373616765a0aa5072696d6172794b6579a0a6526573756c74c3"),
       "install-key success response bytes");
    ok(crypto_keyresp_decode(b.data, b.len, &d, &err) == 0 && d.result && d.keys == NULL &&
           strcmp(d.message, "") == 0,
       "response decodes");
    crypto_keyresp_dec_free(&d);

    const char *keys[] = {"QHOYjmYlxSCBhdfiolhtDQ==",
                          "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4="};
    crypto_keyresp_t l = {true, "", keys, 2, keys[0]};
    hm_buf_reset(&b);
    crypto_keyresp_encode(&l, &b);
    ok(crypto_keyresp_decode(b.data, b.len, &d, &err) == 0 && d.nkeys == 2 &&
           strcmp(d.keys[1], keys[1]) == 0 && strcmp(d.primary, keys[0]) == 0,
       "list response round trip");
    crypto_keyresp_dec_free(&d);
    b.data[0] = 6;
    ok(crypto_keyresp_decode(b.data, b.len, &d, &err) < 0 && strcmp(err, "type") == 0,
       "wrong type byte");

    /* Sizes: a query response of 3 payload bytes from "n1", ID 5, LTime 7. */
    is_int(crypto_qresp_size(7, 5, "n1", 3), 1 + 1 + 6 + 1 + 5 + 3 + 3 + 1 + 6 + 1 + 8 + 4,
           "queryResponse size");

    /* Truncation of a long key list (60 keys * 45 bytes > 1024). */
    {
        const char *many[60];
        char msg[128];
        size_t shown;
        for (int i = 0; i < 60; i++)
            many[i] = keys[1];
        hm_buf_reset(&b);
        shown = 99;
        int rc =
            crypto_keylist_fit(many, 60, keys[1], 1, 1, "node", 1024, &b, &shown, msg, sizeof(msg));
        ok(rc == 0 && shown < 60 && crypto_qresp_size(1, 1, "node", b.len) <= 1024,
           "long key list truncated to fit (%zu shown)", shown);
        char want[128];
        snprintf(want, sizeof(want), "truncated key list response, showing first %zu of 60 keys",
                 shown);
        is_str(msg, want, "truncation message");
        ok(crypto_keylist_fit(many, 2, keys[1], 1, 1, "node", 1024, &b, &shown, msg, sizeof(msg)) ==
                   0 &&
               shown == 2 && msg[0] == 0,
           "short list untouched");
    }

    /* Origin tally. */
    {
        crypto_keyop_result_t res = {0};
        char buf[64];
        static const uint8_t bad[] = {9, 9};
        res.num_nodes = 3;
        hm_buf_reset(&b);
        crypto_keyresp_encode(&l, &b);
        ok(crypto_keyop_add(&res, "n1", b.data, b.len) == 0, "first response");
        crypto_keyresp_t f = {false, "Requested key is not in the keyring", NULL, 0, ""};
        hm_buf_reset(&b);
        crypto_keyresp_encode(&f, &b);
        crypto_keyop_add(&res, "n2", b.data, b.len);
        ok(crypto_keyop_add(&res, "n3", bad, sizeof(bad)) == 1, "last response completes");
        is_int(res.num_err, 2, "two errors");
        is_str(crypto_keyop_error(&res, buf, sizeof(buf)), "2/3 nodes reported failure",
               "overall error");
        is_int(res.nkeys, 2, "two distinct keys counted");
        is_str(res.messages[1].text, "Invalid key query response type: [9 9]",
               "bad type message as Go prints it");
        crypto_keyop_free(&res);
    }
    hm_buf_free(&b);
}

static void test_transforms(void)
{
    crypto_state_t st = {0}, other = {0};
    uint8_t k1[16], k2[32];
    const char *err;
    hm_buf_t w = {0}, p = {0};
    size_t used = 0;
    const uint8_t ping[] = {0, 0x83, 0xa4, 'N', 'o', 'd', 'e'};

    memset(k1, 1, 16);
    memset(k2, 2, 32);
    st.vsn = other.vsn = 1;
    st.verify_incoming = st.verify_outgoing = true;
    other.verify_incoming = other.verify_outgoing = true;

    ok(crypto_packet_out(&st, ping, sizeof(ping), &w) == HM_DECLINED, "no key: out declined");
    ok(crypto_packet_in(&st, ping, sizeof(ping), &p) == HM_DECLINED, "no key: in declined");
    crypto_keyring_add(&st.ring, k1, 16, &err);
    crypto_keyring_add(&other.ring, k2, 32, &err);

    ok(crypto_packet_out(&st, ping, sizeof(ping), &w) == HM_OK && w.len == sizeof(ping) + 29 &&
           w.data[0] == 1,
       "packet sealed as version 1, 29 bytes overhead");
    ok(crypto_packet_in(&other, w.data, w.len, &p) == HM_DROP && other.packets_bad == 1,
       "wrong key: dropped and counted");
    is_str(other.last_error, "No installed keys could decrypt the message", "Serf's reason");
    crypto_keyring_add(&other.ring, k1, 16, &err);
    hm_buf_reset(&p);
    ok(crypto_packet_in(&other, w.data, w.len, &p) == HM_OK && p.len == sizeof(ping) &&
           memcmp(p.data, ping, sizeof(ping)) == 0,
       "secondary key decrypts");
    hm_buf_reset(&p);
    ok(crypto_packet_in(&other, ping, sizeof(ping), &p) == HM_DROP && other.packets_bad == 2,
       "plaintext rejected with verify_incoming");
    other.verify_incoming = false;
    ok(crypto_packet_in(&other, ping, sizeof(ping), &p) == HM_DECLINED,
       "plaintext passed through without verify_incoming");
    st.verify_outgoing = false;
    hm_buf_reset(&w);
    ok(crypto_packet_out(&st, ping, sizeof(ping), &w) == HM_DECLINED,
       "verify_outgoing off: sent plain");
    st.verify_outgoing = true;

    /* Streams: [10][len][blob], AD = header; partial input asks for more. */
    hm_buf_reset(&w);
    ok(crypto_stream_out(&st, ping, sizeof(ping), &w) == HM_OK && w.data[0] == 10 &&
           w.len == 5 + sizeof(ping) + 29,
       "stream framed");
    ok(((uint32_t)w.data[1] << 24 | w.data[2] << 16 | w.data[3] << 8 | w.data[4]) ==
           sizeof(ping) + 29,
       "length field = blob length");
    for (size_t cut = 0; cut < w.len; cut += 7) {
        hm_buf_reset(&p);
        if (crypto_stream_in(&other, w.data, cut, &p, &used) != HM_AGAIN) {
            ok(0, "stream prefix of %zu bytes must ask for more", cut);
            break;
        }
    }
    ok(1, "every prefix asks for more");
    hm_buf_reset(&p);
    {
        /* Extra bytes after the frame are left for the caller. */
        hm_buf_t x = {0};
        hm_buf_append(&x, w.data, w.len);
        hm_buf_append(&x, "tail", 4);
        ok(crypto_stream_in(&other, x.data, x.len, &p, &used) == HM_OK && used == w.len &&
               p.len == sizeof(ping) && memcmp(p.data, ping, sizeof(ping)) == 0,
           "stream opens, consumed = frame");
        x.data[4] ^= 1; /* length is authenticated */
        hm_buf_reset(&p);
        ok(crypto_stream_in(&other, x.data, x.len, &p, &used) != HM_OK,
           "tampered length not accepted");
        hm_buf_free(&x);
    }
    other.verify_incoming = true;
    ok(crypto_stream_in(&other, (const uint8_t *)"\x06\x80", 2, &p, &used) == HM_DROP,
       "plain stream rejected with verify_incoming");
    is_str(other.last_error, "Encryption is configured but remote state is not encrypted",
           "Serf's reason");
    ok(crypto_stream_in(&other, (const uint8_t *)"\x0a\x02\x00\x00\x00", 5, &p, &used) == HM_DROP,
       "over 20 MiB refused");
    {
        crypto_state_t none = {0};
        ok(crypto_stream_in(&none, w.data, w.len, &p, &used) == HM_DROP,
           "encrypted stream without a keyring refused");
        ok(crypto_stream_in(&none, ping, sizeof(ping), &p, &used) == HM_DECLINED,
           "plain stream without a keyring passes");
    }
    crypto_keyring_free(&st.ring);
    crypto_keyring_free(&other.ring);
    hm_buf_free(&w);
    hm_buf_free(&p);
}

/* Garbage never crashes the decoders (deterministic xorshift input; run
 * under --enable-sanitizers to make it count). */
static void test_garbage(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    crypto_state_t st = {0};
    uint8_t k[16] = {1}, buf[300];
    const char *err;
    int accepted = 0;

    crypto_keyring_add(&st.ring, k, 16, &err);
    st.vsn = 1;
    st.verify_incoming = true;
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(i % 300);
        hm_buf_t out = {0};
        const uint8_t *key;
        size_t klen, used;
        crypto_keyresp_dec_t d;
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[j] = (uint8_t)x;
        }
        /* bias towards the interesting first bytes */
        if (n > 0)
            buf[0] = (uint8_t)(i % 4 == 0 ? 7 : i % 4 == 1 ? 8 : i % 4 == 2 ? 10 : buf[0]);
        if (n > 1 && i % 3 == 0)
            buf[1] = (uint8_t)(0x80 | (buf[1] & 0x0f));
        accepted += crypto_keyreq_decode(buf, n, &key, &klen) == 0;
        if (crypto_keyresp_decode(buf, n, &d, &err) == 0)
            crypto_keyresp_dec_free(&d);
        crypto_packet_in(&st, buf, n, &out);
        hm_buf_reset(&out);
        crypto_stream_in(&st, buf, n, &out, &used);
        hm_buf_free(&out);
    }
    ok(1, "20000 random buffers through every decoder (%d key requests parsed)", accepted);
    crypto_keyring_free(&st.ring);
}

int main(void)
{
    test_vectors();
    test_envelope();
    test_independent();
    test_keyring();
    test_keyq();
    test_transforms();
    test_garbage();
    return done_testing();
}
