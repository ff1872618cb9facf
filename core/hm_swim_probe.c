/*
 * Failure detection (memberlist state.go probe/probeNode and the ping,
 * indirect ping, ack and nack handlers of net.go).
 *
 * memberlist runs one probe at a time in its ticker goroutine and blocks
 * for up to the (health-scaled) probe interval; a tick that arrives while
 * a probe is running is buffered once.  Here the probe is a small state
 * machine advanced by packets and by hm_swim_probe_timers():
 *   sent --ProbeTimeout--> indirect pings + TCP fallback --interval--> verdict
 */
#include <stdlib.h>
#include <string.h>

#include "hm_swim_priv.h"

bool hm_swim_skip_not_alive(const hm_swim_t *s, const hm_rec_t *r);
void hm_swim_reset_nodes(hm_swim_t *s);

static void self_source(hm_swim_t *s, hm_ml_str_t *node, hm_addr_t *addr)
{
    node->p = s->name;
    node->n = s->name_len;
    *addr = s->cfg.addr;
}

static void probe_node(hm_swim_t *s, uint32_t ri)
{
    hm_rec_t *r = hm_rec(s, ri);
    hm_probe_t *p = &s->probe;
    hm_ml_ping_t ping = {0};
    hm_addr_t to;
    uint64_t interval = (uint64_t)s->cfg.probe_interval_ms * (uint64_t)(s->health + 1);

    memset(p, 0, sizeof(*p));
    p->active = true;
    p->rec = ri;
    p->seq = ++s->seq;
    p->sent = s->now;
    p->timeout_at = s->now + s->cfg.probe_timeout_ms;
    p->end_at = s->now + interval;
    s->stats.probes++;

    ping.node.p = REC_NAME(r);
    ping.node.n = r->name_len;
    ping.seq_no = p->seq;
    self_source(s, &ping.source_node, &ping.source);
    hm_buf_reset(&s->tmp);
    if (hm_ml_put_ping(&s->tmp, &ping) < 0) {
        p->active = false;
        return;
    }
    hm_swim_rec_addr(s, r, &to);
    if (r->state == HM_ML_STATE_ALIVE) {
        hm_swim_send(s, &to, &s->tmp, NULL, true);
    } else {
        /* a suspect gets the accusation along, to refute it sooner */
        hm_ml_accuse_t sus = {.incarnation = r->inc};
        hm_buf_t *parts = &s->parts[0];
        sus.node = ping.node;
        self_source(s, &sus.from, &ping.source);
        hm_buf_reset(&parts[0]);
        hm_buf_append(&parts[0], s->tmp.data, s->tmp.len);
        hm_buf_reset(&parts[1]);
        if (hm_ml_put_suspect(&parts[1], &sus) < 0)
            return;
        hm_buf_reset(&s->tmp);
        if (hm_ml_put_compound(&s->tmp, parts, 2) < 0)
            return;
        hm_swim_send(s, &to, &s->tmp, r, false);
    }
}

/* Next node in the round-robin, skipping self, dead and left; a wrap reaps
 * and reshuffles (memberlist probe). */
void hm_swim_probe_tick(hm_swim_t *s)
{
    uint32_t checked = 0;

    if (s->probe.active) {
        s->probe.pending_tick = true;
        return;
    }
    while (checked < s->norder) {
        hm_rec_t *r;
        uint32_t ri;
        if (s->probe_index >= s->norder) {
            hm_swim_reset_nodes(s);
            s->probe_index = 0;
            checked++;
            continue;
        }
        ri = s->order[s->probe_index++];
        r = hm_rec(s, ri);
        if (ri == s->self || r->state == HM_ML_STATE_DEAD || r->state == HM_ML_STATE_LEFT) {
            checked++;
            continue;
        }
        probe_node(s, ri);
        return;
    }
}

static void probe_done(hm_swim_t *s, int health_delta)
{
    bool pending = s->probe.pending_tick;

    if (s->probe.tcp_stream) {
        hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, s->probe.tcp_stream, 0, NULL);
        hm_swim_stream_forget(s, s->probe.tcp_stream);
    }
    memset(&s->probe, 0, sizeof(s->probe));
    hm_swim_health_delta(s, health_delta);
    if (pending)
        hm_swim_probe_tick(s);
}

/* ProbeTimeout passed without an ack: ask k random alive peers, and try
 * TCP if the target speaks protocol >= 3. */
static void probe_indirect(hm_swim_t *s)
{
    hm_probe_t *p = &s->probe;
    hm_rec_t *target = hm_rec(s, p->rec);
    uint32_t peers[16], k = s->cfg.indirect_checks > 16 ? 16 : s->cfg.indirect_checks;
    size_t n = 0, i, tries;
    hm_ml_indirect_ping_t ind = {0};

    p->indirect_sent = true;
    hm_swim_log(s, HM_LOG_DEBUG, "Failed ping: %s (timeout reached)", REC_NAME(target));
    /* kRandomNodes with the filter "not self, not target, alive" */
    for (tries = 0; tries < 3 * (size_t)s->norder && n < k; tries++) {
        uint32_t ri = s->order[hm_swim_randn(s, s->norder)];
        size_t j;
        if (ri == p->rec || hm_swim_skip_not_alive(s, hm_rec(s, ri)))
            continue;
        for (j = 0; j < n && peers[j] != ri; j++)
            ;
        if (j == n)
            peers[n++] = ri;
    }
    ind.node.p = REC_NAME(target);
    ind.node.n = target->name_len;
    hm_swim_rec_addr(s, target, &ind.target);
    ind.seq_no = p->seq;
    self_source(s, &ind.source_node, &ind.source);
    for (i = 0; i < n; i++) {
        hm_rec_t *peer = hm_rec(s, peers[i]);
        hm_addr_t to;
        hm_swim_rec_addr(s, peer, &to);
        ind.nack = hm_rec_vsn(s, peer)[1] >= 4;
        if (ind.nack)
            p->expected_nacks++;
        hm_buf_reset(&s->tmp);
        if (hm_ml_put_indirect_ping(&s->tmp, &ind) == 0)
            hm_swim_send(s, &to, &s->tmp, NULL, true);
    }
    if (!s->cfg.disable_tcp_pings && hm_rec_vsn(s, target)[1] >= 3) {
        hm_ml_ping_t ping = {0};
        hm_buf_t msg = {0};
        ping.node = ind.node;
        ping.seq_no = p->seq;
        self_source(s, &ping.source_node, &ping.source);
        if (hm_ml_put_ping(&msg, &ping) == 0) {
            hm_swim_stream_wrap(s, &msg);
            p->tcp_stream =
                hm_swim_stream_open(s, &ind.target, ST_PING, false, p->seq, &msg, p->end_at);
        }
        hm_buf_free(&msg);
    }
}

static void probe_verdict(hm_swim_t *s)
{
    hm_probe_t *p = &s->probe;
    hm_rec_t *r = hm_rec(s, p->rec);
    hm_ml_accuse_t sus;
    int delta = 0;

    if (p->tcp_ok) {
        hm_swim_note_reachable(s, p->rec);
        hm_swim_log(s, HM_LOG_WARN,
                    "Was able to connect to %s but other probes failed, network may be "
                    "misconfigured",
                    REC_NAME(r));
        probe_done(s, -1);
        return;
    }
    if (p->expected_nacks > 0) {
        if (p->nacks < p->expected_nacks)
            delta = (int)(p->expected_nacks - p->nacks);
    } else {
        delta = 1;
    }
    s->stats.probe_failures++;
    if (REC_IN_USE(r)) {
        hm_swim_log(s, HM_LOG_INFO, "Suspect %s has failed, no acks received", REC_NAME(r));
        sus.incarnation = r->inc;
        sus.node.p = REC_NAME(r);
        sus.node.n = r->name_len;
        sus.from.p = s->name;
        sus.from.n = s->name_len;
        probe_done(s, delta);
        hm_swim_suspect(s, &sus);
    } else {
        probe_done(s, delta);
    }
}

static void helpers_expire(hm_swim_t *s)
{
    size_t i = 0;

    while (i < s->nhelpers) {
        hm_helper_t *h = &s->helpers[i];
        if (h->deadline > s->now) {
            i++;
            continue;
        }
        if (h->nack) {
            hm_ml_nack_t nack = {.seq_no = h->req_seq};
            hm_addr_t to = h->reply_to;
            s->helpers[i] = s->helpers[--s->nhelpers];
            hm_buf_reset(&s->tmp);
            if (hm_ml_put_nack(&s->tmp, &nack) == 0)
                hm_swim_send(s, &to, &s->tmp, NULL, true);
            continue;
        }
        s->helpers[i] = s->helpers[--s->nhelpers];
    }
}

void hm_swim_probe_timers(hm_swim_t *s)
{
    hm_probe_t *p = &s->probe;

    helpers_expire(s);
    if (p->active && !p->acked && !p->indirect_sent && s->now >= p->timeout_at)
        probe_indirect(s);
    if (p->active && s->now >= p->end_at)
        probe_verdict(s);
}

uint64_t hm_swim_probe_deadline(const hm_swim_t *s)
{
    uint64_t t = UINT64_MAX;
    size_t i;

    if (s->probe.active)
        t = s->probe.indirect_sent ? s->probe.end_at : s->probe.timeout_at;
    for (i = 0; i < s->nhelpers; i++)
        if (s->helpers[i].deadline < t)
            t = s->helpers[i].deadline;
    return t;
}

void hm_swim_probe_tcp_result(hm_swim_t *s, uint32_t stream, bool ok)
{
    if (s->probe.active && s->probe.tcp_stream == stream) {
        s->probe.tcp_stream = 0;
        s->probe.tcp_ok = ok;
    }
}

/* ---- handlers --------------------------------------------------------- */

static hm_addr_t reply_addr(const hm_addr_t *from, const hm_addr_t *src)
{
    return src->len > 0 && src->port > 0 ? *src : *from;
}

void hm_swim_handle_ping(hm_swim_t *s, const hm_addr_t *from, const uint8_t *p, size_t n)
{
    hm_ml_ping_t ping;
    hm_ml_ack_t ack = {0};
    hm_addr_t to;

    if (hm_ml_get_ping(p, n, &ping) < 0) {
        hm_swim_malformed(s, "ping request");
        return;
    }
    if (ping.node.n &&
        !(ping.node.n == s->name_len && memcmp(ping.node.p, s->name, s->name_len) == 0)) {
        s->stats.dropped_other++;
        hm_swim_log(s, HM_LOG_WARN, "Got ping for unexpected node '%.*s'", (int)ping.node.n,
                    ping.node.p);
        return;
    }
    ack.seq_no = ping.seq_no;
    hm_buf_reset(&s->tmp2);
    if (s->d.ack_payload) {
        s->d.ack_payload(s->d.ud, &s->tmp2);
        ack.payload = s->tmp2.data ? s->tmp2.data : (const uint8_t *)"";
        ack.payload_len = s->tmp2.len;
    }
    to = reply_addr(from, &ping.source);
    hm_buf_reset(&s->tmp);
    if (hm_ml_put_ack(&s->tmp, &ack) == 0)
        hm_swim_send(s, &to, &s->tmp, NULL, true);
}

void hm_swim_handle_indirect(hm_swim_t *s, const hm_addr_t *from, const uint8_t *p, size_t n)
{
    hm_ml_indirect_ping_t ind;
    hm_ml_ping_t ping = {0};
    hm_helper_t *h;
    hm_addr_t target;

    if (hm_ml_get_indirect_ping(p, n, &ind) < 0) {
        hm_swim_malformed(s, "indirect ping request");
        return;
    }
    if (s->nhelpers == s->helpers_cap) {
        size_t ncap = s->helpers_cap ? s->helpers_cap * 2 : 8;
        hm_helper_t *nh = realloc(s->helpers, ncap * sizeof(*nh));
        if (nh == NULL)
            return;
        s->helpers = nh;
        s->helpers_cap = ncap;
    }
    h = &s->helpers[s->nhelpers++];
    h->local_seq = ++s->seq;
    h->req_seq = ind.seq_no;
    h->reply_to = reply_addr(from, &ind.source);
    h->deadline = s->now + s->cfg.probe_timeout_ms;
    h->nack = ind.nack;
    target = ind.target;
    if (target.port == 0)
        target.port = s->cfg.addr.port;
    ping.node = ind.node;
    ping.seq_no = h->local_seq;
    self_source(s, &ping.source_node, &ping.source);
    hm_buf_reset(&s->tmp);
    if (hm_ml_put_ping(&s->tmp, &ping) == 0)
        hm_swim_send(s, &target, &s->tmp, NULL, true);
}

void hm_swim_handle_ack(hm_swim_t *s, const uint8_t *p, size_t n)
{
    hm_ml_ack_t ack;
    hm_probe_t *pr = &s->probe;
    size_t i;

    if (hm_ml_get_ack(p, n, &ack) < 0) {
        hm_swim_malformed(s, "ack response");
        return;
    }
    if (pr->active && !pr->acked && ack.seq_no == pr->seq) {
        hm_rec_t *r = hm_rec(s, pr->rec);
        /* memberlist only reports the RTT for an ack inside ProbeTimeout */
        if (s->now < pr->timeout_at && s->d.notify_ping_complete && REC_IN_USE(r))
            s->d.notify_ping_complete(s->d.ud, hm_swim_view(s, r, &s->view),
                                      (s->now - pr->sent) * 1000, ack.payload, ack.payload_len);
        /* before any indirect ping went out, only the target can have
         * answered: a peer to check a suspicion with (hm_swim.c) */
        if (!pr->indirect_sent)
            hm_swim_note_reachable(s, pr->rec);
        probe_done(s, -1);
        return;
    }
    for (i = 0; i < s->nhelpers; i++) {
        if (s->helpers[i].local_seq == ack.seq_no) {
            hm_ml_ack_t fwd = {.seq_no = s->helpers[i].req_seq};
            hm_addr_t to = s->helpers[i].reply_to;
            s->helpers[i] = s->helpers[--s->nhelpers];
            hm_buf_reset(&s->tmp);
            if (hm_ml_put_ack(&s->tmp, &fwd) == 0)
                hm_swim_send(s, &to, &s->tmp, NULL, true);
            return;
        }
    }
}

void hm_swim_handle_nack(hm_swim_t *s, const uint8_t *p, size_t n)
{
    hm_ml_nack_t nack;

    if (hm_ml_get_nack(p, n, &nack) < 0) {
        hm_swim_malformed(s, "nack response");
        return;
    }
    if (s->probe.active && nack.seq_no == s->probe.seq && s->now < s->probe.end_at)
        s->probe.nacks++;
}
