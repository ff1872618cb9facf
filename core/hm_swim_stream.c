/*
 * Stream operations (memberlist net.go): push/pull state exchange (join and
 * periodic anti-entropy), the TCP fallback ping, reliable user messages.
 * The caller owns the connections; the engine sees the bytes read so far.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_mpack.h"
#include "hm_swim_priv.h"

static hm_stream_t *stream_find(hm_swim_t *s, uint32_t id)
{
    size_t i;
    for (i = 0; i < s->nstreams; i++)
        if (s->streams[i].id == id && s->streams[i].kind != ST_FREE)
            return &s->streams[i];
    return NULL;
}

static hm_stream_t *stream_new(hm_swim_t *s, uint8_t kind)
{
    hm_stream_t *st = NULL;
    size_t i;

    for (i = 0; i < s->nstreams; i++)
        if (s->streams[i].kind == ST_FREE) {
            st = &s->streams[i];
            break;
        }
    if (st == NULL) {
        if (s->nstreams == s->streams_cap) {
            size_t ncap = s->streams_cap ? s->streams_cap * 2 : 8;
            hm_stream_t *n = realloc(s->streams, ncap * sizeof(*n));
            if (n == NULL)
                return NULL;
            s->streams = n;
            s->streams_cap = ncap;
        }
        st = &s->streams[s->nstreams++];
    }
    memset(st, 0, sizeof(*st));
    st->kind = kind;
    st->id = s->next_stream_id++;
    if (s->next_stream_id == 0)
        s->next_stream_id = 1;
    return st;
}

static void stream_end(hm_swim_t *s, hm_stream_t *st)
{
    if (st->pp_in && s->pp_pending)
        s->pp_pending--;
    st->pp_in = false;
    st->kind = ST_FREE;
    while (s->nstreams && s->streams[s->nstreams - 1].kind == ST_FREE)
        s->nstreams--;
}

void hm_swim_stream_forget(hm_swim_t *s, uint32_t id)
{
    hm_stream_t *st = stream_find(s, id);
    if (st)
        stream_end(s, st);
}

void hm_swim_streams_free(hm_swim_t *s)
{
    free(s->streams);
    s->streams = NULL;
    s->nstreams = s->streams_cap = 0;
}

/* Streams are always compressed when compression is enabled. */
void hm_swim_stream_wrap(hm_swim_t *s, hm_buf_t *msg)
{
    hm_buf_t c = {0};

    if (!s->cfg.enable_compression)
        return;
    if (hm_ml_put_compress(&c, msg->data, msg->len) == 0) {
        hm_buf_free(msg);
        *msg = c;
    } else {
        hm_buf_free(&c);
    }
}

uint32_t hm_swim_stream_open(hm_swim_t *s, const hm_addr_t *to, uint8_t kind, bool join,
                             uint32_t seq, hm_buf_t *msg, uint64_t deadline)
{
    hm_stream_t *st = stream_new(s, kind);

    if (st == NULL)
        return 0;
    st->join = join;
    st->seq = seq;
    s->stats.streams_out++;
    hm_swim_out_push(s, HM_SWIM_STREAM_OPEN, to, st->id, deadline, msg);
    return st->id;
}

/* [6] header, every node we know (dead and left included), user state. */
static int local_state(hm_swim_t *s, bool join, hm_buf_t *out)
{
    hm_buf_t user = {0};
    uint32_t i;
    int rc;

    if (s->d.local_state)
        s->d.local_state(s->d.ud, join, &user);
    /* ~90 bytes a node: one allocation instead of doubling through a
     * megabyte at 10,000 nodes (a hint: the writers grow it if short) */
    hm_buf_reserve(out, (size_t)s->norder * 96 + user.len + 64);
    rc = hm_ml_put_push_pull_head(out, join, s->norder, user.len);
    for (i = 0; i < s->norder && rc == 0; i++) {
        /* the probe order is a random walk over the records: overlap the misses */
        if (i + 8 < s->norder)
            hm_prefetch(hm_rec(s, s->order[i + 8]));
        rc = hm_swim_encode_push_node(s, hm_rec(s, s->order[i]), out);
    }
    rc |= hm_buf_append(out, user.data, user.len);
    hm_buf_free(&user);
    return rc;
}

uint32_t hm_swim_push_pull(hm_swim_t *s, uint64_t now, const hm_addr_t *to, bool join)
{
    if (now > s->now)
        s->now = now;
    return hm_swim_push_pull_until(s, to, join, s->now + s->cfg.tcp_timeout_ms);
}

/* A push/pull that the caller gives up on (hm_swim_stream_failed) at
 * `deadline`. */
uint32_t hm_swim_push_pull_until(hm_swim_t *s, const hm_addr_t *to, bool join, uint64_t deadline)
{
    hm_buf_t msg = {0};
    uint32_t id;

    if (local_state(s, join, &msg) < 0) {
        hm_buf_free(&msg);
        return 0;
    }
    hm_swim_stream_wrap(s, &msg);
    s->stats.push_pulls++;
    hm_swim_log(s, HM_LOG_DEBUG, "Initiating push/pull sync with: %u.%u.%u.%u:%u", to->ip[0],
                to->ip[1], to->ip[2], to->ip[3], to->port);
    id = hm_swim_stream_open(s, to, ST_PUSH_PULL, join, 0, &msg, deadline);
    hm_buf_free(&msg);
    return id;
}

uint32_t hm_swim_join(hm_swim_t *s, uint64_t now, const hm_addr_t *to)
{
    return hm_swim_push_pull(s, now, to, true);
}

uint32_t hm_swim_stream_accept(hm_swim_t *s, uint64_t now, const hm_addr_t *from)
{
    hm_stream_t *st = stream_new(s, ST_IN);

    if (now > s->now)
        s->now = now;
    if (st == NULL)
        return 0;
    s->stats.streams_in++;
    return st->id;
}

/* ---- reading ---------------------------------------------------------- */

typedef struct nodes_acc {
    hm_ml_push_node_t *v;
    size_t n, cap;
} nodes_acc_t;

static int collect_node(void *ud, const hm_ml_push_node_t *node)
{
    nodes_acc_t *a = ud;
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 64;
        hm_ml_push_node_t *v = realloc(a->v, ncap * sizeof(*v));
        if (v == NULL)
            return -1;
        a->v = v;
        a->cap = ncap;
    }
    a->v[a->n++] = *node;
    return 0;
}

/* memberlist verifyProtocol: every node's current versions must lie in the
 * range all alive nodes (remote and local) understand. */
static int verify_protocol(const hm_swim_t *s, const nodes_acc_t *rem)
{
    uint8_t maxpmin = 0, minpmax = 255, maxdmin = 0, mindmax = 255;
    size_t i;

    for (i = 0; i < rem->n; i++) {
        const hm_ml_push_node_t *n = &rem->v[i];
        if (n->state != HM_ML_STATE_ALIVE || !n->has_vsn)
            continue;
        maxpmin = n->vsn[0] > maxpmin ? n->vsn[0] : maxpmin;
        minpmax = n->vsn[1] < minpmax ? n->vsn[1] : minpmax;
        maxdmin = n->vsn[3] > maxdmin ? n->vsn[3] : maxdmin;
        mindmax = n->vsn[4] < mindmax ? n->vsn[4] : mindmax;
    }
    /* every record in use is in the probe order: read them in pool order,
     * not in the order's, which sends each read to a random record */
    for (i = 1; i < s->recs_used; i++) {
        const hm_rec_t *r = hm_rec(s, i);
        const uint8_t *v = hm_rec_vsn(s, r);
        if (!REC_IN_USE(r) || r->state != HM_ML_STATE_ALIVE)
            continue;
        maxpmin = v[0] > maxpmin ? v[0] : maxpmin;
        minpmax = v[1] < minpmax ? v[1] : minpmax;
        maxdmin = v[3] > maxdmin ? v[3] : maxdmin;
        mindmax = v[4] < mindmax ? v[4] : mindmax;
    }
    for (i = 0; i < rem->n; i++) {
        const hm_ml_push_node_t *n = &rem->v[i];
        uint8_t pcur = n->has_vsn ? n->vsn[2] : 0, dcur = n->has_vsn ? n->vsn[5] : 0;
        if (pcur < maxpmin || pcur > minpmax || dcur < maxdmin || dcur > mindmax)
            return -1;
    }
    for (i = 1; i < s->recs_used; i++) {
        const uint8_t *v = hm_rec_vsn(s, hm_rec(s, i));
        if (!REC_IN_USE(hm_rec(s, i)))
            continue;
        if (v[2] < maxpmin || v[2] > minpmax || v[5] < maxdmin || v[5] > mindmax)
            return -1;
    }
    return 0;
}

/* Node states hashed (and their name-table slots fetched) ahead of the
 * merge; their records are fetched half as far ahead. */
#define MERGE_AHEAD 16

static uint32_t merge_hash(const hm_swim_t *s, const hm_ml_push_node_t *n)
{
    uint32_t h = hm_swim_hash(n->name.p, n->name.n);

    hm_swim_prefetch(s, h, false);
    return h;
}

static int merge_remote(hm_swim_t *s, const nodes_acc_t *rem, const uint8_t *user, size_t ulen,
                        bool join)
{
    uint32_t hr[MERGE_AHEAD], h; /* hr[j % MERGE_AHEAD]: node j's name hash */
    size_t i;

    if (verify_protocol(s, rem) < 0)
        return -1;
    for (i = 0; i < rem->n && i < MERGE_AHEAD; i++)
        hr[i] = merge_hash(s, &rem->v[i]);
    hm_swim_prefetch_order(s);
    for (i = 0; i < rem->n; i++) {
        const hm_ml_push_node_t *n = &rem->v[i];
        /* the names are spread over the whole table: overlap the misses,
         * each name hashed once */
        h = hr[i % MERGE_AHEAD];
        if (i + MERGE_AHEAD < rem->n)
            hr[i % MERGE_AHEAD] = merge_hash(s, &rem->v[i + MERGE_AHEAD]);
        if (i + MERGE_AHEAD / 2 < rem->n)
            hm_swim_prefetch(s, hr[(i + MERGE_AHEAD / 2) % MERGE_AHEAD], true);
        switch (n->state) {
        case HM_ML_STATE_ALIVE: {
            hm_ml_alive_t a = {0};
            a.incarnation = n->incarnation;
            a.node = n->name;
            a.addr = n->addr; /* no Port 0 substitution here, as in mergeState */
            a.meta = n->meta;
            a.meta_len = n->meta_len;
            memcpy(a.vsn, n->vsn, 6);
            a.has_vsn = n->has_vsn;
            hm_swim_alive_h(s, &a, h, false, NULL, NULL);
            break;
        }
        case HM_ML_STATE_LEFT: {
            hm_ml_accuse_t d = {.incarnation = n->incarnation, .node = n->name, .from = n->name};
            hm_swim_dead(s, &d);
            break;
        }
        case HM_ML_STATE_DEAD:
        case HM_ML_STATE_SUSPECT: {
            hm_ml_accuse_t d = {.incarnation = n->incarnation, .node = n->name};
            hm_swim_ml_str(&d.from, s->name);
            hm_swim_suspect(s, &d);
            break;
        }
        default:
            break;
        }
    }
    if (s->d.merge_remote_state)
        s->d.merge_remote_state(s->d.ud, user, ulen, join);
    return 0;
}

/* Strip the compression envelope if any.  HM_AGAIN while the compress
 * object is incomplete. */
static int unwrap(const uint8_t *p, size_t n, hm_buf_t *plain, const uint8_t **msg, size_t *len,
                  bool *compressed)
{
    size_t used = 0;

    *compressed = false;
    if (n == 0)
        return HM_AGAIN;
    if (p[0] != HM_ML_COMPRESS) {
        *msg = p;
        *len = n;
        return HM_OK;
    }
    switch (hm_ml_msg_complete(p + 1, n - 1, NULL)) {
    case 1:
        return HM_AGAIN;
    case 0:
        break;
    default:
        return HM_ERROR;
    }
    if (hm_ml_get_compress(p + 1, n - 1, plain, &used) < 0 || plain->len == 0)
        return HM_ERROR;
    *compressed = true;
    *msg = plain->data;
    *len = plain->len;
    return HM_OK;
}

static void stream_reply(hm_swim_t *s, hm_stream_t *st, hm_buf_t *msg)
{
    hm_swim_stream_wrap(s, msg);
    hm_swim_out_push(s, HM_SWIM_STREAM_REPLY, NULL, st->id, s->now + s->cfg.tcp_timeout_ms, msg);
}

static int read_user(hm_swim_t *s, const uint8_t *p, size_t n, bool complete)
{
    const uint8_t *msg;
    size_t len, used;
    int rc = hm_ml_get_user_stream(p, n, &msg, &len, &used);

    if (rc == 1)
        return complete ? HM_ERROR : HM_AGAIN;
    if (rc < 0)
        return HM_ERROR;
    if (s->d.notify_msg)
        s->d.notify_msg(s->d.ud, msg, len);
    return HM_OK;
}

static int read_push_pull(hm_swim_t *s, const uint8_t *p, size_t n, bool complete, nodes_acc_t *acc,
                          hm_ml_push_header_t *hdr, const uint8_t **user)
{
    size_t used = 0;
    int rc = hm_ml_get_push_pull(p, n, hdr, collect_node, acc, user, &used);

    if (rc == 1)
        return complete ? HM_ERROR : HM_AGAIN;
    return rc == 0 ? HM_OK : HM_ERROR;
}

static int inbound(hm_swim_t *s, hm_stream_t *st, const uint8_t *m, size_t n, bool complete)
{
    nodes_acc_t acc = {0};
    hm_ml_push_header_t hdr;
    const uint8_t *user = NULL;
    hm_buf_t reply = {0};
    int rc;

    switch (m[0]) {
    case HM_ML_PUSH_PULL:
        /* memberlist counts a push/pull from its type byte until it is
         * handled and refuses the 128th at once, before reading it */
        if (!st->pp_in) {
            if (s->pp_pending + 1 >= HM_SWIM_MAX_PUSH_PULL_IN) {
                s->stats.dropped_other++;
                hm_swim_log(s, HM_LOG_ERR, "Too many pending push/pull requests");
                hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, st->id, 0, NULL);
                return HM_OK;
            }
            st->pp_in = true;
            s->pp_pending++;
        }
        rc = read_push_pull(s, m + 1, n - 1, complete, &acc, &hdr, &user);
        if (rc == HM_OK) {
            s->stats.push_pulls++;
            if (local_state(s, hdr.join, &reply) == 0)
                stream_reply(s, st, &reply);
            else
                hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, st->id, 0, NULL);
            if (merge_remote(s, &acc, user, hdr.user_state_len, hdr.join) < 0) {
                s->stats.dropped_other++;
                hm_swim_log(s, HM_LOG_ERR,
                            "Failed push/pull merge: protocol version is "
                            "incompatible");
            }
        }
        break;
    case HM_ML_USER:
        rc = read_user(s, m + 1, n - 1, complete);
        if (rc == HM_OK)
            hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, st->id, 0, NULL);
        break;
    case HM_ML_PING: {
        hm_ml_ping_t ping;
        hm_ml_ack_t ack = {0};
        rc = hm_ml_get_ping(m + 1, n - 1, &ping) == 0 ? HM_OK : complete ? HM_ERROR : HM_AGAIN;
        if (rc != HM_OK)
            break;
        if (ping.node.n &&
            !(ping.node.n == s->name_len && memcmp(ping.node.p, s->name, s->name_len) == 0)) {
            hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, st->id, 0, NULL);
            break;
        }
        ack.seq_no = ping.seq_no;
        if (hm_ml_put_ack(&reply, &ack) == 0)
            stream_reply(s, st, &reply);
        break;
    }
    default:
        rc = HM_ERROR;
    }
    hm_buf_free(&reply);
    free(acc.v);
    return rc;
}

static int outbound_push_pull(hm_swim_t *s, hm_stream_t *st, const uint8_t *m, size_t n,
                              bool complete)
{
    nodes_acc_t acc = {0};
    hm_ml_push_header_t hdr;
    const uint8_t *user = NULL;
    uint32_t id = st->id;
    int rc;

    if (m[0] == HM_ML_ERR) {
        hm_ml_str_t e;
        char msg[256];
        if (hm_ml_get_err(m + 1, n - 1, &e) < 0)
            return complete ? HM_ERROR : HM_AGAIN;
        snprintf(msg, sizeof(msg), "remote error: %.*s", (int)(e.n > 200 ? 200 : e.n), e.p);
        stream_end(s, st);
        hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, id, 0, NULL);
        hm_swim_verify_done(s, id, false);
        if (s->d.stream_done)
            s->d.stream_done(s->d.ud, id, false, msg);
        return HM_OK;
    }
    if (m[0] != HM_ML_PUSH_PULL)
        return HM_ERROR;
    rc = read_push_pull(s, m + 1, n - 1, complete, &acc, &hdr, &user);
    if (rc == HM_OK) {
        bool join = st->join;
        stream_end(s, st);
        hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, id, 0, NULL);
        int merged = merge_remote(s, &acc, user, hdr.user_state_len, join);
        /* the merge took any refutation in: what is still suspect dies */
        hm_swim_verify_done(s, id, merged >= 0);
        if (merged < 0) {
            if (s->d.stream_done)
                s->d.stream_done(s->d.ud, id, false, "protocol version is incompatible");
        } else if (s->d.stream_done) {
            s->d.stream_done(s->d.ud, id, true, NULL);
        }
    }
    free(acc.v);
    return rc;
}

int hm_swim_stream_data(hm_swim_t *s, uint64_t now, uint32_t id, const uint8_t *p, size_t n)
{
    hm_stream_t *st = stream_find(s, id);
    hm_buf_t plain = {0};
    const uint8_t *m = NULL;
    size_t mlen = 0;
    bool compressed;
    int rc;

    if (now > s->now)
        s->now = now;
    if (st == NULL)
        return HM_ERROR;
    rc = unwrap(p, n, &plain, &m, &mlen, &compressed);
    if (rc == HM_OK) {
        switch (st->kind) {
        case ST_IN:
            rc = inbound(s, st, m, mlen, compressed);
            if (rc == HM_OK)
                stream_end(s, st);
            break;
        case ST_PUSH_PULL:
            rc = outbound_push_pull(s, st, m, mlen, compressed);
            break;
        case ST_PING: {
            hm_ml_ack_t ack;
            if (m[0] != HM_ML_ACK) {
                rc = HM_ERROR;
                break;
            }
            if (hm_ml_get_ack(m + 1, mlen - 1, &ack) < 0) {
                rc = compressed ? HM_ERROR : HM_AGAIN;
                break;
            }
            hm_swim_probe_tcp_result(s, id, ack.seq_no == st->seq);
            stream_end(s, st);
            hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, id, 0, NULL);
            break;
        }
        default:
            rc = HM_ERROR;
        }
    }
    hm_buf_free(&plain);
    if (rc == HM_ERROR) {
        hm_swim_malformed(s, "stream");
        if ((st = stream_find(s, id)) != NULL) {
            hm_swim_stream_failed(s, s->now, id, "malformed stream");
        }
        hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, id, 0, NULL);
    }
    return rc;
}

void hm_swim_stream_failed(hm_swim_t *s, uint64_t now, uint32_t id, const char *why)
{
    hm_stream_t *st = stream_find(s, id);
    uint8_t kind;

    if (now > s->now)
        s->now = now;
    if (st == NULL)
        return;
    kind = st->kind;
    stream_end(s, st);
    if (kind == ST_PUSH_PULL)
        hm_swim_verify_done(s, id, false);
    if (kind == ST_PUSH_PULL && s->d.stream_done)
        s->d.stream_done(s->d.ud, id, false, why ? why : "stream failed");
    else if (kind == ST_PING)
        hm_swim_probe_tcp_result(s, id, false);
}
