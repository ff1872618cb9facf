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

/* Produce the bytes of a lazy item with `key` (append to out). */
typedef int (*hm_bcast_encode_fn)(void *ud, uint32_t key, hm_buf_t *out);
/* An item pushed with a non-zero key left the queue (sent out, replaced,
 * removed or pruned). */
typedef void (*hm_bcast_drop_fn)(void *ud, uint32_t key);

void hm_bcast_set_hooks(hm_bcast_queue_t *q, hm_bcast_encode_fn enc, hm_bcast_drop_fn drop,
                        void *ud);
/* msg NULL: lazy item of length n.  Returns an item handle (> 0), 0 on
 * allocation failure.  Keyed items are never in the name map. */
uint32_t hm_bcast_push_keyed(hm_bcast_queue_t *q, uint32_t key, const uint8_t *msg, size_t n,
                             hm_bcast_done_fn done, void *ud);
/* Remove (and finish) an item by handle. */
void hm_bcast_remove(hm_bcast_queue_t *q, uint32_t handle);
/* Transmit limit for a cluster of n nodes: mult * ceil(log10(n + 1)). */
uint32_t hm_bcast_retransmit_limit(uint32_t mult, size_t n);

#endif
