/*
 * One engine fed crafted packets: memberlist's alive/suspect/dead rules
 * (spec 7.5), refutation, suspicion timeouts (7.4), pings, malformed input.
 */
#include <stdio.h>
#include <string.h>

#include <hamlet/module.h>

#include "hm_mlwire.h"
#include "hm_pool.h"
#include "hm_swim.h"
#include "tap.h"

static int joins, leaves, updates, conflicts;
static char last_event[64];

static void on_join(void *ud, const hm_swim_node_t *n)
{
    joins++;
    snprintf(last_event, sizeof(last_event), "join %s", n->name);
}
static void on_leave(void *ud, const hm_swim_node_t *n)
{
    leaves++;
    snprintf(last_event, sizeof(last_event), "leave %s %d", n->name, n->state);
}
static void on_update(void *ud, const hm_swim_node_t *n)
{
    updates++;
    snprintf(last_event, sizeof(last_event), "update %s", n->name);
}
static void on_conflict(void *ud, const hm_swim_node_t *a, const hm_swim_node_t *b)
{
    conflicts++;
}

static int log_lines;
static char last_log[256];
static void on_log(void *ud, hm_log_level_t level, const char *msg)
{
    log_lines++;
    snprintf(last_log, sizeof(last_log), "%s", msg);
}

static hm_addr_t addr_of(int i)
{
    hm_addr_t a = {{10, 0, 0, (uint8_t)i}, 4, 7946};
    return a;
}

static void feed(hm_swim_t *s, uint64_t now, hm_buf_t *b)
{
    hm_addr_t from = addr_of(99);
    hm_swim_packet(s, now, &from, b->data, b->len);
    hm_buf_free(b);
}

static void alive(hm_swim_t *s, uint64_t now, const char *name, int ip, uint32_t inc,
                  const char *meta)
{
    hm_buf_t b = {0};
    hm_ml_alive_t a = {0};
    static const uint8_t vsn[6] = {1, 5, 2, 2, 5, 5};

    a.incarnation = inc;
    a.node.p = name;
    a.node.n = strlen(name);
    a.addr = addr_of(ip);
    a.meta = (const uint8_t *)meta;
    a.meta_len = meta ? strlen(meta) : 0;
    memcpy(a.vsn, vsn, 6);
    a.has_vsn = true;
    hm_ml_put_alive(&b, &a);
    feed(s, now, &b);
}

static void accuse(hm_swim_t *s, uint64_t now, bool dead, const char *node, uint32_t inc,
                   const char *from)
{
    hm_buf_t b = {0};
    hm_ml_accuse_t m = {.incarnation = inc};

    m.node.p = node;
    m.node.n = strlen(node);
    m.from.p = from;
    m.from.n = strlen(from);
    if (dead)
        hm_ml_put_dead(&b, &m);
    else
        hm_ml_put_suspect(&b, &m);
    feed(s, now, &b);
}

static int state_of(hm_swim_t *s, const char *name)
{
    const hm_swim_node_t *n = hm_swim_find(s, name);
    return n ? n->state : -1;
}

static uint32_t inc_of(hm_swim_t *s, const char *name)
{
    const hm_swim_node_t *n = hm_swim_find(s, name);
    return n ? n->incarnation : 0;
}

static void drain(hm_swim_t *s)
{
    hm_swim_out_t o;
    while (hm_swim_poll(s, &o))
        hm_buf_free(&o.data);
}

/* The push/pull streams the engine opened since the test zeroed g_open
 * (pump() records them): a timed-out suspicion is checked with a peer
 * (g_open) and with the suspect itself (g_open2), in that order. */
static uint32_t g_open, g_open2;
static hm_addr_t g_open_to, g_open2_to;
static uint64_t g_open_deadline;

/* Tick, then answer every ping the engine sent (so its own probes never
 * fail and never add accusations of their own). */
static void pump(hm_swim_t *s, uint64_t now)
{
    hm_swim_out_t o;
    uint32_t seqs[64];
    size_t nseq = 0, i;

    hm_swim_tick(s, now);
    while (hm_swim_poll(s, &o)) {
        const uint8_t *parts[64];
        size_t lens[64];
        int k = 1, j;
        if (o.type == HM_SWIM_STREAM_OPEN && o.data.len && o.data.data[0] == HM_ML_PUSH_PULL) {
            if (g_open == 0) {
                g_open = o.stream_id;
                g_open_to = o.to;
                g_open_deadline = o.deadline_ms;
            } else {
                g_open2 = o.stream_id;
                g_open2_to = o.to;
            }
        }
        parts[0] = o.data.data;
        lens[0] = o.data.len;
        if (o.type == HM_SWIM_SEND_PACKET && o.data.len && o.data.data[0] == HM_ML_COMPOUND)
            k = hm_ml_split_compound(o.data.data + 1, o.data.len - 1, parts, lens, 64);
        for (j = 0; j < k; j++) {
            hm_ml_ping_t ping;
            if (o.type == HM_SWIM_SEND_PACKET && lens[j] && parts[j][0] == HM_ML_PING &&
                hm_ml_get_ping(parts[j] + 1, lens[j] - 1, &ping) == 0 && nseq < 64)
                seqs[nseq++] = ping.seq_no;
        }
        hm_buf_free(&o.data);
    }
    for (i = 0; i < nseq; i++) {
        hm_buf_t b = {0};
        hm_ml_ack_t ack = {.seq_no = seqs[i]};
        hm_ml_put_ack(&b, &ack);
        feed(s, now, &b);
    }
}

/* true: memberlist's suspicion timeout (dead when the timer fires), for
 * the tests of its timing; false: hamlet's check with a peer first. */
static bool g_memberlist;
static bool g_no_periodic_push_pull;

static hm_swim_t *mk(uint64_t now)
{
    hm_swim_config_t c = {0};
    hm_swim_delegate_t d = {0};

    hm_swim_config_profile(&c, "lan");
    c.name = "self";
    c.addr = addr_of(1);
    c.seed = 7;
    c.enable_compression = false;
    c.disable_suspicion_verify = g_memberlist;
    if (g_no_periodic_push_pull)
        c.push_pull_interval_ms = 0; /* every push/pull seen is a check */
    d.notify_join = on_join;
    d.notify_leave = on_leave;
    d.notify_update = on_update;
    d.notify_conflict = on_conflict;
    d.log = on_log;
    return hm_swim_new(&c, &d, now);
}

static void test_profiles(void)
{
    hm_swim_config_t c = {0};

    is_int(hm_swim_config_profile(&c, "lan"), 0, "lan profile");
    ok(c.probe_interval_ms == 1000 && c.probe_timeout_ms == 500 && c.suspicion_mult == 4 &&
           c.gossip_interval_ms == 200 && c.push_pull_interval_ms == 30000 &&
           c.retransmit_mult == 4 && c.indirect_checks == 3 && c.udp_buffer_size == 1400 &&
           c.vsn[1] == 5,
       "lan values");
    is_int(hm_swim_config_profile(&c, "wan"), 0, "wan profile");
    ok(c.probe_interval_ms == 5000 && c.probe_timeout_ms == 3000 && c.suspicion_mult == 6 &&
           c.gossip_nodes == 4 && c.gossip_interval_ms == 500 && c.tcp_timeout_ms == 30000,
       "wan values");
    is_int(hm_swim_config_profile(&c, "local"), 0, "local profile");
    ok(c.probe_timeout_ms == 200 && c.indirect_checks == 1 && c.retransmit_mult == 2 &&
           c.suspicion_mult == 3 && c.gossip_interval_ms == 100 && c.tcp_timeout_ms == 1000,
       "local values");
    is_int(hm_swim_config_profile(&c, "moon"), -1, "unknown profile");
}

static void test_alive_rules(void)
{
    hm_swim_t *s;

    joins = 0;
    s = mk(0);
    is_int(joins, 1, "notify_join about ourselves at start");
    joins = leaves = updates = conflicts = 0;
    is_int(state_of(s, "self"), HM_ML_STATE_ALIVE, "self alive");
    is_int(inc_of(s, "self"), 1, "own incarnation starts at 1");
    alive(s, 10, "a", 2, 1, NULL);
    is_int(state_of(s, "a"), HM_ML_STATE_ALIVE, "unknown node added alive");
    is_int(joins, 1, "notify_join");
    alive(s, 20, "a", 2, 1, NULL);
    is_int(joins + updates, 1, "same incarnation ignored");
    alive(s, 30, "a", 2, 2, "tags");
    is_int(inc_of(s, "a"), 2, "higher incarnation accepted");
    is_int(updates, 1, "meta change -> notify_update");
    alive(s, 40, "a", 3, 5, NULL);
    is_int(conflicts, 1, "other address for an alive node -> conflict");
    is_int(inc_of(s, "a"), 2, "conflicting alive not applied");
    {
        hm_buf_t b = {0};
        hm_ml_alive_t a = {0};
        a.incarnation = 9;
        a.node.p = "b";
        a.node.n = 1;
        a.addr = addr_of(4);
        a.vsn[0] = 3;
        a.vsn[1] = 2;
        a.has_vsn = true;
        hm_ml_put_alive(&b, &a);
        feed(s, 50, &b);
        is_int(state_of(s, "b"), -1, "alive with pmin > pmax ignored");
    }
    is_int(hm_swim_num_nodes(s), 2, "two nodes");
    {
        hm_buf_t b = {0};
        hm_ml_alive_t a = {0};
        const hm_swim_node_t *x;
        static const char *long_name = "a-node-name-longer-than-sixteen-bytes";
        a.incarnation = 3;
        a.node.p = long_name;
        a.node.n = strlen(long_name);
        a.addr.len = 16;
        a.addr.ip[0] = 0xfd;
        a.addr.ip[15] = 7;
        a.addr.port = 7000;
        a.vsn[0] = 1;
        a.vsn[1] = 5;
        a.has_vsn = true;
        hm_ml_put_alive(&b, &a);
        feed(s, 60, &b);
        x = hm_swim_find(s, long_name);
        ok(x && x->addr.len == 16 && x->addr.ip[0] == 0xfd && x->addr.ip[15] == 7 &&
               x->addr.port == 7000 && strcmp(x->name, long_name) == 0,
           "long name and IPv6 address kept");
    }
    hm_swim_free(s);
}

static void test_suspect_dead_rules(void)
{
    hm_swim_t *s = mk(0);

    joins = leaves = updates = 0;
    alive(s, 0, "a", 2, 5, NULL);
    alive(s, 0, "b", 3, 1, NULL);
    accuse(s, 10, false, "a", 4, "b");
    is_int(state_of(s, "a"), HM_ML_STATE_ALIVE, "suspect with older incarnation ignored");
    accuse(s, 10, false, "zz", 4, "b");
    is_int(state_of(s, "zz"), -1, "suspect about an unknown node ignored");
    accuse(s, 20, false, "a", 5, "b");
    is_int(state_of(s, "a"), HM_ML_STATE_SUSPECT, "suspect with same incarnation applied");
    alive(s, 30, "a", 2, 6, NULL);
    is_int(state_of(s, "a"), HM_ML_STATE_ALIVE, "newer alive clears suspicion");
    is_int(joins, 2, "suspect -> alive is no join");
    accuse(s, 40, true, "a", 6, "b");
    is_int(state_of(s, "a"), HM_ML_STATE_DEAD, "dead from another node -> dead");
    is_str(last_event, "leave a 2", "notify_leave with state dead");
    accuse(s, 50, true, "b", 1, "b");
    is_int(state_of(s, "b"), HM_ML_STATE_LEFT, "dead from the node itself -> left");
    alive(s, 60, "a", 2, 6, NULL);
    is_int(state_of(s, "a"), HM_ML_STATE_DEAD, "alive with the dead incarnation ignored");
    alive(s, 70, "a", 2, 7, NULL);
    is_int(state_of(s, "a"), HM_ML_STATE_ALIVE, "rejoin with a higher incarnation");
    is_str(last_event, "join a", "dead -> alive notifies join");
    alive(s, 80, "b", 9, 2, NULL);
    is_int(state_of(s, "b"), HM_ML_STATE_ALIVE, "a left node may come back at another address");
    is_int(hm_swim_find(s, "b")->addr.ip[3], 9, "address updated");
    hm_swim_free(s);
}

static void test_refute(void)
{
    hm_swim_t *s = mk(0);
    const hm_swim_stats_t *st = hm_swim_stats(s);

    alive(s, 0, "a", 2, 1, NULL);
    accuse(s, 10, false, "self", 1, "a");
    is_int(state_of(s, "self"), HM_ML_STATE_ALIVE, "never suspect ourselves");
    is_int(inc_of(s, "self"), 2, "refuted with incarnation + 1");
    is_int(hm_swim_health(s), 1, "refuting costs health");
    accuse(s, 20, false, "self", 7, "a");
    is_int(inc_of(s, "self"), 8, "refutation beats the accused incarnation");
    accuse(s, 30, true, "self", 8, "a");
    is_int(inc_of(s, "self"), 9, "dead about self refuted");
    is_int(state_of(s, "self"), HM_ML_STATE_ALIVE, "still alive");
    alive(s, 40, "self", 1, 12, NULL);
    is_int(inc_of(s, "self"), 13, "alive about self with a higher incarnation refuted");
    alive(s, 50, "self", 1, 3, NULL);
    is_int(inc_of(s, "self"), 13, "older alive about self ignored");
    is_int(st->refutes, 4, "four refutations counted");
    is_str(last_log, "Refuting an alive message", "logged as memberlist does");
    hm_swim_free(s);
}

/* spec 7.4: 3 nodes -> k = 0, timeout = min = 4 s */
static void test_suspicion_small(void)
{
    hm_swim_t *s = mk(0);

    alive(s, 0, "a", 2, 1, NULL);
    alive(s, 0, "b", 3, 1, NULL);
    accuse(s, 1000, false, "a", 1, "b");
    pump(s, 4999);
    is_int(state_of(s, "a"), HM_ML_STATE_SUSPECT, "3 nodes: still suspect at 3.999 s");
    pump(s, 5000);
    is_int(state_of(s, "a"), HM_ML_STATE_DEAD, "3 nodes: dead at exactly 4 s (k = 0, min)");
    hm_swim_free(s);
}

/* 10 nodes: n - 2 >= k = 2, min = 4 s, max = 24 s; one confirmation gives
 * 24 - ln 2 / ln 3 * 20 = 11.381 s; a second one gives min. */
static void test_suspicion_confirm(void)
{
    hm_swim_t *s = mk(0);
    char name[16];
    int i;

    for (i = 0; i < 9; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        alive(s, 0, name, 10 + i, 1, NULL);
    }
    is_int(hm_swim_num_nodes(s), 10, "10 nodes");
    accuse(s, 1000, false, "p0", 1, "p1");
    pump(s, 24999);
    is_int(state_of(s, "p0"), HM_ML_STATE_SUSPECT, "no confirmation: suspect until max");
    pump(s, 25000);
    is_int(state_of(s, "p0"), HM_ML_STATE_DEAD, "no confirmation: dead at max = 24 s");

    accuse(s, 30000, false, "p2", 1, "p1");
    accuse(s, 30500, false, "p2", 1, "p1");
    accuse(s, 31000, false, "p2", 1, "p3");
    pump(s, 30000 + 11380);
    is_int(state_of(s, "p2"), HM_ML_STATE_SUSPECT, "1 confirmation: suspect at 11.380 s");
    pump(s, 30000 + 11381);
    is_int(state_of(s, "p2"), HM_ML_STATE_DEAD, "1 confirmation: dead at 11.381 s");

    accuse(s, 50000, false, "p4", 1, "p1");
    accuse(s, 51000, false, "p4", 1, "p3");
    accuse(s, 55000, false, "p4", 1, "p5");
    pump(s, 55000);
    is_int(state_of(s, "p4"), HM_ML_STATE_DEAD, "2 confirmations after min elapsed: dead at once");
    hm_swim_free(s);
}

/* A push/pull answer on stream `id`: node `name` (address ip) in `state`
 * at `inc`, and "p1", alive. */
static void pp_reply(hm_swim_t *s, uint64_t now, uint32_t id, const char *name, int ip,
                     uint8_t state, uint32_t inc)
{
    static const uint8_t vsn[6] = {1, 5, 2, 2, 5, 5};
    hm_ml_push_node_t nodes[2];
    hm_buf_t b = {0};

    memset(nodes, 0, sizeof(nodes));
    nodes[0].name.p = name;
    nodes[0].name.n = strlen(name);
    nodes[0].addr = addr_of(ip);
    nodes[0].incarnation = inc;
    nodes[0].state = state;
    memcpy(nodes[0].vsn, vsn, 6);
    nodes[0].has_vsn = true;
    nodes[1] = nodes[0];
    nodes[1].name.p = "p1";
    nodes[1].name.n = 2;
    nodes[1].addr = addr_of(11);
    nodes[1].incarnation = 1;
    nodes[1].state = HM_ML_STATE_ALIVE;
    hm_ml_put_push_pull(&b, false, nodes, 2, NULL, 0);
    hm_swim_stream_data(s, now, id, b.data, b.len);
    hm_buf_free(&b);
    drain(s);
}

/* hamlet's deviation: a suspicion that times out is checked with one
 * push/pull with a peer that answered our probes, which takes any missed
 * refutation in; the node dies when the push/pull shows none, fails, or
 * takes longer than ProbeTimeout (500 ms).  10 nodes: max = 24 s. */
static void test_suspicion_verify(void)
{
    hm_swim_t *s;
    const hm_swim_stats_t *st;
    char name[16];
    int i, l;
    uint64_t t;
    bool peer_ok;

    g_no_periodic_push_pull = true;
    s = mk(0);
    st = hm_swim_stats(s);
    for (i = 0; i < 9; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        alive(s, 0, name, 10 + i, 1, NULL);
    }
    for (i = 1; i <= 20; i++)
        pump(s, (uint64_t)i * 500); /* probes answered directly: peers to check with */
    g_open = g_open2 = 0;
    accuse(s, 11000, false, "p0", 1, "p1");
    pump(s, 34999);
    is_int(g_open, 0, "no push/pull before the timeout");
    l = leaves;
    pump(s, 35000);
    is_int(state_of(s, "p0"), HM_ML_STATE_SUSPECT, "timeout: still suspect while checking");
    ok(g_open != 0 && g_open_deadline == 35500, "a push/pull went out, deadline ProbeTimeout");
    peer_ok = g_open_to.ip[3] >= 11 && g_open_to.ip[3] <= 18;
    ok(peer_ok, "with a peer we probed, not the suspect (10.0.0.%u)", g_open_to.ip[3]);
    ok(g_open2 != 0 && g_open2_to.ip[3] == 10, "and one with the suspect itself (10.0.0.%u)",
       g_open2_to.ip[3]);
    pp_reply(s, 35040, g_open, "p0", 10, HM_ML_STATE_ALIVE, 2);
    is_int(state_of(s, "p0"), HM_ML_STATE_ALIVE, "the peer had its refutation: alive");
    is_int(inc_of(s, "p0"), 2, "at the refuting incarnation");
    is_int(leaves, l, "no failure event");
    hm_swim_stream_failed(s, 35100, g_open2, "timeout"); /* the other check: nothing */
    is_int(state_of(s, "p0"), HM_ML_STATE_ALIVE, "the other check ending changes nothing");

    g_open = g_open2 = 0;
    accuse(s, 40000, false, "p2", 1, "p1");
    pump(s, 64000);
    ok(g_open != 0 && g_open2 != 0, "p2 timed out: checking");
    pp_reply(s, 64030, g_open, "p2", 12, HM_ML_STATE_SUSPECT, 1);
    is_int(state_of(s, "p2"), HM_ML_STATE_SUSPECT, "the peer suspects it too: wait for itself");
    hm_swim_stream_failed(s, 64040, g_open2, "connection refused");
    is_int(state_of(s, "p2"), HM_ML_STATE_DEAD, "and it refused: dead");
    is_int(inc_of(s, "p2"), 1, "at the suspected incarnation");

    g_open = g_open2 = 0;
    accuse(s, 70000, false, "p3", 1, "p1");
    pump(s, 94000);
    pump(s, 94499);
    is_int(state_of(s, "p3"), HM_ML_STATE_SUSPECT, "no answer: suspect until ProbeTimeout");
    pump(s, 94500);
    is_int(state_of(s, "p3"), HM_ML_STATE_SUSPECT,
           "no answer, not even a refusal from p3: one more period (a route we may lack)");
    g_open = g_open2 = 0;
    pump(s, 98499);
    is_int(g_open, 0, "no check before the minimum suspicion time");
    pump(s, 98500);
    ok(g_open != 0 && g_open2 != 0, "then both checks again");
    pump(s, 98999);
    is_int(state_of(s, "p3"), HM_ML_STATE_SUSPECT, "suspect until ProbeTimeout");
    pump(s, 99000);
    is_int(state_of(s, "p3"), HM_ML_STATE_DEAD, "still no answer: dead (4.5 s after the first)");
    pp_reply(s, 99100, g_open, "p3", 13, HM_ML_STATE_ALIVE, 1); /* late: nothing */

    g_open = g_open2 = 0;
    accuse(s, 100000, false, "p4", 1, "p1");
    pump(s, 124000);
    hm_swim_stream_failed(s, 124010, g_open, "connection refused");
    is_int(state_of(s, "p4"), HM_ML_STATE_SUSPECT, "push/pull with the peer failed: wait");
    hm_swim_stream_failed(s, 124020, g_open2, "connection refused");
    is_int(state_of(s, "p4"), HM_ML_STATE_DEAD, "both failed: dead at once");

    is_int((int)st->verifies, 5, "5 checks (p3 twice)");
    is_int((int)st->verify_dead, 3, "3 died after the check");

    /* a suspect message at a newer incarnation arrived meanwhile: the node
     * refuted ours, and the newer suspicion starts afresh */
    g_open = 0;
    accuse(s, 130000, false, "p5", 1, "p1");
    accuse(s, 131000, false, "p5", 2, "p3"); /* memberlist: a confirmation */
    pump(s, 130000 + 11381);
    is_int(state_of(s, "p5"), HM_ML_STATE_SUSPECT, "newer accusation: not dead at 11.381 s");
    is_int(inc_of(s, "p5"), 2, "suspect at the newer incarnation");
    is_int(g_open, 0, "no push/pull needed");
    pump(s, 141381 + 23999);
    is_int(state_of(s, "p5"), HM_ML_STATE_SUSPECT, "its own timer: max again");
    pump(s, 141381 + 24000);
    ok(g_open != 0, "then checked as any other");
    for (t = 165500; t <= 172000; t += 500) /* unanswered twice: dead */
        pump(s, t);
    is_int(state_of(s, "p5"), HM_ML_STATE_DEAD, "p5 unanswered twice: dead");

    /* the suspect answers without a refutation (it had not heard the
     * suspicion): alive, so the suspicion starts over */
    g_open = g_open2 = 0;
    accuse(s, 200000, false, "p6", 1, "p1");
    pump(s, 224000);
    ok(g_open2 != 0 && g_open2_to.ip[3] == 16, "p6 timed out: checking with itself too");
    pp_reply(s, 224020, g_open2, "p6", 16, HM_ML_STATE_ALIVE, 1);
    is_int(state_of(s, "p6"), HM_ML_STATE_SUSPECT, "it answered: still suspect, not dead");
    g_open = g_open2 = 0;
    pump(s, 224020 + 6000);
    ok(state_of(s, "p6") == HM_ML_STATE_SUSPECT && g_open != 0,
       "checked again after the minimum suspicion time (4 s here)");
    is_int((int)st->verifies, 9, "9 checks in all (p3, p5 and p6 twice)");
    is_int((int)st->verify_dead, 4, "4 died after a check (p5 unanswered)");
    hm_swim_free(s);

    /* the same in memberlist's mode: the older suspicion's timer kills it */
    g_memberlist = true;
    s = mk(0);
    for (i = 0; i < 9; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        alive(s, 0, name, 10 + i, 1, NULL);
    }
    accuse(s, 1000, false, "p5", 1, "p1");
    accuse(s, 2000, false, "p5", 2, "p3");
    pump(s, 1000 + 11381);
    is_int(state_of(s, "p5"), HM_ML_STATE_DEAD, "memberlist: dead at 11.381 s");
    is_int(inc_of(s, "p5"), 1, "memberlist: at the older incarnation");
    is_int((int)hm_swim_stats(s)->verifies, 0, "memberlist: no check");
    hm_swim_free(s);
    g_memberlist = false;
    g_no_periodic_push_pull = false;
}

static void test_ping_and_garbage(void)
{
    hm_swim_t *s = mk(0);
    const hm_swim_stats_t *st = hm_swim_stats(s);
    hm_buf_t b = {0};
    hm_ml_ping_t ping = {0};
    hm_swim_out_t o;
    hm_addr_t from = addr_of(5);
    static const uint8_t garbage[] = {4, 0xc1, 0xff, 0x00};
    static const uint8_t badcrc[] = {12, 0, 0, 0, 0, 4, 0x80};
    int got = 0;

    drain(s);
    ping.node.p = "self";
    ping.node.n = 4;
    ping.seq_no = 42;
    ping.source = addr_of(6);
    ping.source_node.p = "x";
    ping.source_node.n = 1;
    hm_ml_put_ping(&b, &ping);
    hm_swim_packet(s, 10, &from, b.data, b.len);
    while (hm_swim_poll(s, &o)) {
        hm_ml_ack_t ack;
        const uint8_t *p = o.data.data;
        size_t n = o.data.len;
        if (o.type == HM_SWIM_SEND_PACKET && p[0] == HM_ML_COMPOUND) {
            const uint8_t *parts[8];
            size_t lens[8];
            if (hm_ml_split_compound(p + 1, n - 1, parts, lens, 8) > 0) {
                p = parts[0];
                n = lens[0];
            }
        }
        if (o.type == HM_SWIM_SEND_PACKET && p[0] == HM_ML_ACK &&
            hm_ml_get_ack(p + 1, n - 1, &ack) == 0 && ack.seq_no == 42 && o.to.ip[3] == 6)
            got++;
        hm_buf_free(&o.data);
    }
    is_int(got, 1, "ping answered with an ack to SourceAddr:SourcePort");
    hm_buf_reset(&b);
    ping.node.p = "other";
    ping.node.n = 5;
    hm_ml_put_ping(&b, &ping);
    hm_swim_packet(s, 20, &from, b.data, b.len);
    ok(!hm_swim_poll(s, &o), "ping for another node name: no ack");
    hm_buf_free(&b);
    hm_swim_packet(s, 30, &from, garbage, sizeof(garbage));
    is_int(st->dropped_malformed, 1, "garbage alive dropped and counted");
    is_str(last_log, "Failed to decode alive message", "with a debug log line");
    hm_swim_packet(s, 30, &from, badcrc, sizeof(badcrc));
    is_int(st->dropped_crc, 1, "bad CRC dropped and counted");
    hm_swim_packet(s, 30, &from, (const uint8_t *)"\x63", 1);
    is_int(st->dropped_other, 2, "unknown type counted (with the mismatched ping)");
    hm_swim_packet(s, 30, &from, (const uint8_t *)"", 0);
    is_int(st->dropped_malformed, 2, "empty packet counted");
    hm_swim_free(s);
}

static void test_leave(void)
{
    hm_swim_t *s = mk(0);
    uint64_t t;

    alive(s, 0, "a", 2, 1, NULL);
    hm_swim_leave(s, 100);
    is_int(state_of(s, "self"), HM_ML_STATE_LEFT, "leave marks ourselves left");
    ok(!hm_swim_leave_done(s), "not done while the broadcast is pending");
    for (t = 100; t < 20000 && !hm_swim_leave_done(s); t += 50) {
        hm_swim_tick(s, t);
        drain(s);
    }
    ok(hm_swim_leave_done(s), "done once the dead message was fully retransmitted");
    alive(s, t, "self", 1, 50, NULL);
    is_int(state_of(s, "self"), HM_ML_STATE_LEFT, "alive about self ignored while leaving");
    hm_swim_free(s);
}

static hm_swim_t *mk_cfg(uint64_t now, bool compress, uint32_t reclaim_ms)
{
    hm_swim_config_t c = {0};
    hm_swim_delegate_t d = {0};

    hm_swim_config_profile(&c, "lan");
    c.name = "self";
    c.addr = addr_of(1);
    c.seed = 9;
    c.enable_compression = compress;
    c.dead_node_reclaim_ms = reclaim_ms;
    d.notify_join = on_join;
    d.notify_leave = on_leave;
    d.log = on_log;
    return hm_swim_new(&c, &d, now);
}

/* CRC on gossip to peers speaking protocol 5, compression only when it
 * shrinks a datagram, always on streams. */
static void test_envelopes(void)
{
    hm_swim_t *s = mk_cfg(0, true, 0);
    hm_swim_out_t o;
    uint64_t t;
    int gossip_crc = 0, gossip_compressed = 0, plain_small = 0, stream_compressed = 0;
    int streams = 0;
    hm_addr_t peer = addr_of(2);
    hm_buf_t b0 = {0};
    char name[16];
    int i;

    for (i = 0; i < 30; i++) {
        snprintf(name, sizeof(name), "g%d", i);
        alive(s, 0, name, 10 + i, 1, "some-meta-some-meta-some-meta");
    }
    hm_swim_join(s, 0, &peer);
    for (t = 0; t < 1000; t += 50) {
        hm_swim_tick(s, t);
        while (hm_swim_poll(s, &o)) {
            const uint8_t *p = o.data.data;
            streams += o.type == HM_SWIM_STREAM_OPEN;
            if (o.type == HM_SWIM_STREAM_OPEN && p[0] == HM_ML_COMPRESS)
                stream_compressed++;
            if (o.type == HM_SWIM_SEND_PACKET && p[0] == HM_ML_HAS_CRC) {
                gossip_crc++;
                gossip_compressed += o.data.len > 5 && p[5] == HM_ML_COMPRESS;
            }
            if (o.type == HM_SWIM_SEND_PACKET && p[0] == HM_ML_PING)
                plain_small++;
            hm_buf_free(&o.data);
        }
    }
    ok(gossip_crc > 0, "gossip to protocol-5 peers carries a CRC (%d packets)", gossip_crc);
    ok(gossip_compressed > 0, "big gossip packets are compressed inside the CRC");
    ok(streams >= 1 && stream_compressed == streams,
       "every stream (join push/pull, TCP pings) is compressed (%d)", streams);
    hm_swim_free(s);
    {
        hm_swim_t *c = mk_cfg(0, true, 0);
        hm_ml_ping_t ping = {0};
        hm_addr_t from = addr_of(5);
        int k;
        ping.seq_no = 1;
        for (k = 0; k < 6; k++) {
            hm_buf_reset(&b0);
            hm_ml_put_ping(&b0, &ping);
            hm_swim_packet(c, 10, &from, b0.data, b0.len);
            while (hm_swim_poll(c, &o)) {
                plain_small = o.data.data[0] == HM_ML_ACK; /* the last one counts */
                hm_buf_free(&o.data);
            }
        }
        ok(plain_small, "a lone ack is sent uncompressed (LZW would not shrink it)");
        hm_buf_free(&b0);
        hm_swim_free(c);
    }
}

/* Push/pull merge: verifyProtocol refuses a state whose versions do not
 * fit; a good one is merged, and remote dead entries only make us suspect. */
static void test_push_pull_merge(void)
{
    hm_swim_t *s = mk_cfg(0, false, 0);
    hm_ml_push_node_t nodes[3];
    hm_buf_t b = {0};
    hm_addr_t from = addr_of(2);
    uint32_t id;
    int rc, replies = 0;
    hm_swim_out_t o;
    static const uint8_t good[6] = {1, 5, 2, 2, 5, 5}, bad[6] = {1, 5, 4, 2, 5, 5};

    memset(nodes, 0, sizeof(nodes));
    nodes[0].name.p = "r0";
    nodes[0].name.n = 2;
    nodes[0].addr = addr_of(2);
    nodes[0].incarnation = 3;
    memcpy(nodes[0].vsn, good, 6);
    nodes[0].has_vsn = true;
    nodes[1] = nodes[0];
    nodes[1].name.p = "r1";
    nodes[1].addr = addr_of(3);
    memcpy(nodes[1].vsn, bad, 6);
    nodes[1].vsn[1] = 3; /* understands up to 3 but speaks 4: outside [1, 3] */
    hm_ml_put_push_pull(&b, false, nodes, 2, NULL, 0);
    id = hm_swim_stream_accept(s, 10, &from);
    rc = hm_swim_stream_data(s, 10, id, b.data, b.len);
    is_int(rc, HM_OK, "push/pull read");
    while (hm_swim_poll(s, &o)) {
        replies += o.type == HM_SWIM_STREAM_REPLY && o.data.data[0] == HM_ML_PUSH_PULL;
        hm_buf_free(&o.data);
    }
    is_int(replies, 1, "answered with our state");
    is_int(state_of(s, "r0"), -1, "incompatible versions: nothing merged");
    hm_buf_free(&b);

    nodes[1] = nodes[0];
    nodes[1].name.p = "r1";
    nodes[1].addr = addr_of(3);
    nodes[1].state = HM_ML_STATE_DEAD;
    nodes[2] = nodes[0];
    nodes[2].name.p = "r2";
    nodes[2].addr = addr_of(4);
    nodes[2].state = HM_ML_STATE_LEFT;
    hm_ml_put_push_pull(&b, false, nodes, 1, NULL, 0);
    id = hm_swim_stream_accept(s, 20, &from);
    is_int(hm_swim_stream_data(s, 20, id, b.data, b.len - 1), HM_AGAIN, "partial stream: again");
    is_int(hm_swim_stream_data(s, 20, id, b.data, b.len), HM_OK, "whole stream: ok");
    drain(s);
    hm_buf_free(&b);
    alive(s, 25, "r1", 3, 3, NULL);
    alive(s, 25, "r2", 4, 3, NULL);
    hm_ml_put_push_pull(&b, false, nodes, 3, NULL, 0);
    id = hm_swim_stream_accept(s, 30, &from);
    hm_swim_stream_data(s, 30, id, b.data, b.len);
    drain(s);
    hm_buf_free(&b);
    is_int(state_of(s, "r0"), HM_ML_STATE_ALIVE, "remote alive merged");
    is_int(state_of(s, "r1"), HM_ML_STATE_SUSPECT, "remote dead only makes us suspect");
    is_int(state_of(s, "r2"), HM_ML_STATE_LEFT, "remote left is taken as left");
    hm_swim_free(s);
}

/* DeadNodeReclaimTime: a dead node's name may move to a new address once
 * it has been dead long enough; 0 (the default) never. */
static void test_reclaim(void)
{
    hm_swim_t *s = mk_cfg(0, false, 5000), *n = mk_cfg(0, false, 0);

    alive(s, 0, "a", 2, 1, NULL);
    alive(n, 0, "a", 2, 1, NULL);
    accuse(s, 100, true, "a", 1, "x");
    accuse(n, 100, true, "a", 1, "x");
    alive(s, 2000, "a", 3, 2, NULL);
    is_int(state_of(s, "a"), HM_ML_STATE_DEAD, "new address refused before the reclaim time");
    alive(s, 6000, "a", 3, 2, NULL);
    is_int(state_of(s, "a"), HM_ML_STATE_ALIVE, "reclaimed after 5 s dead");
    alive(n, 60000, "a", 3, 2, NULL);
    is_int(state_of(n, "a"), HM_ML_STATE_DEAD, "reclaim time 0: never");
    hm_swim_free(s);
    hm_swim_free(n);
}

/* Gossip keeps going to a dead node for GossipToTheDeadTime (30 s). */
static void test_gossip_to_the_dead(void)
{
    hm_swim_t *s = mk(0);
    hm_swim_out_t o;
    uint64_t t;
    uint32_t inc = 1;
    int early = 0, late = 0;

    alive(s, 0, "a", 2, 1, NULL);
    alive(s, 0, "b", 3, 1, NULL);
    accuse(s, 1000, true, "a", 1, "b");
    for (t = 1000; t < 40000; t += 100) {
        alive(s, t, "b", 3, ++inc, NULL); /* keep something to gossip */
        hm_swim_tick(s, t);
        while (hm_swim_poll(s, &o)) {
            if (o.type == HM_SWIM_SEND_PACKET && o.to.ip[3] == 2) {
                early += t < 1000 + 30000;
                late += t > 1000 + 30100;
            }
            hm_buf_free(&o.data);
        }
    }
    ok(early > 10, "gossip to the dead node during 30 s (%d packets)", early);
    is_int(late, 0, "none after GossipToTheDeadTime");
    hm_swim_free(s);
}

/* Vsn is kept as an index into the engine's table of distinct tuples
 * (256, the zero tuple and our own included): tuples beyond it are
 * dropped and counted, known ones are still taken. */
static void test_vsn_table(void)
{
    hm_swim_t *s = mk(0);
    const hm_swim_node_t *x;
    uint64_t before = hm_swim_stats(s)->dropped_malformed;
    int i, alive_n = 0, kept = 0;

    for (i = 0; i <= 300; i++) {
        hm_buf_t b = {0};
        hm_ml_alive_t a = {0};
        char name[16];
        int t = i == 300 ? 7 : i; /* the last one reuses a known tuple */
        snprintf(name, sizeof(name), "v%d", i);
        a.incarnation = 1;
        a.node.p = name;
        a.node.n = strlen(name);
        a.addr = addr_of(2 + i);
        a.vsn[0] = 1;
        a.vsn[1] = 5;
        a.vsn[2] = (uint8_t)(t & 0xff);
        a.vsn[3] = (uint8_t)(10 + (t >> 8));
        a.vsn[4] = 5;
        a.vsn[5] = 4;
        a.has_vsn = true;
        hm_ml_put_alive(&b, &a);
        feed(s, 10 + (uint64_t)i, &b);
        x = hm_swim_find(s, name);
        if (x && x->state == HM_ML_STATE_ALIVE) {
            alive_n++;
            kept += memcmp(x->vsn, a.vsn, 6) == 0;
        }
    }
    is_int(alive_n, 255, "254 new distinct Vsn tuples taken, then one already known");
    is_int(kept, 255, "each alive node keeps its own Vsn");
    is_int((int)(hm_swim_stats(s)->dropped_malformed - before), 46,
           "the 46 tuples beyond the table dropped and counted");
    x = hm_swim_find(s, "self");
    ok(x && x->vsn[0] == 1 && x->vsn[1] == 5 && x->vsn[2] == 2, "our own Vsn unchanged");
    hm_swim_free(s);
}

/* An alive that came without Vsn is forwarded without Vsn. */
static void test_no_vsn(void)
{
    hm_swim_t *s = mk(0);
    hm_buf_t b = {0};
    hm_ml_alive_t a = {0};
    hm_swim_out_t o;
    uint64_t t;
    int seen = 0, without = 0;

    a.incarnation = 4;
    a.node.p = "nv";
    a.node.n = 2;
    a.addr = addr_of(2);
    hm_ml_put_alive(&b, &a);
    feed(s, 0, &b);
    for (t = 0; t < 1000; t += 50) {
        hm_swim_tick(s, t);
        while (hm_swim_poll(s, &o)) {
            const uint8_t *parts[64];
            size_t lens[64];
            int k = 1, j;
            parts[0] = o.data.data;
            lens[0] = o.data.len;
            if (o.type == HM_SWIM_SEND_PACKET && o.data.data[0] == HM_ML_COMPOUND)
                k = hm_ml_split_compound(o.data.data + 1, o.data.len - 1, parts, lens, 64);
            for (j = 0; j < k && o.type == HM_SWIM_SEND_PACKET; j++) {
                hm_ml_alive_t x;
                if (lens[j] && parts[j][0] == HM_ML_ALIVE &&
                    hm_ml_get_alive(parts[j] + 1, lens[j] - 1, &x) == 0 && x.node.n == 2 &&
                    memcmp(x.node.p, "nv", 2) == 0) {
                    seen++;
                    without += !x.has_vsn;
                }
            }
            hm_buf_free(&o.data);
        }
    }
    ok(seen > 0 && without == seen, "alive without Vsn re-broadcast without Vsn (%d/%d)", without,
       seen);
    hm_swim_free(s);
}

/* Mutated real traffic (packets and push/pull streams) never crashes the
 * engine; everything it rejects is counted. */
static void test_fuzz(void)
{
    hm_swim_t *a = mk(0), *b = mk(0);
    hm_buf_t samples[64] = {{0}};
    size_t ns = 0, i;
    hm_swim_out_t o;
    uint64_t t, x = 88172645463325252ull;
    hm_addr_t from = addr_of(3), to = addr_of(1);
    int round;

    for (i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%zu", i);
        alive(a, 0, name, 20 + (int)i, 1, i % 2 ? "meta" : NULL);
    }
    accuse(a, 0, false, "f1", 1, "f2");
    accuse(a, 0, true, "f3", 1, "f3");
    hm_swim_join(a, 0, &to);
    for (t = 0; t < 5000 && ns < 64; t += 100) {
        hm_swim_tick(a, t);
        while (hm_swim_poll(a, &o)) {
            if (o.data.len && ns < 64)
                samples[ns++] = o.data;
            else
                hm_buf_free(&o.data);
        }
    }
    ok(ns > 10, "collected %zu messages to mutate", ns);
    for (round = 0; round < 20000; round++) {
        hm_buf_t *smp = &samples[(size_t)round % ns];
        uint8_t buf[2048];
        size_t n = smp->len < sizeof(buf) ? smp->len : sizeof(buf), k, flips;
        memcpy(buf, smp->data, n);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        flips = 1 + x % 4;
        for (k = 0; k < flips; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[x % n] = (uint8_t)(x >> 32);
        }
        if (round % 3 == 0)
            n = x % (n + 1); /* truncate */
        if (round % 2) {
            hm_swim_packet(b, 6000, &from, buf, n);
        } else {
            uint32_t id = hm_swim_stream_accept(b, 6000, &from);
            if (hm_swim_stream_data(b, 6000, id, buf, n) == HM_AGAIN)
                hm_swim_stream_failed(b, 6000, id, "EOF");
        }
        drain(b);
    }
    ok(hm_swim_stats(b)->dropped_malformed > 100, "20000 mutated inputs survived, %llu rejected",
       (unsigned long long)hm_swim_stats(b)->dropped_malformed);
    for (i = 0; i < ns; i++)
        hm_buf_free(&samples[i]);
    hm_swim_free(a);
    hm_swim_free(b);
}

typedef struct pp_nodes {
    hm_ml_push_node_t v[8];
    size_t n;
} pp_nodes_t;

static int keep_node(void *ud, const hm_ml_push_node_t *node)
{
    pp_nodes_t *a = ud;
    if (a->n == 8)
        return -1;
    a->v[a->n++] = *node;
    return 0;
}

/* The engine writes its push/pull straight from its table; the bytes must
 * be the general encoder's, node for node (alive, suspect, dead, with and
 * without meta, small and large incarnations). */
static void test_push_pull_bytes(void)
{
    hm_swim_t *s = mk(0);
    hm_addr_t peer = addr_of(9);
    hm_swim_out_t o;
    hm_buf_t sent = {0}, again = {0};
    hm_ml_push_header_t hdr;
    pp_nodes_t nodes = {.n = 0};
    const uint8_t *user = NULL;
    size_t used = 0;

    alive(s, 1, "a", 2, 7, "role=web");
    alive(s, 1, "bb", 3, 300, NULL);
    alive(s, 1, "ccc", 4, 70000, NULL);
    accuse(s, 2, false, "bb", 300, "a");
    accuse(s, 2, true, "ccc", 70000, "a");
    drain(s);
    hm_swim_join(s, 10, &peer);
    while (hm_swim_poll(s, &o)) {
        if (o.type == HM_SWIM_STREAM_OPEN && sent.len == 0) {
            sent = o.data;
            o.data.data = NULL;
        }
        hm_buf_free(&o.data);
    }
    ok(sent.len > 0 && sent.data[0] == HM_ML_PUSH_PULL, "join sends a push/pull");
    is_int(hm_ml_get_push_pull(sent.data + 1, sent.len - 1, &hdr, keep_node, &nodes, &user, &used),
           0, "it decodes");
    is_int(nodes.n, 4, "with our 4 nodes");
    hm_ml_put_push_pull(&again, hdr.join, nodes.v, nodes.n, user, hdr.user_state_len);
    ok(again.len == sent.len && memcmp(again.data, sent.data, sent.len) == 0,
       "byte for byte what the general encoder writes (%zu bytes)", sent.len);
    hm_buf_free(&sent);
    hm_buf_free(&again);
    hm_swim_free(s);
}

/* The first byte of the first datagram addressed to `ip` (0: none). */
static uint8_t first_byte_to(hm_swim_t *s, int ip)
{
    hm_swim_out_t o;
    uint8_t b = 0;

    while (hm_swim_poll(s, &o)) {
        if (b == 0 && o.type == HM_SWIM_SEND_PACKET && o.to.ip[3] == ip && o.data.len)
            b = o.data.data[0];
        hm_buf_free(&o.data);
    }
    return b;
}

/* A reply to a bare address gets a CRC when the address's IP names a
 * known node speaking protocol 5 (memberlist looks the IP up as a node
 * name), and none otherwise. */
static void test_crc_by_ip(void)
{
    hm_swim_t *s = mk(0);
    hm_buf_t b = {0};
    hm_ml_ping_t ping = {0};
    hm_addr_t from = addr_of(5);

    alive(s, 1, "10.0.0.7", 7, 1, NULL);
    drain(s);
    ping.node.p = "self";
    ping.node.n = 4;
    ping.seq_no = 43;
    ping.source = addr_of(7);
    hm_ml_put_ping(&b, &ping);
    hm_swim_packet(s, 10, &from, b.data, b.len);
    is_int(first_byte_to(s, 7), HM_ML_HAS_CRC, "ack to 10.0.0.7 (a node of that name): CRC");
    hm_buf_reset(&b);
    ping.source = addr_of(8);
    hm_ml_put_ping(&b, &ping);
    hm_swim_packet(s, 20, &from, b.data, b.len);
    ok(first_byte_to(s, 8) != HM_ML_HAS_CRC, "ack to 10.0.0.8 (no node of that name): no CRC");
    hm_buf_free(&b);
    hm_swim_free(s);
}

/* memberlist maxPushPullRequests: while 127 inbound push/pulls are being
 * read, the next is refused (closed, logged, counted); one finishing or
 * failing makes room again. */
static void test_push_pull_cap(void)
{
    hm_swim_t *s = mk_cfg(0, false, 0);
    hm_ml_push_node_t node;
    hm_buf_t b = {0};
    hm_addr_t from = addr_of(2);
    hm_swim_out_t o;
    uint32_t ids[127], id;
    int i, again = 0, closed = 0;
    uint64_t dropped = hm_swim_stats(s)->dropped_other;

    memset(&node, 0, sizeof(node));
    node.name.p = "r0";
    node.name.n = 2;
    node.addr = addr_of(2);
    node.incarnation = 1;
    hm_ml_put_push_pull(&b, false, &node, 1, NULL, 0);
    for (i = 0; i < 127; i++) {
        ids[i] = hm_swim_stream_accept(s, 10, &from);
        again += hm_swim_stream_data(s, 10, ids[i], b.data, b.len - 1) == HM_AGAIN;
    }
    is_int(again, 127, "127 push/pulls partly read are waited on");
    drain(s);
    log_lines = 0;
    id = hm_swim_stream_accept(s, 11, &from);
    is_int(hm_swim_stream_data(s, 11, id, b.data, b.len - 1), HM_OK, "the 128th is done with");
    while (hm_swim_poll(s, &o)) {
        closed += o.type == HM_SWIM_STREAM_CLOSE && o.stream_id == id;
        hm_buf_free(&o.data);
    }
    is_int(closed, 1, "... closed at once");
    is_str(last_log, "Too many pending push/pull requests", "... and logged as memberlist does");
    is_int(hm_swim_stats(s)->dropped_other, dropped + 1, "... and counted");
    is_int(hm_swim_stream_data(s, 12, ids[0], b.data, b.len), HM_OK, "a pending one completes");
    hm_swim_stream_failed(s, 12, ids[1], "reset");
    drain(s);
    id = hm_swim_stream_accept(s, 13, &from);
    is_int(hm_swim_stream_data(s, 13, id, b.data, b.len - 1), HM_AGAIN, "room again: read on");
    id = hm_swim_stream_accept(s, 13, &from);
    is_int(hm_swim_stream_data(s, 13, id, b.data, b.len - 1), HM_AGAIN, "and for a second one");
    id = hm_swim_stream_accept(s, 13, &from);
    is_int(hm_swim_stream_data(s, 13, id, b.data, b.len - 1), HM_OK, "then full again");
    drain(s);
    hm_buf_free(&b);
    hm_swim_free(s);
}

/* A table that outgrows its first pools keeps every node: past 1,024
 * records the record pool is a mapping of its own, grown with mremap, and
 * IPv6 addresses grow beside it.  Names cover each way the lookup compares
 * them (1-3, 4-7, 8-16 and longer bytes). */
static void big_name(char *out, int i)
{
    static const char *shorts[] = {"a", "ab", "abc", "abcd", "abcde", "abcdefg"};
    if (i < 6)
        strcpy(out, shorts[i]);
    else
        sprintf(out, "%0*d", 6 + i % 35, i);
}

static void test_big_table(void)
{
    hm_swim_t *s = mk(0);
    const int n = 5000;
    char name[64];
    int i, found = 0, right = 0, strays = 0;

    for (i = 0; i < n; i++) {
        hm_buf_t b = {0};
        hm_ml_alive_t a = {0};
        big_name(name, i);
        a.incarnation = (uint32_t)i + 1;
        a.node.p = name;
        a.node.n = strlen(name);
        a.addr = addr_of(i % 250);
        if (i % 7 == 0) {
            a.addr.len = 16;
            memset(a.addr.ip, 0, 16);
            a.addr.ip[0] = 0xfd;
            a.addr.ip[14] = (uint8_t)(i >> 8);
            a.addr.ip[15] = (uint8_t)i;
        }
        hm_ml_put_alive(&b, &a);
        feed(s, 10, &b);
    }
    is_int(hm_swim_num_nodes(s), n + 1, "5000 nodes learned");
    for (i = 0; i < n; i++) {
        const hm_swim_node_t *x;
        size_t len;
        big_name(name, i);
        x = hm_swim_find(s, name);
        found += x != NULL;
        right += x && x->incarnation == (uint32_t)i + 1 && strcmp(x->name, name) == 0 &&
                 (i % 7 == 0 ? x->addr.len == 16 && x->addr.ip[14] == (uint8_t)(i >> 8) &&
                                   x->addr.ip[15] == (uint8_t)i
                             : x->addr.len == 4 && x->addr.ip[3] == i % 250);
        /* same length, one byte off at either end: no such node */
        len = strlen(name);
        name[len - 1] ^= 0x40;
        strays += hm_swim_find(s, name) != NULL;
        name[len - 1] ^= 0x40;
        name[0] ^= 0x40;
        strays += hm_swim_find(s, name) != NULL;
    }
    is_int(found, n, "every node found after the pools grew");
    is_int(right, n, "with its incarnation and address");
    is_int(strays, 0, "a name one byte off is not found");
    hm_swim_free(s);
}

int main(void)
{
    test_profiles();
    test_alive_rules();
    test_suspect_dead_rules();
    test_refute();
    g_memberlist = true; /* memberlist's timings */
    test_suspicion_small();
    test_suspicion_confirm();
    g_memberlist = false;
    test_suspicion_verify();
    test_ping_and_garbage();
    test_leave();
    test_envelopes();
    test_push_pull_merge();
    test_reclaim();
    test_no_vsn();
    test_vsn_table();
    test_gossip_to_the_dead();
    test_push_pull_cap();
    test_crc_by_ip();
    test_push_pull_bytes();
    test_fuzz();
    test_big_table();
    /* again with the records' chunks on huge pages, as in the simulator:
     * the second time from chunks the first engine gave back */
    hm_pool_set_huge(true);
    test_big_table();
    test_big_table();
    hm_pool_set_huge(false);
    return done_testing();
}
