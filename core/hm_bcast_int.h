/*
 * Engine-private extension of the broadcast queue (hm_swim.h declares the
 * public part).  The engine queues one message per node and tracks the
 * queue item in its node record, so it needs item handles instead of
 * names, and "lazy" items whose bytes are produced on demand from the
 * node table: at 10,000 nodes every engine holds ~10,000 queued alive
 * messages, and storing their bytes would cost gigabytes in the simulator.
 */
#ifndef HM_BCAST_INT_H
#define HM_BCAST_INT_H

#include "hm_swim.h"

/* Start loading the cache line at p.  GCC (12, -O2) deletes a bare
 * __builtin_prefetch when the function around it has no other effect: its
 * mod-ref and pure-const passes see a function that only reads memory and
 * drop calls to it, so the record prefetches of a compound packet were
 * never issued.  The empty asm is an effect they cannot see through. */
static inline void hm_prefetch(const void *p)
{
    __asm__ volatile("" : : "r"(p));
    __builtin_prefetch(p);
}

/* Produce the bytes of a lazy item with `key` and `handle` (append to
 * out): 0, or -1 when they cannot be produced (the item is dropped).
 * For a direct item (below) it first answers whether the item is still
 * queued: 1 (nothing written) when the owner no longer holds `handle`
 * for `key`.  out NULL: only that answer. */
typedef int (*hm_bcast_encode_fn)(void *ud, uint32_t key, uint32_t handle, hm_buf_t *out);
/* An item pushed with a non-zero key left the queue (sent out, replaced,
 * removed or pruned), except a direct item its owner removed. */
typedef void (*hm_bcast_drop_fn)(void *ud, uint32_t key);

void hm_bcast_set_hooks(hm_bcast_queue_t *q, hm_bcast_encode_fn enc, hm_bcast_drop_fn drop,
                        void *ud);
/* Warm whatever the encode hook will read for `key` (the engine: the node
 * record); called for the items a get is about to take. */
typedef void (*hm_bcast_prefetch_fn)(void *ud, uint32_t key);
void hm_bcast_set_prefetch(hm_bcast_queue_t *q, hm_bcast_prefetch_fn pre);
/* msg NULL: lazy item of length n.  Returns an item handle (> 0), 0 on
 * allocation failure.  Keyed items are never in the name map.  A lazy
 * item with no callback, a key below 2^31 and a length below 65535 is
 * direct: it takes no item slot (8 bytes queued instead of 24), and
 * hm_bcast_remove() of it is lazy: no drop hook; the owner forgets the
 * handle, and the encode hook then calls the entry stale. */
uint32_t hm_bcast_push_keyed(hm_bcast_queue_t *q, uint32_t key, const uint8_t *msg, size_t n,
                             hm_bcast_done_fn done, void *ud);
/* Tests: the next push takes id + 1 (ids go round 2^32 in ~2^32 pushes). */
void hm_bcast_set_id(hm_bcast_queue_t *q, uint32_t id);
/* Remove (and finish) an item by handle. */
void hm_bcast_remove(hm_bcast_queue_t *q, uint32_t handle);
/* hm_bcast_get(), all the parts appended to cat, one after another, and
 * their lengths in lens[0..k): one buffer written in order, where parts
 * are as many buffers as a packet has messages (at 10,000 simulated
 * nodes each a cache miss on a cold engine). */
size_t hm_bcast_get_cat(hm_bcast_queue_t *q, size_t num_nodes, size_t overhead, size_t limit,
                        hm_buf_t *cat, uint32_t *lens, size_t max_parts);
/* Start loading, level by level, what the next get or push will read
 * first: at level L only what level L - 1 brought in is read.  Called
 * for levels 0, 1, ... 5 a little ahead of each other (the simulator
 * does it for the nodes it is about to serve), the chain of dependent
 * cache misses at the head of a get (queue, tier, bucket, its newest
 * entries, their items) is paid in parallel across several queues. */
void hm_bcast_warm(const hm_bcast_queue_t *q, unsigned level);
/* Transmit limit for a cluster of n nodes: mult * ceil(log10(n + 1)). */
uint32_t hm_bcast_retransmit_limit(uint32_t mult, size_t n);

#endif
