/*
 * Protocol scenarios on the simulator (virtual time only): determinism,
 * failure detection bounds, refutation, rejoin after death, the three-site
 * asymmetric route, random loss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_mlwire.h"
#include "sim/hm_sim.h"
#include "tap.h"

#define MAXN 128

typedef struct deaths {
    uint32_t count[MAXN];
    uint64_t first[MAXN], last[MAXN];
} deaths_t;

static void on_event(void *ud, uint32_t observer, hm_sim_event_t ev, const hm_swim_node_t *n,
                     uint64_t now)
{
    deaths_t *d = ud;
    int who = atoi(n->name + 1);

    if (ev != HM_SIM_LEAVE || n->state != HM_ML_STATE_DEAD || who < 0 || who >= MAXN)
        return;
    if (d->count[who]++ == 0)
        d->first[who] = now;
    d->last[who] = now;
}

static hm_sim_t *cluster(uint64_t seed, uint32_t n, const char *profile, uint64_t join_span)
{
    hm_swim_config_t cfg = {0};
    hm_sim_t *sim = hm_sim_new(seed);
    uint32_t i;
    uint64_t rs = seed * 7919 + 1;

    hm_swim_config_profile(&cfg, profile);
    for (i = 0; i < n; i++)
        hm_sim_add(sim, &cfg);
    for (i = 1; i < n; i++) {
        rs = rs * 6364136223846793005ull + 1442695040888963407ull;
        hm_sim_run_until(sim, (uint64_t)i * join_span / n);
        hm_sim_join(sim, i, (uint32_t)((rs >> 33) % i));
    }
    return sim;
}

static uint32_t count_seeing(const hm_sim_t *sim, uint32_t want)
{
    uint32_t i, c = 0;
    for (i = 0; i < hm_sim_size(sim); i++)
        c += hm_sim_is_up(sim, i) && hm_sim_seen_alive(sim, i) == want;
    return c;
}

static uint64_t run_trace(uint64_t seed)
{
    hm_sim_t *sim = cluster(seed, 20, "lan", 2000);
    uint64_t h;

    hm_sim_set_loss(sim, 0.05);
    hm_sim_run_until(sim, 20000);
    hm_sim_crash(sim, 4);
    hm_sim_run_until(sim, 40000);
    h = hm_sim_stats(sim)->trace_hash;
    hm_sim_free(sim);
    return h;
}

static void test_determinism(void)
{
    uint64_t a = run_trace(5), b = run_trace(5), c = run_trace(6);

    ok(a == b, "same seed, same trace hash (%016llx)", (unsigned long long)a);
    ok(a != c, "another seed, another trace");
}

/* A crash in a 100-node lan cluster.  memberlist's bound: someone probes
 * the node within a few probe intervals (each of the 99 others probes one
 * random-ordered member per second: P(nobody within 10 s) ~ e^-10), the
 * probe takes one interval, the suspicion lasts at most
 * SuspicionMaxTimeoutMult * SuspicionMult * log10(100) * 1 s = 48 s (no
 * confirmations) and at least min = 8 s, then the dead message spreads in
 * a few gossip rounds (< 5 s).  So: everyone within 10 + 1 + 48 + 5 = 64 s,
 * nobody before 8 s. */
static void test_crash_detection(void)
{
    static deaths_t d;
    hm_sim_t *sim = cluster(11, 100, "lan", 5000);
    const uint64_t crash = 60000;
    uint32_t declared;

    hm_sim_set_event_fn(sim, on_event, &d);
    hm_sim_run_until(sim, crash);
    is_int(count_seeing(sim, 100), 100, "100 nodes converged before the crash");
    hm_sim_crash(sim, 42);
    hm_sim_run_until(sim, crash + 64000);
    declared = d.count[42];
    is_int(declared, 99, "all 99 others declared the crashed node dead within 64 s");
    ok(d.first[42] >= crash + 8000, "nobody before the 8 s minimum suspicion (first at +%.1f s)",
       (double)(d.first[42] - crash) / 1000.0);
    diag("crash detection: first +%.1f s, last +%.1f s", (double)(d.first[42] - crash) / 1000.0,
         (double)(d.last[42] - crash) / 1000.0);
    is_int(hm_sim_stats(sim)->false_failures, 0, "no false failures");
    is_int(count_seeing(sim, 99), 99, "everyone sees the 99 live nodes alive");
    hm_sim_free(sim);
}

/* Node 7 stops receiving for 2.5 s: the others suspect it; once it hears
 * the accusation it refutes with a higher incarnation, before the
 * suspicion timeout (min 4 * log10(20) * 1 s = 5.2 s). */
static void test_refute(void)
{
    hm_sim_t *sim = cluster(12, 20, "lan", 2000);
    uint32_t i;
    const hm_swim_node_t *me;

    hm_sim_run_until(sim, 30000);
    for (i = 0; i < 20; i++)
        hm_sim_block(sim, i, 7, true);
    hm_sim_run_until(sim, 32500);
    for (i = 0; i < 20; i++)
        hm_sim_block(sim, i, 7, false);
    hm_sim_run_until(sim, 60000);
    me = hm_swim_find(hm_sim_engine(sim, 7), "n7");
    ok(hm_swim_stats(hm_sim_engine(sim, 7))->refutes >= 1, "node 7 refuted (%llu times)",
       (unsigned long long)hm_swim_stats(hm_sim_engine(sim, 7))->refutes);
    ok(me && me->incarnation > 1, "with a higher incarnation (%u)", me ? me->incarnation : 0);
    is_int(hm_sim_stats(sim)->false_failures, 0, "nobody declared it dead");
    is_int(count_seeing(sim, 20), 20, "everyone sees everyone alive");
    {
        uint64_t suspects = 0;
        for (i = 0; i < 20; i++)
            suspects += hm_swim_stats(hm_sim_engine(sim, i))->suspects;
        ok(suspects > 0, "it was suspected (%llu suspect transitions)",
           (unsigned long long)suspects);
    }
    hm_sim_free(sim);
}

/* Crash, be declared dead, restart with incarnation 1 and join again.
 * While the others still hold it as dead (GossipToTheDead, 30 s), the
 * push/pull tells the node it is dead: it refutes with a higher
 * incarnation and everyone takes it back.  Once reaped, it is simply new. */
static void test_rejoin(void)
{
    static deaths_t d;
    hm_sim_t *sim = cluster(13, 20, "lan", 2000);
    const hm_swim_node_t *x;
    uint32_t i, back = 0;

    hm_sim_set_event_fn(sim, on_event, &d);
    hm_sim_run_until(sim, 20000);
    hm_sim_crash(sim, 3);
    hm_sim_run_until(sim, 45000);
    is_int(d.count[3], 19, "crashed node declared dead by the 19 others");
    x = hm_swim_find(hm_sim_engine(sim, 0), "n3");
    ok(x && x->state == HM_ML_STATE_DEAD, "still held as dead (not reaped yet)");
    hm_sim_restart(sim, 3);
    hm_sim_join(sim, 3, 0);
    hm_sim_run_until(sim, 60000);
    for (i = 0; i < 20; i++) {
        x = hm_swim_find(hm_sim_engine(sim, i), "n3");
        back += x && x->state == HM_ML_STATE_ALIVE;
    }
    is_int(back, 20, "20 nodes see the restarted node alive again");
    x = hm_swim_find(hm_sim_engine(sim, 3), "n3");
    ok(x && x->incarnation > 1, "it refuted its death with incarnation %u",
       x ? x->incarnation : 0);
    is_int(hm_sim_seen_alive(sim, 3), 20, "and it sees everyone");

    /* second life: crash again, come back after the dead entry was reaped */
    hm_sim_crash(sim, 3);
    hm_sim_run_until(sim, 180000);
    x = hm_swim_find(hm_sim_engine(sim, 0), "n3");
    ok(x == NULL, "dead entry reaped after GossipToTheDead at a probe wrap");
    hm_sim_restart(sim, 3);
    hm_sim_join(sim, 3, 9);
    hm_sim_run_until(sim, 200000);
    is_int(count_seeing(sim, 20), 20, "after the reap it rejoins as a new node");
    hm_sim_free(sim);
}

/* The seed's scenario: sites A, B, C; A and C cannot reach each other in
 * either direction, both reach B.  Indirect probes through B keep
 * everyone alive: no false failure in 10 minutes. */
static uint32_t site_of(uint32_t node, uint32_t per_site)
{
    return node / per_site;
}

static uint32_t g_per_site;
static bool three_sites(void *ud, uint32_t from, uint32_t to)
{
    uint32_t a = site_of(from, g_per_site), b = site_of(to, g_per_site);
    return !((a == 0 && b == 2) || (a == 2 && b == 0));
}

static void test_three_sites(uint32_t per_site, uint64_t seed)
{
    hm_sim_t *sim = cluster(seed, 3 * per_site, "lan", 1000);
    uint64_t suspects = 0;
    uint32_t i, n = 3 * per_site;

    g_per_site = per_site;
    hm_sim_run_until(sim, 20000);
    is_int(count_seeing(sim, n), n, "%u nodes in 3 sites converged", n);
    hm_sim_set_link_fn(sim, three_sites, NULL);
    hm_sim_run_until(sim, 20000 + 600000);
    for (i = 0; i < n; i++)
        suspects += hm_swim_stats(hm_sim_engine(sim, i))->suspects;
    is_int(hm_sim_stats(sim)->false_failures, 0,
           "A-/->C for 10 min: zero false failures (%llu suspicions, all refuted)",
           (unsigned long long)suspects);
    is_int(count_seeing(sim, n), n, "everyone still sees everyone alive");
    ok(hm_sim_stats(sim)->blocked > 0, "the cut dropped traffic (%llu packets)",
       (unsigned long long)hm_sim_stats(sim)->blocked);
    hm_sim_free(sim);
}

/* 10% random loss on every datagram, 50 nodes, 10 minutes. */
static void test_loss(void)
{
    hm_sim_t *sim = cluster(14, 50, "lan", 2000);

    hm_sim_run_until(sim, 20000);
    hm_sim_set_loss(sim, 0.10);
    hm_sim_run_until(sim, 20000 + 600000);
    is_int(hm_sim_stats(sim)->false_failures, 0, "10%% loss, 50 nodes, 10 min: no false failure");
    is_int(count_seeing(sim, 50), 50, "everyone sees everyone alive");
    ok(hm_sim_stats(sim)->lost > 1000, "packets were lost (%llu)",
       (unsigned long long)hm_sim_stats(sim)->lost);
    hm_sim_free(sim);
}

/* Graceful leave: the others see `left`, not dead. */
static void test_leave(void)
{
    hm_sim_t *sim = cluster(15, 10, "lan", 1000);
    uint32_t i, left = 0;

    hm_sim_run_until(sim, 15000);
    hm_sim_leave(sim, 5);
    hm_sim_run_until(sim, 16000);
    ok(hm_swim_leave_done(hm_sim_engine(sim, 5)), "leave broadcast done within 1 s");
    hm_sim_crash(sim, 5); /* shut down after leaving */
    hm_sim_run_until(sim, 60000);
    for (i = 0; i < 10; i++)
        if (i != 5) {
            const hm_swim_node_t *x = hm_swim_find(hm_sim_engine(sim, i), "n5");
            left += x && x->state == HM_ML_STATE_LEFT;
        }
    is_int(left, 9, "all 9 others see the node as left");
    is_int(hm_sim_stats(sim)->false_failures, 0, "and nobody as failed");
    hm_sim_free(sim);
}

int main(void)
{
    test_determinism();
    test_crash_detection();
    test_refute();
    test_rejoin();
    test_three_sites(1, 21);
    test_three_sites(4, 22);
    test_loss();
    test_leave();
    return done_testing();
}
