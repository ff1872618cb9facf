/*
 * The simulator on several threads gives the same run as on one: same
 * seed, same trace hash (every delivery, in order, per node), same stats,
 * same membership views, for 1, 2 and 3 threads and when the thread count
 * changes between runs.  The scenario has joins, loss, a crash and a
 * restart, a partition, a cut link and a leave, and a second one windows
 * of 3 ms (lat_min 3) with a latency function.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hm_sim.h"
#include "tap.h"

#define N 120

typedef struct result {
    hm_sim_stats_t st;
    uint32_t seen[N], joins[N];
    uint32_t leaves[N]; /* per observer: written only by its own thread */
    uint64_t windows;
} result_t;

static void on_event(void *ud, uint32_t observer, hm_sim_event_t ev, const hm_swim_node_t *n,
                     uint64_t now)
{
    result_t *r = ud;
    if (ev == HM_SIM_LEAVE && observer < N)
        r->leaves[observer]++;
}

static uint32_t lat_far(void *ud, uint32_t from, uint32_t to, uint64_t rnd)
{
    /* 0 would be raised to lat_min (3) */
    return (from ^ to) & 1 ? 3 + (uint32_t)(rnd % 20) : (uint32_t)(rnd % 4);
}

/* threads: the thread count; switch_to: another count from 10 s on (0: none) */
static void scenario(uint64_t seed, unsigned threads, unsigned switch_to, bool slow, result_t *r)
{
    hm_swim_config_t cfg = {0};
    hm_sim_t *sim = hm_sim_new(seed);
    uint64_t rs = seed * 7919 + 1;
    uint32_t i;

    memset(r, 0, sizeof(*r));
    hm_sim_set_threads(sim, threads);
    hm_sim_set_event_fn(sim, on_event, r);
    if (slow) {
        hm_sim_set_latency(sim, 3, 12);
        hm_sim_set_latency_fn(sim, lat_far, NULL);
    }
    hm_swim_config_profile(&cfg, "lan");
    for (i = 0; i < N; i++)
        hm_sim_add(sim, &cfg);
    for (i = 1; i < N; i++) {
        rs = rs * 6364136223846793005ull + 1442695040888963407ull;
        hm_sim_run_until(sim, (uint64_t)i * 2000 / N);
        hm_sim_join(sim, i, (uint32_t)((rs >> 33) % i));
    }
    hm_sim_set_loss(sim, 0.02);
    hm_sim_run_until(sim, 6000);
    hm_sim_crash(sim, 17);
    hm_sim_run_until(sim, 8000);
    hm_sim_join(sim, 20, 17); /* refused: a failed stream */
    hm_sim_run_until(sim, 10000);
    if (switch_to)
        hm_sim_set_threads(sim, switch_to);
    hm_sim_restart(sim, 17);
    hm_sim_join(sim, 17, 3);
    hm_sim_run_until(sim, 14000);
    for (i = 0; i < N; i++)
        hm_sim_set_group(sim, i, i < 30);
    hm_sim_partition(sim, true);
    hm_sim_run_until(sim, 19000);
    hm_sim_partition(sim, false);
    hm_sim_block(sim, 8, 9, true);
    hm_sim_block_udp(sim, 10, 11, true);
    hm_sim_leave(sim, 5);
    hm_sim_run_until(sim, 30000);
    r->st = *hm_sim_stats(sim);
    for (i = 0; i < N; i++) {
        r->seen[i] = hm_sim_seen_alive(sim, i);
        r->joins[i] = hm_sim_joins_ok(sim, i);
    }
    r->windows = hm_sim_windows(sim);
    hm_sim_free(sim);
}

static bool same_run(const result_t *a, const result_t *b)
{
    return memcmp(&a->st, &b->st, sizeof(a->st)) == 0 &&
           memcmp(a->seen, b->seen, sizeof(a->seen)) == 0 &&
           memcmp(a->joins, b->joins, sizeof(a->joins)) == 0 &&
           memcmp(a->leaves, b->leaves, sizeof(a->leaves)) == 0;
}

static void show(const char *what, const result_t *r)
{
    diag("%s: trace %016llx, %llu events, %llu packets, %llu lost, %llu blocked, %llu streams "
         "(%llu failed), %llu false failures, %llu windows",
         what, (unsigned long long)r->st.trace_hash, (unsigned long long)r->st.events,
         (unsigned long long)r->st.packets, (unsigned long long)r->st.lost,
         (unsigned long long)r->st.blocked, (unsigned long long)r->st.streams,
         (unsigned long long)r->st.streams_failed, (unsigned long long)r->st.false_failures,
         (unsigned long long)r->windows);
}

int main(void)
{
    static result_t one, two, three, sw, other, slow1, slow2;
    uint32_t i, up = 0;

    scenario(42, 1, 0, false, &one);
    scenario(42, 2, 0, false, &two);
    scenario(42, 3, 0, false, &three);
    scenario(42, 1, 2, false, &sw);
    scenario(43, 2, 0, false, &other);
    show("1 thread", &one);
    show("2 threads", &two);
    ok(one.st.lost > 0 && one.st.blocked > 0 && one.st.streams_failed > 0,
       "the scenario loses, blocks and fails streams");
    for (i = 0; i < N; i++)
        up += one.seen[i] >= N - 2;
    ok(up >= N - 2, "the cluster healed after the partition (%u nodes see >= %u)", up, N - 2);
    is_int(one.windows, 0, "1 thread: no lockstep windows");
    ok(two.windows > 20000, "2 threads ran in lockstep windows (%llu)",
       (unsigned long long)two.windows);
    ok(one.st.trace_hash == two.st.trace_hash, "1 and 2 threads: same trace hash");
    ok(same_run(&one, &two), "1 and 2 threads: same stats, views and callbacks");
    ok(same_run(&one, &three), "3 threads: the same run");
    ok(same_run(&one, &sw), "1 thread, then 2 from 10 s on: the same run");
    ok(other.st.trace_hash != two.st.trace_hash, "another seed: another trace");

    scenario(7, 1, 0, true, &slow1);
    scenario(7, 2, 0, true, &slow2);
    show("lat_min 3, 1 thread", &slow1);
    ok(same_run(&slow1, &slow2), "windows of 3 ms, latency fn: 1 and 2 threads, same run");
    ok(slow2.windows < two.windows, "fewer windows with lat_min 3 (%llu)",
       (unsigned long long)slow2.windows);
    return done_testing();
}
