/*
 * The simulator: a binary heap of events (engine wake-ups, datagram
 * deliveries, stream legs) ordered by (virtual time, sequence number), so
 * equal times keep their creation order and runs are deterministic.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hamlet/module.h>

#include "hm_mlwire.h"
#include "hm_sim.h"

enum ev_type { EV_WAKE, EV_PACKET, EV_STREAM_OPEN, EV_STREAM_REPLY, EV_STREAM_FAIL };

typedef struct ev {
    uint64_t when, seq;
    uint32_t type, from, to, epoch;
    uint32_t stream; /* client-side stream id */
    uint32_t len;
    uint64_t deadline; /* streams: the client's deadline */
    uint8_t *data;
} ev_t;

typedef struct node {
    hm_swim_t *eng;
    uint64_t scheduled; /* time of the pending wake event, UINT64_MAX none */
    uint32_t epoch, group, seen_alive, joins_ok;
    bool up, left;
    uint8_t *meta;
    size_t meta_len;
    struct hm_sim *sim;
    uint32_t idx;
} node_t;

struct hm_sim {
    uint64_t now, seq, rng[2];
    ev_t *heap;
    size_t nheap, heap_cap;
    node_t **nodes;
    uint32_t nnodes, nodes_cap;
    uint32_t lat_min, lat_max;
    double loss;
    hm_sim_link_fn link_fn;
    void *link_ud;
    hm_sim_latency_fn lat_fn;
    void *lat_ud;
    hm_sim_event_fn ev_fn;
    void *ev_ud;
    hm_sim_log_fn log_fn;
    void *log_ud;
    uint64_t *blocked, *blocked_udp;
    size_t nblocked, nblocked_udp;
    bool partitioned;
    hm_sim_stats_t st;
    /* near events: one slot per millisecond of the next WHEEL ms, each in
     * creation order; later ones wait in the heap above */
    struct slot {
        ev_t *v;
        uint32_t n, cap, head;
    } * wheel;
    uint64_t cur; /* no pending event is earlier */
    size_t nnear;
    /* the inbound stream being served (replies come out synchronously) */
    uint32_t srv_stream, cli_node, cli_stream, cli_epoch;
    uint64_t cli_deadline;
};

/* ---- randomness and hashing -------------------------------------------- */

static uint64_t rnd(hm_sim_t *s)
{
    uint64_t a = s->rng[0], b = s->rng[1];
    s->rng[0] = b;
    a ^= a << 23;
    s->rng[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return s->rng[1] + b;
}

static void trace(hm_sim_t *s, uint64_t v)
{
    s->st.trace_hash = (s->st.trace_hash ^ v) * 0x100000001b3ull;
}

/* Eight bytes per step (the byte-wise FNV loop was a tenth of the
 * benchmark's time): any change of a delivered byte still changes it. */
static void trace_bytes(hm_sim_t *s, const uint8_t *p, size_t n)
{
    uint64_t h = s->st.trace_hash ^ n, w;

    for (; n >= 8; n -= 8, p += 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    s->st.trace_hash = h ^ (h >> 29);
}

/* ---- addresses --------------------------------------------------------- */

void hm_sim_addr(uint32_t node, hm_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    a->len = 4;
    a->ip[0] = 10;
    a->ip[1] = (uint8_t)(node >> 16);
    a->ip[2] = (uint8_t)(node >> 8);
    a->ip[3] = (uint8_t)node;
    a->port = 7946;
}

int hm_sim_node_of(const hm_addr_t *a)
{
    if (a->len != 4 || a->ip[0] != 10 || a->port != 7946)
        return -1;
    return (int)((uint32_t)a->ip[1] << 16 | (uint32_t)a->ip[2] << 8 | a->ip[3]);
}

/* ---- event heap -------------------------------------------------------- */

static bool ev_before(const ev_t *a, const ev_t *b)
{
    return a->when != b->when ? a->when < b->when : a->seq < b->seq;
}

static void far_push(hm_sim_t *s, ev_t e)
{
    size_t i;

    if (s->nheap == s->heap_cap) {
        size_t ncap = s->heap_cap ? s->heap_cap * 2 : 1024;
        ev_t *n = realloc(s->heap, ncap * sizeof(*n));
        if (n == NULL) {
            free(e.data);
            return;
        }
        s->heap = n;
        s->heap_cap = ncap;
    }
    i = s->nheap++;
    while (i > 0 && ev_before(&e, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
}

static ev_t far_pop(hm_sim_t *s)
{
    ev_t top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && ev_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!ev_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap)
        s->heap[i] = last;
    return top;
}

#define WHEEL 4096u

/* Events are ordered by (time, creation sequence) exactly as a single heap
 * would order them: a slot holds one time value in sequence order, and
 * ties with the far heap are broken by sequence. */
static void push_ev(hm_sim_t *s, ev_t e)
{
    struct slot *sl;

    e.seq = s->seq++;
    if (e.when < s->cur)
        e.when = s->cur;
    if (e.when - s->cur >= WHEEL) {
        far_push(s, e);
        return;
    }
    sl = &s->wheel[e.when % WHEEL];
    if (sl->n == sl->cap) {
        uint32_t ncap = sl->cap ? sl->cap * 2 : 8;
        ev_t *v = realloc(sl->v, ncap * sizeof(*v));
        if (v == NULL) {
            free(e.data);
            return;
        }
        sl->v = v;
        sl->cap = ncap;
    }
    sl->v[sl->n++] = e;
    s->nnear++;
}

/* The next event at or before `limit`, if any. */
static bool next_ev(hm_sim_t *s, uint64_t limit, ev_t *out)
{
    while (s->cur <= limit) {
        struct slot *sl = &s->wheel[s->cur % WHEEL];
        bool near = sl->head < sl->n, far = s->nheap && s->heap[0].when == s->cur;

        if (near && (!far || sl->v[sl->head].seq < s->heap[0].seq)) {
            *out = sl->v[sl->head++];
            if (sl->head == sl->n)
                sl->head = sl->n = 0;
            s->nnear--;
            return true;
        }
        if (far) {
            *out = far_pop(s);
            return true;
        }
        if (s->nnear == 0 && s->nheap) {
            /* nothing near: jump to the far heap's first time */
            if (s->heap[0].when > limit)
                return false;
            s->cur = s->heap[0].when;
            continue;
        }
        if (s->nnear == 0 && s->nheap == 0)
            return false;
        s->cur++;
    }
    return false;
}

/* ---- links ------------------------------------------------------------- */

static bool in_set(const uint64_t *set, size_t n, uint32_t a, uint32_t b)
{
    uint64_t k = (uint64_t)a << 32 | b;
    size_t i;
    for (i = 0; i < n; i++)
        if (set[i] == k)
            return true;
    return false;
}

static bool is_blocked(const hm_sim_t *s, uint32_t a, uint32_t b)
{
    return in_set(s->blocked, s->nblocked, a, b);
}

static bool link_ok(hm_sim_t *s, uint32_t a, uint32_t b)
{
    if (s->partitioned && s->nodes[a]->group != s->nodes[b]->group)
        return false;
    if (s->nblocked && is_blocked(s, a, b))
        return false;
    if (s->link_fn && !s->link_fn(s->link_ud, a, b))
        return false;
    return true;
}

static uint32_t latency(hm_sim_t *s, uint32_t from, uint32_t to)
{
    uint32_t span = s->lat_max - s->lat_min + 1;

    if (s->lat_fn)
        return s->lat_fn(s->lat_ud, from, to, rnd(s));
    return s->lat_min + (uint32_t)((rnd(s) >> 33) % span);
}

/* ---- engine plumbing ---------------------------------------------------- */

static void schedule(hm_sim_t *s, node_t *n)
{
    uint64_t d;

    if (!n->up)
        return;
    d = hm_swim_next_deadline(n->eng);
    if (d < s->now)
        d = s->now;
    if (d < n->scheduled) {
        n->scheduled = d;
        push_ev(s, (ev_t){.when = d, .type = EV_WAKE, .to = n->idx, .epoch = n->epoch});
    }
}

static void drain(hm_sim_t *s, node_t *n)
{
    hm_swim_out_t o;

    while (n->up && hm_swim_poll(n->eng, &o)) {
        int to = hm_sim_node_of(&o.to);
        switch (o.type) {
        case HM_SWIM_SEND_PACKET:
            s->st.packets++;
            s->st.bytes += o.data.len;
            if (to < 0 || (uint32_t)to >= s->nnodes) {
                s->st.blocked++;
            } else if (!link_ok(s, n->idx, (uint32_t)to) ||
                       (s->nblocked_udp &&
                        in_set(s->blocked_udp, s->nblocked_udp, n->idx, (uint32_t)to))) {
                s->st.blocked++;
            } else if (s->loss > 0 && (double)(rnd(s) >> 11) / 9007199254740992.0 < s->loss) {
                s->st.lost++;
            } else {
                push_ev(s, (ev_t){.when = s->now + latency(s, n->idx, (uint32_t)to),
                                  .type = EV_PACKET,
                                  .from = n->idx,
                                  .to = (uint32_t)to,
                                  .len = (uint32_t)o.data.len,
                                  .data = o.data.data});
                o.data.data = NULL;
            }
            break;
        case HM_SWIM_STREAM_OPEN:
            s->st.streams++;
            s->st.push_pulls += o.data.len && o.data.data[0] == HM_ML_PUSH_PULL;
            if (to < 0 || (uint32_t)to >= s->nnodes || !link_ok(s, n->idx, (uint32_t)to)) {
                push_ev(s, (ev_t){.when = o.deadline_ms > s->now ? o.deadline_ms : s->now,
                                  .type = EV_STREAM_FAIL,
                                  .to = n->idx,
                                  .epoch = n->epoch,
                                  .stream = o.stream_id});
            } else {
                push_ev(s, (ev_t){.when = s->now + latency(s, n->idx, (uint32_t)to),
                                  .type = EV_STREAM_OPEN,
                                  .from = n->idx,
                                  .to = (uint32_t)to,
                                  .epoch = n->epoch,
                                  .stream = o.stream_id,
                                  .deadline = o.deadline_ms,
                                  .len = (uint32_t)o.data.len,
                                  .data = o.data.data});
                o.data.data = NULL;
            }
            break;
        case HM_SWIM_STREAM_REPLY:
            if (o.stream_id == s->srv_stream && s->srv_stream) {
                node_t *c = s->nodes[s->cli_node];
                s->srv_stream = 0;
                if (!link_ok(s, n->idx, s->cli_node)) {
                    push_ev(s, (ev_t){.when = s->cli_deadline,
                                      .type = EV_STREAM_FAIL,
                                      .to = c->idx,
                                      .epoch = s->cli_epoch,
                                      .stream = s->cli_stream});
                } else {
                    push_ev(s, (ev_t){.when = s->now + latency(s, n->idx, c->idx),
                                      .type = EV_STREAM_REPLY,
                                      .from = n->idx,
                                      .to = c->idx,
                                      .epoch = s->cli_epoch,
                                      .stream = s->cli_stream,
                                      .deadline = s->cli_deadline,
                                      .len = (uint32_t)o.data.len,
                                      .data = o.data.data});
                    o.data.data = NULL;
                }
            }
            break;
        case HM_SWIM_STREAM_CLOSE:
            if (o.stream_id == s->srv_stream && s->srv_stream) {
                /* closed without a reply: the client reads EOF */
                s->srv_stream = 0;
                push_ev(s, (ev_t){.when = s->now + latency(s, n->idx, s->cli_node),
                                  .type = EV_STREAM_FAIL,
                                  .to = s->cli_node,
                                  .epoch = s->cli_epoch,
                                  .stream = s->cli_stream});
            }
            break;
        }
        hm_buf_free(&o.data);
    }
}

static void after(hm_sim_t *s, node_t *n)
{
    drain(s, n);
    schedule(s, n);
}

static node_t *node_of_ud(void *ud)
{
    return ud;
}

static int name_index(const char *name)
{
    long v;
    char *end;
    if (name[0] != 'n')
        return -1;
    v = strtol(name + 1, &end, 10);
    return *end == 0 && v >= 0 ? (int)v : -1;
}

static void d_join(void *ud, const hm_swim_node_t *m)
{
    node_t *n = node_of_ud(ud);
    n->seen_alive++;
    if (n->sim->ev_fn)
        n->sim->ev_fn(n->sim->ev_ud, n->idx, HM_SIM_JOIN, m, n->sim->now);
}

static void d_leave(void *ud, const hm_swim_node_t *m)
{
    node_t *n = node_of_ud(ud);
    hm_sim_t *s = n->sim;
    int who = name_index(m->name);

    if (n->seen_alive)
        n->seen_alive--;
    if (m->state == HM_ML_STATE_DEAD && who >= 0 && (uint32_t)who < s->nnodes &&
        s->nodes[who]->up && !s->nodes[who]->left)
        s->st.false_failures++;
    if (s->ev_fn)
        s->ev_fn(s->ev_ud, n->idx, HM_SIM_LEAVE, m, s->now);
}

static void d_update(void *ud, const hm_swim_node_t *m)
{
    node_t *n = node_of_ud(ud);
    if (n->sim->ev_fn)
        n->sim->ev_fn(n->sim->ev_ud, n->idx, HM_SIM_UPDATE, m, n->sim->now);
}

static void d_log(void *ud, hm_log_level_t level, const char *msg)
{
    node_t *n = node_of_ud(ud);
    if (n->sim->log_fn)
        n->sim->log_fn(n->sim->log_ud, n->idx, n->sim->now, level, msg);
}

static size_t d_meta(void *ud, uint8_t *buf, size_t limit)
{
    node_t *n = node_of_ud(ud);
    size_t l = n->meta_len < limit ? n->meta_len : limit;
    if (l)
        memcpy(buf, n->meta, l);
    return l;
}

static void d_stream_done(void *ud, uint32_t id, bool ok, const char *err)
{
    node_t *n = node_of_ud(ud);
    if (ok)
        n->joins_ok++;
    else
        n->sim->st.streams_failed++;
}

static void start_engine(hm_sim_t *s, node_t *n, const hm_swim_config_t *base)
{
    hm_swim_config_t c = *base;
    hm_swim_delegate_t d = {0};
    char name[16];

    snprintf(name, sizeof(name), "n%u", n->idx);
    c.name = name;
    hm_sim_addr(n->idx, &c.addr);
    c.seed = rnd(s);
    d.ud = n;
    d.node_meta = d_meta;
    d.notify_join = d_join;
    d.notify_leave = d_leave;
    d.notify_update = d_update;
    d.stream_done = d_stream_done;
    d.log = d_log;
    n->seen_alive = 0;
    n->up = true;
    n->left = false;
    n->scheduled = UINT64_MAX;
    n->epoch++;
    n->eng = hm_swim_new(&c, &d, s->now);
    if (n->eng == NULL) {
        n->up = false;
        return;
    }
    after(s, n);
}

/* ---- public API ------------------------------------------------------ */

hm_sim_t *hm_sim_new(uint64_t seed)
{
    hm_sim_t *s = calloc(1, sizeof(*s));
    uint64_t x = seed;
    int i;

    if (s == NULL)
        return NULL;
    /* Thousands of engines each grow pools by doubling.  A fixed mmap
     * threshold keeps every large pool in its own mapping: realloc is an
     * mremap, and the unused tail of a doubled pool is never touched, so
     * it costs no memory (glibc's dynamic threshold would put them on the
     * heap, where the tails are dirty). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    for (i = 0; i < 2; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        s->rng[i] = z ^ (z >> 31);
    }
    s->lat_min = 1;
    s->lat_max = 5;
    s->st.trace_hash = 0xcbf29ce484222325ull;
    s->wheel = calloc(WHEEL, sizeof(*s->wheel));
    if (s->wheel == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void hm_sim_free(hm_sim_t *s)
{
    uint32_t i;
    size_t j;

    if (s == NULL)
        return;
    for (j = 0; j < s->nheap; j++)
        free(s->heap[j].data);
    free(s->heap);
    for (j = 0; j < WHEEL; j++) {
        uint32_t k;
        for (k = s->wheel[j].head; k < s->wheel[j].n; k++)
            free(s->wheel[j].v[k].data);
        free(s->wheel[j].v);
    }
    free(s->wheel);
    for (i = 0; i < s->nnodes; i++) {
        hm_swim_free(s->nodes[i]->eng);
        free(s->nodes[i]->meta);
        free(s->nodes[i]);
    }
    free(s->nodes);
    free(s->blocked);
    free(s->blocked_udp);
    free(s);
}

void hm_sim_set_latency(hm_sim_t *s, uint32_t min_ms, uint32_t max_ms)
{
    s->lat_min = min_ms;
    s->lat_max = max_ms < min_ms ? min_ms : max_ms;
}

void hm_sim_set_latency_fn(hm_sim_t *s, hm_sim_latency_fn fn, void *ud)
{
    s->lat_fn = fn;
    s->lat_ud = ud;
}

void hm_sim_set_loss(hm_sim_t *s, double p)
{
    s->loss = p;
}

void hm_sim_set_link_fn(hm_sim_t *s, hm_sim_link_fn fn, void *ud)
{
    s->link_fn = fn;
    s->link_ud = ud;
}

void hm_sim_set_log_fn(hm_sim_t *s, hm_sim_log_fn fn, void *ud)
{
    s->log_fn = fn;
    s->log_ud = ud;
}

void hm_sim_set_event_fn(hm_sim_t *s, hm_sim_event_fn fn, void *ud)
{
    s->ev_fn = fn;
    s->ev_ud = ud;
}

static void set_edit(uint64_t **set, size_t *n, uint32_t a, uint32_t b, bool add)
{
    uint64_t k = (uint64_t)a << 32 | b;
    size_t i;

    for (i = 0; i < *n; i++)
        if ((*set)[i] == k) {
            if (!add)
                (*set)[i] = (*set)[--*n];
            return;
        }
    if (add) {
        uint64_t *v = realloc(*set, (*n + 1) * sizeof(*v));
        if (v == NULL)
            return;
        *set = v;
        (*set)[(*n)++] = k;
    }
}

void hm_sim_block(hm_sim_t *s, uint32_t a, uint32_t b, bool blocked)
{
    set_edit(&s->blocked, &s->nblocked, a, b, blocked);
}

void hm_sim_block_udp(hm_sim_t *s, uint32_t a, uint32_t b, bool blocked)
{
    set_edit(&s->blocked_udp, &s->nblocked_udp, a, b, blocked);
}

void hm_sim_set_group(hm_sim_t *s, uint32_t node, uint32_t group)
{
    if (node < s->nnodes)
        s->nodes[node]->group = group;
}

void hm_sim_partition(hm_sim_t *s, bool on)
{
    s->partitioned = on;
}

static hm_swim_config_t *node_base(node_t *n);

uint32_t hm_sim_add(hm_sim_t *s, const hm_swim_config_t *base)
{
    node_t *n;

    if (s->nnodes == s->nodes_cap) {
        uint32_t ncap = s->nodes_cap ? s->nodes_cap * 2 : 64;
        node_t **v = realloc(s->nodes, (size_t)ncap * sizeof(*v));
        if (v == NULL)
            return UINT32_MAX;
        s->nodes = v;
        s->nodes_cap = ncap;
    }
    n = calloc(1, sizeof(*n) + sizeof(hm_swim_config_t));
    if (n == NULL)
        return UINT32_MAX;
    n->sim = s;
    n->idx = s->nnodes;
    *node_base(n) = *base;
    s->nodes[s->nnodes++] = n;
    start_engine(s, n, base);
    return n->idx;
}

/* The base config is kept right after the node struct, for restarts. */
static hm_swim_config_t *node_base(node_t *n)
{
    return (hm_swim_config_t *)(n + 1);
}

void hm_sim_set_meta(hm_sim_t *s, uint32_t node, const uint8_t *meta, size_t len)
{
    node_t *n = s->nodes[node];
    free(n->meta);
    n->meta = NULL;
    n->meta_len = 0;
    if (len && (n->meta = malloc(len)) != NULL) {
        memcpy(n->meta, meta, len);
        n->meta_len = len;
    }
    if (n->up) {
        hm_swim_update_meta(n->eng, s->now);
        after(s, n);
    }
}

void hm_sim_join(hm_sim_t *s, uint32_t node, uint32_t target)
{
    node_t *n = s->nodes[node];
    hm_addr_t a;

    if (!n->up)
        return;
    hm_sim_addr(target, &a);
    hm_swim_join(n->eng, s->now, &a);
    after(s, n);
}

void hm_sim_leave(hm_sim_t *s, uint32_t node)
{
    node_t *n = s->nodes[node];
    if (!n->up)
        return;
    n->left = true;
    hm_swim_leave(n->eng, s->now);
    after(s, n);
}

void hm_sim_crash(hm_sim_t *s, uint32_t node)
{
    node_t *n = s->nodes[node];
    if (!n->up)
        return;
    hm_swim_free(n->eng);
    n->eng = NULL;
    n->up = false;
    n->scheduled = UINT64_MAX;
}

void hm_sim_restart(hm_sim_t *s, uint32_t node)
{
    node_t *n = s->nodes[node];
    if (n->up)
        hm_sim_crash(s, node);
    start_engine(s, n, node_base(n));
}

static void deliver(hm_sim_t *s, ev_t *e)
{
    node_t *n = s->nodes[e->to];
    hm_addr_t from;

    switch (e->type) {
    case EV_WAKE:
        if (!n->up || n->epoch != e->epoch || n->scheduled != e->when)
            return;
        n->scheduled = UINT64_MAX;
        hm_swim_tick(n->eng, s->now);
        break;
    case EV_PACKET:
        if (!n->up)
            return;
        trace(s, s->now);
        trace(s, (uint64_t)e->from << 32 | e->to);
        trace_bytes(s, e->data, e->len);
        hm_sim_addr(e->from, &from);
        hm_swim_packet(n->eng, s->now, &from, e->data, e->len);
        break;
    case EV_STREAM_OPEN: {
        node_t *c = s->nodes[e->from];
        uint32_t id;
        int rc;
        if (!n->up) {
            /* refused: the client learns it one latency later */
            push_ev(s, (ev_t){.when = s->now + latency(s, n->idx, c->idx),
                              .type = EV_STREAM_FAIL,
                              .to = c->idx,
                              .epoch = e->epoch,
                              .stream = e->stream});
            return;
        }
        trace(s, s->now ^ 0x5555);
        trace_bytes(s, e->data, e->len);
        hm_sim_addr(e->from, &from);
        id = hm_swim_stream_accept(n->eng, s->now, &from);
        s->srv_stream = id;
        s->cli_node = c->idx;
        s->cli_stream = e->stream;
        s->cli_epoch = e->epoch;
        s->cli_deadline = e->deadline;
        rc = hm_swim_stream_data(n->eng, s->now, id, e->data, e->len);
        if (rc == HM_AGAIN)
            hm_swim_stream_failed(n->eng, s->now, id, "EOF");
        after(s, n);
        if (s->srv_stream == id && id) {
            /* no reply and no close: the client times out */
            s->srv_stream = 0;
            push_ev(s, (ev_t){.when = e->deadline,
                              .type = EV_STREAM_FAIL,
                              .to = c->idx,
                              .epoch = e->epoch,
                              .stream = e->stream});
        }
        return;
    }
    case EV_STREAM_REPLY: {
        int rc;
        if (!n->up || n->epoch != e->epoch)
            return;
        if (e->deadline && s->now > e->deadline) {
            hm_swim_stream_failed(n->eng, s->now, e->stream, "i/o timeout");
            break;
        }
        trace(s, s->now ^ 0xaaaa);
        trace_bytes(s, e->data, e->len);
        rc = hm_swim_stream_data(n->eng, s->now, e->stream, e->data, e->len);
        if (rc == HM_AGAIN)
            hm_swim_stream_failed(n->eng, s->now, e->stream, "EOF");
        break;
    }
    case EV_STREAM_FAIL:
        if (!n->up || n->epoch != e->epoch)
            return;
        hm_swim_stream_failed(n->eng, s->now, e->stream, "connection failed");
        break;
    }
    after(s, n);
}

void hm_sim_run_until(hm_sim_t *s, uint64_t t)
{
    ev_t e;

    while (next_ev(s, t, &e)) {
        s->now = e.when;
        s->st.events++;
        deliver(s, &e);
        free(e.data);
    }
    if (t > s->now)
        s->now = t;
}

uint64_t hm_sim_now(const hm_sim_t *s)
{
    return s->now;
}

uint32_t hm_sim_size(const hm_sim_t *s)
{
    return s->nnodes;
}

bool hm_sim_is_up(const hm_sim_t *s, uint32_t node)
{
    return node < s->nnodes && s->nodes[node]->up;
}

hm_swim_t *hm_sim_engine(hm_sim_t *s, uint32_t node)
{
    return node < s->nnodes && s->nodes[node]->up ? s->nodes[node]->eng : NULL;
}

uint32_t hm_sim_seen_alive(const hm_sim_t *s, uint32_t node)
{
    return node < s->nnodes ? s->nodes[node]->seen_alive : 0;
}

uint32_t hm_sim_joins_ok(const hm_sim_t *s, uint32_t node)
{
    return node < s->nnodes ? s->nodes[node]->joins_ok : 0;
}

const hm_sim_stats_t *hm_sim_stats(const hm_sim_t *s)
{
    return &s->st;
}
