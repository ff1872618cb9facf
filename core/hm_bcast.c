/*
 * The transmit-limited broadcast queue (memberlist queue.go).
 *
 * Items are ordered by (transmits ascending, length descending, id
 * descending) in a treap over a pool of items addressed by 32-bit index
 * (0 = none): GetBroadcasts needs "the first item of tier t whose length
 * fits in the free space", which is a lower-bound search in that order,
 * as memberlist does with its btree.  The treap priority is a hash of the
 * item id, so items carry no extra field for it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hm_bcast_int.h"

typedef struct bq_blk {
    hm_bcast_done_fn done;
    void *ud;
    char *name;     /* owned; NULL when unnamed */
    uint32_t hnext; /* next item in the same name-map bucket */
    uint8_t msg[];
} bq_blk_t;

typedef struct bq_item {
    uint32_t l, r;
    uint32_t len;
    uint32_t key; /* keyed items: the owner's key; 0 otherwise */
    uint32_t id;
    uint16_t transmits;
    uint16_t has_msg; /* 0: lazy item (bytes from the encode hook) */
    bq_blk_t *blk;    /* bytes, callback and name; NULL when none */
} bq_item_t;

struct hm_bcast_queue {
    uint32_t mult;
    bq_item_t *items;                           /* items[0] unused */
    uint32_t cap, used, free_head, count, root; /* used: high-water mark */
    uint32_t id_gen;
    uint32_t *buckets; /* name map: bucket -> item */
    uint32_t nbuckets, named;
    hm_bcast_encode_fn enc;
    hm_bcast_drop_fn drop;
    void *hook_ud;
    hm_buf_t scratch;
    /* linked items per transmit tier, so a get skips empty tiers without
     * a tree descent; items at tier >= BQ_TIERS are counted in `high` */
#define BQ_TIERS 64
    uint32_t tier_cnt[BQ_TIERS], high;
};

static uint32_t prio_of(uint32_t id)
{
    uint32_t x = id * 0x9e3779b1u;
    x ^= x >> 15;
    x *= 0x85ebca77u;
    x ^= x >> 13;
    return x;
}

/* -1 when a comes before b in queue order. */
static int cmp_key(uint32_t ta, uint32_t la, uint32_t ia, uint32_t tb, uint32_t lb, uint32_t ib)
{
    if (ta != tb)
        return ta < tb ? -1 : 1;
    if (la != lb)
        return la > lb ? -1 : 1;
    if (ia != ib)
        return ia > ib ? -1 : 1;
    return 0;
}

static int cmp_items(const hm_bcast_queue_t *q, uint32_t a, uint32_t b)
{
    const bq_item_t *x = &q->items[a], *y = &q->items[b];
    return cmp_key(x->transmits, x->len, x->id, y->transmits, y->len, y->id);
}

/* Split t into items before `k` (*l) and the rest (*r). */
static void split(hm_bcast_queue_t *q, uint32_t t, uint32_t k, uint32_t *l, uint32_t *r)
{
    if (t == 0) {
        *l = *r = 0;
        return;
    }
    if (cmp_items(q, t, k) < 0) {
        split(q, q->items[t].r, k, &q->items[t].r, r);
        *l = t;
    } else {
        split(q, q->items[t].l, k, l, &q->items[t].l);
        *r = t;
    }
}

static uint32_t merge(hm_bcast_queue_t *q, uint32_t a, uint32_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    if (prio_of(q->items[a].id) > prio_of(q->items[b].id)) {
        q->items[a].r = merge(q, q->items[a].r, b);
        return a;
    }
    q->items[b].l = merge(q, a, q->items[b].l);
    return b;
}

static uint32_t tree_insert(hm_bcast_queue_t *q, uint32_t t, uint32_t x)
{
    if (t == 0)
        return x;
    if (prio_of(q->items[x].id) > prio_of(q->items[t].id)) {
        split(q, t, x, &q->items[x].l, &q->items[x].r);
        return x;
    }
    if (cmp_items(q, x, t) < 0)
        q->items[t].l = tree_insert(q, q->items[t].l, x);
    else
        q->items[t].r = tree_insert(q, q->items[t].r, x);
    return t;
}

static uint32_t tree_delete(hm_bcast_queue_t *q, uint32_t t, uint32_t x)
{
    int c;

    if (t == 0)
        return 0;
    if (t == x)
        return merge(q, q->items[t].l, q->items[t].r);
    c = cmp_items(q, x, t);
    if (c < 0)
        q->items[t].l = tree_delete(q, q->items[t].l, x);
    else
        q->items[t].r = tree_delete(q, q->items[t].r, x);
    return t;
}

static void count_tier(hm_bcast_queue_t *q, uint32_t x, int d)
{
    uint16_t t = q->items[x].transmits;

    if (t < BQ_TIERS)
        q->tier_cnt[t] += (uint32_t)d;
    else
        q->high += (uint32_t)d;
}

static void link_item(hm_bcast_queue_t *q, uint32_t x)
{
    q->items[x].l = q->items[x].r = 0;
    q->root = tree_insert(q, q->root, x);
    count_tier(q, x, 1);
}

static void unlink_item(hm_bcast_queue_t *q, uint32_t x)
{
    q->root = tree_delete(q, q->root, x);
    count_tier(q, x, -1);
}

/* The lowest tier >= t holding a linked item (t itself when the counts
 * cannot tell, i.e. items sit above BQ_TIERS). */
static uint32_t next_tier(const hm_bcast_queue_t *q, uint32_t t)
{
    if (q->high)
        return t;
    while (t < BQ_TIERS && q->tier_cnt[t] == 0)
        t++;
    return t;
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
            bq_blk_t *blk = q->items[it].blk;
            uint32_t next = blk->hnext, h = name_hash(blk->name) & (n - 1);
            blk->hnext = b[h];
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
    for (it = q->buckets[name_hash(name) & (q->nbuckets - 1)]; it; it = q->items[it].blk->hnext)
        if (strcmp(q->items[it].blk->name, name) == 0)
            return it;
    return 0;
}

static void map_remove(hm_bcast_queue_t *q, uint32_t x)
{
    bq_blk_t *blk = q->items[x].blk;
    uint32_t *pp = &q->buckets[name_hash(blk->name) & (q->nbuckets - 1)];

    while (*pp && *pp != x)
        pp = &q->items[*pp].blk->hnext;
    if (*pp)
        *pp = blk->hnext;
    q->named--;
}

/* Items come from the free list, else from the untouched tail of the
 * pool (so a doubled pool costs no memory until it fills). */
static uint32_t alloc_item(hm_bcast_queue_t *q)
{
    uint32_t x;

    if (q->free_head) {
        x = q->free_head;
        q->free_head = q->items[x].l;
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

/* Leave the queue: unlink, run the finished callback and drop hook. */
static void finish_item(hm_bcast_queue_t *q, uint32_t x, bool linked)
{
    bq_item_t *it = &q->items[x];
    bq_blk_t *blk = it->blk;
    uint32_t key = it->key;

    if (linked)
        unlink_item(q, x);
    if (blk && blk->name)
        map_remove(q, x);
    it->blk = NULL;
    it->key = 0;
    it->has_msg = 0;
    it->l = q->free_head;
    q->free_head = x;
    q->count--;
    if (q->count == 0)
        q->id_gen = 0;
    if (key && q->drop)
        q->drop(q->hook_ud, key);
    if (blk) {
        if (blk->done)
            blk->done(blk->ud);
        free(blk->name);
        free(blk);
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
    for (i = 1; i < q->used; i++) {
        if (q->items[i].blk) {
            free(q->items[i].blk->name);
            free(q->items[i].blk);
        }
    }
    free(q->items);
    free(q->buckets);
    hm_buf_free(&q->scratch);
    free(q);
}

static uint32_t push(hm_bcast_queue_t *q, const char *name, uint32_t key, const uint8_t *msg,
                     size_t n, hm_bcast_done_fn done, void *ud)
{
    bq_blk_t *blk = NULL;
    uint32_t x;

    if (n > UINT32_MAX)
        return 0;
    if (msg || name || done) {
        blk = malloc(sizeof(*blk) + (msg ? n : 0));
        if (blk == NULL)
            return 0;
        blk->done = done;
        blk->ud = ud;
        blk->hnext = 0;
        blk->name = NULL;
        if (msg)
            memcpy(blk->msg, msg, n);
        if (name && (blk->name = strdup(name)) == NULL) {
            free(blk);
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
    q->id_gen = q->id_gen == UINT32_MAX ? 1 : q->id_gen + 1;
    q->items[x] = (bq_item_t){
        .len = (uint32_t)n, .key = key, .id = q->id_gen, .has_msg = msg != NULL, .blk = blk};
    q->count++;
    if (name) {
        uint32_t h = name_hash(name) & (q->nbuckets - 1);
        blk->hnext = q->buckets[h];
        q->buckets[h] = x;
        q->named++;
    }
    link_item(q, x);
    return x;
fail:
    if (blk)
        free(blk->name);
    free(blk);
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
    if (handle && handle < q->used)
        finish_item(q, handle, true);
}

uint32_t hm_bcast_retransmit_limit(uint32_t mult, size_t n)
{
    return mult * (uint32_t)ceil(log10((double)n + 1.0));
}

/* First item in order >= (t, len = free, id = max): the longest message of
 * tier t that fits, newest first among equal lengths. */
static uint32_t lower_bound(const hm_bcast_queue_t *q, uint32_t t, uint32_t free_)
{
    uint32_t cur = q->root, best = 0;

    while (cur) {
        const bq_item_t *it = &q->items[cur];
        if (cmp_key(it->transmits, it->len, it->id, t, free_, UINT32_MAX) >= 0) {
            best = cur;
            cur = it->l;
        } else {
            cur = it->r;
        }
    }
    return best;
}

static uint32_t extreme(const hm_bcast_queue_t *q, bool right)
{
    uint32_t cur = q->root;
    while (cur && (right ? q->items[cur].r : q->items[cur].l))
        cur = right ? q->items[cur].r : q->items[cur].l;
    return cur;
}

static int emit(hm_bcast_queue_t *q, uint32_t x, hm_buf_t *out)
{
    bq_item_t *it = &q->items[x];

    hm_buf_reset(out);
    if (it->has_msg)
        return hm_buf_append(out, it->blk->msg, it->len);
    if (q->enc == NULL)
        return -1;
    return q->enc(q->hook_ud, it->key, out);
}

size_t hm_bcast_get(hm_bcast_queue_t *q, size_t num_nodes, size_t overhead, size_t limit,
                    hm_buf_t *parts, size_t max_parts)
{
    uint32_t tlimit, t, tmax, reinsert_head = 0;
    size_t used = 0, k = 0;

    if (q->count == 0 || max_parts == 0)
        return 0;
    tlimit = hm_bcast_retransmit_limit(q->mult, num_nodes);
    if (q->high) {
        t = q->items[extreme(q, false)].transmits;
        tmax = q->items[extreme(q, true)].transmits;
    } else {
        t = next_tier(q, 0);
        for (tmax = BQ_TIERS - 1; tmax > t && q->tier_cnt[tmax] == 0; tmax--)
            ;
    }
    while (t <= tmax && k < max_parts) {
        uint32_t x;
        bq_item_t *it;

        if (limit <= used + overhead)
            break;
        t = next_tier(q, t);
        if (t > tmax)
            break;
        x = lower_bound(q, t,
                        (uint32_t)(limit - used - overhead > UINT32_MAX ? UINT32_MAX
                                                                        : limit - used - overhead));
        if (x == 0 || q->items[x].transmits != t) {
            t++;
            continue;
        }
        it = &q->items[x];
        if (emit(q, x, &parts[k]) < 0) {
            /* cannot produce it: drop it rather than loop forever */
            finish_item(q, x, true);
            continue;
        }
        k++;
        used += overhead + it->len;
        unlink_item(q, x);
        if ((uint32_t)it->transmits + 1 >= tlimit) {
            finish_item(q, x, false);
        } else {
            it->transmits++;
            it->l = reinsert_head; /* park outside the tree until the end */
            reinsert_head = x;
        }
    }
    while (reinsert_head) {
        uint32_t x = reinsert_head;
        reinsert_head = q->items[x].l;
        link_item(q, x);
    }
    return k;
}

size_t hm_bcast_len(const hm_bcast_queue_t *q)
{
    return q->count;
}

void hm_bcast_prune(hm_bcast_queue_t *q, size_t max_retain)
{
    while (q->count > max_retain)
        finish_item(q, extreme(q, true), true);
}
