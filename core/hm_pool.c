/*
 * Pools that grow without copying (see hm_pool.h).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hm_pool.h"

#include <pthread.h>
#include <stdint.h>

#ifdef MREMAP_MAYMOVE
#define POOL_MAPPED(size) ((size) >= HM_POOL_MAP_MIN)
#else
#define POOL_MAPPED(size) 0
#endif

static size_t page_round(size_t size)
{
    return (size + 4095) & ~(size_t)4095;
}

static void *map_new(size_t size, int flags)
{
    void *p = mmap(NULL, page_round(size), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void hm_pool_free(void *p, size_t size)
{
    if (p == NULL)
        return;
    if (POOL_MAPPED(size))
        munmap(p, page_round(size));
    else
        free(p);
}

/* From 1 KiB on, cache-line aligned (so no node record straddles two). */
static void *heap_new(size_t size)
{
    return size >= 1024 ? aligned_alloc(64, (size + 63) & ~(size_t)63) : malloc(size);
}

void *hm_pool_resize(void *p, size_t old_size, size_t keep, size_t size)
{
    void *n;

    if (size == 0) {
        hm_pool_free(p, old_size);
        return NULL;
    }
#ifdef MREMAP_MAYMOVE
    if (p && POOL_MAPPED(old_size) && POOL_MAPPED(size)) {
        if (page_round(size) == page_round(old_size))
            return p;
        n = mremap(p, page_round(old_size), page_round(size), MREMAP_MAYMOVE);
        return n == MAP_FAILED ? NULL : n;
    }
#endif
    n = POOL_MAPPED(size) ? map_new(size, 0) : heap_new(size);
    if (n == NULL)
        return NULL;
    if (p && keep)
        memcpy(n, p, keep);
    hm_pool_free(p, old_size);
    return n;
}

void *hm_pool_zalloc(size_t size)
{
    void *p;

    /* A zeroed pool (a hash table) is used all over at once, and read
     * before it is written: faulted in page by page, each page would
     * first map the shared zero page, then fault again on the write and
     * flush the TLB of every thread.  Populated here, it is one call. */
    if (POOL_MAPPED(size))
        return map_new(size, MAP_POPULATE);
    p = heap_new(size);
    if (p)
        memset(p, 0, size);
    return p;
}

/* ---- chunks ------------------------------------------------------------ */

#define HUGE_PAGE (2u << 20)
#define HUGE_REGION ((size_t)256 << 20) /* carved into chunks as needed */

static struct {
    pthread_mutex_t mu;
    bool on;
    char *cur, *end; /* the region being carved */
    void *free;      /* chunks given back: a list through their first word */
} g_huge = {.mu = PTHREAD_MUTEX_INITIALIZER};

void hm_pool_set_huge(bool on)
{
    pthread_mutex_lock(&g_huge.mu);
    g_huge.on = on;
    pthread_mutex_unlock(&g_huge.mu);
}

/* A new region, aligned to a huge page so that all of it can be one. */
static int huge_region(void)
{
    char *m = mmap(NULL, HUGE_REGION + HUGE_PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uintptr_t a;

    if (m == MAP_FAILED)
        return -1;
    a = ((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
    madvise((void *)a, HUGE_REGION, MADV_HUGEPAGE); /* a hint: fine if refused */
#endif
    g_huge.cur = (char *)a;
    g_huge.end = (char *)a + HUGE_REGION;
    return 0;
}

void *hm_pool_chunk_new(void)
{
    void *p = NULL;

    pthread_mutex_lock(&g_huge.mu);
    if (!g_huge.on) {
        pthread_mutex_unlock(&g_huge.mu);
        return map_new(HM_POOL_CHUNK, 0);
    }
    if (g_huge.free) {
        p = g_huge.free;
        g_huge.free = *(void **)p;
    } else if (g_huge.cur < g_huge.end || huge_region() == 0) {
        p = g_huge.cur;
        g_huge.cur += HM_POOL_CHUNK;
    }
    pthread_mutex_unlock(&g_huge.mu);
    return p;
}

void hm_pool_chunk_free(void *p)
{
    char *c = p;

    if (p == NULL)
        return;
    pthread_mutex_lock(&g_huge.mu);
    /* kept for reuse while huge (a chunk mapped before is as good), else
     * unmapped (a chunk of a region too: a part of a mapping can be) */
    if (g_huge.on) {
        *(void **)p = g_huge.free;
        g_huge.free = p;
        c = NULL;
    }
    pthread_mutex_unlock(&g_huge.mu);
    if (c)
        munmap(c, HM_POOL_CHUNK);
}
