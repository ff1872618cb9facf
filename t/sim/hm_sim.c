/*
 * The simulator.  With one thread, pending events wait in a timing wheel
 * (the next WHEEL ms, one slot per ms) and a heap for later ones.
 *
 * Determinism does not depend on the thread count: the events of one node
 * at one time are delivered in (source node, source sequence) order, then
 * the ones the node caused for itself at that time, in the order caused;
 * each node draws latency and loss from its own PRNG, and the trace hash
 * is kept per node and combined in node order.  What two nodes do at the
 * same virtual time is independent (engines share nothing), so the order
 * in which nodes are interleaved does not matter.
 *
 * Conservative parallel simulation (T > 1 threads): every event one node
 * causes at another lies at least L = max(1, lat_min) ms in the future, so
 * within a window [t, t + L) each node's events depend on that node alone.
 * Then every node keeps its own event heap.  At the start of a window the
 * nodes of each stripe (node % T) due in it are listed, by the stripe's
 * thread or whichever comes first, and all threads take nodes from the
 * lists one at a time, their own stripe's first: uneven work does not hold
 * the window up.  Events for other nodes go to a per-thread outbox per
 * stripe, merged into the heaps when the stripe is listed for the next
 * window, which starts at the earliest pending event anywhere (every
 * thread publishes its earliest before the barrier that ends a window).
 */
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <hamlet/module.h>

#include "hm_mlwire.h"
#include "hm_pool.h"
#include "hm_sim.h"

enum ev_type { EV_WAKE, EV_PACKET, EV_STREAM_OPEN, EV_STREAM_REPLY, EV_STREAM_FAIL };

typedef struct ev {
    uint64_t when, seq; /* seq: per source node */
    uint16_t type;
    uint16_t late; /* a node's own event due at once: after the others now */
    uint32_t from; /* the node whose engine or delivery caused the event */
    uint32_t to, epoch;
    uint32_t stream; /* client-side stream id */
    uint32_t len;
    uint64_t deadline; /* streams: the client's deadline */
    uint8_t *data;
} ev_t;

/* A stream event: a push/pull, ~100 times a packet's work at 10,000
 * nodes; the nodes with one pending are served first (make_list). */
static bool heavy_event(const ev_t *e)
{
    return e->type == EV_STREAM_OPEN || e->type == EV_STREAM_REPLY;
}

typedef struct node {
    hm_swim_t *eng;
    uint64_t scheduled; /* time of the pending wake event, UINT64_MAX none */
    uint64_t rng[2];    /* this node's latency and loss draws */
    uint64_t seq;       /* events this node caused */
    uint64_t trace;     /* hash of every delivery to this node */
    uint32_t epoch, group, seen_alive, joins_ok;
    bool up, left;
    uint8_t *meta;
    size_t meta_len;
    struct hm_sim *sim;
    struct worker *cw; /* the worker serving it (callbacks report there) */
    uint32_t idx;
    /* threaded runs: pending events, heap by (when, late, from, seq) */
    ev_t *q;
    uint32_t qn, qcap;
} node_t;

typedef struct evvec {
    ev_t *v;
    size_t n, cap;
} evvec_t;

/* One slot of the wheel: the events of one millisecond, `head` the next. */
struct slot {
    ev_t *v;
    uint32_t n, cap, head;
};

typedef struct worker {
    struct hm_sim *sim;
    unsigned id;
    uint64_t now;
    uint64_t cur; /* the slot being served; no pending event is earlier */
    struct slot *wheel;
    size_t nnear;
    ev_t *heap;
    size_t nheap, heap_cap;
    hm_sim_stats_t st;
    /* the inbound stream being served (replies come out synchronously) */
    uint32_t srv_stream, cli_node, cli_stream, cli_epoch;
    uint64_t cli_deadline;
    /* threaded runs: out[parity][worker] are the events for that worker's
     * nodes caused in the current window; pub[parity] the earliest time
     * this worker will know of after it (own queue or outboxes) */
    evvec_t *out[2];
    uint64_t out_min[2];
    unsigned par;      /* the window's parity */
    uint64_t win;      /* windows run (the same on every worker) */
    uint64_t proc_min; /* earliest pending event of the nodes served */
    uint32_t *list;    /* nodes of this stripe with events in the window */
    size_t nlist, list_cap;
    size_t nheavy;                    /* list[0..nheavy): the heavy nodes (make_list) */
    _Alignas(64) _Atomic size_t take; /* next list entry to serve */
    _Atomic uint64_t list_win;        /* the window `list` is for */
    _Atomic uint64_t claim_win;       /* the window whose list is being made */
    _Alignas(64) _Atomic uint64_t pub[2];
    pthread_t th;
} worker_t;

/* A spinning barrier that sleeps on a futex when the wait gets long. */
typedef struct barrier {
    _Alignas(64) _Atomic uint32_t count;
    _Alignas(64) _Atomic uint32_t gen;
    _Atomic uint32_t sleepers;
    uint32_t n;
} barrier_t;

struct hm_sim {
    uint64_t now, seed, rng[2];
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
    bool no_trace;        /* hm_sim_set_trace(false) */
    hm_sim_stats_t *sum;  /* what hm_sim_stats returns, summed on read */
    hm_sim_stats_t carry; /* counts of workers retired by hm_sim_set_threads */
    uint64_t *next;       /* threaded: each node's earliest pending event */
    uint8_t *heavy;       /* threaded: a stream event is pending (see make_list) */
    /* workers: w[0] runs on the caller's thread, w[1..] on their own */
    worker_t **w;
    unsigned nw;
    bool running; /* inside a threaded hm_sim_run_until */
    bool quit;
    uint64_t limit, start; /* the current run's end; its first event */
    uint32_t L;            /* the window: the least latency between two nodes */
    barrier_t bar;
    uint64_t windows; /* threaded windows run (barrier crossings) */
};

/* ---- randomness and hashing -------------------------------------------- */

static uint64_t xorshift(uint64_t r[2])
{
    uint64_t a = r[0], b = r[1];
    r[0] = b;
    a ^= a << 23;
    r[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return r[1] + b;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void trace(node_t *n, uint64_t v)
{
    if (n->sim->no_trace)
        return;
    n->trace = (n->trace ^ v) * 0x100000001b3ull;
}

/* Four independent lanes of eight bytes (one multiply chain was a tenth
 * of the benchmark's time, then 3%): any change of a delivered byte still
 * changes it. */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static void trace_bytes(node_t *nd, const uint8_t *p, size_t n)
{
    uint64_t h[4] = {nd->trace ^ n, 1, 2, 3}, w[4];
    int i;

    if (nd->sim->no_trace)
        return;

    for (; n >= 32; n -= 32, p += 32) {
        memcpy(w, p, 32);
        for (i = 0; i < 4; i++)
            h[i] = mix(h[i], w[i]);
    }
    for (; n >= 8; n -= 8, p += 8) {
        memcpy(w, p, 8);
        h[0] = mix(h[0], w[0]);
    }
    w[0] = 0;
    memcpy(w, p, n);
    h[0] = mix(h[0], w[0]);
    nd->trace = mix(mix(mix(h[0], h[1]), h[2]), h[3]);
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

/* ---- barrier ------------------------------------------------------------ */

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spin a little (tens of microseconds: most waits are the end of another
 * thread's last node), then sleep: on a loaded machine the thread waited
 * for is often preempted, and spinning longer only burns the CPU it needs
 * (measured: 20000 spins cost 20-50% more wall and user time than 500 with
 * another job on one of two cores).  The last one in releases the others;
 * `sleepers` and `gen` are sequentially consistent, so either it sees a
 * sleeper or the sleeper's futex_wait sees the new generation. */
#define SPIN 2000

static void barrier_wait(barrier_t *b)
{
    uint32_t g = atomic_load(&b->gen);
    int i;

    if (atomic_fetch_add(&b->count, 1) == b->n - 1) {
        /* read-modify-writes, not stores: ThreadSanitizer then sees every
         * arrival happen before every departure (with plain stores it
         * reported races once threads served each other's stripes) */
        atomic_fetch_sub(&b->count, b->n);
        atomic_fetch_add(&b->gen, 1);
        if (atomic_load(&b->sleepers))
            futex_wake_all(&b->gen);
        return;
    }
    for (i = 0; i < SPIN; i++) {
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != g)
            return;
        cpu_relax();
    }
    atomic_fetch_add(&b->sleepers, 1);
    while (atomic_load(&b->gen) == g)
        futex_wait(&b->gen, g);
    atomic_fetch_sub(&b->sleepers, 1);
}

/* ---- event queues ------------------------------------------------------- */

/* The order of one node's events at one time; `when` first for the heap. */
static bool ev_before(const ev_t *a, const ev_t *b)
{
    if (a->when != b->when)
        return a->when < b->when;
    return a->from != b->from ? a->from < b->from : a->seq < b->seq;
}

static int ev_cmp(const void *pa, const void *pb)
{
    const ev_t *a = pa, *b = pb;
    if (a->from != b->from)
        return a->from < b->from ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool vec_push(evvec_t *q, const ev_t *e)
{
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 64;
        ev_t *v = realloc(q->v, ncap * sizeof(*v));
        if (v == NULL)
            return false;
        q->v = v;
        q->cap = ncap;
    }
    q->v[q->n++] = *e;
    return true;
}

static void far_push(worker_t *w, ev_t e)
{
    size_t i;

    if (w->nheap == w->heap_cap) {
        size_t ncap = w->heap_cap ? w->heap_cap * 2 : 1024;
        ev_t *n = realloc(w->heap, ncap * sizeof(*n));
        if (n == NULL) {
            free(e.data);
            return;
        }
        w->heap = n;
        w->heap_cap = ncap;
    }
    i = w->nheap++;
    while (i > 0 && ev_before(&e, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = e;
}

static ev_t far_pop(worker_t *w)
{
    ev_t top = w->heap[0], last = w->heap[--w->nheap];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->nheap)
            break;
        if (c + 1 < w->nheap && ev_before(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!ev_before(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->nheap)
        w->heap[i] = last;
    return top;
}

#define WHEEL 4096u

static void slot_push(struct slot *sl, ev_t e)
{
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
}

/* Into the wheel when within WHEEL ms of the current slot, else the heap. */
static void queue_push(worker_t *w, ev_t e)
{
    if (e.when < w->cur)
        e.when = w->cur; /* cannot happen: callers keep causality */
    if (e.when - w->cur >= WHEEL) {
        far_push(w, e);
        return;
    }
    slot_push(&w->wheel[e.when % WHEEL], e);
    w->nnear++;
}

/* The earliest pending time, UINT64_MAX when none. */
static uint64_t queue_next(const worker_t *w)
{
    uint64_t t = w->nheap ? w->heap[0].when : UINT64_MAX, u;

    if (w->nnear)
        for (u = w->cur; u < t; u++) {
            const struct slot *sl = &w->wheel[u % WHEEL];
            if (sl->head < sl->n)
                return u;
        }
    return t;
}

/* Make `t` the current slot: pull its events from the heap and put the
 * ones not served yet in (source, sequence) order.  Events a node causes
 * for itself at `t` while the slot is served are appended, served after. */
static struct slot *enter_slot(worker_t *w, uint64_t t)
{
    struct slot *sl = &w->wheel[t % WHEEL];
    uint32_t i;

    w->cur = t;
    while (w->nheap && w->heap[0].when == t) {
        slot_push(sl, far_pop(w));
        w->nnear++;
    }
    for (i = sl->head + 1; i < sl->n; i++)
        if (ev_cmp(&sl->v[i - 1], &sl->v[i]) > 0) {
            qsort(sl->v + sl->head, sl->n - sl->head, sizeof(ev_t), ev_cmp);
            break;
        }
    return sl;
}

/* ---- per-node heaps (threaded runs) ------------------------------------ */

/* A node's own event due at the time it is caused ("late") comes after
 * the node's other events of that time, as on the wheel, where it is
 * appended to the slot being served. */
static bool nq_before(const ev_t *a, const ev_t *b)
{
    if (a->when != b->when)
        return a->when < b->when;
    if (a->late != b->late)
        return a->late < b->late;
    return a->from != b->from ? a->from < b->from : a->seq < b->seq;
}

static void nq_push(node_t *n, ev_t e)
{
    uint32_t i;

    if (n->qn == n->qcap) {
        uint32_t ncap = n->qcap ? n->qcap * 2 : 8;
        ev_t *v = realloc(n->q, ncap * sizeof(*v));
        if (v == NULL) {
            free(e.data);
            return;
        }
        n->q = v;
        n->qcap = ncap;
    }
    i = n->qn++;
    while (i > 0 && nq_before(&e, &n->q[(i - 1) / 2])) {
        n->q[i] = n->q[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    n->q[i] = e;
}

static ev_t nq_pop(node_t *n)
{
    ev_t top = n->q[0], last = n->q[--n->qn];
    uint32_t i = 0;

    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n->qn)
            break;
        if (c + 1 < n->qn && nq_before(&n->q[c + 1], &n->q[c]))
            c++;
        if (!nq_before(&n->q[c], &last))
            break;
        n->q[i] = n->q[c];
        i = c;
    }
    if (n->qn)
        n->q[i] = last;
    return top;
}

static uint64_t nq_next(const node_t *n)
{
    return n->qn ? n->q[0].when : UINT64_MAX;
}

/* Queue an event caused by node `src`, served by w.  An event for another
 * node is at least L ms away (causality between windows); one for the node
 * itself may be due now. */
static void push_ev(worker_t *w, node_t *src, ev_t e)
{
    hm_sim_t *s = w->sim;
    uint64_t min = e.to == src->idx ? w->now : w->now + s->L;
    node_t *d;
    unsigned par;

    e.from = src->idx;
    e.seq = src->seq++;
    if (e.when < min)
        e.when = min;
    if (s->nw == 1) {
        queue_push(w, e);
        return;
    }
    d = s->nodes[e.to];
    if (d == src || !s->running) {
        /* the node is ours while we serve it; between runs all are */
        e.late = s->running && e.when == w->now;
        nq_push(d, e);
        if (!s->running && e.when < s->next[e.to])
            s->next[e.to] = e.when;
        return;
    }
    par = w->par;
    if (!vec_push(&w->out[par][e.to % s->nw], &e)) {
        free(e.data);
        return;
    }
    if (e.when < w->out_min[par])
        w->out_min[par] = e.when;
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

/* Drawn from the sender's PRNG (push_ev raises it to at least L). */
static uint32_t latency(hm_sim_t *s, node_t *from, uint32_t to)
{
    uint32_t span = s->lat_max - s->lat_min + 1;

    if (s->lat_fn)
        return s->lat_fn(s->lat_ud, from->idx, to, xorshift(from->rng));
    return s->lat_min + (uint32_t)((xorshift(from->rng) >> 33) % span);
}

/* ---- engine plumbing ---------------------------------------------------- */

static void schedule(worker_t *w, node_t *n)
{
    uint64_t d;

    if (!n->up)
        return;
    d = hm_swim_next_deadline(n->eng);
    if (d < w->now)
        d = w->now;
    if (d < n->scheduled) {
        n->scheduled = d;
        push_ev(w, n, (ev_t){.when = d, .type = EV_WAKE, .to = n->idx, .epoch = n->epoch});
    }
}

static void send_packet(worker_t *w, node_t *n, hm_swim_out_t *o)
{
    hm_sim_t *s = w->sim;
    int to = hm_sim_node_of(&o->to);

    w->st.packets++;
    w->st.bytes += o->data.len;
    if (to < 0 || (uint32_t)to >= s->nnodes) {
        w->st.blocked++;
    } else if (!link_ok(s, n->idx, (uint32_t)to) ||
               (s->nblocked_udp && in_set(s->blocked_udp, s->nblocked_udp, n->idx, (uint32_t)to))) {
        w->st.blocked++;
    } else if (s->loss > 0 && (double)(xorshift(n->rng) >> 11) / 9007199254740992.0 < s->loss) {
        w->st.lost++;
    } else {
        push_ev(w, n,
                (ev_t){.when = w->now + latency(s, n, (uint32_t)to),
                       .type = EV_PACKET,
                       .to = (uint32_t)to,
                       .len = (uint32_t)o->data.len,
                       .data = o->data.data});
        o->data.data = NULL;
    }
}

static void open_stream(worker_t *w, node_t *n, hm_swim_out_t *o)
{
    hm_sim_t *s = w->sim;
    int to = hm_sim_node_of(&o->to);

    w->st.streams++;
    w->st.push_pulls += o->data.len && o->data.data[0] == HM_ML_PUSH_PULL;
    if (to < 0 || (uint32_t)to >= s->nnodes || !link_ok(s, n->idx, (uint32_t)to)) {
        push_ev(w, n,
                (ev_t){.when = o->deadline_ms > w->now ? o->deadline_ms : w->now,
                       .type = EV_STREAM_FAIL,
                       .to = n->idx,
                       .epoch = n->epoch,
                       .stream = o->stream_id});
    } else {
        push_ev(w, n,
                (ev_t){.when = w->now + latency(s, n, (uint32_t)to),
                       .type = EV_STREAM_OPEN,
                       .to = (uint32_t)to,
                       .epoch = n->epoch,
                       .stream = o->stream_id,
                       .deadline = o->deadline_ms,
                       .len = (uint32_t)o->data.len,
                       .data = o->data.data});
        o->data.data = NULL;
    }
}

/* The server side of the stream being served answers (or closes). */
static void answer_stream(worker_t *w, node_t *n, hm_swim_out_t *o)
{
    hm_sim_t *s = w->sim;

    if (o->stream_id != w->srv_stream || !w->srv_stream)
        return;
    w->srv_stream = 0;
    if (o->type == HM_SWIM_STREAM_CLOSE) {
        /* closed without a reply: the client reads EOF */
        push_ev(w, n,
                (ev_t){.when = w->now + latency(s, n, w->cli_node),
                       .type = EV_STREAM_FAIL,
                       .to = w->cli_node,
                       .epoch = w->cli_epoch,
                       .stream = w->cli_stream});
    } else if (!link_ok(s, n->idx, w->cli_node)) {
        push_ev(w, n,
                (ev_t){.when = w->cli_deadline,
                       .type = EV_STREAM_FAIL,
                       .to = w->cli_node,
                       .epoch = w->cli_epoch,
                       .stream = w->cli_stream});
    } else {
        push_ev(w, n,
                (ev_t){.when = w->now + latency(s, n, w->cli_node),
                       .type = EV_STREAM_REPLY,
                       .to = w->cli_node,
                       .epoch = w->cli_epoch,
                       .stream = w->cli_stream,
                       .deadline = w->cli_deadline,
                       .len = (uint32_t)o->data.len,
                       .data = o->data.data});
        o->data.data = NULL;
    }
}

static void drain(worker_t *w, node_t *n)
{
    hm_swim_out_t o;

    while (n->up && hm_swim_poll(n->eng, &o)) {
        switch (o.type) {
        case HM_SWIM_SEND_PACKET:
            send_packet(w, n, &o);
            break;
        case HM_SWIM_STREAM_OPEN:
            open_stream(w, n, &o);
            break;
        case HM_SWIM_STREAM_REPLY:
        case HM_SWIM_STREAM_CLOSE:
            answer_stream(w, n, &o);
            break;
        }
        hm_buf_free(&o.data);
    }
}

static void after(worker_t *w, node_t *n)
{
    drain(w, n);
    schedule(w, n);
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

/* Delegate callbacks run on the worker serving the node (n->cw). */
static void d_join(void *ud, const hm_swim_node_t *m)
{
    node_t *n = ud;
    hm_sim_t *s = n->sim;

    n->seen_alive++;
    if (s->ev_fn)
        s->ev_fn(s->ev_ud, n->idx, HM_SIM_JOIN, m, n->cw->now);
}

static void d_leave(void *ud, const hm_swim_node_t *m)
{
    node_t *n = ud;
    hm_sim_t *s = n->sim;
    worker_t *w = n->cw;
    int who = name_index(m->name);

    if (n->seen_alive)
        n->seen_alive--;
    /* up and left change only between runs: safe to read from any worker */
    if (m->state == HM_ML_STATE_DEAD && who >= 0 && (uint32_t)who < s->nnodes &&
        s->nodes[who]->up && !s->nodes[who]->left)
        w->st.false_failures++;
    if (s->ev_fn)
        s->ev_fn(s->ev_ud, n->idx, HM_SIM_LEAVE, m, w->now);
}

static void d_update(void *ud, const hm_swim_node_t *m)
{
    node_t *n = ud;
    hm_sim_t *s = n->sim;

    if (s->ev_fn)
        s->ev_fn(s->ev_ud, n->idx, HM_SIM_UPDATE, m, n->cw->now);
}

static void d_log(void *ud, hm_log_level_t level, const char *msg)
{
    node_t *n = ud;
    hm_sim_t *s = n->sim;

    if (s->log_fn)
        s->log_fn(s->log_ud, n->idx, n->cw->now, level, msg);
}

static size_t d_meta(void *ud, uint8_t *buf, size_t limit)
{
    node_t *n = ud;
    size_t l = n->meta_len < limit ? n->meta_len : limit;
    if (l)
        memcpy(buf, n->meta, l);
    return l;
}

static void d_stream_done(void *ud, uint32_t id, bool ok, const char *err)
{
    node_t *n = ud;
    if (ok)
        n->joins_ok++;
    else
        n->cw->st.streams_failed++;
}

static void start_engine(hm_sim_t *s, node_t *n, const hm_swim_config_t *base)
{
    hm_swim_config_t c = *base;
    hm_swim_delegate_t d = {0};
    char name[16];

    snprintf(name, sizeof(name), "n%u", n->idx);
    c.name = name;
    hm_sim_addr(n->idx, &c.addr);
    c.seed = xorshift(s->rng);
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
    n->cw = s->w[0];
    n->eng = hm_swim_new(&c, &d, s->now);
    if (n->eng == NULL) {
        n->up = false;
        return;
    }
    after(n->cw, n);
}

/* ---- delivery ----------------------------------------------------------- */

static void deliver_stream_open(worker_t *w, node_t *n, ev_t *e)
{
    hm_sim_t *s = w->sim;
    hm_addr_t from;
    uint32_t id;
    int rc;

    if (!n->up) {
        /* refused: the client learns it one latency later */
        push_ev(w, n,
                (ev_t){.when = w->now + latency(s, n, e->from),
                       .type = EV_STREAM_FAIL,
                       .to = e->from,
                       .epoch = e->epoch,
                       .stream = e->stream});
        return;
    }
    trace(n, w->now ^ 0x5555);
    trace_bytes(n, e->data, e->len);
    hm_sim_addr(e->from, &from);
    id = hm_swim_stream_accept(n->eng, w->now, &from);
    w->srv_stream = id;
    w->cli_node = e->from;
    w->cli_stream = e->stream;
    w->cli_epoch = e->epoch;
    w->cli_deadline = e->deadline;
    rc = hm_swim_stream_data(n->eng, w->now, id, e->data, e->len);
    if (rc == HM_AGAIN)
        hm_swim_stream_failed(n->eng, w->now, id, "EOF");
    after(w, n);
    if (w->srv_stream == id && id) {
        /* no reply and no close: the client times out */
        w->srv_stream = 0;
        push_ev(w, n,
                (ev_t){.when = e->deadline,
                       .type = EV_STREAM_FAIL,
                       .to = e->from,
                       .epoch = e->epoch,
                       .stream = e->stream});
    }
}

static void deliver(worker_t *w, ev_t *e)
{
    node_t *n = w->sim->nodes[e->to];
    hm_addr_t from;
    int rc;

    n->cw = w;
    switch (e->type) {
    case EV_WAKE:
        if (!n->up || n->epoch != e->epoch || n->scheduled != e->when)
            return;
        n->scheduled = UINT64_MAX;
        hm_swim_tick(n->eng, w->now);
        break;
    case EV_PACKET:
        if (!n->up)
            return;
        trace(n, w->now);
        trace(n, (uint64_t)e->from << 32 | e->to);
        trace_bytes(n, e->data, e->len);
        hm_sim_addr(e->from, &from);
        hm_swim_packet(n->eng, w->now, &from, e->data, e->len);
        break;
    case EV_STREAM_OPEN:
        deliver_stream_open(w, n, e);
        return;
    case EV_STREAM_REPLY:
        if (!n->up || n->epoch != e->epoch)
            return;
        if (e->deadline && w->now > e->deadline) {
            hm_swim_stream_failed(n->eng, w->now, e->stream, "i/o timeout");
            break;
        }
        trace(n, w->now ^ 0xaaaa);
        trace_bytes(n, e->data, e->len);
        rc = hm_swim_stream_data(n->eng, w->now, e->stream, e->data, e->len);
        if (rc == HM_AGAIN)
            hm_swim_stream_failed(n->eng, w->now, e->stream, "EOF");
        break;
    case EV_STREAM_FAIL:
        if (!n->up || n->epoch != e->epoch)
            return;
        hm_swim_stream_failed(n->eng, w->now, e->stream, "connection failed");
        break;
    }
    after(w, n);
}

/* Serve w's events due before `end`. */
static void serve(worker_t *w, uint64_t start, uint64_t end)
{
    if (w->cur < start)
        w->cur = start; /* `start` is the earliest pending event anywhere */
    for (;;) {
        uint64_t t = queue_next(w);
        struct slot *sl;

        if (t >= end)
            break;
        sl = enter_slot(w, t);
        w->now = t;
        while (sl->head < sl->n) {
            ev_t e = sl->v[sl->head++];
            w->nnear--;
            w->st.events++;
            deliver(w, &e);
            free(e.data);
        }
        sl->head = sl->n = 0;
    }
}

/* Serve node n's events due before `end` (it is ours alone meanwhile). */
static void serve_node(worker_t *w, node_t *n, uint64_t end)
{
    uint64_t next;

    while (n->qn && n->q[0].when < end) {
        ev_t e = nq_pop(n);
        w->now = e.when;
        w->st.events++;
        if (heavy_event(&e))
            w->sim->heavy[n->idx] = 0;
        deliver(w, &e);
        free(e.data);
    }
    next = nq_next(n);
    w->sim->next[n->idx] = next;
    if (next < w->proc_min)
        w->proc_min = next;
}

/* The nodes of w's stripe with events before `end` into w->list; returns
 * the earliest pending event of the others.  Nodes with a stream event
 * pending go first: a push/pull at 10,000 nodes takes 0.5-0.7 ms, a
 * hundred times a packet, and one started last held the window up while
 * the other thread waited at the barrier. */
static uint64_t make_list(worker_t *w, uint64_t end)
{
    hm_sim_t *s = w->sim;
    uint64_t rest = UINT64_MAX;
    uint32_t i, nheavy = 0;

    w->nlist = 0;
    for (i = w->id; i < s->nnodes; i += s->nw) {
        uint64_t t = s->next[i];
        if (t >= end) {
            rest = t < rest ? t : rest;
            continue;
        }
        if (w->nlist == w->list_cap) {
            size_t ncap = w->list_cap ? w->list_cap * 2 : 256;
            uint32_t *v = realloc(w->list, ncap * sizeof(*v));
            if (v == NULL)
                abort(); /* a lost node would make the run depend on luck */
            w->list = v;
            w->list_cap = ncap;
        }
        if (s->heavy[i]) {
            w->list[w->nlist++] = w->list[nheavy];
            w->list[nheavy++] = i;
        } else {
            w->list[w->nlist++] = i;
        }
    }
    w->nheavy = nheavy;
    return rest;
}

/* As hm_prefetch in the engine: the empty asm keeps GCC from dropping it. */
static inline void sim_prefetch(const void *p)
{
    __asm__ volatile("" : : "r"(p));
    __builtin_prefetch(p);
}

/* Start loading node n's state, step by step (see hm_swim_warm): each
 * step reads only what the step before fetched. */
static void warm(node_t *n, unsigned step)
{
    if (step == 0) {
        sim_prefetch(n);
    } else if (n->up && n->eng) {
        if (step == 1)
            sim_prefetch(n->q);
        if (step == 2 && n->qn)
            sim_prefetch(n->q[0].data);
        hm_swim_warm(n->eng, step - 1);
    }
}

#define WARM_STEPS (1 + HM_SWIM_WARM_LEVELS)
#define HELD (4 * WARM_STEPS)

/* How many nodes of o's list to take at once, and to hold ahead:
 * WARM_STEPS while plenty are left, fewer near its end, so that the
 * threads run out of nodes together instead of one waiting at the
 * barrier while the other serves the 8 to 16 nodes it holds.  The heavy
 * nodes at the head of the list are taken one at a time, none held
 * ahead: two of them in one thread's hands made the other wait. */
static size_t tail_chunk(const worker_t *w, worker_t *o, bool ahead)
{
    size_t t = atomic_load_explicit(&o->take, memory_order_relaxed);
    size_t rem = t < o->nlist ? o->nlist - t : 0, c = rem / (2 * w->sim->nw);

    if (t < o->nheavy)
        return ahead ? 0 : 1;
    return c < 1 ? 1 : c > WARM_STEPS ? WARM_STEPS : c;
}

/* Serve the nodes of o's list that we take, up to WARM_STEPS at a time
 * (tail_chunk): while one is served, the next ones (ours alone: nobody
 * else serves them) are warmed, the k-th next at step WARM_STEPS - k, so
 * the dependent cache misses at the start of each delivery overlap
 * across nodes instead of being paid one after another. */
static void serve_held(worker_t *w, worker_t *o, uint64_t end)
{
    hm_sim_t *s = w->sim;
    uint32_t held[HELD];
    size_t pos = 0, nh = 0, d;
    bool more = true;

    for (;;) {
        while (more && nh - pos <= tail_chunk(w, o, true)) {
            size_t c = tail_chunk(w, o, false), j = atomic_fetch_add(&o->take, c), k;
            if (j >= o->nlist)
                more = false;
            for (k = j; k < j + c && k < o->nlist; k++)
                held[nh++ % HELD] = o->list[k];
        }
        if (pos == nh)
            return;
        for (d = 1; d <= WARM_STEPS && pos + d < nh; d++)
            warm(s->nodes[held[(pos + d) % HELD]], (unsigned)(WARM_STEPS - d));
        serve_node(w, s->nodes[held[pos++ % HELD]], end);
    }
}

/* Serve the nodes listed by o for this window, as many as we get first. */
static void serve_list(worker_t *w, worker_t *o, uint64_t end)
{
    int spins = 0;

    while (atomic_load_explicit(&o->list_win, memory_order_acquire) != w->win)
        if (++spins % 1024 == 0)
            sched_yield(); /* its maker was preempted */
        else
            cpu_relax();
    serve_held(w, o, end);
}

/* Put the events all workers caused for o's stripe in window parity `par`
 * into its nodes' heaps (nobody serves them meanwhile). */
static void merge(worker_t *o, unsigned par)
{
    hm_sim_t *s = o->sim;
    unsigned i;
    size_t j;

    for (i = 0; i < s->nw; i++) {
        evvec_t *q = &s->w[i]->out[par][o->id];
        for (j = 0; j < q->n; j++) {
            uint32_t to = q->v[j].to;
            if (q->v[j].when < s->next[to])
                s->next[to] = q->v[j].when;
            if (heavy_event(&q->v[j]))
                s->heavy[to] = 1;
            nq_push(s->nodes[to], q->v[j]);
        }
        q->n = 0;
    }
}

/* One worker's part of a threaded run: windows [ws, ws + L) until the
 * earliest pending event is past the limit.  Each stripe's list is made
 * (last window's events merged, nodes due listed) by whoever claims it
 * first, its owner unless that one is late (say, still waking up from the
 * barrier), and served by all.  Every worker computes the same ws from
 * what all published, so all stop after the same window. */
static void run_windows(worker_t *w)
{
    hm_sim_t *s = w->sim;
    uint64_t ws = s->start, we, rest, pub;
    unsigned i, par;

    while (ws <= s->limit) {
        par = w->par;
        we = s->limit - ws < s->L ? s->limit + 1 : ws + s->L;
        w->out_min[par] = w->proc_min = rest = UINT64_MAX;
        for (i = 0; i < s->nw; i++) {
            worker_t *o = s->w[(w->id + i) % s->nw];
            if (atomic_exchange(&o->claim_win, w->win) != w->win) {
                uint64_t r;
                merge(o, par ^ 1);
                r = make_list(o, we);
                rest = r < rest ? r : rest;
                atomic_store(&o->take, 0);
                atomic_store_explicit(&o->list_win, w->win, memory_order_release);
            }
            serve_list(w, o, we);
        }
        pub = rest < w->proc_min ? rest : w->proc_min;
        atomic_store(&w->pub[par], pub < w->out_min[par] ? pub : w->out_min[par]);
        barrier_wait(&s->bar);
        for (ws = UINT64_MAX, i = 0; i < s->nw; i++) {
            uint64_t p = atomic_load(&s->w[i]->pub[par]);
            ws = p < ws ? p : ws;
        }
        w->par = par ^ 1;
        w->win++;
        if (w->id == 0)
            s->windows++;
    }
    merge(w, w->par ^ 1); /* the last window's events, before the run ends */
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    hm_sim_t *s = w->sim;

    for (;;) {
        barrier_wait(&s->bar); /* a run starts (or the simulator goes) */
        if (s->quit)
            return NULL;
        run_windows(w);
        barrier_wait(&s->bar); /* every merge done: the caller may go on */
    }
}

/* ---- workers ------------------------------------------------------------ */

static void worker_free(worker_t *w, unsigned nw)
{
    size_t j;
    unsigned p, i;

    if (w == NULL)
        return;
    for (j = 0; j < w->nheap; j++)
        free(w->heap[j].data);
    free(w->heap);
    for (j = 0; w->wheel && j < WHEEL; j++) {
        uint32_t k;
        for (k = w->wheel[j].head; k < w->wheel[j].n; k++)
            free(w->wheel[j].v[k].data);
        free(w->wheel[j].v);
    }
    free(w->wheel);
    for (p = 0; p < 2; p++) {
        for (i = 0; w->out[p] && i < nw; i++) {
            for (j = 0; j < w->out[p][i].n; j++)
                free(w->out[p][i].v[j].data);
            free(w->out[p][i].v);
        }
        free(w->out[p]);
    }
    free(w->list);
    free(w);
}

static worker_t *worker_new(hm_sim_t *s, unsigned id, unsigned nw)
{
    worker_t *w = aligned_alloc(64, (sizeof(worker_t) + 63) / 64 * 64);

    if (w == NULL)
        return NULL;
    memset(w, 0, sizeof(*w));
    w->sim = s;
    w->id = id;
    w->now = w->cur = s->now;
    w->list_win = w->claim_win = UINT64_MAX;
    w->wheel = calloc(WHEEL, sizeof(*w->wheel));
    w->out[0] = calloc(nw, sizeof(evvec_t));
    w->out[1] = calloc(nw, sizeof(evvec_t));
    if (w->wheel == NULL || w->out[0] == NULL || w->out[1] == NULL) {
        worker_free(w, nw);
        return NULL;
    }
    return w;
}

static void add_stats(hm_sim_stats_t *a, const hm_sim_stats_t *b)
{
    a->events += b->events;
    a->packets += b->packets;
    a->bytes += b->bytes;
    a->lost += b->lost;
    a->blocked += b->blocked;
    a->streams += b->streams;
    a->streams_failed += b->streams_failed;
    a->push_pulls += b->push_pulls;
    a->false_failures += b->false_failures;
}

static void stop_threads(hm_sim_t *s)
{
    unsigned i;

    if (s->nw < 2)
        return;
    s->quit = true;
    barrier_wait(&s->bar);
    for (i = 1; i < s->nw; i++)
        pthread_join(s->w[i]->th, NULL);
    s->quit = false;
}

/* Pending events move to their new places with their (time, source,
 * sequence) keys, so the run goes on as if nothing happened. */
static void take_events(worker_t *w, evvec_t *all)
{
    size_t j;

    while (w->nheap) {
        ev_t e = far_pop(w);
        if (!vec_push(all, &e))
            free(e.data);
    }
    for (j = 0; j < WHEEL; j++) {
        struct slot *sl = &w->wheel[j];
        for (; sl->head < sl->n; sl->head++)
            if (!vec_push(all, &sl->v[sl->head]))
                free(sl->v[sl->head].data);
        sl->head = sl->n = 0;
    }
    w->nnear = 0;
}

static bool set_workers(hm_sim_t *s, unsigned nw)
{
    worker_t **v = calloc(nw, sizeof(*v));
    evvec_t all = {0};
    unsigned i;
    size_t j;

    if (v == NULL)
        return false;
    for (i = 0; i < nw; i++)
        if ((v[i] = worker_new(s, i, nw)) == NULL) {
            while (i--)
                worker_free(v[i], nw);
            free(v);
            return false;
        }
    stop_threads(s);
    for (i = 0; i < s->nw; i++) {
        take_events(s->w[i], &all);
        add_stats(&s->carry, &s->w[i]->st);
        worker_free(s->w[i], s->nw);
    }
    for (i = 0; i < s->nnodes; i++) {
        node_t *n = s->nodes[i];
        while (n->qn) {
            ev_t e = nq_pop(n);
            if (!vec_push(&all, &e))
                free(e.data);
        }
        s->next[i] = UINT64_MAX;
        n->cw = v[0];
    }
    free(s->w);
    s->w = v;
    s->nw = nw;
    for (j = 0; j < all.n; j++) {
        ev_t e = all.v[j];
        e.late = 0; /* none is pending between runs */
        if (nw == 1) {
            queue_push(v[0], e);
        } else {
            if (e.when < s->next[e.to])
                s->next[e.to] = e.when;
            nq_push(s->nodes[e.to], e);
        }
    }
    free(all.v);
    s->bar.n = nw;
    for (i = 1; i < nw; i++)
        if (pthread_create(&v[i]->th, NULL, worker_main, v[i]) != 0) {
            /* run on fewer threads: keep the nodes, fold the rest back */
            fprintf(stderr, "hm_sim: pthread_create failed, staying single-threaded\n");
            s->nw = i;
            s->bar.n = i;
            stop_threads(s);
            s->nw = nw;
            return set_workers(s, 1);
        }
    return true;
}

/* ---- public API ------------------------------------------------------ */

hm_sim_t *hm_sim_new(uint64_t seed)
{
    hm_sim_t *s = calloc(1, sizeof(*s));
    uint64_t x = seed;

    if (s == NULL)
        return NULL;
    /* Thousands of engines in one process.  The engines' long-lived
     * arrays are pools (core/hm_pool.c: own mappings grown by mremap,
     * tails untouched); the rest, notably the push/pull buffers of ~1 MB
     * at 10,000 nodes that live for one delivery, come from the heap,
     * where freed memory is reused.  With glibc's 128 KiB mmap threshold
     * each such buffer was a fresh mapping, faulted in page by page and
     * unmapped; with a fixed threshold the trim threshold stays 128 KiB,
     * so the heap top went back to the kernel and was faulted in again.
     * 10,000 nodes: 9.1M page faults before, 3.5M now.  32 MiB is the
     * largest mmap threshold glibc accepts. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    /* The node records, read at random, on huge pages (hm_pool.h). */
    hm_pool_set_huge(true);
    s->seed = seed;
    s->rng[0] = splitmix(&x);
    s->rng[1] = splitmix(&x);
    s->lat_min = 1;
    s->lat_max = 5;
    s->sum = calloc(1, sizeof(*s->sum));
    if (s->sum == NULL || !set_workers(s, 1)) {
        free(s->sum);
        free(s);
        return NULL;
    }
    return s;
}

void hm_sim_free(hm_sim_t *s)
{
    uint32_t i;

    if (s == NULL)
        return;
    stop_threads(s);
    for (i = 0; i < s->nw; i++)
        worker_free(s->w[i], s->nw);
    free(s->w);
    for (i = 0; i < s->nnodes; i++) {
        node_t *n = s->nodes[i];
        hm_swim_free(n->eng);
        while (n->qn)
            free(nq_pop(n).data);
        free(n->q);
        free(n->meta);
        free(n);
    }
    free(s->nodes);
    free(s->next);
    free(s->heavy);
    free(s->blocked);
    free(s->blocked_udp);
    free(s->sum);
    free(s);
}

void hm_sim_set_threads(hm_sim_t *s, unsigned n)
{
    if (n == 0)
        n = 1;
    if (n > 1024)
        n = 1024;
    if (n != s->nw)
        set_workers(s, n);
}

unsigned hm_sim_threads(const hm_sim_t *s)
{
    return s->nw;
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
    uint64_t x;

    if (s->nnodes == s->nodes_cap) {
        uint32_t ncap = s->nodes_cap ? s->nodes_cap * 2 : 64;
        node_t **v = realloc(s->nodes, (size_t)ncap * sizeof(*v));
        uint64_t *nx;
        uint8_t *hv;
        if (v == NULL)
            return UINT32_MAX;
        s->nodes = v;
        nx = realloc(s->next, (size_t)ncap * sizeof(*nx));
        if (nx == NULL)
            return UINT32_MAX;
        s->next = nx;
        hv = realloc(s->heavy, ncap);
        if (hv == NULL)
            return UINT32_MAX;
        s->heavy = hv;
        s->nodes_cap = ncap;
    }
    n = calloc(1, sizeof(*n) + sizeof(hm_swim_config_t));
    if (n == NULL)
        return UINT32_MAX;
    n->sim = s;
    n->idx = s->nnodes;
    s->next[n->idx] = UINT64_MAX;
    s->heavy[n->idx] = 0;
    x = s->seed ^ ((uint64_t)n->idx * 0xd1b54a32d192ed03ull);
    n->rng[0] = splitmix(&x);
    n->rng[1] = splitmix(&x);
    n->trace = 0xcbf29ce484222325ull;
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
        n->cw = s->w[0];
        hm_swim_update_meta(n->eng, s->now);
        after(n->cw, n);
    }
}

void hm_sim_join(hm_sim_t *s, uint32_t node, uint32_t target)
{
    node_t *n = s->nodes[node];
    hm_addr_t a;

    if (!n->up)
        return;
    hm_sim_addr(target, &a);
    n->cw = s->w[0];
    hm_swim_join(n->eng, s->now, &a);
    after(n->cw, n);
}

void hm_sim_leave(hm_sim_t *s, uint32_t node)
{
    node_t *n = s->nodes[node];
    if (!n->up)
        return;
    n->left = true;
    n->cw = s->w[0];
    hm_swim_leave(n->eng, s->now);
    after(n->cw, n);
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

void hm_sim_run_until(hm_sim_t *s, uint64_t t)
{
    uint64_t start = UINT64_MAX;
    unsigned i;

    s->L = s->lat_min > 1 ? s->lat_min : 1;
    if (s->nw == 1) {
        serve(s->w[0], 0, t == UINT64_MAX ? t : t + 1);
    } else {
        for (i = 0; i < s->nnodes; i++)
            start = s->next[i] < start ? s->next[i] : start;
        if (start <= t) {
            s->limit = t == UINT64_MAX ? t - 1 : t;
            s->start = start;
            s->running = true;
            barrier_wait(&s->bar);
            run_windows(s->w[0]);
            barrier_wait(&s->bar);
            s->running = false;
        }
    }
    if (t > s->now)
        s->now = t;
    for (i = 0; i < s->nw; i++)
        s->w[i]->now = s->now;
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

void hm_sim_set_trace(hm_sim_t *sim, bool on)
{
    sim->no_trace = !on;
}

uint64_t hm_sim_windows(const hm_sim_t *s)
{
    return s->windows;
}

/* Counters summed over the workers; the trace hash folds the nodes' own
 * hashes in node order, so neither depends on the thread count. */
const hm_sim_stats_t *hm_sim_stats(const hm_sim_t *s)
{
    hm_sim_stats_t *st = s->sum;
    uint32_t i;

    *st = s->carry;
    for (i = 0; i < s->nw; i++)
        add_stats(st, &s->w[i]->st);
    st->trace_hash = 0xcbf29ce484222325ull;
    for (i = 0; i < s->nnodes; i++)
        st->trace_hash = (st->trace_hash ^ s->nodes[i]->trace) * 0x100000001b3ull;
    return st;
}
