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

#include <stdbool.h>
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

/* Chunks: blocks of HM_POOL_CHUNK bytes, 64-byte aligned, contents
 * unspecified, that never grow or move (an engine's node records).  Each
 * is a mapping of its own (its pages faulted in as used) unless
 * hm_pool_set_huge(true) was called: then they are carved out of big
 * regions on transparent huge pages and kept for reuse (never given back
 * to the system), which is what a process holding many engines wants
 * (the simulator: at 10,000 nodes, 3 GB of records read at random, where
 * one TLB entry per 4 KB page meant a page walk per record).
 * Thread-safe. */
#define HM_POOL_CHUNK (64 * 1024)
void *hm_pool_chunk_new(void);
void hm_pool_chunk_free(void *p);
void hm_pool_set_huge(bool on);

#endif
