/*
 * Broadcast queue micro-benchmark: the engine's pattern at 10,000 nodes.
 * Q queues (default 500, so the working set is far beyond the caches, as
 * in the simulator that hops between engines) each hold N lazy keyed
 * items (default 10,000: one alive message per known node, 60-90 bytes).
 * Then R gets (default 1,000,000) on random queues, for a 1400-byte
 * packet (overhead 2, 10,000 nodes: retransmit limit 5 x MULT, default
 * 4); then news about R random nodes (remove the queued item by handle,
 * push a new one, as the engine does); then R gets again.  Prints CPU ns
 * per push, get and remove (CPU time: the machine is shared), and a hash
 * of every item returned, so that two implementations can be checked to
 * give the same answers.  Encoding a lazy item touches no memory, so the
 * figures are the queue's own.
 *
 *   bcast_bench [-q QUEUES] [-n ITEMS] [-r ROUNDS] [-m MULT] [-s SEED]
 *
 * Measured on the shared 2-core machine, -q 500 -n 10000 -r 200000 (best
 * of 3, ~17.5 items per get), treap -> per-tier length buckets: get 8.1-10
 * us -> 1.5-1.6 us, remove 2.4-2.7 us -> 1.2 us, push (fill) 1.4-1.9 us
 * -> 0.08-0.1 us, push (mixed) 1.5-2.0 us -> 0.23-0.26 us; one warm queue
 * (-q 1 -r 5000): get 3.7 us -> 1.0 us.  Same hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../core/hm_bcast_int.h"

typedef struct bench_q {
    hm_bcast_queue_t *q;
    uint32_t *handle; /* key -> item handle (0: not queued) */
} bench_q_t;

static uint64_t rng_state = 88172645463325252ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* CPU time, not wall time: the machine is shared. */
static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A node's alive message length: a function of the key, so that encoding
 * touches no memory (the engine's own cost is not measured here). */
static uint32_t msg_len(uint32_t key)
{
    uint32_t h = key * 0x9e3779b1u;
    return 60 + (h >> 16) % 31;
}

static int encode(void *ud, uint32_t key, uint32_t handle, hm_buf_t *out)
{
    bench_q_t *b = ud;
    uint8_t msg[256];

    if (b->handle[key] != handle)
        return 1; /* removed since: a stale entry */
    if (out == NULL)
        return 0;
    memset(msg, (int)(key & 0xff), msg_len(key));
    memcpy(msg, &key, sizeof(key)); /* lengths are >= 60 */
    return hm_buf_append(out, msg, msg_len(key));
}

static void drop(void *ud, uint32_t key)
{
    bench_q_t *b = ud;
    b->handle[key] = 0;
}

static void push(bench_q_t *b, uint32_t key)
{
    b->handle[key] = hm_bcast_push_keyed(b->q, key, NULL, msg_len(key), NULL, NULL);
    if (b->handle[key] == 0) {
        fprintf(stderr, "push failed\n");
        exit(1);
    }
}

/* R gets on random queues; returns CPU ns per get. */
static double gets(bench_q_t *qs, uint32_t nq, uint32_t rounds, hm_buf_t *parts, uint64_t *hash,
                   uint64_t *items)
{
    double t0 = cpu_ns();
    uint32_t r, k;

    for (r = 0; r < rounds; r++) {
        bench_q_t *b = &qs[rnd() % nq];
        size_t got = hm_bcast_get(b->q, 10000, 2, 1400, parts, 64);

        for (k = 0; k < got; k++) {
            uint32_t kk;
            memcpy(&kk, parts[k].data, sizeof(kk));
            *hash = (*hash ^ kk) * 1099511628211ull;
        }
        *items += got;
    }
    return (cpu_ns() - t0) / rounds;
}

int main(int argc, char **argv)
{
    uint32_t nq = 500, n = 10000, rounds = 1000000, mult = 4, i, k, r, *qi, *key;
    uint64_t hash = 1469598103934665603ull, items = 0, removes = 0;
    double t0, t_push, t_get, t_remove;
    hm_buf_t parts[64] = {{0}};
    bench_q_t *qs;
    int c;

    while ((c = getopt(argc, argv, "q:n:r:s:m:")) != -1) {
        switch (c) {
        case 'q':
            nq = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'n':
            n = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            rounds = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'm':
            mult = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 's':
            rng_state = strtoull(optarg, NULL, 10) | 1;
            break;
        default:
            fprintf(stderr,
                    "usage: bcast_bench [-q QUEUES] [-n ITEMS] [-r ROUNDS] [-m MULT] [-s SEED]\n");
            return 2;
        }
    }
    if (nq == 0 || n == 0 || rounds == 0)
        return 2;
    qs = calloc(nq, sizeof(*qs));
    qi = calloc(rounds, sizeof(*qi));
    key = calloc(rounds, sizeof(*key));
    if (qs == NULL || qi == NULL || key == NULL)
        return 1;
    for (i = 0; i < nq; i++) {
        qs[i].q = hm_bcast_new(mult);
        qs[i].handle = calloc(n + 1, sizeof(uint32_t));
        if (qs[i].q == NULL || qs[i].handle == NULL)
            return 1;
        hm_bcast_set_hooks(qs[i].q, encode, drop, &qs[i]);
    }
    /* Fill the queues round-robin, so consecutive pushes hit cold queues. */
    t0 = cpu_ns();
    for (k = 1; k <= n; k++)
        for (i = 0; i < nq; i++)
            push(&qs[i], k);
    t_push = (cpu_ns() - t0) / ((double)nq * n);
    printf("push (fill):  %8.1f ns  (%u queues x %u items)\n", t_push, nq, n);
    t_get = gets(qs, nq, rounds, parts, &hash, &items);
    /* News about random nodes: their queued messages are replaced. */
    for (r = 0; r < rounds; r++) {
        qi[r] = rnd() % nq;
        key[r] = 1 + rnd() % n;
    }
    t0 = cpu_ns();
    for (r = 0; r < rounds; r++) {
        uint32_t h = qs[qi[r]].handle[key[r]];
        if (h) {
            hm_bcast_remove(qs[qi[r]].q, h);
            qs[qi[r]].handle[key[r]] = 0; /* no drop hook for a direct item */
            removes++;
        }
    }
    t_remove = cpu_ns() - t0;
    t0 = cpu_ns();
    for (r = 0; r < rounds; r++)
        if (qs[qi[r]].handle[key[r]] == 0)
            push(&qs[qi[r]], key[r]);
    t_push = (cpu_ns() - t0) / rounds;
    t_get = (t_get + gets(qs, nq, rounds, parts, &hash, &items)) / 2;
    printf("get:          %8.1f ns  (%.1f items per get)\n", t_get, (double)items / (2.0 * rounds));
    printf("remove:       %8.1f ns\n", removes ? t_remove / (double)removes : 0.0);
    printf("push (mixed): %8.1f ns\n", t_push);
    printf("hash:         %016llx\n", (unsigned long long)hash);
    for (k = 0; k < 64; k++)
        hm_buf_free(&parts[k]);
    for (i = 0; i < nq; i++) {
        hm_bcast_free(qs[i].q);
        free(qs[i].handle);
    }
    free(qs);
    free(qi);
    free(key);
    return 0;
}
