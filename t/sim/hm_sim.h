/*
 * Deterministic simulator: N gossip engines in one process on a virtual
 * clock, talking over a simulated network (latency, loss, partitions,
 * asymmetric routes, crashes and restarts).  Everything random comes from
 * the seed, so a run is reproducible: the trace hash covers every delivery.
 *
 * Node i is named "n<i>" and lives at 10.(i>>16).(i>>8).(i&255):7946.
 * UDP packets take a latency drawn uniformly in [lat_min, lat_max] and may
 * be lost; a stream is a reliable delayed exchange that fails when a link
 * on its way is cut (at the stream deadline, like a TCP timeout) or fails
 * after one round trip when the peer has crashed (connection refused).
 *
 * Threads.  hm_sim_set_threads(sim, T) runs hm_sim_run_until on T threads
 * (the caller's is one of them).  The results do not depend on T: same
 * seed, same trace hash and stats for any T.  The threads run in lockstep
 * windows of L = max(1, lat_min) ms of virtual time, so every delay
 * between two nodes is at least L: latencies below it (a latency fn's
 * result too) are raised to L, in every mode.  With T > 1 the event, log,
 * link and latency callbacks are called from several threads at once: a
 * node is served by one thread at a time (and a barrier separates
 * windows), so a callback may update state of its own node (`observer`,
 * or `from` for link and latency) without a lock, but nothing shared;
 * hm_sim_now() and other nodes' engines must not be used from them.
 * Everything else (adding, joining, crashing, blocking, partitioning,
 * reading stats) is done by the caller between hm_sim_run_until calls, as
 * with one thread.
 */
#ifndef HM_SIM_H
#define HM_SIM_H

#include "hm_swim.h"

typedef struct hm_sim hm_sim_t;

typedef enum { HM_SIM_JOIN, HM_SIM_LEAVE, HM_SIM_UPDATE } hm_sim_event_t;

/* Membership change seen by `observer` (the engine's notify_* callbacks). */
typedef void (*hm_sim_event_fn)(void *ud, uint32_t observer, hm_sim_event_t ev,
                                const hm_swim_node_t *n, uint64_t now);
/* Extra reachability rule: return false to drop traffic from -> to. */
typedef bool (*hm_sim_link_fn)(void *ud, uint32_t from, uint32_t to);

typedef struct hm_sim_stats {
    uint64_t events, packets, bytes, lost, blocked, streams, streams_failed;
    uint64_t push_pulls;     /* streams opened with an uncompressed [6] push/pull */
    uint64_t false_failures; /* dead declared about a node that was up */
    uint64_t trace_hash;
} hm_sim_stats_t;

hm_sim_t *hm_sim_new(uint64_t seed);
void hm_sim_free(hm_sim_t *sim);
/* Run on n threads (default 1; 0 means 1); callable between runs. */
void hm_sim_set_threads(hm_sim_t *sim, unsigned n);
unsigned hm_sim_threads(const hm_sim_t *sim);
/* Hash every delivery into stats.trace_hash (on by default; off, the
 * hash stays at its initial value and a run does a few percent less). */
void hm_sim_set_trace(hm_sim_t *sim, bool on);
/* Lockstep windows run so far by threaded runs (one barrier each). */
uint64_t hm_sim_windows(const hm_sim_t *sim);

void hm_sim_set_latency(hm_sim_t *sim, uint32_t min_ms, uint32_t max_ms);
/* Per-link latency: fn returns the delay in ms for one packet or stream
 * leg from -> to (at least lat_min, see Threads; lower values are raised);
 * `rnd` is 64 random bits from the sending node's PRNG. */
typedef uint32_t (*hm_sim_latency_fn)(void *ud, uint32_t from, uint32_t to, uint64_t rnd);
void hm_sim_set_latency_fn(hm_sim_t *sim, hm_sim_latency_fn fn, void *ud);
void hm_sim_set_loss(hm_sim_t *sim, double p); /* UDP only */
void hm_sim_set_link_fn(hm_sim_t *sim, hm_sim_link_fn fn, void *ud);
void hm_sim_set_event_fn(hm_sim_t *sim, hm_sim_event_fn fn, void *ud);
/* Engine log lines (memberlist's), tagged with the node and virtual time. */
typedef void (*hm_sim_log_fn)(void *ud, uint32_t node, uint64_t now, hm_log_level_t level,
                              const char *msg);
void hm_sim_set_log_fn(hm_sim_t *sim, hm_sim_log_fn fn, void *ud);
/* Cut (or restore) the direction a -> b. */
void hm_sim_block(hm_sim_t *sim, uint32_t a, uint32_t b, bool blocked);
/* Cut (or restore) only the datagrams a -> b (streams still pass). */
void hm_sim_block_udp(hm_sim_t *sim, uint32_t a, uint32_t b, bool blocked);
/* Nodes in different groups cannot talk while partitioned. */
void hm_sim_set_group(hm_sim_t *sim, uint32_t node, uint32_t group);
void hm_sim_partition(hm_sim_t *sim, bool on);

/* A new node built from `base` (name, addr, seed replaced), started now. */
uint32_t hm_sim_add(hm_sim_t *sim, const hm_swim_config_t *base);
void hm_sim_set_meta(hm_sim_t *sim, uint32_t node, const uint8_t *meta, size_t n);
/* Push/pull join of `node` with `target`. */
void hm_sim_join(hm_sim_t *sim, uint32_t node, uint32_t target);
void hm_sim_leave(hm_sim_t *sim, uint32_t node);
/* Stop receiving and sending; the engine is gone. */
void hm_sim_crash(hm_sim_t *sim, uint32_t node);
/* A fresh engine with the same name and address (incarnation restarts). */
void hm_sim_restart(hm_sim_t *sim, uint32_t node);

void hm_sim_run_until(hm_sim_t *sim, uint64_t t);
uint64_t hm_sim_now(const hm_sim_t *sim);
uint32_t hm_sim_size(const hm_sim_t *sim);
bool hm_sim_is_up(const hm_sim_t *sim, uint32_t node);
hm_swim_t *hm_sim_engine(hm_sim_t *sim, uint32_t node); /* NULL when crashed */
/* How many members `node` holds as alive or suspect (self included). */
uint32_t hm_sim_seen_alive(const hm_sim_t *sim, uint32_t node);
/* Stream completions (joins, push/pulls) that succeeded for `node`. */
uint32_t hm_sim_joins_ok(const hm_sim_t *sim, uint32_t node);
const hm_sim_stats_t *hm_sim_stats(const hm_sim_t *sim);

void hm_sim_addr(uint32_t node, hm_addr_t *a);
int hm_sim_node_of(const hm_addr_t *a); /* -1 when not a sim address */

#endif
