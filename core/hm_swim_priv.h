/*
 * Engine internals shared by hm_swim*.c.  Not an interface: only the
 * engine's own files include it.
 */
#ifndef HM_SWIM_PRIV_H
#define HM_SWIM_PRIV_H

#include <hamlet/module.h>

#include "hm_bcast_int.h"
#include "hm_pool.h"
#include "hm_mlwire.h"
#include "hm_swim.h"

#define HM_SWIM_META_MAX 512
#define HM_SWIM_MAX_PARTS 255

/* One known node, in 32 bytes: a lookup touches the hash slot and this
 * record only (names shorter than 8 bytes are inline).  At 10,000
 * simulated nodes the records of all engines are 100 million: their size
 * is most of the simulator's memory, and its page faults and TLB misses
 * most of its time, so what is rarely needed lives beside them, indexed
 * by record: an IPv6 address (s->v6), meta and the suspicion (s->ext),
 * both allocated on first use; Vsn is an index into the engine's table of
 * the few distinct version tuples.  Records live in chunks of
 * HM_REC_CHUNK with stable indices (0 = none) so the broadcast queue and
 * suspicion timers can refer to them; the probe order is a separate array
 * of indices, like memberlist's m.nodes.  Chunks, not one array: they
 * never move or grow, so in the simulator they come from one pool on
 * huge pages (hm_pool_chunk_new), where 10,000 engines' records share a
 * TLB entry per 2 MB instead of one per 4 KB page. */
#define HM_REC_INLINE_NAME 8
typedef struct hm_rec {
    union {
        char in[HM_REC_INLINE_NAME]; /* name_len < 8: NUL-terminated here */
        const char *p;               /* else in the engine's string arena */
    } nm;
    uint32_t inc;   /* free records: the next free one */
    uint32_t bc;    /* broadcast queue handle, 0 none */
    uint32_t sc_lo; /* state change time (ms), bits 0-31 */
    uint8_t ip4[4];
    uint16_t port;
    uint16_t name_len; /* 0: a free record */
    uint8_t sc_hi;     /* bits 32-39: the time wraps every 34 years */
    uint8_t state;
    uint8_t vsn;   /* index in s->vsns; 0: none given */
    uint8_t flags; /* REC_A4, REC_A16, REC_META */
} hm_rec_t;

_Static_assert(sizeof(hm_rec_t) == 32, "two records a cache line");

#define HM_REC_CHUNK_SHIFT 11
#define HM_REC_CHUNK (1u << HM_REC_CHUNK_SHIFT) /* 2048 records: HM_POOL_CHUNK bytes */
_Static_assert(sizeof(hm_rec_t) * HM_REC_CHUNK == HM_POOL_CHUNK,
               "a chunk of records, a pool chunk");

#define REC_A4 1u   /* an IPv4 address in ip4 */
#define REC_A16 2u  /* an IPv6 address in s->v6[record] */
#define REC_META 4u /* meta in s->ext[record] */

#define REC_NAME(r) ((r)->name_len < HM_REC_INLINE_NAME ? (r)->nm.in : (r)->nm.p)
#define REC_IN_USE(r) ((r)->name_len != 0)

/* The side entry of a record (see hm_rec_t). */
typedef struct hm_rec_ext {
    uint8_t *meta; /* malloc'ed when REC_META */
    uint32_t meta_len;
    uint32_t susp; /* suspicion slot, 0 none; only while suspect */
} hm_rec_ext_t;

#define HM_SWIM_VSNS 256

typedef struct hm_susp {
    uint32_t rec, k, n, gen;
    uint32_t verify; /* nonzero: the timed-out suspicion is being checked */
    uint32_t vpeer;  /* its push/pull with a peer in flight, 0 none */
    uint32_t vself;  /* its push/pull with the suspect itself in flight, 0 none */
    bool rearmed;    /* given a second period once: we could not reach it */
    bool self_lost;  /* the push/pull with it went unanswered until its deadline */
    uint32_t newer;  /* highest incarnation accused since, when above ours */
    uint64_t min, max, start, deadline;
    char **seen; /* accusers: at most k + 1 */
    uint32_t nseen;
} hm_susp_t;

/* Timer heap entries: suspicion deadlines (checked against gen). */
typedef struct hm_timer {
    uint64_t when;
    uint32_t susp, gen;
} hm_timer_t;

/* An indirect-ping request we are serving for another node. */
typedef struct hm_helper {
    uint32_t local_seq, req_seq;
    hm_addr_t reply_to;
    uint64_t deadline;
    bool nack;
} hm_helper_t;

enum hm_stream_kind { ST_FREE, ST_PUSH_PULL, ST_PING, ST_IN };

/* memberlist maxPushPullRequests: an inbound push/pull is refused while
 * this many, itself included, are being read. */
#define HM_SWIM_MAX_PUSH_PULL_IN 128

typedef struct hm_stream {
    uint32_t id;
    uint8_t kind;
    bool join;
    bool pp_in;   /* inbound push/pull being read: counted in pp_pending */
    uint32_t seq; /* fallback ping */
} hm_stream_t;

typedef struct hm_probe {
    bool active, acked, indirect_sent, pending_tick;
    uint32_t seq, rec, expected_nacks, nacks, tcp_stream;
    bool tcp_ok;
    uint64_t sent, timeout_at, end_at;
} hm_probe_t;

/* A push/pull in flight that checks timed-out suspicions (hm_swim.c
 * verify_*): the suspicions wait on it by stream id. */
#define HM_SWIM_VERIFY_STREAMS 4
#define HM_SWIM_RECENT_OK 4
typedef struct hm_verify {
    uint32_t stream, peer;
    bool self; /* to the suspect `peer` itself */
    uint64_t deadline;
} hm_verify_t;

typedef struct hm_arena_chunk {
    struct hm_arena_chunk *next;
    size_t used, cap;
    char data[];
} hm_arena_chunk_t;

struct hm_swim {
    hm_swim_config_t cfg;
    hm_swim_delegate_t d;
    char *name;
    size_t name_len;
    uint64_t rng[2];
    uint64_t now;

    /* node table */
    hm_rec_t **rch; /* chunks: record i is rch[i / HM_REC_CHUNK][i % ...] */
    uint32_t recs_cap, recs_free, recs_used; /* cap: chunks * HM_REC_CHUNK; used: high-water mark */
    uint32_t *order;
    uint32_t norder, order_cap, probe_index;
    uint32_t order_draw; /* the random number of the next insert into the probe
                          * order, drawn ahead so that its slot is fetched early */
    uint32_t *htab;      /* open addressing, linear probing: rec index, 0 empty */
    uint32_t hcap, hcount;
    hm_arena_chunk_t *arena;
    uint8_t (*v6)[16];             /* IPv6 addresses by record, allocated on first use */
    hm_rec_ext_t *ext;             /* meta and suspicions by record, allocated on first use */
    uint8_t vsns[HM_SWIM_VSNS][6]; /* distinct version tuples; [0] all zero */
    uint32_t nvsns;
    uint32_t self;

    uint32_t seq;
    int health;
    bool leaving, leave_done, leave_waiting;

    hm_bcast_queue_t *bq;

    uint64_t next_probe, next_gossip, next_push_pull;
    hm_probe_t probe;

    hm_helper_t *helpers;
    size_t nhelpers, helpers_cap;

    hm_susp_t *susps;
    uint32_t susps_cap, susps_free;
    hm_timer_t *heap;
    size_t nheap, heap_cap;

    hm_verify_t verify[HM_SWIM_VERIFY_STREAMS];
    uint32_t recent_ok[HM_SWIM_RECENT_OK]; /* records that answered us directly, a ring */
    uint32_t recent_pos;

    hm_stream_t *streams;
    size_t nstreams, streams_cap;
    uint32_t pp_pending; /* inbound push/pulls partly read */
    uint32_t next_stream_id;

    hm_swim_out_t *outq;
    size_t out_head, out_len, out_cap;

    hm_swim_stats_t stats;
    hm_swim_node_t view, view2;
    hm_buf_t tmp, tmp2, tmp3;
    hm_buf_t parts[HM_SWIM_MAX_PARTS + 1];
    hm_buf_t cat;                         /* a packet's messages end to end */
    uint32_t plen[HM_SWIM_MAX_PARTS + 1]; /* and their lengths */
};

/* Record i (below recs_cap). */
static inline hm_rec_t *hm_rec(const hm_swim_t *s, uint32_t i)
{
    return &s->rch[i >> HM_REC_CHUNK_SHIFT][i & (HM_REC_CHUNK - 1)];
}

/* hm_swim.c */
static inline uint32_t hm_rec_alen(const hm_rec_t *r)
{
    return r->flags & REC_A4 ? 4 : r->flags & REC_A16 ? 16 : 0;
}
static inline const uint8_t *hm_rec_vsn(const hm_swim_t *s, const hm_rec_t *r)
{
    return s->vsns[r->vsn];
}
static inline uint64_t hm_rec_sc(const hm_rec_t *r)
{
    return r->sc_lo | (uint64_t)r->sc_hi << 32;
}
/* Milliseconds since r's state changed (modulo 2^40, the stored width). */
static inline uint64_t hm_rec_age(const hm_swim_t *s, const hm_rec_t *r)
{
    return (s->now - hm_rec_sc(r)) & ((UINT64_C(1) << 40) - 1);
}
static inline void hm_rec_set_sc(hm_rec_t *r, uint64_t t)
{
    r->sc_lo = (uint32_t)t;
    r->sc_hi = (uint8_t)(t >> 32);
}
uint64_t hm_swim_rand(hm_swim_t *s);
uint32_t hm_swim_randn(hm_swim_t *s, uint32_t n);
hm_rec_t *hm_swim_lookup(const hm_swim_t *s, const char *name, size_t len);
/* The name table's hash of a name (to compute it once per message). */
uint32_t hm_swim_hash(const char *name, size_t len);
/* Warm the cache for a later lookup of the name whose hm_swim_hash() is h:
 * its hash slot (rec false), then, a few lookups later, its record (rec
 * true). */
void hm_swim_prefetch(const hm_swim_t *s, uint32_t h, bool rec);
void hm_swim_rec_addr(const hm_swim_t *s, const hm_rec_t *r, hm_addr_t *out);
int hm_swim_encode_push_node(const hm_swim_t *s, const hm_rec_t *r, hm_buf_t *out);
const hm_swim_node_t *hm_swim_view(hm_swim_t *s, const hm_rec_t *r, hm_swim_node_t *v);
void hm_swim_send(hm_swim_t *s, const hm_addr_t *to, hm_buf_t *msg, const hm_rec_t *node,
                  bool piggyback);
void hm_swim_out_push(hm_swim_t *s, hm_swim_out_type_t type, const hm_addr_t *to, uint32_t id,
                      uint64_t deadline, hm_buf_t *data);
void hm_swim_alive(hm_swim_t *s, const hm_ml_alive_t *a, bool bootstrap, hm_bcast_done_fn done,
                   void *ud);
/* The same, given hm_swim_hash() of the node's name. */
void hm_swim_alive_h(hm_swim_t *s, const hm_ml_alive_t *a, uint32_t h, bool bootstrap,
                     hm_bcast_done_fn done, void *ud);
void hm_swim_suspect(hm_swim_t *s, const hm_ml_accuse_t *m);
void hm_swim_dead(hm_swim_t *s, const hm_ml_accuse_t *m);
void hm_swim_health_delta(hm_swim_t *s, int delta);
void hm_swim_verify_done(hm_swim_t *s, uint32_t stream, bool ok);
void hm_swim_note_reachable(hm_swim_t *s, uint32_t rec);
void hm_swim_log(hm_swim_t *s, hm_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hm_swim_malformed(hm_swim_t *s, const char *what);
void hm_swim_ml_str(hm_ml_str_t *out, const char *p);

/* Start loading the probe-order slot the next new node will take. */
void hm_swim_prefetch_order(const hm_swim_t *s);

/* hm_swim_probe.c */
void hm_swim_probe_tick(hm_swim_t *s);
void hm_swim_probe_timers(hm_swim_t *s);
void hm_swim_handle_ping(hm_swim_t *s, const hm_addr_t *from, const uint8_t *p, size_t n);
void hm_swim_handle_indirect(hm_swim_t *s, const hm_addr_t *from, const uint8_t *p, size_t n);
void hm_swim_handle_ack(hm_swim_t *s, const uint8_t *p, size_t n);
void hm_swim_handle_nack(hm_swim_t *s, const uint8_t *p, size_t n);
void hm_swim_probe_tcp_result(hm_swim_t *s, uint32_t stream, bool ok);
uint64_t hm_swim_probe_deadline(const hm_swim_t *s);

/* hm_swim_stream.c */
uint32_t hm_swim_stream_open(hm_swim_t *s, const hm_addr_t *to, uint8_t kind, bool join,
                             uint32_t seq, hm_buf_t *msg, uint64_t deadline);
uint32_t hm_swim_push_pull(hm_swim_t *s, uint64_t now, const hm_addr_t *to, bool join);
uint32_t hm_swim_push_pull_until(hm_swim_t *s, const hm_addr_t *to, bool join, uint64_t deadline);
void hm_swim_stream_wrap(hm_swim_t *s, hm_buf_t *msg);
void hm_swim_streams_free(hm_swim_t *s);
void hm_swim_stream_forget(hm_swim_t *s, uint32_t id);

#endif
