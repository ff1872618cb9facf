/*
 * 1,000 nodes converge after joins (lan profile, compression on).
 *
 * Node i joins a random earlier node at i * 10 ms, so the joins span 10 s.
 * Each join is a push/pull: the joiner gets its peer's whole table at once
 * and its own alive message starts spreading by gossip.  The bound:
 * a broadcast reaches everyone in O(log N) gossip rounds once it is at the
 * head of the queues, but at 1,000 nodes every queue holds ~1,000 alive
 * messages (each re-broadcast 4 * ceil(log10(1001)) = 16 times) and a
 * gossip round moves 3 packets of ~18 messages, so the tail of the
 * epidemic drains at queue speed.  What guarantees convergence is the
 * periodic push/pull: every node starts one within its first
 * PushPullInterval (30 s, random stagger) with a random live peer and gets
 * that peer's whole table; by join end + 30 s + a few gossip rounds
 * everyone must see everyone.  Asserted: all 1,000 see 1,000 alive by
 * 10 s + 30 s + 5 s = 45 s, and no node is ever declared dead.
 */
#include <stdio.h>

#include "sim/hm_sim.h"
#include "tap.h"

int main(void)
{
    hm_swim_config_t cfg = {0};
    hm_sim_t *sim = hm_sim_new(1000);
    const uint32_t n = 1000;
    uint32_t i, seeing = 0;
    uint64_t t, conv = 0, rs = 99;

    hm_swim_config_profile(&cfg, "lan");
    for (i = 0; i < n; i++)
        hm_sim_add(sim, &cfg);
    for (i = 1; i < n; i++) {
        rs = rs * 6364136223846793005ull + 1442695040888963407ull;
        hm_sim_run_until(sim, (uint64_t)i * 10);
        hm_sim_join(sim, i, (uint32_t)((rs >> 33) % i));
    }
    for (t = 10000; t <= 45000 && !conv; t += 500) {
        hm_sim_run_until(sim, t);
        for (seeing = 0, i = 0; i < n; i++)
            seeing += hm_sim_seen_alive(sim, i) == n;
        if (seeing == n)
            conv = t;
    }
    is_int(seeing, n, "all 1000 nodes see 1000 alive members by 45 s");
    ok(conv > 0, "converged at %.1f s of protocol time (joins ended at 10 s)",
       (double)conv / 1000.0);
    is_int(hm_sim_stats(sim)->false_failures, 0, "no false failure during the joins");
    for (i = 0; i < n; i++)
        if (hm_sim_joins_ok(sim, i) == 0 && i > 0)
            break;
    is_int(i, n, "every join push/pull succeeded");
    diag("1000 nodes: %llu packets, %llu bytes, %llu streams",
         (unsigned long long)hm_sim_stats(sim)->packets,
         (unsigned long long)hm_sim_stats(sim)->bytes,
         (unsigned long long)hm_sim_stats(sim)->streams);
    hm_sim_free(sim);
    return done_testing();
}
