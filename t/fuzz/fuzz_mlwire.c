/*
 * libFuzzer harness: a UDP packet as memberlist ingests it.  Every message
 * decoder, the compound / CRC / compression envelopes (recursively, as
 * memberlist's handleCommand does), and an encode-decode round trip of
 * whatever decoded, which must give the same fields back.
 */
#include <stdlib.h>
#include <string.h>

#include "hm_mlwire.h"
#include "fuzz.h"

static bool str_eq(hm_ml_str_t a, hm_ml_str_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static bool addr_eq(const hm_addr_t *a, const hm_addr_t *b)
{
    return a->len == b->len && a->port == b->port && memcmp(a->ip, b->ip, a->len) == 0;
}

static void rt_ping(const uint8_t *p, size_t n)
{
    hm_ml_ping_t m, m2;
    hm_buf_t b = {0};

    if (hm_ml_get_ping(p, n, &m) < 0)
        return;
    CHECK(hm_ml_put_ping(&b, &m) == 0 && b.data[0] == HM_ML_PING);
    CHECK(hm_ml_get_ping(b.data + 1, b.len - 1, &m2) == 0);
    CHECK(m.seq_no == m2.seq_no && str_eq(m.node, m2.node) && addr_eq(&m.source, &m2.source) &&
          str_eq(m.source_node, m2.source_node));
    hm_buf_free(&b);
}

static void rt_iping(const uint8_t *p, size_t n)
{
    hm_ml_indirect_ping_t m, m2;
    hm_buf_t b = {0};

    if (hm_ml_get_indirect_ping(p, n, &m) < 0)
        return;
    CHECK(hm_ml_put_indirect_ping(&b, &m) == 0);
    CHECK(hm_ml_get_indirect_ping(b.data + 1, b.len - 1, &m2) == 0);
    CHECK(m.seq_no == m2.seq_no && m.nack == m2.nack && str_eq(m.node, m2.node) &&
          addr_eq(&m.target, &m2.target) && addr_eq(&m.source, &m2.source));
    hm_buf_free(&b);
}

static void rt_ack(const uint8_t *p, size_t n)
{
    hm_ml_ack_t m, m2;
    hm_buf_t b = {0};

    if (hm_ml_get_ack(p, n, &m) < 0)
        return;
    CHECK(hm_ml_put_ack(&b, &m) == 0);
    CHECK(hm_ml_get_ack(b.data + 1, b.len - 1, &m2) == 0);
    CHECK(m.seq_no == m2.seq_no && m.payload_len == m2.payload_len &&
          (m.payload == NULL) == (m2.payload == NULL));
    CHECK(m.payload_len == 0 || memcmp(m.payload, m2.payload, m.payload_len) == 0);
    hm_buf_free(&b);
}

static void rt_accuse(const uint8_t *p, size_t n, uint8_t type)
{
    hm_ml_accuse_t m, m2;
    hm_buf_t b = {0};

    if (hm_ml_get_accuse(p, n, &m) < 0)
        return;
    CHECK((type == HM_ML_SUSPECT ? hm_ml_put_suspect(&b, &m) : hm_ml_put_dead(&b, &m)) == 0);
    CHECK(hm_ml_get_accuse(b.data + 1, b.len - 1, &m2) == 0);
    CHECK(m.incarnation == m2.incarnation && str_eq(m.node, m2.node) && str_eq(m.from, m2.from));
    hm_buf_free(&b);
}

static void rt_alive(const uint8_t *p, size_t n)
{
    hm_ml_alive_t m, m2;
    hm_buf_t b = {0};

    if (hm_ml_get_alive(p, n, &m) < 0)
        return;
    CHECK(hm_ml_put_alive(&b, &m) == 0);
    CHECK(hm_ml_get_alive(b.data + 1, b.len - 1, &m2) == 0);
    CHECK(m.incarnation == m2.incarnation && str_eq(m.node, m2.node) &&
          addr_eq(&m.addr, &m2.addr) && m.meta_len == m2.meta_len && m.has_vsn == m2.has_vsn);
    CHECK(!m.has_vsn || memcmp(m.vsn, m2.vsn, 6) == 0);
    hm_buf_free(&b);
}

static int on_node(void *ud, const hm_ml_push_node_t *node)
{
    (*(size_t *)ud) += node->name.n + node->meta_len;
    return 0;
}

static void ingest(const uint8_t *p, size_t n, int depth);

static void ingest_body(uint8_t type, const uint8_t *p, size_t n, int depth)
{
    const uint8_t *parts[255], *pl, *us;
    size_t lens[255], plen, used, sum = 0;
    hm_ml_nack_t nk;
    hm_ml_str_t e;
    hm_ml_push_header_t hdr;
    hm_buf_t out = {0};
    int cnt, i;

    switch (type) {
    case HM_ML_PING:
        rt_ping(p, n);
        break;
    case HM_ML_INDIRECT_PING:
        rt_iping(p, n);
        break;
    case HM_ML_ACK:
        rt_ack(p, n);
        break;
    case HM_ML_SUSPECT:
    case HM_ML_DEAD:
        rt_accuse(p, n, type);
        break;
    case HM_ML_ALIVE:
        rt_alive(p, n);
        break;
    case HM_ML_NACK:
        hm_ml_get_nack(p, n, &nk);
        break;
    case HM_ML_ERR:
        hm_ml_get_err(p, n, &e);
        break;
    case HM_ML_PUSH_PULL:
        if (hm_ml_get_push_pull(p, n, &hdr, on_node, &sum, &us, &used) == 0)
            CHECK(used <= n && us + hdr.user_state_len == p + used);
        break;
    case HM_ML_COMPOUND:
        cnt = hm_ml_split_compound(p, n, parts, lens, 255);
        for (i = 0; i < cnt; i++) {
            CHECK(parts[i] >= p && parts[i] + lens[i] <= p + n);
            ingest(parts[i], lens[i], depth + 1);
        }
        break;
    case HM_ML_HAS_CRC:
        if (hm_ml_check_crc(p, n, &pl, &plen) == 0)
            ingest(pl, plen, depth + 1);
        break;
    case HM_ML_COMPRESS:
        if (hm_ml_get_compress(p, n, &out, &used) == 0) {
            CHECK(used <= n);
            ingest(out.data, out.len, depth + 1);
        }
        break;
    default:
        break;
    }
    hm_buf_free(&out);
}

static void ingest(const uint8_t *p, size_t n, int depth)
{
    if (n < 1 || depth > 8)
        return;
    ingest_body(p[0], p + 1, n - 1, depth);
}

/* Stream framing helpers agree with each other and with the decoders. */
static void stream_checks(const uint8_t *data, size_t size)
{
    const uint8_t *msg;
    size_t len, used = 0, used2;
    hm_mp_reader_t r;
    int rc;

    rc = hm_ml_msg_complete(data, size, &used);
    hm_mp_reader_init(&r, data, size);
    CHECK((rc == 0) == (hm_mp_skip(&r) == 0));
    CHECK(rc != 0 || (used <= size && r.p == data + used));
    if (rc == 0 && used > 0) /* a shorter prefix is never complete */
        CHECK(hm_ml_msg_complete(data, used - 1, &used2) != 0);
    rc = hm_ml_get_user_stream(data, size, &msg, &len, &used);
    if (rc == 0)
        CHECK(used <= size && msg + len == data + used);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{

    ingest(data, size, 0);
    /* every decoder on the raw bytes too, whatever the type byte says */
    if (size > 0)
        for (uint8_t t = 0; t <= HM_ML_ERR; t++)
            if (t != HM_ML_COMPOUND && t != HM_ML_COMPRESS && t != HM_ML_HAS_CRC)
                ingest_body(t, data + 1, size - 1, 8);
    stream_checks(data, size);
    return 0;
}
