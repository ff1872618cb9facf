/*
 * The gossip engine: node table, membership rules (memberlist state.go),
 * suspicion (suspicion.go), awareness, gossip rounds, broadcasts and the
 * packet path.  Probing is in hm_swim_probe.c, streams (push/pull, TCP
 * ping) in hm_swim_stream.c.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_pool.h"
#include "hm_swim_priv.h"

/* ---- configuration ---------------------------------------------------- */

int hm_swim_config_profile(hm_swim_config_t *c, const char *profile)
{
    static const uint8_t vsn[6] = {1, 5, 2, 2, 5, 5};
    hm_swim_config_t d = {
        .probe_interval_ms = 1000,
        .probe_timeout_ms = 500,
        .indirect_checks = 3,
        .retransmit_mult = 4,
        .suspicion_mult = 4,
        .suspicion_max_timeout_mult = 6,
        .push_pull_interval_ms = 30000,
        .gossip_interval_ms = 200,
        .gossip_nodes = 3,
        .gossip_to_the_dead_ms = 30000,
        .tcp_timeout_ms = 10000,
        .awareness_max_multiplier = 8,
        .udp_buffer_size = 1400,
        .dead_node_reclaim_ms = 0,
        .enable_compression = true,
    };

    if (profile == NULL || strcmp(profile, "lan") == 0) {
        /* defaults above */
    } else if (strcmp(profile, "wan") == 0) {
        d.tcp_timeout_ms = 30000;
        d.suspicion_mult = 6;
        d.push_pull_interval_ms = 60000;
        d.probe_timeout_ms = 3000;
        d.probe_interval_ms = 5000;
        d.gossip_nodes = 4;
        d.gossip_interval_ms = 500;
        d.gossip_to_the_dead_ms = 60000;
    } else if (strcmp(profile, "local") == 0) {
        d.tcp_timeout_ms = 1000;
        d.indirect_checks = 1;
        d.retransmit_mult = 2;
        d.suspicion_mult = 3;
        d.push_pull_interval_ms = 15000;
        d.probe_timeout_ms = 200;
        d.probe_interval_ms = 1000;
        d.gossip_interval_ms = 100;
        d.gossip_to_the_dead_ms = 15000;
    } else {
        return -1;
    }
    d.name = c->name;
    d.addr = c->addr;
    d.seed = c->seed;
    d.packet_overhead = c->packet_overhead;
    memcpy(d.vsn, vsn, sizeof(vsn));
    *c = d;
    return 0;
}

/* ---- randomness: xorshift128+ seeded by splitmix64 -------------------- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t hm_swim_rand(hm_swim_t *s)
{
    uint64_t a = s->rng[0], b = s->rng[1];
    s->rng[0] = b;
    a ^= a << 23;
    s->rng[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return s->rng[1] + b;
}

uint32_t hm_swim_randn(hm_swim_t *s, uint32_t n)
{
    return n ? (uint32_t)((hm_swim_rand(s) >> 32) % n) : 0;
}

/* ---- strings, hashing, node table ------------------------------------- */

static uint32_t hash_name(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    while (n--)
        h = (h ^ (uint8_t)*p++) * 16777619u;
    /* murmur3 finalizer: FNV alone clusters short similar names */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

static const char *arena_dup(hm_swim_t *s, const char *p, size_t n)
{
    hm_arena_chunk_t *c = s->arena;
    char *out;

    if (c == NULL || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > 65536 - sizeof(*c) ? n + 1 : 65536 - sizeof(*c);
        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = s->arena;
        s->arena = c;
    }
    out = c->data + c->used;
    memcpy(out, p, n);
    out[n] = 0;
    c->used += n + 1;
    return out;
}

/* Hash slots hold a record index (low 24 bits) and 8 bits of the name's
 * hash, so a probe rarely touches a record that is not the one sought.
 * 0 is an empty slot (record 0 is never used). */
#define SLOT_IDX(x) ((x)&0xffffffu)
#define SLOT_TAG(h) (((h) >> 24) | 1u)
#define HM_SWIM_MAX_RECS 0xffffffu

/* Names are short (a host name): 4 to 16 bytes compare as two
 * overlapping words per side instead of a call to memcmp, which was 5% of
 * the simulator's time. */
static uint64_t load_word(const char *p, size_t w)
{
    uint64_t v = 0;
    if (w == 8)
        memcpy(&v, p, 8);
    else
        memcpy(&v, p, 4);
    return v;
}

static bool name_eq(const char *a, const char *b, size_t n)
{
    size_t w = n >= 8 ? 8 : 4;

    if (n < 4 || n > 16)
        return memcmp(a, b, n) == 0;
    return ((load_word(a, w) ^ load_word(b, w)) |
            (load_word(a + n - w, w) ^ load_word(b + n - w, w))) == 0;
}

/* From slot *i on, the first entry whose tag is `tag`, left at *i; 0 at
 * the empty slot that ends the probe chain. */
static uint32_t probe_tag(const hm_swim_t *s, uint32_t *i, uint32_t tag)
{
    uint32_t mask = s->hcap - 1, x;

    while ((x = s->htab[*i]) != 0 && (x >> 24) != tag)
        *i = (*i + 1) & mask;
    return x;
}

static hm_rec_t *lookup_h(const hm_swim_t *s, const char *name, size_t len, uint32_t h)
{
    uint32_t mask = s->hcap - 1, i = h & mask, x;

    while ((x = probe_tag(s, &i, SLOT_TAG(h))) != 0) {
        const hm_rec_t *r = hm_rec(s, SLOT_IDX(x));
        if (r->name_len == len && name_eq(REC_NAME(r), name, len))
            return (hm_rec_t *)r;
        i = (i + 1) & mask;
    }
    return NULL;
}

hm_rec_t *hm_swim_lookup(const hm_swim_t *s, const char *name, size_t len)
{
    return lookup_h(s, name, len, hash_name(name, len));
}

/* Warm the cache for a lookup that comes later: the hash slot now, the
 * record once the slot is in (two passes over a batch overlap the misses
 * of a whole compound packet instead of paying them one by one). */
static void prefetch_slot(const hm_swim_t *s, uint32_t h)
{
    hm_prefetch(&s->htab[h & (s->hcap - 1)]);
}

/* The record whose tag matches along the probe chain (the home slot
 * holds another node's entry about a third of the time at load 3/4);
 * none when the name is not in the table. */
static void prefetch_rec(const hm_swim_t *s, uint32_t h)
{
    uint32_t i = h & (s->hcap - 1), x = probe_tag(s, &i, SLOT_TAG(h));

    if (x)
        hm_prefetch(hm_rec(s, SLOT_IDX(x)));
}

uint32_t hm_swim_hash(const char *name, size_t len)
{
    return hash_name(name, len);
}

void hm_swim_prefetch(const hm_swim_t *s, uint32_t h, bool rec)
{
    if (rec)
        prefetch_rec(s, h);
    else
        prefetch_slot(s, h);
}

static void htab_put(hm_swim_t *s, uint32_t r, uint32_t h)
{
    uint32_t mask = s->hcap - 1, i = h & mask;

    while (s->htab[i])
        i = (i + 1) & mask;
    s->htab[i] = r | SLOT_TAG(h) << 24;
    s->hcount++;
}

static int htab_grow(hm_swim_t *s)
{
    uint32_t old_cap = s->hcap, *old = s->htab, i;

    s->hcap = old_cap ? old_cap * 2 : 64;
    s->htab = hm_pool_zalloc((size_t)s->hcap * sizeof(uint32_t));
    if (s->htab == NULL) {
        s->htab = old;
        s->hcap = old_cap;
        return -1;
    }
    s->hcount = 0;
    /* every record in use is in the table: walk the pool, in order, not
     * the old table, whose order sends each read to a random record */
    for (i = 1; i < s->recs_used; i++)
        if (REC_IN_USE(hm_rec(s, i)))
            htab_put(s, i, hash_name(REC_NAME(hm_rec(s, i)), hm_rec(s, i)->name_len));
    hm_pool_free(old, (size_t)old_cap * sizeof(uint32_t));
    return 0;
}

/* Linear-probing deletion with backward shift (no tombstones). */
static void htab_del(hm_swim_t *s, uint32_t r)
{
    uint32_t mask = s->hcap - 1,
             i = hash_name(REC_NAME(hm_rec(s, r)), hm_rec(s, r)->name_len) & mask, j;

    while (SLOT_IDX(s->htab[i]) != r)
        i = (i + 1) & mask;
    s->htab[i] = 0;
    s->hcount--;
    for (j = (i + 1) & mask; s->htab[j]; j = (j + 1) & mask) {
        uint32_t x = SLOT_IDX(s->htab[j]);
        uint32_t h = hash_name(REC_NAME(hm_rec(s, x)), hm_rec(s, x)->name_len) & mask;
        /* move the entry back if its home slot is not in (i, j] */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            s->htab[i] = s->htab[j];
            s->htab[j] = 0;
            i = j;
        }
    }
}

/* Records come from the free list, else from the never-used tail. */
static uint32_t rec_alloc(hm_swim_t *s)
{
    uint32_t r;

    if (s->recs_free) {
        r = s->recs_free;
        s->recs_free = hm_rec(s, r)->inc;
    } else {
        if (s->recs_used == 0)
            s->recs_used = 1;
        if (s->recs_used >= s->recs_cap) {
            uint32_t nch = s->recs_cap / HM_REC_CHUNK, ncap = s->recs_cap + HM_REC_CHUNK;
            hm_rec_t **t, *n;
            /* first the side arrays: bigger ones with the old pool are harmless */
            if (s->v6) {
                uint8_t(*v)[16] = realloc(s->v6, (size_t)ncap * 16);
                if (v == NULL)
                    return 0;
                s->v6 = v;
            }
            if (s->ext) {
                hm_rec_ext_t *e = realloc(s->ext, (size_t)ncap * sizeof(*e));
                if (e == NULL)
                    return 0;
                memset(e + s->recs_cap, 0, (size_t)(ncap - s->recs_cap) * sizeof(*e));
                s->ext = e;
            }
            if ((t = realloc(s->rch, (nch + 1) * sizeof(*t))) == NULL)
                return 0;
            s->rch = t;
            if ((n = hm_pool_chunk_new()) == NULL)
                return 0;
            t[nch] = n;
            s->recs_cap = ncap;
        }
        r = s->recs_used++;
    }
    memset(hm_rec(s, r), 0, sizeof(hm_rec_t));
    return r;
}

static void susp_free(hm_swim_t *s, uint32_t idx);

static void rec_release(hm_swim_t *s, uint32_t r)
{
    hm_rec_t *x = hm_rec(s, r);

    htab_del(s, r);
    if (x->bc)
        hm_bcast_remove(s->bq, x->bc);
    if (s->ext) {
        if (s->ext[r].susp)
            susp_free(s, s->ext[r].susp);
        free(s->ext[r].meta);
        memset(&s->ext[r], 0, sizeof(s->ext[r]));
    }
    memset(x, 0, sizeof(*x));
    x->inc = s->recs_free;
    s->recs_free = r;
}

void hm_swim_warm(const hm_swim_t *s, unsigned level)
{
    if (level == 0) {
        hm_prefetch(&s->rng);
        hm_prefetch(&s->rch);
        hm_prefetch(&s->bq);
        hm_prefetch(&s->probe);
    } else {
        if (level == 1 && s->rch)
            hm_prefetch(s->rch); /* the chunk table, read before any record */
        hm_bcast_warm(s->bq, level - 1);
    }
}

void hm_swim_prefetch_order(const hm_swim_t *s)
{
    if (s->norder)
        hm_prefetch(&s->order[s->order_draw % s->norder]);
}

/* A new record for name, whose hash_name() is h, added at a random
 * position of the probe order (memberlist does this so that the failure
 * detection bound stays low on average). */
static hm_rec_t *rec_add(hm_swim_t *s, const char *name, size_t len, uint32_t h)
{
    uint32_t r, off;

    /* load <= 3/4: at worst ~8.5 probes per miss, but 16 slots share a
     * cache line and the tags spare the records; a table twice as big
     * cost 0.6 GB of page faults at 10,000 simulated nodes */
    if ((s->hcount + 1) * 4 > s->hcap * 3 && htab_grow(s) < 0)
        return NULL;
    if (s->hcount >= HM_SWIM_MAX_RECS - 1)
        return NULL;
    if (s->norder == s->order_cap) {
        uint32_t ncap = s->order_cap ? s->order_cap * 2 : 16;
        uint32_t *n = hm_pool_resize(s->order, (size_t)s->order_cap * sizeof(*n),
                                     (size_t)s->norder * sizeof(*n), (size_t)ncap * sizeof(*n));
        if (n == NULL)
            return NULL;
        s->order = n;
        s->order_cap = ncap;
    }
    /* memberlist puts a new node at a random place of the probe order,
     * a cache miss: its random number was drawn by the insert before, and
     * the slot fetched then and when the message naming it came in */
    off = s->norder ? s->order_draw % s->norder : 0;
    s->order_draw = (uint32_t)(hm_swim_rand(s) >> 32);
    hm_prefetch(&s->order[off]);
    r = rec_alloc(s);
    if (r == 0)
        return NULL;
    if (len < HM_REC_INLINE_NAME) {
        memcpy(hm_rec(s, r)->nm.in, name, len);
        hm_rec(s, r)->nm.in[len] = 0;
    } else if ((hm_rec(s, r)->nm.p = arena_dup(s, name, len)) == NULL) {
        hm_rec(s, r)->inc = s->recs_free;
        s->recs_free = r;
        return NULL;
    }
    hm_rec(s, r)->name_len = (uint16_t)len;
    htab_put(s, r, h);
    s->order[s->norder] = s->order[off];
    s->order[off] = r;
    s->norder++;
    hm_swim_prefetch_order(s);
    return hm_rec(s, r);
}

static uint32_t rec_idx(const hm_swim_t *s, const hm_rec_t *r)
{
    uint32_t c;

    for (c = 0; r < s->rch[c] || r >= s->rch[c] + HM_REC_CHUNK; c++)
        ;
    return c * HM_REC_CHUNK + (uint32_t)(r - s->rch[c]);
}

static const uint8_t *rec_meta(const hm_swim_t *s, const hm_rec_t *r)
{
    return r->flags & REC_META ? s->ext[rec_idx(s, r)].meta : NULL;
}

static size_t rec_meta_len(const hm_swim_t *s, const hm_rec_t *r)
{
    return r->flags & REC_META ? s->ext[rec_idx(s, r)].meta_len : 0;
}

/* The side entries, allocated on first use. */
static hm_rec_ext_t *rec_ext(hm_swim_t *s, const hm_rec_t *r)
{
    if (s->ext == NULL && (s->ext = calloc(s->recs_cap, sizeof(*s->ext))) == NULL)
        return NULL;
    return &s->ext[rec_idx(s, r)];
}

/* The suspicion of r, 0 none (there is one only while r is suspect). */
static uint32_t rec_susp(const hm_swim_t *s, const hm_rec_t *r)
{
    return r->state == HM_ML_STATE_SUSPECT && s->ext ? s->ext[rec_idx(s, r)].susp : 0;
}

/* Set r's Vsn: its index in the table of distinct tuples, added if new.
 * -1 when the table is full (256 distinct version tuples in one cluster:
 * only a peer making them up gets there). */
static int rec_set_vsn(hm_swim_t *s, hm_rec_t *r, const uint8_t vsn[6])
{
    uint32_t i;

    if (memcmp(s->vsns[r->vsn], vsn, 6) == 0)
        return 0;
    for (i = 0; i < s->nvsns; i++)
        if (memcmp(s->vsns[i], vsn, 6) == 0)
            break;
    if (i == s->nvsns) {
        if (i == HM_SWIM_VSNS)
            return -1;
        memcpy(s->vsns[i], vsn, 6);
        s->nvsns++;
    }
    r->vsn = (uint8_t)i;
    return 0;
}

void hm_swim_rec_addr(const hm_swim_t *s, const hm_rec_t *r, hm_addr_t *out)
{
    memset(out, 0, sizeof(*out));
    out->len = (uint8_t)hm_rec_alen(r);
    out->port = r->port;
    if (r->flags & REC_A16)
        memcpy(out->ip, s->v6[rec_idx(s, r)], 16);
    else
        memcpy(out->ip, r->ip4, 4);
}

static int rec_set_addr(hm_swim_t *s, hm_rec_t *r, const hm_addr_t *a)
{
    if (a->len == 16) {
        if (s->v6 == NULL && (s->v6 = calloc(s->recs_cap, 16)) == NULL)
            return -1;
        memcpy(s->v6[rec_idx(s, r)], a->ip, 16);
        r->flags = (uint8_t)((r->flags & ~(REC_A4 | REC_A16)) | REC_A16);
    } else {
        memcpy(r->ip4, a->ip, 4);
        r->flags = (uint8_t)((r->flags & ~(REC_A4 | REC_A16)) | (a->len ? REC_A4 : 0));
    }
    r->port = a->port;
    return 0;
}

static bool rec_addr_eq(const hm_swim_t *s, const hm_rec_t *r, const hm_addr_t *a)
{
    if (hm_rec_alen(r) != a->len || r->port != a->port)
        return false;
    if (a->len == 16)
        return memcmp(s->v6[rec_idx(s, r)], a->ip, 16) == 0;
    if (a->len == 4) /* a fixed size: compiled to one compare, not a call */
        return memcmp(r->ip4, a->ip, 4) == 0;
    return memcmp(r->ip4, a->ip, a->len > 4 ? 4 : a->len) == 0;
}

const hm_swim_node_t *hm_swim_view(hm_swim_t *s, const hm_rec_t *r, hm_swim_node_t *v)
{
    v->name = REC_NAME(r);
    hm_swim_rec_addr(s, r, &v->addr);
    v->meta = rec_meta(s, r);
    v->meta_len = rec_meta_len(s, r);
    v->incarnation = r->inc;
    v->state = r->state;
    memcpy(v->vsn, hm_rec_vsn(s, r), 6);
    v->state_change_ms = s->now - hm_rec_age(s, r);
    return v;
}

void hm_swim_ml_str(hm_ml_str_t *out, const char *p)
{
    out->p = p;
    out->n = strlen(p);
}

/* ---- logging ---------------------------------------------------------- */

void hm_swim_log(hm_swim_t *s, hm_log_level_t level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (s->d.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->d.log(s->d.ud, level, msg);
}

void hm_swim_malformed(hm_swim_t *s, const char *what)
{
    s->stats.dropped_malformed++;
    hm_swim_log(s, HM_LOG_DEBUG, "Failed to decode %s", what);
}

/* ---- awareness (Lifeguard local health) ------------------------------- */

void hm_swim_health_delta(hm_swim_t *s, int delta)
{
    int max = (int)s->cfg.awareness_max_multiplier - 1;
    s->health += delta;
    if (s->health > max)
        s->health = max;
    if (s->health < 0)
        s->health = 0;
}

int hm_swim_health(const hm_swim_t *s)
{
    return s->health;
}

/* ---- output queue and the packet send path ---------------------------- */

void hm_swim_out_push(hm_swim_t *s, hm_swim_out_type_t type, const hm_addr_t *to, uint32_t id,
                      uint64_t deadline, hm_buf_t *data)
{
    hm_swim_out_t *o;

    if (s->out_head > 0 && s->out_head == s->out_len) {
        s->out_head = s->out_len = 0;
    }
    if (s->out_len == s->out_cap) {
        size_t ncap = s->out_cap ? s->out_cap * 2 : 16;
        hm_swim_out_t *n = realloc(s->outq, ncap * sizeof(*n));
        if (n == NULL) {
            if (data)
                hm_buf_free(data);
            return;
        }
        s->outq = n;
        s->out_cap = ncap;
    }
    o = &s->outq[s->out_len++];
    memset(o, 0, sizeof(*o));
    o->type = type;
    if (to)
        o->to = *to;
    o->stream_id = id;
    o->deadline_ms = deadline;
    if (data) {
        o->data = *data;
        memset(data, 0, sizeof(*data));
    }
}

int hm_swim_poll(hm_swim_t *s, hm_swim_out_t *out)
{
    if (s->out_head == s->out_len)
        return 0;
    *out = s->outq[s->out_head++];
    if (s->out_head == s->out_len)
        s->out_head = s->out_len = 0;
    return 1;
}

/* memberlist getBroadcasts: own queue first, then the delegate's (each of
 * its messages framed as a user message), for the rest of a packet:
 * appended to s->cat, their lengths in s->plen[first...]; returns how
 * many. */
static size_t get_broadcasts(hm_swim_t *s, size_t overhead, size_t limit, size_t first)
{
    size_t k, used = 0, i, max = HM_SWIM_MAX_PARTS - first;

    k = hm_bcast_get_cat(s->bq, s->norder, overhead, limit, &s->cat, &s->plen[first], max);
    for (i = 0; i < k; i++)
        used += s->plen[first + i] + overhead;
    if (s->d.get_broadcasts && k < max && limit > used && limit - used > overhead + 1) {
        size_t j, n = s->d.get_broadcasts(s->d.ud, overhead + 1, limit - used, s->parts, max - k);
        for (j = 0; j < n; j++) {
            const hm_buf_t *b = &s->parts[j];
            static const uint8_t user = HM_ML_USER;
            if (hm_buf_append(&s->cat, &user, 1) < 0 || hm_buf_append(&s->cat, b->data, b->len) < 0)
                break;
            s->plen[first + k++] = (uint32_t)b->len + 1;
        }
    }
    return k;
}

/* Compress (only if smaller), add a CRC for peers speaking protocol >= 5,
 * and queue the datagram. */
static void raw_send(hm_swim_t *s, const hm_addr_t *to, hm_buf_t *msg, const hm_rec_t *node)
{
    hm_buf_t out = {0};

    if (s->cfg.enable_compression) {
        hm_buf_reset(&s->tmp3);
        if (hm_ml_put_compress(&s->tmp3, msg->data, msg->len) == 0 && s->tmp3.len < msg->len) {
            hm_buf_reset(msg);
            hm_buf_append(msg, s->tmp3.data, s->tmp3.len);
        }
    }
    if (hm_buf_reserve(&out, msg->len + 5) < 0) /* one allocation, not a grow per part */
        return;
    if (node && hm_rec_vsn(s, node)[1] >= 5 ? hm_ml_put_crc(&out, msg->data, msg->len) < 0
                                            : hm_buf_append(&out, msg->data, msg->len) < 0) {
        hm_buf_free(&out);
        return;
    }
    s->stats.packets_out++;
    s->stats.bytes_out += out.len;
    hm_swim_out_push(s, HM_SWIM_SEND_PACKET, to, 0, 0, &out);
}

/* memberlist rawSendMsgPacket, sending to a bare address, looks the
 * destination up by its IP as a node name (which only finds nodes named
 * by their IP) to know whether it takes a CRC. */
static const hm_rec_t *node_named_by_ip(const hm_swim_t *s, const hm_addr_t *to)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char ip[INET6_ADDRSTRLEN];
    const uint8_t *p = to->ip;
    int af = AF_INET;

    if (to->len == 16 && memcmp(to->ip, v4mapped, 12) == 0)
        p += 12; /* Go prints an IPv4-mapped address as IPv4 */
    else if (to->len == 16)
        af = AF_INET6;
    else if (to->len != 4)
        return NULL;
    if (inet_ntop(af, p, ip, sizeof(ip)) == NULL)
        return NULL;
    return hm_swim_lookup(s, ip, strlen(ip));
}

/* A direct send (ping, ack, nack, indirect ping, user): piggyback what
 * fits in the rest of the UDP budget. */
void hm_swim_send(hm_swim_t *s, const hm_addr_t *to, hm_buf_t *msg, const hm_rec_t *node,
                  bool piggyback)
{
    size_t budget = s->cfg.udp_buffer_size, k = 0;

    if (node == NULL)
        node = node_named_by_ip(s, to);

    if (piggyback && budget > msg->len + 2 + s->cfg.packet_overhead) {
        hm_buf_reset(&s->cat);
        if (hm_buf_append(&s->cat, msg->data, msg->len) == 0) {
            s->plen[0] = (uint32_t)msg->len;
            k = get_broadcasts(s, 2, budget - msg->len - 2 - s->cfg.packet_overhead, 1);
        }
    }
    if (k > 0) {
        hm_buf_reset(msg);
        if (hm_ml_put_compound_cat(msg, s->cat.data, s->plen, k + 1) < 0)
            return;
    }
    raw_send(s, to, msg, node);
}

/* ---- broadcasts of memberlist messages -------------------------------- */

/* A node that never told us its versions is re-broadcast without Vsn (as
 * memberlist forwards the alive as it came): zeros would make receivers
 * drop the message. */
static bool rec_has_vsn(const hm_rec_t *r)
{
    return r->vsn != 0; /* s->vsns[0] is all zero, and the only such tuple */
}

static size_t alive_len(const hm_swim_t *s, const hm_rec_t *r);

/* go-msgpack's raw header (fixraw, raw16, raw32) and unsigned forms,
 * written at w; return the new end. */
static uint8_t *w_be(uint8_t *w, uint8_t tag, uint64_t v, int n)
{
    *w++ = tag;
    while (n-- > 0)
        *w++ = (uint8_t)(v >> (8 * n));
    return w;
}

static uint8_t *w_raw(uint8_t *w, const void *p, size_t n)
{
    if (n <= 31)
        *w++ = (uint8_t)(0xa0 | n);
    else
        w = n <= 0xffff ? w_be(w, 0xda, n, 2) : w_be(w, 0xdb, n, 4);
    if (n)
        memcpy(w, p, n);
    return w + n;
}

static uint8_t *w_uint(uint8_t *w, uint64_t v)
{
    if (v <= 0x7f) {
        *w++ = (uint8_t)v;
        return w;
    }
    return v <= 0xff          ? w_be(w, 0xcc, v, 1)
           : v <= 0xffff      ? w_be(w, 0xcd, v, 2)
           : v <= 0xffffffffu ? w_be(w, 0xce, v, 4)
                              : w_be(w, 0xcf, v, 8);
}

/* A key (a fixstr; k includes its header byte): a fixed-size copy. */
#define W_KEY(w, k) (memcpy(w, k, sizeof(k) - 1), (w) + sizeof(k) - 1)

/* A record's name as a raw.  A short one is copied as its whole inline
 * buffer, a fixed-size copy: callers reserve HM_REC_INLINE_NAME bytes
 * beyond what they write. */
static uint8_t *w_name(uint8_t *w, const hm_rec_t *r)
{
    if (r->name_len >= HM_REC_INLINE_NAME)
        return w_raw(w, r->nm.p, r->name_len);
    *w++ = (uint8_t)(0xa0 | r->name_len);
    memcpy(w, r->nm.in, HM_REC_INLINE_NAME);
    return w + r->name_len;
}

/* The keys an alive message and a push/pull node state both begin with
 * (go-msgpack writes keys sorted): Addr, Incarnation, Meta. */
static uint8_t *w_addr_inc_meta(const hm_swim_t *s, const hm_rec_t *r, uint8_t *w)
{
    w = W_KEY(w, "\xa4"
                 "Addr");
    if (r->flags & REC_A4) {
        *w++ = 0xa4;
        memcpy(w, r->ip4, 4);
        w += 4;
    } else if (r->flags & REC_A16) {
        w = w_raw(w, s->v6[rec_idx(s, r)], 16);
    } else {
        *w++ = 0xc0;
    }
    w = W_KEY(w, "\xab"
                 "Incarnation");
    w = w_uint(w, r->inc);
    w = W_KEY(w, "\xa4"
                 "Meta");
    if (r->flags & REC_META)
        w = w_raw(w, rec_meta(s, r), rec_meta_len(s, r));
    else
        *w++ = 0xc0;
    return w;
}

/* Vsn as a raw of 6, or nil. */
static uint8_t *w_vsn(const hm_swim_t *s, uint8_t *w, const hm_rec_t *r, bool nil)
{
    w = W_KEY(w, "\xa3"
                 "Vsn");
    if (nil) {
        *w++ = 0xc0;
        return w;
    }
    *w++ = 0xa6;
    memcpy(w, hm_rec_vsn(s, r), 6);
    return w + 6;
}

/* The most a node state or an alive message about r takes (at most 7
 * keys of at most 12 bytes, 7 value headers of at most 5 bytes, an
 * address of 16, Vsn 6, and the type and map bytes), with the slack
 * w_name() needs. */
static size_t node_room(const hm_swim_t *s, const hm_rec_t *r)
{
    return 2 + 7 * 12 + 7 * 5 + 16 + 6 + rec_meta_len(s, r) + r->name_len + HM_REC_INLINE_NAME;
}

/* The bytes of hm_ml_put_alive() for this record, written in one go: a
 * queued alive is encoded again each of its (up to 20) transmissions. */
static int encode_alive_rec(hm_swim_t *s, const hm_rec_t *r, hm_buf_t *out)
{
    uint8_t *w, *start;

    if (hm_buf_reserve(out, node_room(s, r)) < 0)
        return -1;
    start = w = out->data + out->len;
    *w++ = HM_ML_ALIVE;
    *w++ = 0x86;
    w = w_addr_inc_meta(s, r, w);
    w = W_KEY(w, "\xa4"
                 "Node");
    w = w_name(w, r);
    w = W_KEY(w, "\xa4"
                 "Port");
    w = w_uint(w, r->port);
    w = w_vsn(s, w, r, !rec_has_vsn(r));
    out->len += (size_t)(w - start);
#ifdef HM_SWIM_CHECK_LEN
    {
        hm_ml_alive_t a = {0};
        hm_buf_t ref = {0};

        a.incarnation = r->inc;
        a.node.p = REC_NAME(r);
        a.node.n = r->name_len;
        hm_swim_rec_addr(s, r, &a.addr);
        a.meta = rec_meta(s, r);
        a.meta_len = rec_meta_len(s, r);
        memcpy(a.vsn, hm_rec_vsn(s, r), 6);
        a.has_vsn = rec_has_vsn(r);
        if (hm_ml_put_alive(&ref, &a) < 0 || ref.len != (size_t)(w - start) ||
            memcmp(ref.data, start, ref.len) != 0 || ref.len != alive_len(s, r))
            abort();
        hm_buf_free(&ref);
    }
#endif
    return 0;
}

/* The bytes hm_ml_put_push_pull() writes for this record as a node state
 * (Vsn always given, as memberlist sends its own view), written in one
 * go: a push/pull at 10,000 nodes carries 10,000 of them. */
int hm_swim_encode_push_node(const hm_swim_t *s, const hm_rec_t *r, hm_buf_t *out)
{
    uint8_t *w, *start;

    if (hm_buf_reserve(out, node_room(s, r)) < 0)
        return -1;
    start = w = out->data + out->len;
    *w++ = 0x87;
    w = w_addr_inc_meta(s, r, w);
    w = W_KEY(w, "\xa4"
                 "Name");
    w = w_name(w, r);
    w = W_KEY(w, "\xa4"
                 "Port");
    w = w_uint(w, r->port);
    w = W_KEY(w, "\xa5"
                 "State");
    w = w_uint(w, r->state);
    w = w_vsn(s, w, r, false);
    out->len += (size_t)(w - start);
    return 0;
}

static int bq_encode(void *ud, uint32_t key, uint32_t handle, hm_buf_t *out)
{
    hm_swim_t *s = ud;
    /* a record holds the handle of its queued message (a released one: 0) */
    if (key == 0 || key >= s->recs_used || hm_rec(s, key)->bc != handle)
        return 1;
    if (out == NULL)
        return 0;
    if (!REC_IN_USE(hm_rec(s, key)))
        return -1;
    return encode_alive_rec(s, hm_rec(s, key), out);
}

static void bq_prefetch(void *ud, uint32_t key)
{
    const hm_swim_t *s = ud;
    if (key && key < s->recs_used)
        hm_prefetch(hm_rec(s, key));
}

static void bq_drop(void *ud, uint32_t key)
{
    hm_swim_t *s = ud;
    if (key < s->recs_used)
        hm_rec(s, key)->bc = 0;
}

/* Sizes of go-msgpack's raw header and unsigned integer forms. */
static size_t raw_size(size_t n)
{
    return (n <= 31 ? 1 : n <= 0xffff ? 3 : 5) + n;
}

static size_t uint_size(uint64_t v)
{
    return v <= 0x7f ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffffu ? 5 : 9;
}

/* The length hm_ml_put_alive() gives for this record, without encoding
 * it: the queue orders and budgets by length, and at 10,000 nodes every
 * engine queues ~10,000 alive messages after its join. */
static size_t alive_len(const hm_swim_t *s, const hm_rec_t *r)
{
    static const size_t keys = 5 + 12 + 5 + 5 + 5 + 4; /* Addr Incarnation Meta Node Port Vsn */

    return 1 + 1 + keys + (hm_rec_alen(r) ? raw_size(hm_rec_alen(r)) : 1) + uint_size(r->inc) +
           (r->flags & REC_META ? raw_size(rec_meta_len(s, r)) : 1) + raw_size(r->name_len) +
           uint_size(r->port) + (rec_has_vsn(r) ? raw_size(6) : 1);
}

/* Queue a broadcast about node r (replacing any queued one about it).
 * msg NULL: an alive message made from the record when sent. */
static void broadcast(hm_swim_t *s, hm_rec_t *r, const hm_buf_t *msg, hm_bcast_done_fn done,
                      void *ud)
{
    uint32_t key = rec_idx(s, r);
    size_t len;

    if (r->bc)
        hm_bcast_remove(s->bq, r->bc);
    if (msg) {
        r->bc = hm_bcast_push_keyed(s->bq, key, msg->data, msg->len, done, ud);
        return;
    }
    len = alive_len(s, r);
#ifdef HM_SWIM_CHECK_LEN
    hm_buf_reset(&s->tmp2);
    if (encode_alive_rec(s, r, &s->tmp2) < 0 || s->tmp2.len != len)
        abort();
#endif
    r->bc = hm_bcast_push_keyed(s->bq, key, NULL, len, done, ud);
}

/* ---- suspicion (Lifeguard) -------------------------------------------- */

static void heap_push(hm_swim_t *s, uint64_t when, uint32_t susp, uint32_t gen)
{
    size_t i;

    if (s->nheap == s->heap_cap) {
        size_t ncap = s->heap_cap ? s->heap_cap * 2 : 16;
        hm_timer_t *n = realloc(s->heap, ncap * sizeof(*n));
        if (n == NULL)
            return;
        s->heap = n;
        s->heap_cap = ncap;
    }
    i = s->nheap++;
    while (i > 0 && s->heap[(i - 1) / 2].when > when) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = (hm_timer_t){when, susp, gen};
}

static void heap_pop(hm_swim_t *s)
{
    hm_timer_t last = s->heap[--s->nheap];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && s->heap[c + 1].when < s->heap[c].when)
            c++;
        if (s->heap[c].when >= last.when)
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap)
        s->heap[i] = last;
}

static void susp_free(hm_swim_t *s, uint32_t idx)
{
    hm_susp_t *x = &s->susps[idx];
    uint32_t i;

    for (i = 0; i < x->nseen; i++)
        free(x->seen[i]);
    free(x->seen);
    if (x->rec && x->rec < s->recs_used && s->ext && s->ext[x->rec].susp == idx)
        s->ext[x->rec].susp = 0;
    x->seen = NULL;
    x->nseen = 0;
    x->rec = 0;
    x->verify = x->vpeer = x->vself = x->newer = 0;
    x->rearmed = x->self_lost = false;
    x->gen++;
    x->k = s->susps_free; /* free list through .k */
    s->susps_free = idx;
}

static uint32_t susp_alloc(hm_swim_t *s)
{
    uint32_t idx;

    if (s->susps_free == 0) {
        uint32_t ncap = s->susps_cap ? s->susps_cap * 2 : 8, i;
        hm_susp_t *n = realloc(s->susps, (size_t)ncap * sizeof(*n));
        if (n == NULL)
            return 0;
        memset(n + s->susps_cap, 0, (size_t)(ncap - s->susps_cap) * sizeof(*n));
        s->susps = n;
        for (i = ncap - 1; i >= (s->susps_cap ? s->susps_cap : 1); i--) {
            n[i].k = s->susps_free;
            s->susps_free = i;
        }
        s->susps_cap = ncap;
    }
    idx = s->susps_free;
    s->susps_free = s->susps[idx].k;
    return idx;
}

static bool susp_seen(hm_susp_t *x, const hm_ml_str_t *from)
{
    uint32_t i;
    for (i = 0; i < x->nseen; i++)
        if (strlen(x->seen[i]) == from->n && memcmp(x->seen[i], from->p, from->n) == 0)
            return true;
    return false;
}

static void susp_add_seen(hm_susp_t *x, const hm_ml_str_t *from)
{
    char *c = malloc(from->n + 1);
    if (c == NULL)
        return;
    memcpy(c, from->p, from->n);
    c[from->n] = 0;
    x->seen[x->nseen++] = c;
}

/* memberlist suspicionTimeout: mult * max(1, log10(max(1, n))) * interval,
 * with the node scale truncated to thousandths as Go's Duration math does. */
static uint64_t suspicion_min(const hm_swim_t *s, size_t n)
{
    double scale = log10(n > 1 ? (double)n : 1.0);
    uint64_t scale_milli;

    if (scale < 1.0)
        scale = 1.0;
    scale_milli = (uint64_t)(scale * 1000.0);
    return (uint64_t)s->cfg.suspicion_mult * scale_milli * s->cfg.probe_interval_ms / 1000;
}

/* End r's suspicion, if it has one. */
static void susp_drop(hm_swim_t *s, const hm_rec_t *r)
{
    uint32_t idx = rec_susp(s, r);

    if (idx)
        susp_free(s, idx);
}

static void susp_start(hm_swim_t *s, hm_rec_t *r, const hm_ml_str_t *from)
{
    hm_rec_ext_t *e = rec_ext(s, r);
    uint32_t idx = e ? susp_alloc(s) : 0,
             k = s->cfg.suspicion_mult >= 2 ? s->cfg.suspicion_mult - 2 : 0;
    hm_susp_t *x;
    size_t n = s->norder;

    if (idx == 0)
        return;
    x = &s->susps[idx];
    if ((int64_t)n - 2 < (int64_t)k)
        k = 0;
    x->rec = rec_idx(s, r);
    x->k = k;
    x->n = 0;
    x->verify = x->vpeer = x->vself = x->newer = 0;
    x->rearmed = x->self_lost = false;
    x->min = suspicion_min(s, n);
    x->max = (uint64_t)s->cfg.suspicion_max_timeout_mult * x->min;
    x->start = s->now;
    x->deadline = s->now + (k >= 1 ? x->max : x->min);
    x->seen = calloc(k + 1, sizeof(char *));
    x->nseen = 0;
    if (x->seen)
        susp_add_seen(x, from);
    e->susp = idx;
    heap_push(s, x->deadline, idx, x->gen);
}

/* A new independent accuser: shorten the timeout (suspicion.go Confirm). */
static bool susp_confirm(hm_swim_t *s, hm_susp_t *x, const hm_ml_str_t *from)
{
    double frac, raw;
    uint64_t timeout, elapsed;

    if (x->n >= x->k || x->seen == NULL || susp_seen(x, from))
        return false;
    susp_add_seen(x, from);
    x->n++;
    if (x->verify) /* its death is being checked: that keeps its deadline */
        return true;
    frac = log((double)x->n + 1.0) / log((double)x->k + 1.0);
    raw = (double)x->max / 1000.0 - frac * ((double)x->max - (double)x->min) / 1000.0;
    timeout = (uint64_t)floor(1000.0 * raw);
    if (timeout < x->min)
        timeout = x->min;
    elapsed = s->now - x->start;
    x->deadline = timeout > elapsed ? x->start + timeout : s->now;
    x->gen++;
    heap_push(s, x->deadline, (uint32_t)(x - s->susps), x->gen);
    return true;
}

static bool verify_start(hm_swim_t *s, uint32_t idx);

/* hamlet's deviation: an accusation at a higher incarnation than ours
 * arrived during the suspicion (memberlist counts it as a confirmation
 * and keeps its own).  So the node refuted ours and was suspected again:
 * our timer would declare it dead at an incarnation nobody else holds.
 * Take the newer one up, as a fresh suspicion. */
static void susp_renew(hm_swim_t *s, uint32_t idx)
{
    hm_rec_t *r = hm_rec(s, s->susps[idx].rec);
    uint32_t inc = s->susps[idx].newer;
    hm_ml_str_t me;

    hm_swim_log(s, HM_LOG_DEBUG, "Suspect %s refuted incarnation %u: suspect at %u", REC_NAME(r),
                r->inc, inc);
    susp_free(s, idx);
    r->inc = inc;
    hm_rec_set_sc(r, s->now);
    hm_swim_ml_str(&me, s->name);
    susp_start(s, r, &me);
}

static void susp_fire(hm_swim_t *s, uint32_t idx)
{
    hm_susp_t *x = &s->susps[idx];
    hm_rec_t *r = hm_rec(s, x->rec);
    hm_ml_accuse_t d;

    if (x->rec == 0 || !REC_IN_USE(r) || rec_susp(s, r) != idx) {
        susp_free(s, idx);
        return;
    }
    if (x->newer > r->inc && !s->cfg.disable_suspicion_verify) {
        susp_renew(s, idx);
        return;
    }
    if (x->verify == 0 && verify_start(s, idx))
        return;
    if (x->verify && (x->vself || x->self_lost) && !x->rearmed) {
        /* the suspect neither answered nor refused the connection: a
         * route we lack, or a dead host.  One more period lets the nodes
         * that do reach it bring its refutation back (their own checks);
         * a dead host is declared one minimum suspicion time later. */
        x->rearmed = true;
        x->self_lost = false;
        x->verify = x->vpeer = x->vself = 0;
        x->deadline = s->now + x->min;
        x->gen++;
        heap_push(s, x->deadline, idx, x->gen);
        return;
    }
    if (x->verify) {
        s->stats.verify_dead++; /* the check found no refutation */
        x->verify = 0;
    }
    d.incarnation = r->inc;
    d.node.p = REC_NAME(r);
    d.node.n = r->name_len;
    hm_swim_ml_str(&d.from, s->name);
    hm_swim_log(s, HM_LOG_INFO,
                "Marking %s as failed, suspect timeout reached (%u peer confirmations)",
                REC_NAME(r), x->n);
    hm_swim_dead(s, &d);
}

static void susp_timers(hm_swim_t *s)
{
    while (s->nheap && s->heap[0].when <= s->now) {
        hm_timer_t t = s->heap[0];
        heap_pop(s);
        if (t.susp < s->susps_cap && s->susps[t.susp].gen == t.gen && s->susps[t.susp].rec)
            susp_fire(s, t.susp);
    }
}

/* ---- checking a death with a peer (hamlet's deviation) ---------------
 *
 * memberlist declares a suspect dead when its timer fires.  A suspect
 * that refuted (alive with a higher incarnation) while we were not among
 * the few nodes its refutation reached is then declared dead by us alone:
 * the refutation is retransmitted a bounded number of times and nothing
 * repeats it before push/pull, which comes later than the suspicion
 * timeout.  The three-site case (A cannot reach C, both reach B) hits
 * this: an A node hears C's refutation only through A and B nodes.
 *
 * So a suspicion that times out is first checked with one push/pull with
 * a peer that answered our own probe lately (not the suspect) and, in
 * parallel, one with the suspect itself (a refutation whose few
 * transmissions all went to nodes that cannot hear the suspect reached
 * nobody; the suspect still has it).  The merges apply what they bring by
 * the usual rules: a higher incarnation clears the suspicion (aliveNode);
 * a suspect that answers without one is alive and its suspicion starts
 * over; else the node is declared dead, as before, when both push/pulls
 * have ended or failed, or after ProbeTimeout.
 * Confirmations are no reason to skip the check: the nodes of one site
 * confirm each other's suspicions of the other site.  The cost at a true
 * failure is one push/pull by each node whose timer fires before the dead
 * message reaches it (36 of 99 nodes at 100, 260 of 999 at 1,000 in the
 * simulator), once per failure; the first declaration comes at most
 * ProbeTimeout later.  At most HM_SWIM_VERIFY_STREAMS push/pulls are in
 * flight per engine, one per suspect at most: the suspicions that time
 * out meanwhile wait on one of them (dead at once when none fits).
 * Wire-compatible: a push/pull is what memberlist exchanges every
 * PushPullInterval anyway.  disable_suspicion_verify gives memberlist's
 * behaviour (this and susp_renew). */

void hm_swim_note_reachable(hm_swim_t *s, uint32_t rec)
{
    s->recent_ok[s->recent_pos++ % HM_SWIM_RECENT_OK] = rec;
}

static bool verify_candidate(const hm_swim_t *s, uint32_t ri, uint32_t suspect)
{
    return ri && ri < s->recs_used && ri != suspect && ri != s->self && REC_IN_USE(hm_rec(s, ri)) &&
           hm_rec(s, ri)->state == HM_ML_STATE_ALIVE;
}

/* The peer that answered us directly most recently, else a random alive
 * one (then the push/pull may well fail: dead as before). */
static uint32_t verify_peer(hm_swim_t *s, uint32_t suspect)
{
    uint32_t i, ri;

    for (i = 1; i <= HM_SWIM_RECENT_OK; i++) {
        ri = s->recent_ok[(s->recent_pos - i) % HM_SWIM_RECENT_OK];
        if (verify_candidate(s, ri, suspect))
            return ri;
    }
    for (i = 0; i < 3 * s->norder; i++) {
        ri = s->order[hm_swim_randn(s, s->norder)];
        if (verify_candidate(s, ri, suspect))
            return ri;
    }
    return 0;
}

/* Start a check's push/pull with record `peer` in a free slot, bounded
 * by ProbeTimeout. */
static hm_verify_t *verify_open(hm_swim_t *s, hm_verify_t *v, uint32_t peer, bool self)
{
    hm_addr_t to;

    hm_swim_rec_addr(s, hm_rec(s, peer), &to);
    v->deadline = s->now + (s->cfg.probe_timeout_ms ? s->cfg.probe_timeout_ms : 1);
    v->stream = hm_swim_push_pull_until(s, &to, false, v->deadline);
    if (v->stream == 0)
        return NULL;
    v->peer = peer;
    v->self = self;
    return v;
}

/* A verification slot for this suspect: one in flight through another
 * peer, else a new push/pull if a slot is free. */
static hm_verify_t *verify_slot(hm_swim_t *s, uint32_t suspect)
{
    hm_verify_t *v, *free_slot = NULL;
    uint32_t peer;

    for (v = s->verify; v < s->verify + HM_SWIM_VERIFY_STREAMS; v++) {
        if (v->stream && s->now >= v->deadline) {
            /* the caller never reported it: give it up */
            hm_swim_out_push(s, HM_SWIM_STREAM_CLOSE, NULL, v->stream, 0, NULL);
            hm_swim_stream_forget(s, v->stream);
            memset(v, 0, sizeof(*v));
        }
        if (v->stream && v->peer != suspect && !v->self)
            return v;
        if (v->stream == 0 && free_slot == NULL)
            free_slot = v;
    }
    if (free_slot == NULL || (peer = verify_peer(s, suspect)) == 0)
        return NULL;
    return verify_open(s, free_slot, peer, false);
}

/* A push/pull with the suspect itself, in parallel: a refutation that
 * reached nobody (each of its few transmissions went to nodes that
 * cannot hear the suspect) is still in the suspect's own state, and a
 * node that answers is alive.  Nodes that cannot reach it (the other
 * site) rely on the peer check. */
static hm_verify_t *verify_self_slot(hm_swim_t *s, uint32_t suspect)
{
    hm_verify_t *v, *free_slot = NULL;

    for (v = s->verify; v < s->verify + HM_SWIM_VERIFY_STREAMS; v++) {
        if (v->stream && v->self && v->peer == suspect)
            return v;
        if (v->stream == 0 && free_slot == NULL)
            free_slot = v;
    }
    if (free_slot == NULL)
        return NULL;
    return verify_open(s, free_slot, suspect, true);
}

static bool verify_start(hm_swim_t *s, uint32_t idx)
{
    hm_susp_t *x = &s->susps[idx];
    hm_rec_t *r = hm_rec(s, x->rec);
    hm_verify_t *v, *sv;

    if (s->cfg.disable_suspicion_verify || s->leaving)
        return false;
    v = verify_slot(s, x->rec);
    sv = verify_self_slot(s, x->rec);
    if (v == NULL && sv == NULL)
        return false;
    hm_swim_log(s, HM_LOG_DEBUG, "Suspect %s timed out (%u peer confirmations): checking with %s%s",
                REC_NAME(r), x->n, v ? REC_NAME(hm_rec(s, v->peer)) : "",
                sv ? (v ? " and itself" : "itself") : "");
    s->stats.verifies++;
    x->vpeer = v ? v->stream : 0;
    x->vself = sv ? sv->stream : 0;
    x->verify = x->vpeer ? x->vpeer : x->vself;
    x->gen++;
    heap_push(s,
              v && sv ? (v->deadline > sv->deadline ? v->deadline : sv->deadline)
              : v     ? v->deadline
                      : sv->deadline,
              idx, x->gen);
    return true;
}

/* The suspect answered our push/pull without a refutation (it had not
 * heard the suspicion; it has now, from our state): it is alive, so the
 * suspicion starts over instead of ending in a death it would refute. */
static void verify_answered(hm_swim_t *s, hm_susp_t *x)
{
    x->verify = x->vpeer = x->vself = 0;
    x->start = s->now;
    x->deadline = s->now + x->min;
    x->gen++;
    heap_push(s, x->deadline, (uint32_t)(x - s->susps), x->gen);
}

/* A push/pull ended (merged when ok, else failed or refused): the
 * suspicions that waited on it and are still there were not refuted; each
 * dies once its other check (if any) is over too, unless the suspect
 * itself answered. */
void hm_swim_verify_done(hm_swim_t *s, uint32_t stream, bool ok)
{
    hm_verify_t *v;
    uint32_t i;
    bool lost;

    for (v = s->verify; v < s->verify + HM_SWIM_VERIFY_STREAMS && v->stream != stream; v++)
        ;
    if (stream == 0 || v == s->verify + HM_SWIM_VERIFY_STREAMS)
        return;
    lost = !ok && s->now >= v->deadline; /* a timeout, not a refusal */
    memset(v, 0, sizeof(*v));
    for (i = 1; i < s->susps_cap; i++) {
        hm_susp_t *x = &s->susps[i];
        if (x->rec == 0 || x->verify == 0 || (x->vpeer != stream && x->vself != stream))
            continue;
        if (x->vself == stream && lost)
            x->self_lost = true;
        if (x->vself == stream && ok && hm_rec(s, x->rec)->state == HM_ML_STATE_SUSPECT) {
            verify_answered(s, x);
            continue;
        }
        if (x->vpeer == stream)
            x->vpeer = 0;
        if (x->vself == stream)
            x->vself = 0;
        if (x->vpeer == 0 && x->vself == 0)
            susp_fire(s, i);
    }
}

/* ---- refutation and the alive/suspect/dead rules ---------------------- */

static void refute(hm_swim_t *s, hm_rec_t *me, uint32_t accused, const char *what,
                   const hm_ml_str_t *from)
{
    if (from)
        hm_swim_log(s, HM_LOG_WARN, "Refuting a %s message (from: %.*s)", what, (int)from->n,
                    from->p);
    else
        hm_swim_log(s, HM_LOG_WARN, "Refuting an %s message", what);
    uint32_t inc = me->inc + 1;

    if (accused >= inc)
        inc = accused + 1;
    me->inc = inc;
    hm_swim_health_delta(s, 1);
    s->stats.refutes++;
    broadcast(s, me, NULL, NULL, NULL);
}

static bool str_is(const hm_ml_str_t *a, const char *b, size_t bn)
{
    return a->n == bn && memcmp(a->p, b, bn) == 0;
}

static bool meta_eq(const hm_swim_t *s, const hm_rec_t *r, const uint8_t *meta, size_t n)
{
    return n == rec_meta_len(s, r) && (n == 0 || memcmp(rec_meta(s, r), meta, n) == 0);
}

static bool set_meta(hm_swim_t *s, hm_rec_t *r, const uint8_t *meta, size_t n)
{
    hm_rec_ext_t *e;
    uint8_t *m = NULL;

    if (meta_eq(s, r, meta, n))
        return false;
    if (n) {
        if ((e = rec_ext(s, r)) == NULL || (m = malloc(n)) == NULL)
            return false;
        memcpy(m, meta, n);
    } else {
        e = &s->ext[rec_idx(s, r)]; /* r has meta: the side array is there */
    }
    free(e->meta);
    e->meta = m;
    e->meta_len = (uint32_t)n;
    r->flags = (uint8_t)(n ? r->flags | REC_META : r->flags & ~REC_META);
    return true;
}

void hm_swim_alive(hm_swim_t *s, const hm_ml_alive_t *a, bool bootstrap, hm_bcast_done_fn done,
                   void *ud)
{
    hm_swim_alive_h(s, a, hash_name(a->node.p, a->node.n), bootstrap, done, ud);
}

void hm_swim_alive_h(hm_swim_t *s, const hm_ml_alive_t *a, uint32_t h, bool bootstrap,
                     hm_bcast_done_fn done, void *ud)
{
    hm_rec_t *r;
    bool is_local, updates_node = false, meta_changed;
    uint8_t old_state;

    if (s->leaving && str_is(&a->node, s->name, s->name_len))
        return;
    if (a->has_vsn && (a->vsn[0] == 0 || a->vsn[1] == 0 || a->vsn[0] > a->vsn[1]))
        return;
    if (a->node.n == 0 || a->node.n > UINT16_MAX || a->meta_len > UINT16_MAX)
        return;
    r = lookup_h(s, a->node.p, a->node.n, h);
    if (r == NULL) {
        r = rec_add(s, a->node.p, a->node.n, h);
        if (r == NULL)
            return;
        rec_set_addr(s, r, &a->addr);
        r->state = HM_ML_STATE_DEAD;
        set_meta(s, r, a->meta, a->meta_len);
        if (a->has_vsn)
            rec_set_vsn(s, r, a->vsn); /* table full: dropped below */
    } else if (!rec_addr_eq(s, r, &a->addr)) {
        bool reclaim =
            s->cfg.dead_node_reclaim_ms > 0 && hm_rec_age(s, r) > s->cfg.dead_node_reclaim_ms;
        if (r->state == HM_ML_STATE_LEFT || (r->state == HM_ML_STATE_DEAD && reclaim)) {
            updates_node = true;
        } else {
            if (s->d.notify_conflict) {
                hm_swim_node_t other = {0};
                other.name = REC_NAME(r);
                other.addr = a->addr;
                other.meta = a->meta;
                other.meta_len = a->meta_len;
                other.incarnation = a->incarnation;
                memcpy(other.vsn, a->vsn, 6);
                s->d.notify_conflict(s->d.ud, hm_swim_view(s, r, &s->view), &other);
            }
            hm_swim_log(s, HM_LOG_ERR, "Conflicting address for %s", REC_NAME(r));
            return;
        }
    }
    is_local = r == hm_rec(s, s->self);
    if (a->incarnation <= r->inc && !is_local && !updates_node)
        return;
    if (a->incarnation < r->inc && is_local)
        return;
    susp_drop(s, r);
    old_state = r->state;
    if (!bootstrap && is_local) {
        if (a->incarnation == r->inc && meta_eq(s, r, a->meta, a->meta_len) &&
            (!a->has_vsn ? false : memcmp(a->vsn, hm_rec_vsn(s, r), 6) == 0))
            return;
        refute(s, r, a->incarnation, "alive", NULL);
        return; /* our own state did not change: no event */
    }
    if (a->has_vsn && rec_set_vsn(s, r, a->vsn) < 0) {
        hm_swim_malformed(s, "alive message (too many distinct Vsn)");
        return;
    }
    r->inc = a->incarnation;
    meta_changed = set_meta(s, r, a->meta, a->meta_len);
    rec_set_addr(s, r, &a->addr);
    if (r->state != HM_ML_STATE_ALIVE) {
        r->state = HM_ML_STATE_ALIVE;
        hm_rec_set_sc(r, s->now);
    }
    broadcast(s, r, NULL, done, ud);
    if (old_state == HM_ML_STATE_DEAD || old_state == HM_ML_STATE_LEFT) {
        if (s->d.notify_join)
            s->d.notify_join(s->d.ud, hm_swim_view(s, r, &s->view));
    } else if (meta_changed && s->d.notify_update) {
        s->d.notify_update(s->d.ud, hm_swim_view(s, r, &s->view));
    }
}

static void broadcast_accuse(hm_swim_t *s, hm_rec_t *r, uint8_t type, const hm_ml_accuse_t *m,
                             hm_bcast_done_fn done, void *ud)
{
    hm_buf_reset(&s->tmp2);
    if ((type == HM_ML_SUSPECT ? hm_ml_put_suspect(&s->tmp2, m) : hm_ml_put_dead(&s->tmp2, m)) < 0)
        return;
    broadcast(s, r, &s->tmp2, done, ud);
}

void hm_swim_suspect(hm_swim_t *s, const hm_ml_accuse_t *m)
{
    hm_rec_t *r = hm_swim_lookup(s, m->node.p, m->node.n);
    uint32_t si;

    if (r == NULL || m->incarnation < r->inc)
        return;
    if ((si = rec_susp(s, r)) != 0) {
        hm_susp_t *x = &s->susps[si];
        if (m->incarnation > r->inc && m->incarnation > x->newer)
            x->newer = m->incarnation; /* see susp_renew */
        if (susp_confirm(s, x, &m->from))
            broadcast_accuse(s, r, HM_ML_SUSPECT, m, NULL, NULL);
        return;
    }
    if (r->state != HM_ML_STATE_ALIVE)
        return;
    if (r == hm_rec(s, s->self)) {
        refute(s, r, m->incarnation, "suspect", &m->from);
        return;
    }
    broadcast_accuse(s, r, HM_ML_SUSPECT, m, NULL, NULL);
    s->stats.suspects++;
    r->inc = m->incarnation;
    r->state = HM_ML_STATE_SUSPECT;
    hm_rec_set_sc(r, s->now);
    susp_start(s, r, &m->from);
}

static void leave_finished(void *ud)
{
    hm_swim_t *s = ud;
    s->leave_done = true;
}

void hm_swim_dead(hm_swim_t *s, const hm_ml_accuse_t *m)
{
    hm_rec_t *r = hm_swim_lookup(s, m->node.p, m->node.n);

    if (r == NULL || m->incarnation < r->inc)
        return;
    susp_drop(s, r);
    if (r->state == HM_ML_STATE_DEAD || r->state == HM_ML_STATE_LEFT)
        return;
    if (r == hm_rec(s, s->self)) {
        if (!s->leaving) {
            refute(s, r, m->incarnation, "dead", &m->from);
            return;
        }
        broadcast_accuse(s, r, HM_ML_DEAD, m, leave_finished, s);
    } else {
        broadcast_accuse(s, r, HM_ML_DEAD, m, NULL, NULL);
    }
    r->inc = m->incarnation;
    r->state = m->from.n == m->node.n && memcmp(m->from.p, m->node.p, m->node.n) == 0
                   ? HM_ML_STATE_LEFT
                   : HM_ML_STATE_DEAD;
    hm_rec_set_sc(r, s->now);
    if (r->state == HM_ML_STATE_DEAD)
        s->stats.deaths++;
    if (s->d.notify_leave)
        s->d.notify_leave(s->d.ud, hm_swim_view(s, r, &s->view));
}

/* ---- engine lifecycle ------------------------------------------------- */

static void self_alive(hm_swim_t *s, uint32_t inc, hm_bcast_done_fn done)
{
    uint8_t meta[HM_SWIM_META_MAX];
    size_t mlen = 0;
    hm_ml_alive_t a = {0};

    if (s->d.node_meta) {
        mlen = s->d.node_meta(s->d.ud, meta, sizeof(meta));
        if (mlen > sizeof(meta))
            mlen = sizeof(meta);
    }
    a.incarnation = inc;
    a.node.p = s->name;
    a.node.n = s->name_len;
    a.addr = s->cfg.addr;
    a.meta = mlen ? meta : NULL;
    a.meta_len = mlen;
    memcpy(a.vsn, s->cfg.vsn, 6);
    a.has_vsn = true;
    hm_swim_alive(s, &a, true, done, s);
}

static uint64_t stagger(hm_swim_t *s, uint64_t now, uint32_t interval)
{
    return now + (interval ? hm_swim_rand(s) % interval : 0);
}

hm_swim_t *hm_swim_new(const hm_swim_config_t *cfg, const hm_swim_delegate_t *d, uint64_t now)
{
    hm_swim_t *s = calloc(1, sizeof(*s));
    uint64_t seed;
    static const uint8_t zero[6];

    if (s == NULL || cfg->name == NULL || cfg->name[0] == 0)
        goto fail;
    s->cfg = *cfg;
    if (memcmp(s->cfg.vsn, zero, 6) == 0) {
        static const uint8_t vsn[6] = {1, 5, 2, 2, 5, 5};
        memcpy(s->cfg.vsn, vsn, 6);
    }
    if (s->cfg.udp_buffer_size == 0)
        s->cfg.udp_buffer_size = 1400;
    if (s->cfg.awareness_max_multiplier == 0)
        s->cfg.awareness_max_multiplier = 1;
    if (d)
        s->d = *d;
    s->name = strdup(cfg->name);
    if (s->name == NULL)
        goto fail;
    s->name_len = strlen(s->name);
    s->cfg.name = s->name;
    seed = cfg->seed;
    s->rng[0] = splitmix(&seed);
    s->rng[1] = splitmix(&seed);
    s->order_draw = (uint32_t)(hm_swim_rand(s) >> 32);
    s->nvsns = 1; /* vsns[0]: none given */
    s->now = now;
    s->next_stream_id = 1;
    s->bq = hm_bcast_new(s->cfg.retransmit_mult);
    if (s->bq == NULL || htab_grow(s) < 0)
        goto fail;
    hm_bcast_set_hooks(s->bq, bq_encode, bq_drop, s);
    hm_bcast_set_prefetch(s->bq, bq_prefetch);
    self_alive(s, 1, NULL);
    {
        hm_rec_t *me = hm_swim_lookup(s, s->name, s->name_len);
        if (me == NULL)
            goto fail;
        s->self = rec_idx(s, me);
    }
    s->next_probe = stagger(s, now, s->cfg.probe_interval_ms);
    s->next_gossip = stagger(s, now, s->cfg.gossip_interval_ms);
    s->next_push_pull =
        s->cfg.push_pull_interval_ms ? stagger(s, now, s->cfg.push_pull_interval_ms) : UINT64_MAX;
    if (s->cfg.probe_interval_ms == 0)
        s->next_probe = UINT64_MAX;
    if (s->cfg.gossip_interval_ms == 0 || s->cfg.gossip_nodes == 0)
        s->next_gossip = UINT64_MAX;
    return s;
fail:
    hm_swim_free(s);
    return NULL;
}

void hm_swim_free(hm_swim_t *s)
{
    uint32_t i;
    hm_swim_out_t o;

    if (s == NULL)
        return;
    while (hm_swim_poll(s, &o))
        hm_buf_free(&o.data);
    free(s->outq);
    for (i = 1; s->ext && i < s->recs_used; i++)
        free(s->ext[i].meta);
    for (i = 1; i < s->susps_cap; i++) {
        uint32_t j;
        for (j = 0; j < s->susps[i].nseen; j++)
            free(s->susps[i].seen[j]);
        free(s->susps[i].seen);
    }
    free(s->susps);
    free(s->heap);
    for (i = 0; i < s->recs_cap / HM_REC_CHUNK; i++)
        hm_pool_chunk_free(s->rch[i]);
    free(s->rch);
    hm_pool_free(s->order, (size_t)s->order_cap * sizeof(*s->order));
    hm_pool_free(s->htab, (size_t)s->hcap * sizeof(*s->htab));
    free(s->v6);
    free(s->ext);
    while (s->arena) {
        hm_arena_chunk_t *n = s->arena->next;
        free(s->arena);
        s->arena = n;
    }
    hm_bcast_free(s->bq);
    free(s->helpers);
    hm_swim_streams_free(s);
    hm_buf_free(&s->tmp);
    hm_buf_free(&s->tmp2);
    hm_buf_free(&s->tmp3);
    for (i = 0; i <= HM_SWIM_MAX_PARTS; i++)
        hm_buf_free(&s->parts[i]);
    hm_buf_free(&s->cat);
    free(s->name);
    free(s);
}

/* ---- gossip, push/pull schedule, dead-node reaping -------------------- */

/* memberlist kRandomNodes: up to 3n random draws, skipping filtered and
 * already chosen nodes. */
typedef bool (*rec_filter_fn)(const hm_swim_t *s, const hm_rec_t *r);

static size_t k_random(hm_swim_t *s, uint32_t k, rec_filter_fn skip, uint32_t *out)
{
    size_t n = s->norder, got = 0, i, j;

    for (i = 0; i < 3 * n && got < k; i++) {
        uint32_t r = s->order[hm_swim_randn(s, (uint32_t)n)];
        if (skip(s, hm_rec(s, r)))
            continue;
        for (j = 0; j < got && out[j] != r; j++)
            ;
        if (j == got)
            out[got++] = r;
    }
    return got;
}

static bool gossip_skip(const hm_swim_t *s, const hm_rec_t *r)
{
    if (r == hm_rec(s, s->self))
        return true;
    switch (r->state) {
    case HM_ML_STATE_ALIVE:
    case HM_ML_STATE_SUSPECT:
        return false;
    case HM_ML_STATE_DEAD:
        return hm_rec_age(s, r) > s->cfg.gossip_to_the_dead_ms;
    default:
        return true;
    }
}

bool hm_swim_skip_not_alive(const hm_swim_t *s, const hm_rec_t *r);
bool hm_swim_skip_not_alive(const hm_swim_t *s, const hm_rec_t *r)
{
    return r == hm_rec(s, s->self) || r->state != HM_ML_STATE_ALIVE;
}

static void gossip(hm_swim_t *s)
{
    uint32_t nodes[16];
    size_t n, i, budget = s->cfg.udp_buffer_size - 2 - s->cfg.packet_overhead;
    uint32_t k = s->cfg.gossip_nodes > 16 ? 16 : s->cfg.gossip_nodes;

    if (s->cfg.udp_buffer_size < 2 + s->cfg.packet_overhead)
        return;
    n = k_random(s, k, gossip_skip, nodes);
    for (i = 0; i < n; i++) {
        hm_rec_t *r = hm_rec(s, nodes[i]);
        size_t m;
        hm_buf_reset(&s->cat);
        if ((m = get_broadcasts(s, 2, budget, 0)) == 0)
            return;
        hm_buf_reset(&s->tmp);
        if (m == 1)
            hm_buf_append(&s->tmp, s->cat.data, s->cat.len);
        else if (hm_ml_put_compound_cat(&s->tmp, s->cat.data, s->plen, m) < 0)
            continue;
        hm_addr_t to;
        hm_swim_rec_addr(s, r, &to);
        raw_send(s, &to, &s->tmp, r);
    }
}

static uint64_t push_pull_scale(uint64_t interval, size_t n)
{
    double mult;
    if (n <= 32)
        return interval;
    mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
    return (uint64_t)mult * interval;
}

static void periodic_push_pull(hm_swim_t *s)
{
    uint32_t r;

    hm_addr_t to;

    if (k_random(s, 1, hm_swim_skip_not_alive, &r) == 1) {
        hm_swim_rec_addr(s, hm_rec(s, r), &to);
        hm_swim_push_pull(s, s->now, &to, false);
    }
}

/* Probe index wrapped: drop nodes dead for longer than GossipToTheDead
 * and shuffle the rest (memberlist resetNodes). */
void hm_swim_reset_nodes(hm_swim_t *s);
void hm_swim_reset_nodes(hm_swim_t *s)
{
    uint32_t i, j = 0;

    for (i = 0; i < s->norder; i++) {
        uint32_t r = s->order[i];
        hm_rec_t *x = hm_rec(s, r);
        if (x->state == HM_ML_STATE_DEAD && hm_rec_age(s, x) > s->cfg.gossip_to_the_dead_ms &&
            r != s->self) {
            rec_release(s, r);
            continue;
        }
        s->order[j++] = r;
    }
    s->norder = j;
    for (i = s->norder; i > 1; i--) {
        uint32_t k = hm_swim_randn(s, i), t = s->order[i - 1];
        s->order[i - 1] = s->order[k];
        s->order[k] = t;
    }
}

/* ---- inputs ----------------------------------------------------------- */

static void handle_command(hm_swim_t *s, const hm_addr_t *from, const uint8_t *p, size_t n,
                           int depth);

static void handle_alive_decoded(hm_swim_t *s, hm_ml_alive_t *a, uint32_t h)
{
    if (a->addr.port == 0)
        a->addr.port = s->cfg.addr.port;
    hm_swim_alive_h(s, a, h, false, NULL, NULL);
}

static bool queued_type(uint8_t t)
{
    return t == HM_ML_SUSPECT || t == HM_ML_DEAD || t == HM_ML_USER;
}

/* memberlist handles ping, ack and the like inline, but hands alive,
 * suspect, dead and user messages to a goroutine through two LIFO queues
 * (net.go handleCommand, getNextMessage): alive messages first, newest
 * first, then the others, newest first.  A compound is pushed whole before
 * that goroutine runs, so its parts are handled in that order here: inline
 * ones as they come, then the alive ones backwards, then the rest
 * backwards.  The alive messages are decoded first to prefetch their hash
 * slots and records (they are spread over the whole table). */
static void handle_compound(hm_swim_t *s, const hm_addr_t *from, const uint8_t *p, size_t n,
                            int depth)
{
    const uint8_t *parts[HM_SWIM_MAX_PARTS];
    size_t lens[HM_SWIM_MAX_PARTS];
    hm_ml_alive_t alive[HM_SWIM_MAX_PARTS];
    uint32_t hash[HM_SWIM_MAX_PARTS];
    int8_t decoded[HM_SWIM_MAX_PARTS]; /* 1 ok, -1 malformed, 0 not an alive */
    int k = hm_ml_split_compound(p, n, parts, lens, HM_SWIM_MAX_PARTS), i;

    if (k < 0) {
        hm_swim_malformed(s, "compound request");
        return;
    }
    /* the alive messages are handled last to first: fetch their slots,
     * then their records, in that order, so that each has had the
     * longest time to arrive when it is needed */
    for (i = k - 1; i >= 0; i--) {
        decoded[i] = 0;
        if (lens[i] > 0 && parts[i][0] == HM_ML_ALIVE) {
            decoded[i] = hm_ml_get_alive(parts[i] + 1, lens[i] - 1, &alive[i]) == 0 ? 1 : -1;
            if (decoded[i] == 1) {
                hash[i] = hash_name(alive[i].node.p, alive[i].node.n);
                prefetch_slot(s, hash[i]);
            }
        }
    }
    for (i = k - 1; i >= 0; i--)
        if (decoded[i] == 1)
            prefetch_rec(s, hash[i]);
    hm_swim_prefetch_order(s); /* in case one of them is new */
    for (i = 0; i < k; i++) {
        if (decoded[i] == -1)
            hm_swim_malformed(s, "alive message");
        else if (decoded[i] == 0 && (lens[i] == 0 || !queued_type(parts[i][0])))
            handle_command(s, from, parts[i], lens[i], depth + 1);
    }
    for (i = k - 1; i >= 0; i--)
        if (decoded[i] == 1)
            handle_alive_decoded(s, &alive[i], hash[i]);
    for (i = k - 1; i >= 0; i--)
        if (decoded[i] == 0 && lens[i] > 0 && queued_type(parts[i][0]))
            handle_command(s, from, parts[i], lens[i], depth + 1);
}

static void handle_compressed(hm_swim_t *s, const hm_addr_t *from, const uint8_t *p, size_t n,
                              int depth)
{
    hm_buf_t out = {0};
    size_t used = 0;

    if (hm_ml_get_compress(p, n, &out, &used) < 0) {
        hm_swim_malformed(s, "compressed payload");
    } else {
        handle_command(s, from, out.data, out.len, depth + 1);
    }
    hm_buf_free(&out);
}

static void handle_alive_msg(hm_swim_t *s, const uint8_t *p, size_t n)
{
    hm_ml_alive_t a;

    if (hm_ml_get_alive(p, n, &a) < 0) {
        hm_swim_malformed(s, "alive message");
        return;
    }
    handle_alive_decoded(s, &a, hash_name(a.node.p, a.node.n));
}

static void handle_accuse_msg(hm_swim_t *s, const uint8_t *p, size_t n, bool dead)
{
    hm_ml_accuse_t m;

    if (hm_ml_get_accuse(p, n, &m) < 0) {
        hm_swim_malformed(s, dead ? "dead message" : "suspect message");
        return;
    }
    if (dead)
        hm_swim_dead(s, &m);
    else
        hm_swim_suspect(s, &m);
}

static void handle_command(hm_swim_t *s, const hm_addr_t *from, const uint8_t *p, size_t n,
                           int depth)
{
    if (n == 0 || depth > 4) {
        hm_swim_malformed(s, n ? "message (nested too deep)" : "empty message");
        return;
    }
    switch (p[0]) {
    case HM_ML_COMPOUND:
        handle_compound(s, from, p + 1, n - 1, depth);
        break;
    case HM_ML_COMPRESS:
        handle_compressed(s, from, p + 1, n - 1, depth);
        break;
    case HM_ML_PING:
        hm_swim_handle_ping(s, from, p + 1, n - 1);
        break;
    case HM_ML_INDIRECT_PING:
        hm_swim_handle_indirect(s, from, p + 1, n - 1);
        break;
    case HM_ML_ACK:
        hm_swim_handle_ack(s, p + 1, n - 1);
        break;
    case HM_ML_NACK:
        hm_swim_handle_nack(s, p + 1, n - 1);
        break;
    case HM_ML_ALIVE:
        handle_alive_msg(s, p + 1, n - 1);
        break;
    case HM_ML_SUSPECT:
    case HM_ML_DEAD:
        handle_accuse_msg(s, p + 1, n - 1, p[0] == HM_ML_DEAD);
        break;
    case HM_ML_USER:
        if (s->d.notify_msg)
            s->d.notify_msg(s->d.ud, p + 1, n - 1);
        break;
    default:
        s->stats.dropped_other++;
        hm_swim_log(s, HM_LOG_ERR, "msg type (%d) not supported", p[0]);
        break;
    }
}

void hm_swim_packet(hm_swim_t *s, uint64_t now, const hm_addr_t *from, const uint8_t *p, size_t n)
{
    if (now > s->now)
        s->now = now;
    s->stats.packets_in++;
    s->stats.bytes_in += n;
    if (n >= 5 && p[0] == HM_ML_HAS_CRC) {
        const uint8_t *payload;
        size_t plen;
        if (hm_ml_check_crc(p + 1, n - 1, &payload, &plen) < 0) {
            s->stats.dropped_crc++;
            hm_swim_log(s, HM_LOG_WARN, "Got invalid checksum for UDP packet");
            return;
        }
        p = payload;
        n = plen;
    }
    handle_command(s, from, p, n, 0);
}

void hm_swim_tick(hm_swim_t *s, uint64_t now)
{
    if (now > s->now)
        s->now = now;
    susp_timers(s);
    hm_swim_probe_timers(s);
    if (s->now >= s->next_probe) {
        uint64_t iv = s->cfg.probe_interval_ms;
        while (s->next_probe <= s->now)
            s->next_probe += iv;
        hm_swim_probe_tick(s);
    }
    if (s->now >= s->next_gossip) {
        while (s->next_gossip <= s->now)
            s->next_gossip += s->cfg.gossip_interval_ms;
        gossip(s);
    }
    if (s->now >= s->next_push_pull) {
        s->next_push_pull = s->now + push_pull_scale(s->cfg.push_pull_interval_ms, s->norder);
        periodic_push_pull(s);
    }
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t hm_swim_next_deadline(const hm_swim_t *s)
{
    uint64_t t = min64(s->next_probe, min64(s->next_gossip, s->next_push_pull));

    t = min64(t, hm_swim_probe_deadline(s));
    if (s->nheap)
        t = min64(t, s->heap[0].when);
    return t;
}

/* ---- actions ---------------------------------------------------------- */

int hm_swim_leave(hm_swim_t *s, uint64_t now)
{
    hm_rec_t *me = hm_rec(s, s->self);
    hm_ml_accuse_t d;
    uint32_t i;
    bool any_alive = false;

    if (now > s->now)
        s->now = now;
    if (s->leaving)
        return 0;
    s->leaving = true;
    d.incarnation = me->inc;
    d.node.p = REC_NAME(me);
    d.node.n = me->name_len;
    d.from = d.node;
    hm_swim_dead(s, &d);
    for (i = 0; i < s->norder; i++) {
        const hm_rec_t *r = hm_rec(s, s->order[i]);
        if (s->order[i] != s->self && r->state != HM_ML_STATE_DEAD && r->state != HM_ML_STATE_LEFT)
            any_alive = true;
    }
    if (!any_alive)
        s->leave_done = true;
    return 0;
}

bool hm_swim_leave_done(const hm_swim_t *s)
{
    return s->leave_done;
}

int hm_swim_update_meta(hm_swim_t *s, uint64_t now)
{
    if (now > s->now)
        s->now = now;
    self_alive(s, hm_rec(s, s->self)->inc + 1, NULL);
    return 0;
}

int hm_swim_send_user(hm_swim_t *s, uint64_t now, const hm_addr_t *to, const uint8_t *p, size_t n)
{
    if (now > s->now)
        s->now = now;
    hm_buf_reset(&s->tmp);
    if (hm_ml_put_user(&s->tmp, p, n) < 0)
        return -1;
    hm_swim_send(s, to, &s->tmp, NULL, true);
    return 0;
}

void hm_swim_set_packet_overhead(hm_swim_t *s, size_t overhead)
{
    s->cfg.packet_overhead = overhead;
}

/* ---- state ------------------------------------------------------------ */

size_t hm_swim_num_nodes(const hm_swim_t *s)
{
    return s->norder;
}

const hm_swim_node_t *hm_swim_find(const hm_swim_t *s, const char *name)
{
    hm_rec_t *r = hm_swim_lookup(s, name, strlen(name));
    hm_swim_t *m = (hm_swim_t *)s; /* the view is scratch space */

    return r ? hm_swim_view(m, r, &m->view2) : NULL;
}

void hm_swim_foreach(const hm_swim_t *s, hm_swim_iter_fn fn, void *ud)
{
    uint32_t i;
    hm_swim_node_t v;

    for (i = 0; i < s->norder; i++)
        if (fn(ud, hm_swim_view((hm_swim_t *)s, hm_rec(s, s->order[i]), &v)) != 0)
            break;
}

const hm_swim_stats_t *hm_swim_stats(const hm_swim_t *s)
{
    return &s->stats;
}
