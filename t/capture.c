/*
 * Replays traffic captured between real serf 0.9.4 agents (files
 * t/data/serf-capture*.txt: "udp SRC>DST HEX" per datagram, "tcp SRC>DST
 * HEX" per stream direction, "# key BASE64" for the keys of an encrypted
 * capture).  Every datagram and stream is taken apart down to its Serf
 * messages (decrypting AES-GCM with the listed keys where needed; the test
 * does that itself with libcrypto), and every layer is re-encoded with
 * hamlet's encoders: the bytes must come out identical to serf's (CRC and
 * compression envelopes, key-query and conflict payloads included).
 */
#include <stdio.h>

#include <openssl/evp.h>

#include "hm_serfwire.h"
#include "tap.h"
#include "wire_util.h"

typedef struct {
    size_t max_lzw;
    int msgs, identical, failed, decrypted, key_requests, key_responses, conflicts;
    int by_type[16], serf_by_type[16];
    char first_fail[256];
} stats_t;

static stats_t st;

static void verdict(bool ok_, const char *what, const uint8_t *orig, size_t n)
{
    st.msgs++;
    if (ok_) {
        st.identical++;
        return;
    }
    st.failed++;
    if (!st.first_fail[0])
        snprintf(st.first_fail, sizeof(st.first_fail), "%s: %.200s", what, hexs(orig, n));
}

static bool same(const hm_buf_t *b, const uint8_t *p, size_t n)
{
    return b->len == n && memcmp(b->data, p, n) == 0;
}

/* ---- Serf layer --------------------------------------------------------- */

static char *dupstr(hm_ml_str_t s)
{
    char *c = malloc(s.n + 1);
    memcpy(c, s.p, s.n);
    c[s.n] = 0;
    return c;
}

/* Internal query payloads: [7] key request, [8] key response, [6] Member. */
static void internal_payload(const uint8_t *p, size_t n)
{
    hm_buf_t b = {0};
    bool good = false;

    if (n < 1)
        return;
    if (p[0] == HM_SERF_KEY_REQUEST) {
        const uint8_t *k;
        size_t kl;
        st.key_requests++;
        good = hm_serf_get_key_request(p + 1, n - 1, &k, &kl) == 0 &&
               hm_serf_put_key_request(&b, k, kl) == 0 && same(&b, p, n);
    } else if (p[0] == HM_SERF_KEY_RESPONSE) {
        hm_serf_key_response_t r;
        st.key_responses++;
        if (hm_serf_get_key_response(p + 1, n - 1, &r) == 0) {
            char *msg = dupstr(r.message), *pk = dupstr(r.primary_key), *keys[16];
            hm_mp_reader_t it;
            hm_ml_str_t s;
            uint32_t i, nk = r.keys.count < 16 ? r.keys.count : 16;
            hm_mp_reader_init(&it, r.keys.p, r.keys.n);
            for (i = 0; i < nk; i++) {
                hm_serf_next_str(&it, &s);
                keys[i] = dupstr(s);
            }
            good = hm_serf_put_key_response(&b, r.result, msg,
                                            r.keys.p ? (const char *const *)keys : NULL, nk,
                                            pk) == 0 &&
                   same(&b, p, n);
            for (i = 0; i < nk; i++)
                free(keys[i]);
            free(msg);
            free(pk);
        }
    } else if (p[0] == HM_SERF_CONFLICT_RESPONSE) {
        hm_serf_member_t m;
        st.conflicts++;
        if (hm_serf_get_conflict_response(p + 1, n - 1, &m) == 0) {
            hm_member_t mm = {0};
            hm_tag_t tags[8];
            char *strs[17];
            hm_mp_reader_t it;
            hm_ml_str_t k, v;
            uint32_t i, nt = m.tags.count < 8 ? m.tags.count : 8, ns = 0;
            hm_mp_reader_init(&it, m.tags.p, m.tags.n);
            for (i = 0; i < nt; i++) {
                hm_serf_next_pair(&it, &k, &v);
                tags[i].key = strs[ns++] = dupstr(k);
                tags[i].value = strs[ns++] = dupstr(v);
            }
            mm.name = strs[ns++] = dupstr(m.name);
            mm.addr = m.addr;
            mm.tags.v = tags;
            mm.tags.n = nt;
            mm.status = m.status;
            memcpy(mm.vsn, m.vsn, 6);
            /* Go writes map entries in random order: compare only when that
             * cannot matter */
            good = hm_serf_put_conflict_response(&b, m.present ? &mm : NULL) == 0 &&
                   (nt > 1 || same(&b, p, n));
            for (i = 0; i < ns; i++)
                free(strs[i]);
        }
    } else {
        return;
    }
    verdict(good, "internal query payload", p, n);
    hm_buf_free(&b);
}

static int collect_event(void *ud, uint64_t ltime, const hm_serf_event_t *ev)
{
    hm_buf_t *evs = ud;
    (void)ltime;
    return hm_buf_append(evs, ev, sizeof(*ev));
}

/* Rebuilds a Serf push/pull state from its view and re-encodes it. */
static void serf_push_pull(const uint8_t *p, size_t n)
{
    hm_serf_push_pull_view_t v;
    hm_serf_push_pull_t pp = {0};
    hm_buf_t b = {0}, status = {0}, left = {0}, slots = {0}, evs = {0};
    hm_mp_reader_t it, sit;
    uint32_t i;
    bool good = hm_serf_get_push_pull(p + 1, n - 1, &v) == 0;

    if (good) {
        hm_serf_status_ltime_t s;
        hm_ml_str_t l;
        hm_mp_reader_init(&it, v.status.p, v.status.n);
        for (i = 0; i < v.status.count; i++) {
            hm_serf_next_ltime(&it, &s.name, &s.ltime);
            hm_buf_append(&status, &s, sizeof(s));
        }
        hm_mp_reader_init(&it, v.left.p, v.left.n);
        for (i = 0; i < v.left.count; i++) {
            hm_serf_next_str(&it, &l);
            hm_buf_append(&left, &l, sizeof(l));
        }
        /* slots: walk the encoded array; events come per non-nil slot */
        hm_mp_reader_init(&it, v.events.p, v.events.n);
        for (i = 0; i < v.events.count; i++) {
            hm_serf_event_slot_t slot = {0};
            if (hm_mp_peek(&it) == HM_MP_NIL) {
                it.p++;
            } else {
                /* decode this one slot through a one-slot view */
                hm_serf_push_pull_view_t one = {0};
                size_t used, before = evs.len;
                hm_mp_complete(&it, &used);
                one.events.p = it.p;
                one.events.n = used;
                one.events.count = 1;
                sit = it;
                sit.p += used;
                /* LTime of the slot */
                {
                    hm_mp_reader_t r2 = it;
                    uint32_t mn, k;
                    const uint8_t *kp;
                    size_t kl;
                    hm_mp_get_map(&r2, &mn);
                    for (k = 0; k < mn; k++) {
                        hm_mp_get_raw(&r2, &kp, &kl);
                        if (hm_mp_raw_eq(kp, kl, "LTime"))
                            hm_mp_get_uint(&r2, &slot.ltime);
                        else
                            hm_mp_skip(&r2);
                    }
                }
                hm_serf_pp_events(&one, collect_event, &evs);
                slot.present = true;
                slot.n = (evs.len - before) / sizeof(hm_serf_event_t);
                slot.events = (const hm_serf_event_t *)(uintptr_t)before; /* fixed below */
                it = sit;
            }
            hm_buf_append(&slots, &slot, sizeof(slot));
        }
        {
            hm_serf_event_slot_t *sl = (hm_serf_event_slot_t *)slots.data;
            size_t k, ns = slots.len / sizeof(*sl);
            for (k = 0; k < ns; k++)
                if (sl[k].present)
                    sl[k].events = (const hm_serf_event_t *)(evs.data + (uintptr_t)sl[k].events);
        }
        pp.ltime = v.ltime;
        pp.event_ltime = v.event_ltime;
        pp.query_ltime = v.query_ltime;
        pp.status = (const hm_serf_status_ltime_t *)status.data;
        pp.n_status = status.len / sizeof(hm_serf_status_ltime_t);
        pp.left =
            left.len ? (const hm_ml_str_t *)left.data : (v.left.p ? (const hm_ml_str_t *)"" : NULL);
        pp.n_left = left.len / sizeof(hm_ml_str_t);
        pp.slots = (const hm_serf_event_slot_t *)slots.data;
        pp.n_slots = slots.len / sizeof(hm_serf_event_slot_t);
        good = hm_serf_put_push_pull(&b, &pp) == 0 && same(&b, p, n);
    }
    verdict(good, "serf push/pull", p, n);
    hm_buf_free(&b);
    hm_buf_free(&status);
    hm_buf_free(&left);
    hm_buf_free(&slots);
    hm_buf_free(&evs);
}

static void serf_msg(const uint8_t *p, size_t n)
{
    hm_buf_t b = {0};
    bool good = false;

    if (n < 1) {
        verdict(false, "empty serf message", p, n);
        return;
    }
    st.serf_by_type[p[0] & 15]++;
    switch (p[0]) {
    case HM_SERF_LEAVE:
    case HM_SERF_JOIN: {
        hm_serf_intent_t m;
        char name[256];
        if (hm_serf_get_intent(p + 1, n - 1, &m) == 0 && m.node.n < sizeof(name)) {
            snprintf(name, sizeof(name), "%.*s", (int)m.node.n, m.node.p);
            if (p[0] == HM_SERF_JOIN)
                hm_serf_put_join(&b, m.ltime, name);
            else
                hm_serf_put_leave(&b, m.ltime, name, m.prune);
            good = same(&b, p, n);
        }
        break;
    }
    case HM_SERF_USER_EVENT: {
        hm_serf_user_event_t m;
        good = hm_serf_get_user_event(p + 1, n - 1, &m) == 0 &&
               hm_serf_put_user_event(&b, &m) == 0 && same(&b, p, n);
        break;
    }
    case HM_SERF_QUERY: {
        hm_serf_query_t m;
        good = hm_serf_get_query(p + 1, n - 1, &m) == 0 && hm_serf_put_query(&b, &m) == 0 &&
               same(&b, p, n);
        if (good && m.name.n > 6 && memcmp(m.name.p, "_serf_", 6) == 0 && m.payload)
            internal_payload(m.payload, m.payload_len);
        break;
    }
    case HM_SERF_QUERY_RESPONSE: {
        hm_serf_query_response_t m;
        good = hm_serf_get_query_response(p + 1, n - 1, &m) == 0 &&
               hm_serf_put_query_response(&b, &m) == 0 && same(&b, p, n);
        if (good && m.payload)
            internal_payload(m.payload, m.payload_len);
        break;
    }
    case HM_SERF_RELAY: {
        hm_addr_t a;
        hm_ml_str_t dn;
        const uint8_t *in;
        size_t il;
        good = hm_serf_get_relay(p + 1, n - 1, &a, &dn, &in, &il) == 0;
        if (good)
            serf_msg(in, il);
        break;
    }
    case HM_SERF_PUSH_PULL:
        serf_push_pull(p, n);
        return;
    default:
        break;
    }
    verdict(good, "serf message", p, n);
    hm_buf_free(&b);
}

/* ---- memberlist layer ---------------------------------------------------- */

static void ml_msg(const uint8_t *p, size_t n);

static void ml_body(const uint8_t *p, size_t n)
{
    hm_buf_t b = {0}, out = {0};
    bool good = false;
    const uint8_t *parts[255], *pl;
    size_t lens[255], plen, used;
    int cnt, i;

    switch (p[0]) {
    case HM_ML_PING: {
        hm_ml_ping_t m;
        good =
            hm_ml_get_ping(p + 1, n - 1, &m) == 0 && hm_ml_put_ping(&b, &m) == 0 && same(&b, p, n);
        break;
    }
    case HM_ML_INDIRECT_PING: {
        hm_ml_indirect_ping_t m;
        good = hm_ml_get_indirect_ping(p + 1, n - 1, &m) == 0 &&
               hm_ml_put_indirect_ping(&b, &m) == 0 && same(&b, p, n);
        break;
    }
    case HM_ML_ACK: {
        hm_ml_ack_t m;
        hm_coord_t c;
        good = hm_ml_get_ack(p + 1, n - 1, &m) == 0 && hm_ml_put_ack(&b, &m) == 0 && same(&b, p, n);
        if (good && m.payload_len > 0) {
            hm_buf_t cb = {0};
            good = hm_serf_get_coord(m.payload, m.payload_len, &c) == 0 &&
                   hm_serf_put_coord(&cb, &c) == 0 && same(&cb, m.payload, m.payload_len);
            hm_buf_free(&cb);
        }
        break;
    }
    case HM_ML_NACK: {
        hm_ml_nack_t m;
        good =
            hm_ml_get_nack(p + 1, n - 1, &m) == 0 && hm_ml_put_nack(&b, &m) == 0 && same(&b, p, n);
        break;
    }
    case HM_ML_SUSPECT:
    case HM_ML_DEAD: {
        hm_ml_accuse_t m;
        good = hm_ml_get_accuse(p + 1, n - 1, &m) == 0 &&
               (p[0] == HM_ML_DEAD ? hm_ml_put_dead(&b, &m) : hm_ml_put_suspect(&b, &m)) == 0 &&
               same(&b, p, n);
        break;
    }
    case HM_ML_ALIVE: {
        hm_ml_alive_t m;
        good = hm_ml_get_alive(p + 1, n - 1, &m) == 0 && hm_ml_put_alive(&b, &m) == 0 &&
               same(&b, p, n);
        break;
    }
    case HM_ML_USER:
        serf_msg(p + 1, n - 1);
        good = true;
        break;
    case HM_ML_COMPOUND: {
        hm_buf_t bufs[255];
        cnt = hm_ml_split_compound(p + 1, n - 1, parts, lens, 255);
        memset(bufs, 0, sizeof(bufs));
        for (i = 0; i < cnt; i++) {
            ml_msg(parts[i], lens[i]);
            hm_buf_append(&bufs[i], parts[i], lens[i]);
        }
        good = cnt > 0 && hm_ml_put_compound(&b, bufs, (size_t)cnt) == 0 && same(&b, p, n);
        for (i = 0; i < cnt; i++)
            hm_buf_free(&bufs[i]);
        break;
    }
    case HM_ML_HAS_CRC:
        good = hm_ml_check_crc(p + 1, n - 1, &pl, &plen) == 0 && hm_ml_put_crc(&b, pl, plen) == 0 &&
               same(&b, p, n);
        if (good)
            ml_msg(pl, plen);
        break;
    case HM_ML_COMPRESS:
        good = hm_ml_get_compress(p + 1, n - 1, &out, &used) == 0 && used == n - 1 &&
               hm_ml_put_compress(&b, out.data, out.len) == 0 && same(&b, p, n);
        if (good)
            ml_msg(out.data, out.len);
        break;
    default:
        break;
    }
    verdict(good, "memberlist message", p, n);
    hm_buf_free(&b);
    hm_buf_free(&out);
}

static void ml_msg(const uint8_t *p, size_t n)
{
    if (n < 1) {
        verdict(false, "empty message", p, n);
        return;
    }
    st.by_type[p[0] & 15]++;
    ml_body(p, n);
}

typedef struct {
    hm_buf_t nodes; /* hm_ml_push_node_t */
} pp_collect_t;

static int collect_node(void *ud, const hm_ml_push_node_t *node)
{
    pp_collect_t *c = ud;
    return hm_buf_append(&c->nodes, node, sizeof(*node));
}

/* A TCP stream: [9]{compress} around [6] push/pull (or [8] user, [0] ping) */
static void stream(const uint8_t *p, size_t n)
{
    hm_buf_t out = {0}, b = {0};
    const uint8_t *m = p, *us;
    size_t mn = n, used;
    hm_ml_push_header_t hdr;
    pp_collect_t c = {{0}};
    bool good;

    if (n > 0 && p[0] == HM_ML_COMPRESS) {
        good = hm_ml_get_compress(p + 1, n - 1, &out, &used) == 0 && used == n - 1 &&
               hm_ml_put_compress(&b, out.data, out.len) == 0 && same(&b, p, n);
        verdict(good, "stream compression envelope", p, n);
        if (good && n > st.max_lzw)
            st.max_lzw = n;
        m = out.data;
        mn = out.len;
        hm_buf_reset(&b);
    }
    if (mn > 0 && m[0] == HM_ML_PUSH_PULL) {
        st.by_type[HM_ML_PUSH_PULL]++;
        good = hm_ml_get_push_pull(m + 1, mn - 1, &hdr, collect_node, &c, &us, &used) == 0 &&
               used == mn - 1 &&
               hm_ml_put_push_pull(&b, hdr.join, (const hm_ml_push_node_t *)c.nodes.data, hdr.nodes,
                                   us, hdr.user_state_len) == 0 &&
               same(&b, m, mn);
        verdict(good, "push/pull", m, mn);
        if (good && hdr.user_state_len > 0)
            serf_msg(us, hdr.user_state_len);
    } else if (mn > 0) {
        ml_msg(m, mn);
    }
    hm_buf_free(&out);
    hm_buf_free(&b);
    hm_buf_free(&c.nodes);
}

/* ---- AES-GCM as memberlist uses it (the test's own, for the capture) ---- */

static uint8_t keys[8][32];
static int key_len[8], nkeys;

static void add_key(const char *b64)
{
    uint8_t out[64];
    size_t l = strlen(b64);
    int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)l);

    while (l > 0 && b64[l - 1] == '=')
        l--, n--; /* EVP_DecodeBlock counts padding as zero bytes */
    if (nkeys < 8 && (n == 16 || n == 24 || n == 32)) {
        memcpy(keys[nkeys], out, (size_t)n);
        key_len[nkeys++] = n;
    }
}

/* [vsn][nonce 12][ct][tag 16] -> plaintext; 0 ok. */
static int gcm_open(const uint8_t *blob, size_t n, const uint8_t *ad, size_t adn, hm_buf_t *out)
{
    int k;

    if (n < 29 || blob[0] > 1)
        return -1;
    for (k = 0; k < nkeys; k++) {
        const EVP_CIPHER *c = key_len[k] == 16   ? EVP_aes_128_gcm()
                              : key_len[k] == 24 ? EVP_aes_192_gcm()
                                                 : EVP_aes_256_gcm();
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        size_t ctn = n - 13 - 16;
        int l1 = 0, l2 = 0, good;

        hm_buf_reset(out);
        hm_buf_reserve(out, ctn + 16);
        good = EVP_DecryptInit_ex(ctx, c, NULL, keys[k], blob + 1) == 1 &&
               (adn == 0 || EVP_DecryptUpdate(ctx, NULL, &l1, ad, (int)adn) == 1) &&
               EVP_DecryptUpdate(ctx, out->data, &l1, blob + 13, (int)ctn) == 1 &&
               EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(blob + n - 16)) == 1 &&
               EVP_DecryptFinal_ex(ctx, out->data + l1, &l2) == 1;
        EVP_CIPHER_CTX_free(ctx);
        if (good) {
            out->len = (size_t)(l1 + l2);
            if (blob[0] == 0) { /* version 0: PKCS7-style padding */
                size_t pad = out->len ? out->data[out->len - 1] : 0;
                out->len = pad <= out->len ? out->len - pad : 0;
            }
            st.decrypted++;
            return 0;
        }
    }
    return -1;
}

static void replay(const char *path, int *udp, int *tcp)
{
    char proto[8], dir[64];
    static char line[1 << 20];
    FILE *f = fopen(path, "r");
    hm_buf_t plain = {0};

    ok(f != NULL, "capture file %s", path);
    if (f == NULL)
        return;
    nkeys = 0;
    while (fgets(line, sizeof(line), f)) {
        char *hex;
        size_t n;
        uint8_t *p;

        if (strncmp(line, "# key ", 6) == 0) {
            line[strcspn(line, "\n")] = 0;
            add_key(line + 6);
            continue;
        }
        if (line[0] == '#' || sscanf(line, "%7s %63s", proto, dir) != 2)
            continue;
        hex = strchr(strchr(line, ' ') + 1, ' ');
        if (hex == NULL)
            continue;
        hex++;
        hex[strcspn(hex, " \n")] = 0;
        p = unhex(hex, &n);
        if (strcmp(proto, "udp") == 0) {
            (*udp)++;
            if (nkeys == 0)
                ml_msg(p, n);
            else if (gcm_open(p, n, NULL, 0, &plain) == 0)
                ml_msg(plain.data, plain.len);
            else
                verdict(false, "udp decryption", p, n);
        } else {
            (*tcp)++;
            if (nkeys == 0) {
                stream(p, n);
            } else if (n >= 5 && p[0] == HM_ML_ENCRYPT &&
                       ((size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4]) ==
                           n - 5 &&
                       gcm_open(p + 5, n - 5, p, 5, &plain) == 0) {
                stream(plain.data, plain.len);
            } else {
                verdict(false, "tcp decryption", p, n);
            }
        }
        free(p);
    }
    fclose(f);
    hm_buf_free(&plain);
}

int main(void)
{
    char path[4096];
    const char *src = getenv("top_srcdir");
    int udp = 0, tcp = 0;

    snprintf(path, sizeof(path), "%s/t/data/serf-capture.txt", src ? src : ".");
    replay(path, &udp, &tcp);
    snprintf(path, sizeof(path), "%s/t/data/serf-capture-encrypted.txt", src ? src : ".");
    replay(path, &udp, &tcp);
    diag("decrypted %d; internal payloads: %d key requests, %d key responses, %d conflict",
         st.decrypted, st.key_requests, st.key_responses, st.conflicts);
    diag("%d datagrams, %d streams, %d messages checked", udp, tcp, st.msgs);
    diag("memberlist types: ping %d iping %d ack %d suspect %d alive %d dead %d pp %d "
         "compound %d user %d compress %d nack %d crc %d",
         st.by_type[0], st.by_type[1], st.by_type[2], st.by_type[3], st.by_type[4], st.by_type[5],
         st.by_type[6], st.by_type[7], st.by_type[8], st.by_type[9], st.by_type[11],
         st.by_type[12]);
    diag("serf types: leave %d join %d pp %d event %d query %d response %d relay %d",
         st.serf_by_type[0], st.serf_by_type[1], st.serf_by_type[2], st.serf_by_type[3],
         st.serf_by_type[4], st.serf_by_type[5], st.serf_by_type[9]);
    ok(udp >= 20 && tcp >= 2, "capture has datagrams (%d) and streams (%d)", udp, tcp);
    is_int(st.failed, 0, "every layer re-encodes byte for byte (%d identical)", st.identical);
    if (st.failed)
        diag("first mismatch: %s", st.first_fail);
    ok(st.by_type[HM_ML_PING] && st.by_type[HM_ML_ACK] && st.by_type[HM_ML_ALIVE] &&
           st.by_type[HM_ML_INDIRECT_PING] && st.by_type[HM_ML_NACK] && st.by_type[HM_ML_SUSPECT] &&
           st.by_type[HM_ML_DEAD] && st.by_type[HM_ML_COMPOUND] && st.by_type[HM_ML_HAS_CRC] &&
           st.by_type[HM_ML_COMPRESS] && st.by_type[HM_ML_USER] && st.by_type[HM_ML_PUSH_PULL],
       "seen: ping indirect-ping ack nack suspect alive dead compound crc compress user "
       "push/pull");
    ok(st.serf_by_type[HM_SERF_JOIN] && st.serf_by_type[HM_SERF_LEAVE] &&
           st.serf_by_type[HM_SERF_USER_EVENT] && st.serf_by_type[HM_SERF_QUERY] &&
           st.serf_by_type[HM_SERF_QUERY_RESPONSE] && st.serf_by_type[HM_SERF_PUSH_PULL] &&
           st.serf_by_type[HM_SERF_RELAY],
       "seen serf: join leave user-event query query-response push/pull relay");
    ok(st.max_lzw > 6200,
       "a %zu-byte LZW stream (> 4095 codes: table reset) re-encoded identically", st.max_lzw);
    ok(st.decrypted >= 40, "encrypted capture decrypted (%d packets/streams)", st.decrypted);
    ok(st.key_requests >= 4 && st.key_responses >= 4 && st.conflicts >= 1,
       "seen key requests (%d), key responses (%d), conflict responses (%d)", st.key_requests,
       st.key_responses, st.conflicts);
    return done_testing();
}
