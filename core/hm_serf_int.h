/*
 * Internals shared by the Serf layer's files (hm_serf*.c).  Not an API.
 */
#ifndef HM_SERF_INT_H
#define HM_SERF_INT_H

#include <stdarg.h>
#include <string.h>

#include "hm_mlwire.h"
#include "hm_serf.h"
#include "hm_serf_coord.h"
#include "hm_serf_msg.h"
#include "hm_swim.h"

#define HM_SERF_NAME_MAX 512

/* ---- a small string-keyed hash map (open addressing) ---- */
typedef struct serf_map {
    char **keys; /* NULL empty, SERF_MAP_TOMB deleted */
    void **vals;
    size_t cap, n, used;
} serf_map_t;

void *serf_map_get(const serf_map_t *m, const char *key);
int serf_map_put(serf_map_t *m, const char *key, void *val); /* copies key */
void *serf_map_del(serf_map_t *m, const char *key);          /* returns old value */
void serf_map_free(serf_map_t *m);
void serf_map_free_all(serf_map_t *m); /* free() of every value, then serf_map_free */
/* Iteration: i from 0; returns the next slot index with a key, or -1. */
long serf_map_next(const serf_map_t *m, long i, const char **key, void **val);

/* memcpy/memcmp that accept (NULL, 0), which decoded empty strings are */
static inline void serf_copy(void *d, const void *p, size_t n)
{
    if (n)
        memcpy(d, p, n);
}
static inline bool serf_eq(const void *a, const void *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

/* ---- Lamport clock (serf/lamport.go) ---- */
static inline uint64_t lc_increment(uint64_t *c)
{
    return ++*c;
}
static inline void lc_witness(uint64_t *c, uint64_t v)
{
    if (v >= *c)
        *c = v + 1;
}

/* ---- the member table ---- */
typedef struct serf_member {
    hm_member_t m; /* the public row: m.name, m.tags point into this record */
    char *name;
    uint64_t status_ltime;
    uint64_t leave_time; /* when it became failed or left (reap) */
    uint64_t prune_at;   /* forced prune of a leaving member due then; 0: none */
    size_t index;        /* position in serf.list */
    bool has_coord;
    hm_coord_t coord;
} serf_member_t;

typedef struct serf_intent {
    uint8_t type; /* SW_MSG_JOIN or SW_MSG_LEAVE */
    uint64_t ltime;
    uint64_t when;
} serf_intent_t;

typedef struct serf_ev {
    char *name;
    uint8_t *payload;
    size_t len;
} serf_ev_t;

typedef struct serf_ev_slot {
    bool used;
    uint64_t ltime;
    serf_ev_t *ev;
    size_t n;
} serf_ev_slot_t;

typedef struct serf_q_slot {
    bool used;
    uint64_t ltime;
    uint32_t *ids;
    size_t n;
} serf_q_slot_t;

/* A query we sent, collecting acks and responses until its deadline. */
typedef struct serf_pending {
    struct serf_pending *next;
    uint64_t ltime;
    uint32_t id;
    uint64_t deadline;
    bool want_ack;
    size_t cap; /* channel size in Serf: members at send time */
    serf_map_t acks, responses;
    size_t n_acks, n_resps;
    hm_query_reply_fn fn;
    void *ud;
    /* internal origins (conflict resolution) use this instead of fn */
    int internal;
    size_t conflict_responses, conflict_matching;
} serf_pending_t;

/* A query we received and may still answer. */
typedef struct serf_inq {
    struct serf_inq *next;
    uint64_t handle; /* what hm_query_t.opaque carries */
    uint64_t ltime;
    uint32_t id;
    hm_addr_t from; /* origin Addr:Port */
    char *source;
    uint8_t relay_factor;
    uint64_t deadline;
    bool responded;
} serf_inq_t;

typedef struct serf_outmsg {
    hm_addr_t to;
    hm_buf_t msg; /* Serf message: [type][body] */
} serf_outmsg_t;

enum serf_stream_kind { SS_JOIN, SS_RECONNECT, SS_REJOIN };

typedef struct serf_stream {
    struct serf_stream *next;
    uint32_t stream_id;
    enum serf_stream_kind kind;
    uint32_t join_id;
} serf_stream_t;

typedef struct serf_join {
    struct serf_join *next;
    uint32_t id;
    size_t pending, ok;
    bool ignore_old;
    char err[256];
} serf_join_t;

typedef struct serf_snap serf_snap_t;
typedef struct serf_coalesce serf_coalesce_t;

enum leave_phase { LP_NONE, LP_INTENT, LP_MEMBERLIST, LP_PROPAGATE, LP_DONE };

struct hm_serf {
    hm_serf_config_t cfg;
    hm_serf_callbacks_t cb;
    hm_swim_t *swim;
    char *name;
    hm_addr_t addr;
    uint64_t now;
    uint64_t rng;
    hm_serf_state_t state;

    /* tags, owned */
    hm_tags_t tags;

    /* clocks */
    uint64_t clock, event_clock, query_clock;
    uint64_t event_min_time, query_min_time;
    bool event_join_ignore;

    /* members */
    serf_map_t members;   /* name -> serf_member_t* */
    serf_member_t **list; /* all members, for iteration */
    size_t nlist, caplist;
    size_t n_failed, n_left;
    serf_map_t intents; /* name -> serf_intent_t* */

    /* queues */
    hm_bcast_queue_t *q_intent, *q_event, *q_query;

    /* events and queries */
    serf_ev_slot_t *ev_buf;
    serf_q_slot_t *q_buf;
    serf_pending_t *pending;
    serf_inq_t *inq;
    uint64_t next_handle;

    /* deferred direct sends (not allowed from inside engine callbacks) */
    serf_outmsg_t *outbox;
    size_t nout, capout;
    bool in_engine;
    bool want_conflict_query;
    bool want_refute_join;
    bool want_meta_update;

    /* joins and other streams we started */
    serf_stream_t *streams;
    serf_join_t *joins;
    uint32_t next_join_id;

    /* periodic tasks */
    uint64_t next_reap, next_reconnect, next_queue_check;
    uint64_t next_prune; /* earliest member prune_at, UINT64_MAX: none */

    /* leave */
    enum leave_phase leave_phase;
    uint64_t leave_deadline;
    bool leave_intent_sent;

    /* coordinates */
    hm_coord_client_t coord;
    serf_map_t coord_cache; /* name -> hm_coord_t* */

    serf_snap_t *snap;
    serf_coalesce_t *coalesce;
    /* snapshot rejoin: remembered nodes still to try */
    hm_addr_t *rejoin_addrs;
    char **rejoin_names;
    size_t n_rejoin, rejoin_next;
    bool rejoin_active;

    /* counters */
    uint64_t stat_events, stat_queries, stat_bad_msgs;
};

/* hm_serf.c */
void serf_log(hm_serf_t *s, hm_log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t serf_rand(hm_serf_t *s);
size_t serf_num_members_ml(const hm_serf_t *s); /* alive + suspect incl. self */
void serf_send_user(hm_serf_t *s, const hm_addr_t *to, const uint8_t *msg, size_t n);
void serf_addr_str(const hm_addr_t *a, char *buf, size_t len, bool with_port);
bool serf_handle_join_intent(hm_serf_t *s, uint64_t ltime, const char *node, size_t node_len);
bool serf_handle_leave_intent(hm_serf_t *s, uint64_t ltime, const char *node, size_t node_len,
                              bool prune);
void serf_emit_member(hm_serf_t *s, hm_member_event_type_t t, serf_member_t *m);
void serf_broadcast_join(hm_serf_t *s, uint64_t ltime);
void serf_post(hm_serf_t *s); /* deferred work; no-op inside engine calls */

int serf_parse_hostport(const char *str, hm_addr_t *a); /* "ip:port", "[v6]:port" */

/* hm_serf_event.c */
/* The Lamport-time gate of a user event or query (Serf's handleUserEvent,
 * handleQuery): witness LTIME, then refuse it when older than our join or
 * than the buffer window (logged, with NAME). */
bool serf_ltime_fresh(hm_serf_t *s, bool query, uint64_t ltime, const char *name);
int serf_events_init(hm_serf_t *s);
void serf_events_free(hm_serf_t *s);
bool serf_handle_user_event(hm_serf_t *s, const sw_user_event_t *ev);
int serf_encode_event_buffer(const hm_serf_t *s, sw_push_pull_t *pp);

/* hm_serf_query.c */
int serf_queries_init(hm_serf_t *s);
void serf_queries_free(hm_serf_t *s);
bool serf_handle_query(hm_serf_t *s, const sw_query_t *q);
void serf_handle_query_response(hm_serf_t *s, const sw_query_response_t *r);
void serf_handle_relay(hm_serf_t *s, const uint8_t *p, size_t n);
void serf_queries_tick(hm_serf_t *s, uint64_t now);
uint64_t serf_queries_deadline(const hm_serf_t *s);
void serf_start_conflict_resolution(hm_serf_t *s);
int serf_query_internal(hm_serf_t *s, const hm_query_params_t *p, hm_query_reply_fn fn, void *ud,
                        int internal, uint32_t *id_out, char *err, size_t errlen);

/* hm_serf_coalesce.c: true when the event is held for later delivery */
bool serf_coalesce_member(hm_serf_t *s, hm_member_event_type_t t, const hm_member_t *m);
bool serf_coalesce_user(hm_serf_t *s, const hm_user_event_t *e);
void serf_coalesce_tick(hm_serf_t *s, uint64_t now);
uint64_t serf_coalesce_deadline(const hm_serf_t *s);
void serf_coalesce_free(hm_serf_t *s);

/* hm_serf_snap.c */
serf_snap_t *serf_snap_open(hm_serf_t *s, const char *path, bool rejoin_after_leave, char *err,
                            size_t errlen);
void serf_snap_close(serf_snap_t *sn);
void serf_snap_member(serf_snap_t *sn, hm_member_event_type_t t, const serf_member_t *m);
void serf_snap_user_event(serf_snap_t *sn, uint64_t ltime);
void serf_snap_query(serf_snap_t *sn, uint64_t ltime);
void serf_snap_leave(serf_snap_t *sn);
void serf_snap_tick(serf_snap_t *sn, uint64_t now, uint64_t clock);
uint64_t serf_snap_deadline(const serf_snap_t *sn);
/* Replay results. */
uint64_t serf_snap_last_clock(const serf_snap_t *sn);
uint64_t serf_snap_last_event_clock(const serf_snap_t *sn);
uint64_t serf_snap_last_query_clock(const serf_snap_t *sn);
size_t serf_snap_alive(const serf_snap_t *sn, const char ***names, const char ***addrs);

#endif
