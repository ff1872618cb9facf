/* Smoke: a handful of simulated nodes converge. */
#include <stdio.h>
#include "sim/hm_sim.h"
#include "tap.h"

int main(void)
{
    hm_swim_config_t cfg = {0};
    hm_sim_t *sim = hm_sim_new(1);
    uint32_t i, n = 5;

    hm_swim_config_profile(&cfg, "lan");
    for (i = 0; i < n; i++)
        hm_sim_add(sim, &cfg);
    for (i = 1; i < n; i++)
        hm_sim_join(sim, i, 0);
    hm_sim_run_until(sim, 10000);
    for (i = 0; i < n; i++)
        is_int(hm_sim_seen_alive(sim, i), n, "node %u sees all", i);
    diag("packets %llu", (unsigned long long)hm_sim_stats(sim)->packets);
    hm_sim_free(sim);
    return done_testing();
}
