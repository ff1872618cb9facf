/*
 * Pools: arrays that grow (and shrink) by doubling and live as long as
 * their owner.  Small ones are heap blocks, 64-byte aligned from 1 KiB
 * on; from HM_POOL_MAP_MIN on a pool is a mapping of its own, resized
 * with mremap, so its contents are never copied, no page is faulted in
 * twice, and the unused tail of a doubled pool costs nothing until it is
 * used.  With thousands of engines in one simulator process the heap
 * would otherwise keep those tails dirty (freed blocks are reused) or,
 * with a small mmap threshold, map and fault in every transient buffer.
 */
#ifndef HM_POOL_H
#define HM_POOL_H

#include <stddef.h>

#define HM_POOL_MAP_MIN (64 * 1024)

/* Resize p from old_size to size bytes (p NULL and old_size 0: a new
 * pool), keeping the first `keep` bytes (keep <= both sizes).  Memory
 * past `keep` is unspecified, except in a new mapping, where it is zero.
 * NULL on failure, p untouched.  size 0 frees. */
void *hm_pool_resize(void *p, size_t old_size, size_t keep, size_t size);
/* A zeroed pool of size bytes, for use all over at once (a mapping's
 * pages are populated). */
void *hm_pool_zalloc(size_t size);
void hm_pool_free(void *p, size_t size);

#endif
