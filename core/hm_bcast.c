/*
 * The transmit-limited broadcast queue (memberlist queue.go).
 *
 * Items are ordered by (transmits ascending, length descending, id
 * descending).  GetBroadcasts takes, tier by tier from the fewest
 * transmits, "the first item of the tier whose length fits in the free
 * space", i.e. the longest fitting length, newest first.  So each tier
 * (transmit count) keeps one bucket per length, found through a bitmap of
 * the lengths present ("longest length <= free" is a scan of one or two
 * words), and each bucket keeps its items sorted by id in a ring: a get
 * pops the newest, a push appends the newest, and an item sent moves to
 * the next tier, where it mostly lands at one end too.  At 10,000 nodes
 * every engine holds ~10,000 items and the simulator hops between
 * engines, so the queue is cache-cold on every get:
 * this touches a few cache lines per item where a search tree touched
 * dozens.  Items are 16 bytes in a pool addressed by 32-bit index (the
 * handle); bytes, callbacks and names sit in an optional side block.  The
 * engine's items (lazy, keyed, no callback) are "direct": no item at all,
 * only their 8-byte bucket entry (see BQ_DIRECT).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hm_bcast_int.h"
#include "hm_pool.h"

typedef struct bq_ext {
    hm_bcast_done_fn done;
    void *ud;
    char *name;     /* owned; NULL when unnamed */
    uint32_t hnext; /* next item in the same name-map bucket */
    uint32_t len;
    bool has_msg; /* false: lazy item (bytes from the encode hook) */
    uint8_t msg[];
} bq_ext_t;

/* An item's place: tier << 48 | (BQ_BIGLEN - len) << 32 | ~id (the
 * length clamped to BQ_BIGLEN: longer items have an ext block holding
 * it).  Ids are never 0, so no live item's k is BQ_FREE. */
#define BQ_BIGLEN 0xffffu
#define BQ_FREE UINT64_MAX

/* An entry a get took and sent, waiting to go to the next tier. */
typedef struct bq_park {
    uint64_t e;
    uint32_t t, len; /* its next tier and its length */
} bq_park_t;

typedef struct bq_item {
    uint64_t k;   /* BQ_FREE when the slot is free */
    uint32_t key; /* keyed items: the owner's key (0 otherwise); free-list link when free */
    uint32_t ext; /* index in q->exts; 0 when none */
} bq_item_t;

/* The items of one tier and length, ascending by id: a ring of cap
 * entries (a power of two), the i-th at e[(lo + i) & (cap - 1)].  Items
 * come in at both ends (a run sent from the tier below lands in front of
 * the items there as often as behind them) and leave at the back, so an
 * array with room at both ends kept half of its slots empty: 35% of them
 * in front, where the entries had moved away from.  A ring has no ends
 * to keep room at. */
#define BQ_NEAR 8 /* entries per cache line */
typedef struct bq_bucket {
    uint64_t *e; /* (uint64_t)id << 32 | item, or | BQ_DIRECT | key */
    uint32_t lo, n, cap, len;
    uint32_t hint; /* where the last insertion went (may be stale) */
} bq_bucket_t;

/* A direct item has no item slot: its entry is (uint64_t)id << 32 |
 * BQ_DIRECT | key, and its handle BQ_DIRECT | id (the low 31 bits).  It
 * is what the engine queues for every node it learns of (a lazy, keyed
 * item with no callback), so at 10,000 simulated nodes the item slots
 * were 1.5 GB and a cache miss for every item sent.  Its tier and length
 * are its bucket's.  Removing one is lazy: its owner forgets the handle
 * (no drop hook is called), and the entry, now stale, is thrown away
 * when a get or prune comes to it (the encode hook says it is stale). */
#define BQ_DIRECT 0x80000000u

static inline bool ent_direct(uint64_t e)
{
    return ((uint32_t)e & BQ_DIRECT) != 0;
}

/* A direct entry's key. */
static inline uint32_t ent_key(uint64_t e)
{
    return (uint32_t)e & ~BQ_DIRECT;
}

static inline uint32_t ent_handle(uint64_t e)
{
    return ent_direct(e) ? BQ_DIRECT | (uint32_t)(e >> 32) : (uint32_t)e;
}

/* Lengths below BQ_LMAX are found through the bitmap; longer ones (rare:
 * they exceed any UDP packet) by a linear search. */
#define BQ_LMAX 2048
#define BQ_LWORDS (BQ_LMAX / 64)

typedef struct bq_tier {
    uint32_t count;            /* items */
    uint32_t nb, capb;         /* buckets */
    uint32_t nlong;            /* b[0..nlong): lengths >= BQ_LMAX */
    bq_bucket_t *b;            /* by length descending */
    uint64_t bits[BQ_LWORDS];  /* lengths < BQ_LMAX that have a bucket */
    uint16_t above[BQ_LWORDS]; /* how many of them are in the words above */
} bq_tier_t;

struct hm_bcast_queue {
    uint32_t mult;
    bq_item_t *items;                     /* items[0] unused */
    uint32_t cap, used, free_head, count; /* used: high-water mark */
    uint32_t id_gen;
    bq_tier_t **tiers; /* by transmit count; NULL until used */
    uint64_t *tmask;   /* tiers holding items */
    uint32_t ntiers;   /* a multiple of 64 */
    /* side blocks */
    bq_ext_t **exts; /* exts[0] unused */
    uint32_t *ext_free;
    uint32_t ext_cap, ext_used, ext_nfree;
    /* items sent by the running get, re-inserted at its end */
    bq_park_t *park;
    size_t npark, park_cap;
    uint32_t phys;   /* entries in the tiers: the live items and stale direct ones */
    uint64_t *spare; /* the ring of the last bucket emptied, for the next one made */
    uint32_t spare_cap;
    uint32_t *buckets; /* name map: bucket -> item */
    uint32_t nbuckets, named;
    hm_bcast_encode_fn enc;
    hm_bcast_drop_fn drop;
    hm_bcast_prefetch_fn pre;
    void *hook_ud;
};

/* ---- keys ---------------------------------------------------------------- */

static uint64_t mkkey(uint32_t tier, size_t len, uint32_t id)
{
    uint32_t l = len > BQ_BIGLEN ? BQ_BIGLEN : (uint32_t)len;
    return (uint64_t)(tier & 0xffffu) << 48 | (uint64_t)(BQ_BIGLEN - l) << 32 | (uint32_t)~id;
}

static uint32_t key_tier(uint64_t k)
{
    return (uint32_t)(k >> 48);
}

static uint32_t key_len(uint64_t k)
{
    return BQ_BIGLEN - (uint32_t)((k >> 32) & 0xffffu);
}

static uint32_t key_id(uint64_t k)
{
    return ~(uint32_t)k;
}

static bq_ext_t *ext_of(const hm_bcast_queue_t *q, uint32_t x)
{
    return q->items[x].ext ? q->exts[q->items[x].ext] : NULL;
}

static uint32_t item_len(const hm_bcast_queue_t *q, uint32_t x)
{
    bq_ext_t *e = ext_of(q, x);
    return e ? e->len : key_len(q->items[x].k);
}

/* ---- buckets ------------------------------------------------------------ */

/* Entry i (relative) of bk, which holds more than i. */
static inline uint64_t *ent(const bq_bucket_t *bk, uint32_t i)
{
    return &bk->e[(bk->lo + i) & (bk->cap - 1)];
}

/* First position in [b, b + n) of bk whose entry is >= v (b + n if none). */
static uint32_t lower_bound(const bq_bucket_t *bk, uint32_t b, uint32_t n, uint64_t v)
{
    while (n > 1) {
        uint32_t half = n / 2;
        b += (*ent(bk, b + half - 1) < v) * half; /* branch-free: the outcome is a coin toss */
        n -= half;
    }
    return b + (n == 1 && *ent(bk, b) < v);
}

/* First position in bk whose entry is >= v.  Entries mostly come and go
 * near the ends, or next to the last one inserted (a get sends a run of
 * neighbours, newest first, and they arrive in the next tier in that
 * order): look there first, in the cache lines a search would otherwise
 * miss on last. */
static uint32_t entry_lb(const bq_bucket_t *bk, uint64_t v)
{
    uint32_t n = bk->n, h = bk->hint;

    if (h < n && v < *ent(bk, h) && (h == 0 || *ent(bk, h - 1) < v))
        return h;
    if (n <= 2 * BQ_NEAR)
        return lower_bound(bk, 0, n, v);
    if (v > *ent(bk, n - BQ_NEAR))
        return lower_bound(bk, n - BQ_NEAR + 1, BQ_NEAR - 1, v);
    if (v < *ent(bk, BQ_NEAR - 1))
        return lower_bound(bk, 0, BQ_NEAR - 1, v);
    return lower_bound(bk, 0, n, v);
}

/* Move the count entries at relative position src to dst, in pieces that
 * wrap neither in the source nor in the destination, taken in the order
 * that reads every entry before it is overwritten. */
static void ring_move(bq_bucket_t *bk, uint32_t dst, uint32_t src, uint32_t count)
{
    uint32_t mask = bk->cap - 1, c, s, d;

    if (dst < src) {
        for (; count; count -= c, src += c, dst += c) {
            s = (bk->lo + src) & mask;
            d = (bk->lo + dst) & mask;
            c = count;
            c = c < bk->cap - s ? c : bk->cap - s;
            c = c < bk->cap - d ? c : bk->cap - d;
            memmove(&bk->e[d], &bk->e[s], c * sizeof(uint64_t));
        }
    } else if (dst > src) {
        for (; count; count -= c) {
            s = (bk->lo + src + count - 1) & mask; /* the last ones first */
            d = (bk->lo + dst + count - 1) & mask;
            c = count;
            c = c < s + 1 ? c : s + 1;
            c = c < d + 1 ? c : d + 1;
            memmove(&bk->e[d + 1 - c], &bk->e[s + 1 - c], c * sizeof(uint64_t));
        }
    }
}

/* Copy m entries from v to relative position i (the slots are free). */
static void ring_write(bq_bucket_t *bk, uint32_t i, const uint64_t *v, uint32_t m)
{
    uint32_t at = (bk->lo + i) & (bk->cap - 1), c = m < bk->cap - at ? m : bk->cap - at;

    if (m == 1) { /* most insertions: no call */
        bk->e[at] = v[0];
        return;
    }
    memcpy(&bk->e[at], v, c * sizeof(uint64_t));
    if (c < m)
        memcpy(bk->e, v + c, (m - c) * sizeof(uint64_t));
}

/* Move the entries to a new ring of ncap slots (a power of two >= n),
 * starting at its first.  Heap memory, not a pool: buckets grow and
 * shrink all the time as items move between tiers, and freed blocks are
 * reused without new page faults. */
static int bucket_realloc(bq_bucket_t *bk, uint32_t ncap)
{
    uint64_t *e = malloc(ncap * sizeof(*e));
    uint32_t c;

    if (e == NULL)
        return -1;
    if (bk->n) {
        c = bk->n < bk->cap - bk->lo ? bk->n : bk->cap - bk->lo;
        memcpy(e, &bk->e[bk->lo], c * sizeof(*e));
        memcpy(e + c, bk->e, (bk->n - c) * sizeof(*e));
    }
    free(bk->e);
    bk->e = e;
    bk->cap = ncap;
    bk->lo = 0;
    return 0;
}

/* Rings start at BQ_RING_MIN entries and are not shrunk to below
 * BQ_RING_KEEP; a bucket emptied leaves its ring (up to BQ_RING_KEEP) to
 * the next bucket made.  Buckets are emptied and made again all the
 * time (a get empties tier 0's, the next push makes it again), and their
 * rings grew from 4 entries and shrank back: two thirds of a run's
 * mallocs. */
#define BQ_RING_MIN 16
#define BQ_RING_KEEP 64

/* Room for m more entries in bk. */
static int bucket_room(bq_bucket_t *bk, uint32_t m)
{
    uint32_t ncap;

    if (bk->cap - bk->n >= m)
        return 0;
    ncap = bk->cap ? bk->cap * 2 : BQ_RING_MIN;
    while (ncap - bk->n < m)
        ncap *= 2;
    return bucket_realloc(bk, ncap);
}

/* Where entry v goes in bk (relative). */
static uint32_t bucket_pos(const bq_bucket_t *bk, uint64_t v)
{
    if (bk->n == 0 || v > *ent(bk, bk->n - 1))
        return bk->n; /* the newest: the usual case */
    if (v < *ent(bk, 0))
        return 0;
    return entry_lb(bk, v);
}

/* Put the m ascending entries v at relative position i, where they all
 * belong, moving the shorter side (nothing at either end). */
static int bucket_put(bq_bucket_t *bk, uint32_t i, const uint64_t *v, uint32_t m)
{
    if (bucket_room(bk, m) < 0)
        return -1;
    if (i < bk->n - i) {
        bk->lo = (bk->lo - m) & (bk->cap - 1);
        ring_move(bk, 0, m, i);
    } else {
        ring_move(bk, i + m, i, bk->n - i);
    }
    ring_write(bk, i, v, m);
    bk->n += m;
    bk->hint = i;
    return 0;
}

static int bucket_insert(bq_bucket_t *bk, uint64_t v)
{
    return bucket_put(bk, bucket_pos(bk, v), &v, 1);
}

/* Remove entry i (relative), moving the shorter side; give back memory
 * when the bucket has shrunk to a quarter of its ring. */
static void bucket_close(bq_bucket_t *bk, uint32_t i)
{
    if (i < bk->n - 1 - i) {
        ring_move(bk, 1, 0, i);
        bk->lo = (bk->lo + 1) & (bk->cap - 1);
    } else {
        ring_move(bk, i, i + 1, bk->n - 1 - i); /* nothing for the newest, which a get takes */
    }
    bk->n--;
    if (bk->n > 0 && bk->cap > BQ_RING_KEEP && bk->n < bk->cap / 4)
        bucket_realloc(bk, bk->cap / 2); /* failure: keep it */
}

/* Bits set in v (no popcnt instruction in a portable build, and
 * __builtin_popcountll would be a call). */
static uint32_t popcount64(uint64_t v)
{
    v -= (v >> 1) & 0x5555555555555555u;
    v = (v & 0x3333333333333333u) + ((v >> 2) & 0x3333333333333333u);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (uint32_t)((v * 0x0101010101010101u) >> 56);
}

/* Index in tr->b of the bucket for a length < BQ_LMAX whose bit is set. */
static uint32_t len_rank(const bq_tier_t *tr, uint32_t len)
{
    uint32_t w = len / 64;
    return tr->nlong + tr->above[w] + popcount64(tr->bits[w] >> (len % 64) >> 1);
}

/* The bucket of length len in tr, -1 when none. */
static int bucket_find(const bq_tier_t *tr, uint32_t len)
{
    uint32_t i;

    if (len < BQ_LMAX)
        return tr->bits[len / 64] >> (len % 64) & 1 ? (int)len_rank(tr, len) : -1;
    for (i = 0; i < tr->nlong; i++)
        if (tr->b[i].len == len)
            return (int)i;
    return -1;
}

/* The bucket with the longest length <= free_, -1 when none. */
static int bucket_fit(const bq_tier_t *tr, size_t free_)
{
    uint32_t i, fl, w;
    uint64_t m;

    if (free_ >= BQ_LMAX) {
        for (i = 0; i < tr->nlong; i++)
            if (tr->b[i].len <= free_)
                return (int)i;
        fl = BQ_LMAX - 1;
    } else {
        fl = (uint32_t)free_;
    }
    /* the usual case: the longest length present fits (buckets are by
     * length descending), and the bitmap's cache lines are not needed */
    if (tr->nb > tr->nlong && tr->b[tr->nlong].len <= fl)
        return (int)tr->nlong;
    w = fl / 64;
    m = tr->bits[w] & (fl % 64 == 63 ? UINT64_MAX : (UINT64_C(2) << (fl % 64)) - 1);
    for (;;) {
        if (m)
            return (int)len_rank(tr, w * 64 + 63 - (uint32_t)__builtin_clzll(m));
        if (w == 0)
            return -1;
        m = tr->bits[--w];
    }
}

/* A new, empty bucket for length len (not yet in tr): its index, -1 when
 * out of memory. */
static int bucket_add(hm_bcast_queue_t *q, bq_tier_t *tr, uint32_t len)
{
    uint32_t i, w;

    if (tr->nb == tr->capb) {
        uint32_t ncap = tr->capb ? tr->capb * 2 : 8;
        bq_bucket_t *nb = realloc(tr->b, ncap * sizeof(*nb));
        if (nb == NULL)
            return -1;
        tr->b = nb;
        tr->capb = ncap;
    }
    if (len < BQ_LMAX) {
        w = len / 64;
        tr->bits[w] |= UINT64_C(1) << (len % 64);
        for (i = 0; i < w; i++)
            tr->above[i]++;
        i = len_rank(tr, len);
    } else {
        for (i = 0; i < tr->nlong && tr->b[i].len > len; i++)
            ;
        tr->nlong++;
    }
    memmove(&tr->b[i + 1], &tr->b[i], (tr->nb - i) * sizeof(bq_bucket_t));
    tr->b[i] = (bq_bucket_t){.len = len, .e = q->spare, .cap = q->spare_cap};
    q->spare = NULL;
    q->spare_cap = 0;
    tr->nb++;
    return (int)i;
}

static void bucket_del(hm_bcast_queue_t *q, bq_tier_t *tr, uint32_t i)
{
    uint32_t len = tr->b[i].len, w, j;

    if (tr->b[i].cap <= BQ_RING_KEEP && q->spare == NULL) {
        q->spare = tr->b[i].e;
        q->spare_cap = tr->b[i].cap;
    } else {
        free(tr->b[i].e);
    }
    memmove(&tr->b[i], &tr->b[i + 1], (tr->nb - i - 1) * sizeof(bq_bucket_t));
    tr->nb--;
    if (len < BQ_LMAX) {
        w = len / 64;
        tr->bits[w] &= ~(UINT64_C(1) << (len % 64));
        for (j = 0; j < w; j++)
            tr->above[j]--;
    } else {
        tr->nlong--;
    }
}

/* ---- tiers -------------------------------------------------------------- */

static bq_tier_t *tier_get(hm_bcast_queue_t *q, uint32_t t)
{
    if (t >= q->ntiers) {
        uint32_t n = q->ntiers ? q->ntiers : 64;
        bq_tier_t **tiers;
        uint64_t *mask;

        while (n <= t)
            n *= 2;
        tiers = realloc(q->tiers, n * sizeof(*tiers));
        if (tiers == NULL)
            return NULL;
        q->tiers = tiers;
        mask = realloc(q->tmask, n / 64 * sizeof(*mask));
        if (mask == NULL)
            return NULL;
        q->tmask = mask;
        memset(&q->tiers[q->ntiers], 0, (n - q->ntiers) * sizeof(*tiers));
        memset(&q->tmask[q->ntiers / 64], 0, (n - q->ntiers) / 64 * sizeof(*mask));
        q->ntiers = n;
    }
    if (q->tiers[t] == NULL)
        q->tiers[t] = calloc(1, sizeof(bq_tier_t));
    return q->tiers[t];
}

static inline void tier_count(hm_bcast_queue_t *q, bq_tier_t *tr, uint32_t t, int d)
{
    tr->count += (uint32_t)d;
    q->phys += (uint32_t)d;
    if (tr->count == 0)
        q->tmask[t / 64] &= ~(UINT64_C(1) << (t % 64));
    else
        q->tmask[t / 64] |= UINT64_C(1) << (t % 64);
}

/* The lowest tier >= t holding items, UINT32_MAX when none. */
static uint32_t next_tier(const hm_bcast_queue_t *q, uint32_t t)
{
    uint32_t w = t / 64;
    uint64_t m;

    if (t >= q->ntiers)
        return UINT32_MAX;
    for (m = q->tmask[w] & (UINT64_MAX << (t % 64));; m = q->tmask[w]) {
        if (m)
            return w * 64 + (uint32_t)__builtin_ctzll(m);
        if (++w == q->ntiers / 64)
            return UINT32_MAX;
    }
}

/* The highest tier holding items; the queue is not empty. */
static uint32_t last_tier(const hm_bcast_queue_t *q)
{
    uint32_t w = q->ntiers / 64;

    while (w-- > 0)
        if (q->tmask[w])
            return w * 64 + 63 - (uint32_t)__builtin_clzll(q->tmask[w]);
    return 0;
}

static uint64_t entry_of(const hm_bcast_queue_t *q, uint32_t x)
{
    return (uint64_t)key_id(q->items[x].k) << 32 | x;
}

/* Put entry v in tier t's bucket of length len. */
static int link_entry(hm_bcast_queue_t *q, uint32_t t, uint32_t len, uint64_t v)
{
    bq_tier_t *tr = tier_get(q, t);
    int bi;

    if (tr == NULL)
        return -1;
    bi = bucket_find(tr, len);
    if (bi < 0 && (bi = bucket_add(q, tr, len)) < 0)
        return -1;
    if (bucket_insert(&tr->b[bi], v) < 0) {
        if (tr->b[bi].n == 0)
            bucket_del(q, tr, (uint32_t)bi);
        return -1;
    }
    tier_count(q, tr, t, 1);
    return 0;
}

static int link_item(hm_bcast_queue_t *q, uint32_t x)
{
    return link_entry(q, key_tier(q->items[x].k), item_len(q, x), entry_of(q, x));
}

static void unlink_at(hm_bcast_queue_t *q, uint32_t t, bq_tier_t *tr, uint32_t bi, uint32_t i)
{
    bucket_close(&tr->b[bi], i);
    if (tr->b[bi].n == 0)
        bucket_del(q, tr, bi);
    tier_count(q, tr, t, -1);
}

static void unlink_item(hm_bcast_queue_t *q, uint32_t x)
{
    uint32_t t = key_tier(q->items[x].k), i;
    bq_tier_t *tr = t < q->ntiers ? q->tiers[t] : NULL;
    uint64_t v = entry_of(q, x);
    int bi;

    if (tr == NULL || (bi = bucket_find(tr, item_len(q, x))) < 0)
        return; /* not linked: cannot happen */
    i = entry_lb(&tr->b[bi], v);
    if (i < tr->b[bi].n && *ent(&tr->b[bi], i) == v)
        unlink_at(q, t, tr, (uint32_t)bi, i);
}

static void tiers_free(hm_bcast_queue_t *q)
{
    uint32_t t, i;

    for (t = 0; t < q->ntiers; t++) {
        if (q->tiers[t] == NULL)
            continue;
        for (i = 0; i < q->tiers[t]->nb; i++)
            free(q->tiers[t]->b[i].e);
        free(q->tiers[t]->b);
        free(q->tiers[t]);
    }
    free(q->tiers);
    free(q->tmask);
}

/* ---- side blocks and the name map ---------------------------------------- */

static uint32_t ext_alloc(hm_bcast_queue_t *q, bq_ext_t *e)
{
    uint32_t i;

    if (q->ext_nfree) {
        i = q->ext_free[--q->ext_nfree];
    } else {
        if (q->ext_used == 0)
            q->ext_used = 1;
        if (q->ext_used >= q->ext_cap) {
            uint32_t ncap = q->ext_cap ? q->ext_cap * 2 : 16;
            bq_ext_t **n = realloc(q->exts, ncap * sizeof(*n));
            uint32_t *f;
            if (n == NULL)
                return 0;
            q->exts = n;
            f = realloc(q->ext_free, ncap * sizeof(*f));
            if (f == NULL)
                return 0;
            q->ext_free = f;
            q->ext_cap = ncap;
        }
        i = q->ext_used++;
    }
    q->exts[i] = e;
    return i;
}

static void ext_release(hm_bcast_queue_t *q, uint32_t i)
{
    q->exts[i] = NULL;
    q->ext_free[q->ext_nfree++] = i;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static int map_grow(hm_bcast_queue_t *q)
{
    uint32_t n = q->nbuckets ? q->nbuckets * 2 : 16, i;
    uint32_t *b = calloc(n, sizeof(*b));

    if (b == NULL)
        return -1;
    for (i = 0; i < q->nbuckets; i++) {
        uint32_t it = q->buckets[i];
        while (it) {
            bq_ext_t *e = ext_of(q, it);
            uint32_t next = e->hnext, h = name_hash(e->name) & (n - 1);
            e->hnext = b[h];
            b[h] = it;
            it = next;
        }
    }
    free(q->buckets);
    q->buckets = b;
    q->nbuckets = n;
    return 0;
}

static uint32_t map_find(const hm_bcast_queue_t *q, const char *name)
{
    uint32_t it;

    if (q->nbuckets == 0)
        return 0;
    for (it = q->buckets[name_hash(name) & (q->nbuckets - 1)]; it; it = ext_of(q, it)->hnext)
        if (strcmp(ext_of(q, it)->name, name) == 0)
            return it;
    return 0;
}

static void map_remove(hm_bcast_queue_t *q, uint32_t x)
{
    bq_ext_t *e = ext_of(q, x);
    uint32_t *pp = &q->buckets[name_hash(e->name) & (q->nbuckets - 1)];

    while (*pp && *pp != x)
        pp = &ext_of(q, *pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    q->named--;
}

/* ---- items -------------------------------------------------------------- */

/* Items come from the free list, else from the untouched tail of the
 * pool (so a doubled pool costs no memory until it fills). */
static uint32_t alloc_item(hm_bcast_queue_t *q)
{
    uint32_t x;

    if (q->free_head) {
        x = q->free_head;
        q->free_head = q->items[x].key;
        return x;
    }
    if (q->used == 0)
        q->used = 1;
    if (q->used >= q->cap) {
        uint32_t ncap = q->cap ? q->cap * 2 : 64;
        bq_item_t *n = hm_pool_resize(q->items, (size_t)q->cap * sizeof(*n),
                                      (size_t)q->used * sizeof(*n), (size_t)ncap * sizeof(*n));
        if (n == NULL)
            return 0;
        q->items = n;
        q->cap = ncap;
    }
    return q->used++;
}

static void free_slot(hm_bcast_queue_t *q, uint32_t x)
{
    q->items[x] = (bq_item_t){.k = BQ_FREE, .key = q->free_head};
    q->free_head = x;
}

/* One live item fewer.  Ids start again from 1 once no entry, live or
 * stale, is left to be ordered against. */
static void count_drop(hm_bcast_queue_t *q)
{
    q->count--;
    if (q->count == 0 && q->phys == 0)
        q->id_gen = 0;
}

/* A direct item leaves (already unlinked): the owner forgets its handle. */
static void finish_direct(hm_bcast_queue_t *q, uint64_t e)
{
    count_drop(q);
    if (q->drop)
        q->drop(q->hook_ud, ent_key(e));
}

/* Is direct entry e still queued (its owner still holds its handle)? */
static bool direct_live(const hm_bcast_queue_t *q, uint64_t e)
{
    return q->enc && q->enc(q->hook_ud, ent_key(e), ent_handle(e), NULL) == 0;
}

/* Leave the queue: unlink, run the finished callback and drop hook. */
static void finish_item(hm_bcast_queue_t *q, uint32_t x, bool linked)
{
    bq_ext_t *e = ext_of(q, x);
    uint32_t key = q->items[x].key;

    if (linked)
        unlink_item(q, x);
    if (e && e->name)
        map_remove(q, x);
    if (e)
        ext_release(q, q->items[x].ext);
    free_slot(q, x);
    count_drop(q);
    if (key && q->drop)
        q->drop(q->hook_ud, key);
    if (e) {
        if (e->done)
            e->done(e->ud);
        free(e->name);
        free(e);
    }
}

hm_bcast_queue_t *hm_bcast_new(uint32_t retransmit_mult)
{
    hm_bcast_queue_t *q = calloc(1, sizeof(*q));
    if (q)
        q->mult = retransmit_mult;
    return q;
}

void hm_bcast_set_hooks(hm_bcast_queue_t *q, hm_bcast_encode_fn enc, hm_bcast_drop_fn drop,
                        void *ud)
{
    q->enc = enc;
    q->drop = drop;
    q->hook_ud = ud;
}

void hm_bcast_free(hm_bcast_queue_t *q)
{
    uint32_t i;

    if (q == NULL)
        return;
    for (i = 1; i < q->ext_used; i++) {
        if (q->exts[i]) {
            free(q->exts[i]->name);
            free(q->exts[i]);
        }
    }
    tiers_free(q);
    free(q->spare);
    hm_pool_free(q->items, (size_t)q->cap * sizeof(*q->items));
    free(q->exts);
    free(q->ext_free);
    free(q->park);
    free(q->buckets);
    free(q);
}

/* Throw away every stale direct entry.  Done when the ids have gone
 * round 2^31 (a direct handle holds 31 bits of its id), so that no stale
 * entry can be mistaken for a newer item of the same key. */
static void sweep_stale(hm_bcast_queue_t *q)
{
    uint32_t t, b, i;

    for (t = 0; t < q->ntiers; t++) {
        bq_tier_t *tr = q->tiers[t];
        for (b = 0; tr && b < tr->nb;) {
            uint32_t nb = tr->nb;
            for (i = tr->b[b].n; i-- > 0 && tr->nb == nb;) {
                uint64_t e = *ent(&tr->b[b], i);
                if (ent_direct(e) && !direct_live(q, e))
                    unlink_at(q, t, tr, b, i); /* the last one deletes the bucket */
            }
            b += tr->nb == nb;
        }
    }
}

static uint32_t next_id(hm_bcast_queue_t *q)
{
    q->id_gen = q->id_gen == UINT32_MAX ? 1 : q->id_gen + 1;
    if ((q->id_gen & ~BQ_DIRECT) == 0 && q->phys > q->count)
        sweep_stale(q);
    return q->id_gen;
}

/* A lazy keyed item with no callback and a packed length: no item slot. */
static uint32_t push_direct(hm_bcast_queue_t *q, uint32_t key, size_t n)
{
    uint32_t id = next_id(q);

    if (link_entry(q, 0, (uint32_t)n, (uint64_t)id << 32 | BQ_DIRECT | key) < 0)
        return 0;
    q->count++;
    return BQ_DIRECT | id;
}

static uint32_t push(hm_bcast_queue_t *q, const char *name, uint32_t key, const uint8_t *msg,
                     size_t n, hm_bcast_done_fn done, void *ud)
{
    bq_ext_t *e = NULL;
    uint32_t x, ei = 0;

    if (n > UINT32_MAX)
        return 0;
    if (key && key < BQ_DIRECT && !msg && !name && !done && n < BQ_BIGLEN)
        return push_direct(q, key, n);
    if (msg || name || done || n > BQ_BIGLEN) {
        e = malloc(sizeof(*e) + (msg ? n : 0));
        if (e == NULL)
            return 0;
        e->done = done;
        e->ud = ud;
        e->hnext = 0;
        e->name = NULL;
        e->len = (uint32_t)n;
        e->has_msg = msg != NULL;
        if (msg)
            memcpy(e->msg, msg, n);
        if (name && (e->name = strdup(name)) == NULL) {
            free(e);
            return 0;
        }
    }
    if (name) {
        uint32_t old = map_find(q, name);
        if (old)
            finish_item(q, old, true);
        if (q->named + 1 > q->nbuckets && map_grow(q) < 0)
            goto fail;
    }
    x = alloc_item(q);
    if (x == 0)
        goto fail;
    if (e && (ei = ext_alloc(q, e)) == 0) {
        free_slot(q, x);
        goto fail;
    }
    q->items[x] = (bq_item_t){.k = mkkey(0, n, next_id(q)), .key = key, .ext = ei};
    if (link_item(q, x) < 0) {
        if (ei)
            ext_release(q, ei);
        free_slot(q, x);
        goto fail;
    }
    q->count++;
    if (name) {
        uint32_t h = name_hash(name) & (q->nbuckets - 1);
        e->hnext = q->buckets[h];
        q->buckets[h] = x;
        q->named++;
    }
    return x;
fail:
    if (e)
        free(e->name);
    free(e);
    return 0;
}

int hm_bcast_push(hm_bcast_queue_t *q, const char *name, const uint8_t *msg, size_t n,
                  hm_bcast_done_fn done, void *ud)
{
    static const uint8_t empty;
    return push(q, name, 0, msg ? msg : &empty, msg ? n : 0, done, ud) ? 0 : -1;
}

uint32_t hm_bcast_push_keyed(hm_bcast_queue_t *q, uint32_t key, const uint8_t *msg, size_t n,
                             hm_bcast_done_fn done, void *ud)
{
    return push(q, NULL, key, msg, n, done, ud);
}

void hm_bcast_remove(hm_bcast_queue_t *q, uint32_t handle)
{
    if (handle & BQ_DIRECT) {
        /* lazy: its owner forgets the handle; the entry is now stale */
        if (q->count > 0)
            count_drop(q);
        return;
    }
    if (handle && handle < q->used && q->items[handle].k != BQ_FREE)
        finish_item(q, handle, true);
}

void hm_bcast_set_id(hm_bcast_queue_t *q, uint32_t id)
{
    q->id_gen = id;
}

uint32_t hm_bcast_retransmit_limit(uint32_t mult, size_t n)
{
    return mult * (uint32_t)ceil(log10((double)n + 1.0));
}

/* Append entry e's bytes to out: 0, -1 when they cannot be produced, 1
 * when e is a stale direct entry (nothing written). */
static int emit(hm_bcast_queue_t *q, uint64_t e, hm_buf_t *out)
{
    uint32_t x = (uint32_t)e;
    bq_ext_t *ext;

    if (ent_direct(e))
        return q->enc ? q->enc(q->hook_ud, ent_key(e), ent_handle(e), out) : -1;
    ext = ext_of(q, x);
    if (ext && ext->has_msg)
        return hm_buf_append(out, ext->msg, ext->len);
    if (q->enc == NULL)
        return -1;
    /* an item with a slot is removed at once, never stale */
    return q->enc(q->hook_ud, q->items[x].key, x, out) == 0 ? 0 : -1;
}

/* Entry e, taken out of its bucket, leaves the queue (sent its last
 * time, or its bytes cannot be produced). */
static void finish_entry(hm_bcast_queue_t *q, uint64_t e)
{
    if (ent_direct(e))
        finish_direct(q, e);
    else
        finish_item(q, (uint32_t)e, false);
}

static int park(hm_bcast_queue_t *q, uint64_t e, uint32_t t, uint32_t len)
{
    if (q->npark == q->park_cap) {
        size_t ncap = q->park_cap ? q->park_cap * 2 : 32;
        bq_park_t *n = realloc(q->park, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        q->park = n;
        q->park_cap = ncap;
    }
    q->park[q->npark++] = (bq_park_t){.e = e, .t = t, .len = len};
    return 0;
}

/* Items a get sent move to the next tier together.  Those it took from
 * one bucket (one tier and length, newest first) usually all belong in one
 * place of the next tier's bucket: one move of the entries behind them
 * instead of one per item (mid-bucket inserts were 4% of a 10,000-node
 * run, in memmove). */
#define BQ_RUN 32

static bool same_run(const bq_park_t *a, const bq_park_t *b)
{
    return a->t == b->t && a->len == b->len && (uint32_t)(b->e >> 32) < (uint32_t)(a->e >> 32);
}

/* Link ps[0..m) (a run: same tier and length, ids descending), as one
 * block if nothing lies between them, else one by one. */
static void relink(hm_bcast_queue_t *q, const bq_park_t *ps, size_t m)
{
    uint64_t v[BQ_RUN];
    uint32_t t = ps[0].t, pos;
    bq_tier_t *tr;
    bq_bucket_t *bk;
    size_t j;
    int bi;

    if (m > 1 && (tr = tier_get(q, t)) != NULL &&
        ((bi = bucket_find(tr, ps[0].len)) >= 0 || (bi = bucket_add(q, tr, ps[0].len)) >= 0)) {
        bk = &tr->b[bi];
        for (j = 0; j < m; j++)
            v[j] = ps[m - 1 - j].e; /* ascending */
        pos = bucket_pos(bk, v[m - 1]);
        if ((pos == 0 || *ent(bk, pos - 1) < v[0]) && bucket_put(bk, pos, v, (uint32_t)m) == 0) {
            tier_count(q, tr, t, (int)m);
            return;
        }
    }
    for (j = 0; j < m; j++)
        if (link_entry(q, ps[j].t, ps[j].len, ps[j].e) < 0)
            finish_entry(q, ps[j].e);
}

#define BQ_AHEAD 8

void hm_bcast_set_prefetch(hm_bcast_queue_t *q, hm_bcast_prefetch_fn pre)
{
    q->pre = pre;
}

/* Warm what taking entry e will read: its item slot (far ahead: the
 * item's key comes from it), or a direct entry's key straight away. */
static void warm_far(const hm_bcast_queue_t *q, uint64_t e)
{
    if (!ent_direct(e))
        hm_prefetch(&q->items[(uint32_t)e]);
    else if (q->pre)
        q->pre(q->hook_ud, ent_key(e));
}

/* The owner's part, nearer (an item slot's key has come in by now). */
static void warm_near(const hm_bcast_queue_t *q, uint64_t e)
{
    if (q->pre && !ent_direct(e))
        q->pre(q->hook_ud, q->items[(uint32_t)e].key);
}

/* hm_bcast_get(), the bytes going either to parts[k] or, with cat, all
 * appended to cat with their lengths in lens[k]. */
static size_t get(hm_bcast_queue_t *q, size_t num_nodes, size_t overhead, size_t limit,
                  hm_buf_t *parts, hm_buf_t *cat, uint32_t *lens, size_t max_parts)
{
    uint32_t tlimit, t, len;
    uint64_t e;
    size_t used = 0, k = 0, i, j, at, base = q->npark; /* base: parked by an outer get */
    const bq_bucket_t *warm = NULL;                    /* the bucket last taken from */
    hm_buf_t *out;                                     /* where the item's bytes go */
    int rc;

    if (q->count == 0 || max_parts == 0)
        return 0;
    tlimit = hm_bcast_retransmit_limit(q->mult, num_nodes);
    t = next_tier(q, 0);
    while (k < max_parts && limit > used + overhead && t != UINT32_MAX) {
        bq_tier_t *tr = q->tiers[t];
        bq_bucket_t *bk;
        int bi = bucket_fit(tr, limit - used - overhead);

        if (bi < 0) {
            t = next_tier(q, t + 1);
            continue;
        }
        bk = &tr->b[bi];
        e = *ent(bk, bk->n - 1); /* the newest */
        len = bk->len;
        /* the next few items to go are likely the next newest of this
         * length: start fetching them (the pool is cold), and what
         * encoding them reads for the next two (a lazy item's bytes come
         * from a node record as cold as the item).  The first take from
         * a bucket asks for all of them, the next ones for the one that
         * came into reach. */
        if (bk != warm) {
            for (i = bk->n > BQ_AHEAD ? bk->n - BQ_AHEAD : 0; i + 1 < bk->n; i++)
                warm_far(q, *ent(bk, i));
            for (i = bk->n > 3 ? bk->n - 3 : 0; i + 1 < bk->n; i++)
                warm_near(q, *ent(bk, i));
            warm = bk;
        } else {
            if (bk->n > BQ_AHEAD)
                warm_far(q, *ent(bk, bk->n - BQ_AHEAD));
            if (bk->n > 3)
                warm_near(q, *ent(bk, bk->n - 3));
        }
        unlink_at(q, t, tr, (uint32_t)bi, bk->n - 1);
        out = cat ? cat : &parts[k];
        if (cat == NULL)
            hm_buf_reset(out);
        at = out->len;
        if ((rc = emit(q, e, out)) != 0) {
            /* stale, or cannot be produced (dropped rather than looping
             * forever): take back any bytes it left */
            out->len = at;
            if (rc < 0)
                finish_entry(q, e);
            continue;
        }
        if (cat)
            lens[k] = (uint32_t)(out->len - at);
        k++;
        used += overhead + len;
        if (t + 1 >= tlimit || park(q, e, t + 1, len) < 0)
            finish_entry(q, e);
        else if (!ent_direct(e))
            q->items[(uint32_t)e].k = mkkey(t + 1, len, (uint32_t)(e >> 32));
    }
    for (i = base; i < q->npark; i = j) {
        for (j = i + 1; j < q->npark && j - i < BQ_RUN && same_run(&q->park[j - 1], &q->park[j]);
             j++)
            ;
        relink(q, &q->park[i], j - i);
    }
    q->npark = base;
    return k;
}

/* The bucket a get takes from first in tier t: its longest length. */
static const bq_bucket_t *head_bucket(const hm_bcast_queue_t *q, uint32_t t)
{
    const bq_tier_t *tr = t < q->ntiers ? q->tiers[t] : NULL;
    return tr && tr->nb > tr->nlong ? &tr->b[tr->nlong] : NULL;
}

void hm_bcast_warm(const hm_bcast_queue_t *q, unsigned level)
{
    uint32_t t, i;
    const bq_bucket_t *bk;

    if (level == 0) {
        hm_prefetch(q);
        hm_prefetch((const char *)q + 64);
        return;
    }
    if (q->ntiers == 0)
        return;
    if (level == 1) {
        hm_prefetch(q->tmask);
        hm_prefetch(q->tiers);
        if (q->free_head)
            hm_prefetch(&q->items[q->free_head]); /* a push takes it */
        return;
    }
    if ((t = next_tier(q, 0)) == UINT32_MAX)
        t = 0;
    /* the lowest tier (a get takes from it), the next (what it sent goes
     * there) and tier 0 (a push goes there) */
    for (i = 0; i < 3; i++) {
        uint32_t u = i == 0 ? t : i == 1 ? t + 1 : 0;
        if (u >= q->ntiers || q->tiers[u] == NULL || (i == 2 && t == 0))
            continue;
        if (level == 2) {
            hm_prefetch(q->tiers[u]);
        } else if (level == 3) {
            hm_prefetch(q->tiers[u]->b);
            hm_prefetch(head_bucket(q, u));
        } else if ((bk = head_bucket(q, u)) != NULL && bk->n) {
            if (level == 4) {
                hm_prefetch(ent(bk, bk->n - 1));
                if (bk->n > BQ_NEAR)
                    hm_prefetch(ent(bk, bk->n - 1 - BQ_NEAR));
            } else if (i == 0) {
                uint32_t j;
                for (j = 0; j < 4 && j < bk->n; j++)
                    warm_far(q, *ent(bk, bk->n - 1 - j));
            }
        }
    }
}

size_t hm_bcast_get(hm_bcast_queue_t *q, size_t num_nodes, size_t overhead, size_t limit,
                    hm_buf_t *parts, size_t max_parts)
{
    return get(q, num_nodes, overhead, limit, parts, NULL, NULL, max_parts);
}

size_t hm_bcast_get_cat(hm_bcast_queue_t *q, size_t num_nodes, size_t overhead, size_t limit,
                        hm_buf_t *cat, uint32_t *lens, size_t max_parts)
{
    return get(q, num_nodes, overhead, limit, NULL, cat, lens, max_parts);
}

size_t hm_bcast_len(const hm_bcast_queue_t *q)
{
    return q->count;
}

/* Drop from the most transmitted end: the last tier, its shortest
 * length, its oldest item. */
void hm_bcast_prune(hm_bcast_queue_t *q, size_t max_retain)
{
    while (q->count > max_retain) {
        uint32_t t = last_tier(q);
        bq_tier_t *tr = q->tiers[t];
        bq_bucket_t *bk = &tr->b[tr->nb - 1];
        uint64_t e = *ent(bk, 0);

        if (!ent_direct(e)) {
            finish_item(q, (uint32_t)e, true);
            continue;
        }
        unlink_at(q, t, tr, tr->nb - 1, 0);
        if (direct_live(q, e))
            finish_direct(q, e);
    }
}
