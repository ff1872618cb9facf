/*
 * The transmit-limited broadcast queue (memberlist queue.go).
 *
 * Items are ordered by (transmits ascending, length descending, id
 * descending).  GetBroadcasts needs "the first item of tier t whose length
 * fits in the free space", a lower-bound search in that order, as
 * memberlist does with its btree.  At 10,000 nodes every engine holds
 * ~10,000 items and the simulator hops between engines, so the queue is
 * cache-cold on every get: the order lives in a B+tree of wide nodes
 * (height 1-2 at that size) whose leaves hold the whole order key packed
 * into 64 bits next to the item index, so a search touches a few
 * contiguous nodes and no item.  Items themselves are 16 bytes in a pool
 * addressed by 32-bit index (the handle); bytes, callbacks and names sit
 * in an optional side block.  Messages longer than 65535 bytes do not fit
 * the packed key; they are kept in a small sorted side list instead (no
 * caller queues such messages: they exceed any packet).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hm_bcast_int.h"

typedef struct bq_ext {
    hm_bcast_done_fn done;
    void *ud;
    char *name;     /* owned; NULL when unnamed */
    uint32_t hnext; /* next item in the same name-map bucket */
    uint32_t len;
    bool has_msg; /* false: lazy item (bytes from the encode hook) */
    uint8_t msg[];
} bq_ext_t;

/* The order key: tier << 48 | (BQ_BIGLEN - len) << 32 | ~id, so that
 * ascending keys are the queue order.  Ids are never 0, so no live key is
 * BQ_FREE. */
#define BQ_BIGLEN 0xffffu
#define BQ_FREE UINT64_MAX

typedef struct bq_item {
    uint64_t k;   /* order key; BQ_FREE when the slot is free */
    uint32_t key; /* keyed items: the owner's key (0 otherwise); free-list link when free */
    uint32_t ext; /* index in q->exts; 0 when none */
} bq_item_t;

/* B+tree nodes: a header, then the keys, then the leaf's item indices or
 * the inner node's children.  Leaves hold keys and item indices; inner
 * nodes hold each child's largest key, so a lower-bound descent never
 * backtracks.  Leaves are small (a cold leaf costs a few cache lines);
 * inner nodes are wider (there are few of them, and they stay warm
 * within a get). */
#define BQ_LCAP 32
#define BQ_ICAP 64

typedef struct bq_node {
    uint16_t n, lo; /* entries; leaves: the first one is at key slot lo */
    uint32_t pad;
} bq_node_t;

#define BQ_LEAF_SIZE (sizeof(bq_node_t) + BQ_LCAP * (sizeof(uint64_t) + sizeof(uint32_t)))
#define BQ_INNER_SIZE (sizeof(bq_node_t) + BQ_ICAP * (sizeof(uint64_t) + sizeof(bq_node_t *)))

static uint64_t *node_keys(const bq_node_t *nd)
{
    return (uint64_t *)(uintptr_t)(nd + 1);
}

static uint32_t node_cap(bool leaf)
{
    return leaf ? BQ_LCAP : BQ_ICAP;
}

struct hm_bcast_queue {
    uint32_t mult;
    bq_item_t *items;                     /* items[0] unused */
    uint32_t cap, used, free_head, count; /* used: high-water mark */
    uint32_t id_gen;
    bq_node_t *root; /* NULL when the tree is empty */
    uint32_t height; /* 0: the root is a leaf */
    /* spare nodes, so that an insertion never fails half-way */
    bq_node_t *spare_leaf, *spare_inner;
    uint32_t nspare_leaf, nspare_inner;
    /* side blocks */
    bq_ext_t **exts; /* exts[0] unused */
    uint32_t *ext_free;
    uint32_t ext_cap, ext_used, ext_nfree;
    /* items longer than BQ_BIGLEN, in queue order */
    uint32_t *big;
    uint32_t nbig, big_cap;
    /* items sent by the running get, re-inserted at its end */
    uint32_t *park;
    size_t npark, park_cap;
    uint32_t *buckets; /* name map: bucket -> item */
    uint32_t nbuckets, named;
    hm_bcast_encode_fn enc;
    hm_bcast_drop_fn drop;
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

static bool is_big(const hm_bcast_queue_t *q, uint32_t x)
{
    bq_ext_t *e = ext_of(q, x);
    return e && e->len > BQ_BIGLEN;
}

/* ---- B+tree ------------------------------------------------------------- */

/* Entry i of a node (leaves keep their entries at k[lo..lo+n), so that
 * both ends take insertions and deletions without moving the rest). */
#define KEY(nd, i) (node_keys(nd)[(nd)->lo + (i)])
#define VAL(nd, i) (((uint32_t *)(node_keys(nd) + BQ_LCAP))[(nd)->lo + (i)])
#define CHILD(nd, i) (((bq_node_t **)(node_keys(nd) + BQ_ICAP))[i])

/* First position in nd whose key is >= x (nd->n when none). */
static uint32_t node_lb(const bq_node_t *nd, uint64_t x)
{
    const uint64_t *base = &KEY(nd, 0), *k = base;
    uint32_t n = nd->n;

    while (n > 1) {
        uint32_t half = n / 2;
        k += (k[half - 1] < x) * half; /* branch-free: the outcome is a coin toss */
        n -= half;
    }
    return (uint32_t)(k - base) + (n == 1 && k[0] < x);
}

static uint64_t node_max(const bq_node_t *nd)
{
    return KEY(nd, nd->n - 1);
}

/* Move cnt entries (keys and values or children) from src entry spos to
 * dst entry dpos. */
static void node_move(bq_node_t *dst, uint32_t dpos, bq_node_t *src, uint32_t spos, uint32_t cnt,
                      bool leaf)
{
    if (cnt == 0)
        return;
    memmove(&KEY(dst, dpos), &KEY(src, spos), cnt * sizeof(uint64_t));
    if (leaf)
        memmove(&VAL(dst, dpos), &VAL(src, spos), cnt * sizeof(uint32_t));
    else
        memmove(&CHILD(dst, dpos), &CHILD(src, spos), cnt * sizeof(bq_node_t *));
}

/* Entries back to k[0..n) (inner nodes always are). */
static void node_compact(bq_node_t *nd, bool leaf)
{
    uint32_t lo = nd->lo;

    if (lo == 0)
        return;
    nd->lo = 0;
    node_move(nd, 0, nd, lo, nd->n, leaf);
}

/* Open a hole at entry i of a leaf that is not full, moving the shorter side. */
static void leaf_open(bq_node_t *nd, uint32_t i)
{
    if (nd->lo > 0 && (i < nd->n / 2 || nd->lo + nd->n == BQ_LCAP)) {
        nd->lo--;
        node_move(nd, 0, nd, 1, i, true);
    } else {
        node_move(nd, i + 1, nd, i, nd->n - i, true);
    }
    nd->n++;
}

/* Close entry i of a leaf, moving the shorter side. */
static void leaf_close(bq_node_t *nd, uint32_t i)
{
    if (i < nd->n / 2) {
        node_move(nd, 1, nd, 0, i, true);
        nd->lo++;
    } else {
        node_move(nd, i, nd, i + 1, nd->n - i - 1, true);
    }
    if (--nd->n == 0)
        nd->lo = 0;
}

static bq_node_t **spare_list(hm_bcast_queue_t *q, bool leaf, uint32_t **count)
{
    *count = leaf ? &q->nspare_leaf : &q->nspare_inner;
    return leaf ? &q->spare_leaf : &q->spare_inner;
}

/* Spare nodes are chained through their first key's memory. */
static bq_node_t *node_get(hm_bcast_queue_t *q, bool leaf)
{
    uint32_t *cnt;
    bq_node_t **head = spare_list(q, leaf, &cnt), *nd = *head;

    memcpy(head, node_keys(nd), sizeof(*head));
    (*cnt)--;
    nd->n = 0;
    nd->lo = 0;
    return nd;
}

static void node_put(hm_bcast_queue_t *q, bq_node_t *nd, bool leaf)
{
    uint32_t *cnt;
    bq_node_t **head = spare_list(q, leaf, &cnt);

    if (*cnt >= (leaf ? 1 : q->height + 1)) {
        free(nd);
        return;
    }
    memcpy(node_keys(nd), head, sizeof(*head));
    *head = nd;
    (*cnt)++;
}

/* Enough spare nodes for one insertion: a leaf, an inner node per level
 * and a new root. */
static int reserve_nodes(hm_bcast_queue_t *q)
{
    while (q->nspare_leaf < 1) {
        bq_node_t *nd = malloc(BQ_LEAF_SIZE);
        if (nd == NULL)
            return -1;
        node_put(q, nd, true);
    }
    while (q->nspare_inner < q->height + 1) {
        bq_node_t *nd = malloc(BQ_INNER_SIZE);
        if (nd == NULL)
            return -1;
        node_put(q, nd, false);
    }
    return 0;
}

static void free_spares(hm_bcast_queue_t *q, bool leaf)
{
    uint32_t *cnt;

    spare_list(q, leaf, &cnt);
    while (*cnt)
        free(node_get(q, leaf));
}

/* Split a full node in halves; returns the right half. */
static bq_node_t *node_split(hm_bcast_queue_t *q, bq_node_t *nd, bool leaf)
{
    bq_node_t *r = node_get(q, leaf);
    uint32_t half = nd->n / 2;

    node_move(r, 0, nd, half, nd->n - half, leaf);
    r->n = nd->n - half;
    nd->n = half;
    return r;
}

/* Insert into the subtree nd of height h; returns the new right sibling
 * when nd had to split. */
static bq_node_t *tree_ins(hm_bcast_queue_t *q, bq_node_t *nd, uint32_t h, uint64_t x, uint32_t v)
{
    uint32_t i = node_lb(nd, x);
    bq_node_t *r = NULL, *into = nd, *cr;

    if (h == 0) {
        if (nd->n == BQ_LCAP) {
            r = node_split(q, nd, true);
            if (i > nd->n) {
                into = r;
                i -= nd->n;
            }
        }
        leaf_open(into, i);
        KEY(into, i) = x;
        VAL(into, i) = v;
        return r;
    }
    if (i == nd->n)
        i--; /* beyond every key: the last child takes it */
    cr = tree_ins(q, CHILD(nd, i), h - 1, x, v);
    KEY(nd, i) = node_max(CHILD(nd, i));
    if (cr == NULL)
        return NULL;
    i++; /* the new child goes right after its left half */
    if (nd->n == BQ_ICAP) {
        r = node_split(q, nd, false);
        if (i > nd->n) {
            into = r;
            i -= nd->n;
        }
    }
    node_move(into, i + 1, into, i, into->n - i, false);
    into->n++;
    KEY(into, i) = node_max(cr);
    CHILD(into, i) = cr;
    return r;
}

static int tree_insert(hm_bcast_queue_t *q, uint64_t x, uint32_t v)
{
    bq_node_t *r;

    if (reserve_nodes(q) < 0)
        return -1;
    if (q->root == NULL) {
        q->root = node_get(q, true);
        q->height = 0;
    }
    r = tree_ins(q, q->root, q->height, x, v);
    if (r) {
        bq_node_t *nr = node_get(q, false);
        nr->n = 2;
        KEY(nr, 0) = node_max(q->root);
        CHILD(nr, 0) = q->root;
        KEY(nr, 1) = node_max(r);
        CHILD(nr, 1) = r;
        q->root = nr;
        q->height++;
    }
    return 0;
}

/* Child i of `in` (children at height ch) fell below a quarter full: merge it
 * with a sibling, or even the two out. */
static void rebalance(hm_bcast_queue_t *q, bq_node_t *in, uint32_t i, uint32_t ch)
{
    bool leaf = ch == 0;
    uint32_t a = i + 1 < in->n ? i : i - 1, total;
    bq_node_t *A = CHILD(in, a), *B = CHILD(in, a + 1);

    node_compact(A, leaf);
    node_compact(B, leaf);
    total = A->n + B->n;
    if (total <= node_cap(leaf) * 3 / 4) {
        node_move(A, A->n, B, 0, B->n, leaf);
        A->n = total;
        node_put(q, B, leaf);
        node_move(in, a + 1, in, a + 2, in->n - a - 2, false);
        in->n--;
    } else if (A->n < total / 2) {
        uint32_t m = total / 2 - A->n;
        node_move(A, A->n, B, 0, m, leaf);
        node_move(B, 0, B, m, B->n - m, leaf);
        A->n += m;
        B->n -= m;
    } else {
        uint32_t m = A->n - total / 2;
        node_move(B, m, B, 0, B->n, leaf);
        node_move(B, 0, A, A->n - m, m, leaf);
        A->n -= m;
        B->n += m;
    }
    KEY(in, a) = node_max(A);
}

/* After a deletion below child i of inner node nd: drop the child if it
 * is empty, else refresh its largest key and keep it a quarter full. */
static void fix_child(hm_bcast_queue_t *q, bq_node_t *nd, uint32_t h, uint32_t i)
{
    bq_node_t *c = CHILD(nd, i);

    if (c->n == 0) {
        node_put(q, c, h == 1);
        node_move(nd, i, nd, i + 1, nd->n - i - 1, false);
        nd->n--;
        return;
    }
    KEY(nd, i) = node_max(c);
    if (c->n < node_cap(h == 1) / 4 && nd->n > 1)
        rebalance(q, nd, i, h - 1);
}

/* Remove the first entry >= x of the subtree nd of height h if it is
 * below lim; its key and item go to *kout, *vout either way.  Returns
 * 0 when there is no entry >= x, 1 when one was found and left, 2 when
 * it was removed. */
static int tree_take_rec(hm_bcast_queue_t *q, bq_node_t *nd, uint32_t h, uint64_t x, uint64_t lim,
                         uint64_t *kout, uint32_t *vout)
{
    uint32_t i = node_lb(nd, x);
    int r;

    if (i == nd->n)
        return 0;
    if (h == 0) {
        *kout = KEY(nd, i);
        *vout = VAL(nd, i);
        if (*kout >= lim)
            return 1;
        leaf_close(nd, i);
        return 2;
    }
    r = tree_take_rec(q, CHILD(nd, i), h - 1, x, lim, kout, vout);
    if (r == 2)
        fix_child(q, nd, h, i);
    return r;
}

/* The root lost entries: drop levels with a single child, free it when empty. */
static void fix_root(hm_bcast_queue_t *q)
{
    while (q->height > 0 && q->root->n == 1) {
        bq_node_t *old = q->root;
        q->root = CHILD(old, 0);
        q->height--;
        node_put(q, old, false);
    }
    if (q->root->n == 0) {
        node_put(q, q->root, q->height == 0);
        q->root = NULL;
        q->height = 0;
    }
}

static int tree_take(hm_bcast_queue_t *q, uint64_t x, uint64_t lim, uint64_t *kout, uint32_t *vout)
{
    int r;

    if (q->root == NULL)
        return 0;
    r = tree_take_rec(q, q->root, q->height, x, lim, kout, vout);
    if (r == 2)
        fix_root(q);
    return r;
}

/* Delete key x (no-op when absent). */
static void tree_delete(hm_bcast_queue_t *q, uint64_t x)
{
    uint64_t k;
    uint32_t v;

    tree_take(q, x, x + 1, &k, &v);
}

/* The first entry >= x: its key and item, false when none. */
static bool tree_lb(const hm_bcast_queue_t *q, uint64_t x, uint64_t *kout, uint32_t *vout)
{
    const bq_node_t *nd = q->root;
    uint32_t h = q->height, i;

    if (nd == NULL)
        return false;
    for (;;) {
        i = node_lb(nd, x);
        if (i == nd->n)
            return false;
        if (h == 0)
            break;
        nd = CHILD(nd, i);
        h--;
    }
    *kout = KEY(nd, i);
    *vout = VAL(nd, i);
    return true;
}

/* The first (last) entry of the tree. */
static bool tree_end(const hm_bcast_queue_t *q, bool last, uint64_t *kout, uint32_t *vout)
{
    const bq_node_t *nd = q->root;
    uint32_t h = q->height;

    if (nd == NULL)
        return false;
    for (; h > 0; h--)
        nd = CHILD(nd, last ? nd->n - 1 : 0);
    *kout = KEY(nd, last ? nd->n - 1 : 0);
    *vout = VAL(nd, last ? nd->n - 1 : 0);
    return true;
}

static void tree_free(bq_node_t *nd, uint32_t h)
{
    uint32_t i;

    if (h > 0)
        for (i = 0; i < nd->n; i++)
            tree_free(CHILD(nd, i), h - 1);
    free(nd);
}

/* ---- the side list of long messages -------------------------------------- */

/* -1 when item a comes before item b in queue order. */
static int cmp_items(const hm_bcast_queue_t *q, uint32_t a, uint32_t b)
{
    uint32_t ta = key_tier(q->items[a].k), tb = key_tier(q->items[b].k);
    uint32_t la = item_len(q, a), lb = item_len(q, b);
    uint32_t ia = key_id(q->items[a].k), ib = key_id(q->items[b].k);

    if (ta != tb)
        return ta < tb ? -1 : 1;
    if (la != lb)
        return la > lb ? -1 : 1;
    if (ia != ib)
        return ia > ib ? -1 : 1;
    return 0;
}

static int big_insert(hm_bcast_queue_t *q, uint32_t x)
{
    uint32_t i;

    if (q->nbig == q->big_cap) {
        uint32_t ncap = q->big_cap ? q->big_cap * 2 : 4;
        uint32_t *n = realloc(q->big, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        q->big = n;
        q->big_cap = ncap;
    }
    for (i = q->nbig; i > 0 && cmp_items(q, x, q->big[i - 1]) < 0; i--)
        q->big[i] = q->big[i - 1];
    q->big[i] = x;
    q->nbig++;
    return 0;
}

static void big_remove(hm_bcast_queue_t *q, uint32_t x)
{
    uint32_t i;

    for (i = 0; i < q->nbig && q->big[i] != x; i++)
        ;
    if (i == q->nbig)
        return;
    memmove(&q->big[i], &q->big[i + 1], (q->nbig - i - 1) * sizeof(uint32_t));
    q->nbig--;
}

/* ---- linking: tree or side list ------------------------------------------ */

static int link_item(hm_bcast_queue_t *q, uint32_t x)
{
    return is_big(q, x) ? big_insert(q, x) : tree_insert(q, q->items[x].k, x);
}

static void unlink_item(hm_bcast_queue_t *q, uint32_t x)
{
    if (is_big(q, x))
        big_remove(q, x);
    else
        tree_delete(q, q->items[x].k);
}

/* The first item in queue order that is in a tier above t, or in tier t
 * and no longer than free_ (0 when none). */
static uint32_t first_fit(const hm_bcast_queue_t *q, uint32_t t, size_t free_)
{
    uint64_t k;
    uint32_t x = 0, i;

    if (!tree_lb(q, mkkey(t, free_, UINT32_MAX), &k, &x))
        x = 0;
    for (i = 0; i < q->nbig; i++) {
        uint32_t b = q->big[i], tb = key_tier(q->items[b].k);
        if (tb > t || (tb == t && item_len(q, b) <= free_)) {
            /* in one tier a long message comes before every tree item */
            if (x == 0 || tb <= key_tier(q->items[x].k))
                x = b;
            break;
        }
    }
    return x;
}

/* The tier of the first (last) item in queue order; the queue is not empty. */
static uint32_t end_tier(const hm_bcast_queue_t *q, bool last)
{
    uint64_t k;
    uint32_t x, tb;

    if (!tree_end(q, last, &k, &x))
        return key_tier(q->items[q->big[last ? q->nbig - 1 : 0]].k);
    if (q->nbig == 0)
        return key_tier(k);
    tb = key_tier(q->items[q->big[last ? q->nbig - 1 : 0]].k);
    return last ? (tb > key_tier(k) ? tb : key_tier(k)) : (tb < key_tier(k) ? tb : key_tier(k));
}

/* The first (last) item in queue order, 0 when empty. */
static uint32_t end_item(const hm_bcast_queue_t *q, bool last)
{
    uint64_t k;
    uint32_t x, b;

    if (!tree_end(q, last, &k, &x))
        x = 0;
    if (q->nbig == 0)
        return x;
    b = q->big[last ? q->nbig - 1 : 0];
    if (x == 0)
        return b;
    return (cmp_items(q, b, x) < 0) != last ? b : x;
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
        bq_item_t *n = realloc(q->items, (size_t)ncap * sizeof(*n));
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
    q->count--;
    if (q->count == 0)
        q->id_gen = 0;
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
    if (q->root)
        tree_free(q->root, q->height);
    free_spares(q, true);
    free_spares(q, false);
    free(q->items);
    free(q->exts);
    free(q->ext_free);
    free(q->big);
    free(q->park);
    free(q->buckets);
    free(q);
}

static uint32_t push(hm_bcast_queue_t *q, const char *name, uint32_t key, const uint8_t *msg,
                     size_t n, hm_bcast_done_fn done, void *ud)
{
    bq_ext_t *e = NULL;
    uint32_t x, ei = 0;

    if (n > UINT32_MAX)
        return 0;
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
    q->id_gen = q->id_gen == UINT32_MAX ? 1 : q->id_gen + 1;
    q->items[x] = (bq_item_t){.k = mkkey(0, n, q->id_gen), .key = key, .ext = ei};
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
    if (handle && handle < q->used && q->items[handle].k != BQ_FREE)
        finish_item(q, handle, true);
}

uint32_t hm_bcast_retransmit_limit(uint32_t mult, size_t n)
{
    return mult * (uint32_t)ceil(log10((double)n + 1.0));
}

static int emit(hm_bcast_queue_t *q, uint32_t x, hm_buf_t *out)
{
    bq_ext_t *e = ext_of(q, x);

    hm_buf_reset(out);
    if (e && e->has_msg)
        return hm_buf_append(out, e->msg, e->len);
    if (q->enc == NULL)
        return -1;
    return q->enc(q->hook_ud, q->items[x].key, out);
}

static int park(hm_bcast_queue_t *q, uint32_t x)
{
    if (q->npark == q->park_cap) {
        size_t ncap = q->park_cap ? q->park_cap * 2 : 32;
        uint32_t *n = realloc(q->park, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        q->park = n;
        q->park_cap = ncap;
    }
    q->park[q->npark++] = x;
    return 0;
}

/* Take the first item in a tier above t, or in tier t and no longer than
 * free_, out of the queue if it is in tier t.  Returns it (0 when none)
 * and its key. */
static uint32_t take_fit(hm_bcast_queue_t *q, uint32_t t, size_t free_, uint64_t *key)
{
    uint32_t x;

    if (q->nbig == 0) {
        uint64_t lim = t == 0xffffu ? BQ_FREE : (uint64_t)(t + 1) << 48;
        return tree_take(q, mkkey(t, free_, UINT32_MAX), lim, key, &x) ? x : 0;
    }
    x = first_fit(q, t, free_);
    if (x == 0)
        return 0;
    *key = q->items[x].k;
    if (key_tier(*key) == t)
        unlink_item(q, x);
    return x;
}

size_t hm_bcast_get(hm_bcast_queue_t *q, size_t num_nodes, size_t overhead, size_t limit,
                    hm_buf_t *parts, size_t max_parts)
{
    uint32_t tlimit, t, x;
    size_t used = 0, k = 0, i, base = q->npark; /* base: parked by an outer get */
    uint64_t key;

    if (q->count == 0 || max_parts == 0)
        return 0;
    tlimit = hm_bcast_retransmit_limit(q->mult, num_nodes);
    t = end_tier(q, false);
    while (k < max_parts && limit > used + overhead) {
        uint32_t len;

        x = take_fit(q, t, limit - used - overhead, &key);
        if (x == 0)
            break;
        if (key_tier(key) != t) {
            /* tiers in between are empty: go straight to the next one */
            t = key_tier(key);
            continue;
        }
        len = item_len(q, x);
        if (emit(q, x, &parts[k]) < 0) {
            /* cannot produce it: drop it rather than loop forever */
            finish_item(q, x, false);
            continue;
        }
        k++;
        used += overhead + len;
        if (t + 1 >= tlimit || park(q, x) < 0)
            finish_item(q, x, false);
        else
            q->items[x].k = mkkey(t + 1, len, key_id(key));
    }
    for (i = base; i < q->npark; i++)
        if (link_item(q, q->park[i]) < 0)
            finish_item(q, q->park[i], false);
    q->npark = base;
    return k;
}

size_t hm_bcast_len(const hm_bcast_queue_t *q)
{
    return q->count;
}

void hm_bcast_prune(hm_bcast_queue_t *q, size_t max_retain)
{
    while (q->count > max_retain)
        finish_item(q, end_item(q, true), true);
}
