/*
 * The Serf layer: cluster state on top of the gossip engine, sans-I/O.
 *
 * It owns an hm_swim_t (created with the Serf delegate) and is the only
 * thing the network glue talks to: every input (time, datagram, stream
 * bytes) goes through hm_serf_*, every output comes out of hm_serf_poll().
 * It keeps the member table with Serf status and Lamport times, the three
 * Lamport clocks, the intent buffer, the event and query de-duplication
 * buffers, pending queries, Vivaldi coordinates and the snapshot file.
 * Facts: shared/spec/serf-wire.md.  Times are monotonic milliseconds.
 */
#ifndef HM_SERF_H
#define HM_SERF_H

#include <hamlet/api.h>
#include <hamlet/types.h>

#include "hm_swim.h"

typedef struct hm_serf hm_serf_t;

typedef enum {
    HM_SERF_ALIVE,
    HM_SERF_LEAVING,
    HM_SERF_LEFT,
    HM_SERF_SHUTDOWN,
} hm_serf_state_t;

typedef struct hm_serf_config {
    hm_swim_config_t swim;               /* name, addr, profile timings, compression */
    uint8_t protocol;                    /* Serf protocol 2..5, default 5 */
    const hm_tags_t *tags;               /* initial tags (copied) */
    uint32_t broadcast_timeout_ms;       /* 5 s */
    uint32_t leave_propagate_delay_ms;   /* 1 s */
    uint32_t reap_interval_ms;           /* 15 s */
    uint32_t reconnect_interval_ms;      /* 30 s */
    uint64_t reconnect_timeout_ms;       /* 24 h */
    uint64_t tombstone_timeout_ms;       /* 24 h */
    uint64_t recent_intent_timeout_ms;   /* 5 min */
    uint32_t flap_timeout_ms;            /* 60 s */
    uint32_t queue_check_interval_ms;    /* 30 s */
    uint32_t queue_depth_warning;        /* 128 */
    uint32_t max_queue_depth;            /* 4096 */
    uint32_t min_queue_depth;            /* 0: off */
    uint32_t event_buffer, query_buffer; /* 512, 512 */
    uint32_t query_timeout_mult;         /* 16 */
    size_t user_event_size_limit;        /* 512, at most 9216 */
    size_t query_size_limit;             /* 1024 */
    size_t query_response_size_limit;    /* 1024 */
    bool disable_coordinates;
    bool name_conflict_resolution; /* true */
    const char *snapshot_path;     /* NULL: none */
    bool rejoin_after_leave;
    /* Event coalescing (0: off, the library default; serf agent: 3 s / 1 s) */
    uint32_t coalesce_period_ms, quiescent_period_ms;           /* member events */
    uint32_t user_coalesce_period_ms, user_quiescent_period_ms; /* user events, CC */
    uint64_t seed; /* PRNG: query ids, relays, reconnects */
} hm_serf_config_t;

/* Serf's defaults on top of the memberlist profile (lan, wan, local).
 * -1 for an unknown profile. */
int hm_serf_config_default(hm_serf_config_t *c, const char *profile);

typedef struct hm_serf_callbacks {
    void *ud;
    /* One log line without the "serf: " component, e.g.
     * "EventMemberJoin: n1 127.0.0.1". */
    void (*log)(void *ud, hm_log_level_t level, const char *msg);
    void (*member_event)(void *ud, const hm_member_event_t *ev);
    void (*user_event)(void *ud, const hm_user_event_t *ev);
    /* A query that passed the filters.  Internal `_serf_` queries other
     * than ping and conflict (the key queries) come here too, for the
     * module that registered their name.  Answer with hm_serf_respond()
     * and q->opaque, until q->deadline_ms. */
    void (*query)(void *ud, const hm_query_t *q);
    /* hm_serf_join() finished: `joined` nodes answered (0: err says why). */
    void (*join_done)(void *ud, uint32_t join_id, size_t joined, const char *err);
    /* We lost a name-conflict vote: the agent must shut down. */
    void (*shutdown)(void *ud);
} hm_serf_callbacks_t;

hm_serf_t *hm_serf_new(const hm_serf_config_t *cfg, const hm_serf_callbacks_t *cb, uint64_t now,
                       char *err, size_t errlen);
void hm_serf_free(hm_serf_t *s);
hm_swim_t *hm_serf_swim(hm_serf_t *s);

/* Inputs, wrapping the engine's (hm_swim.h) so that work the Serf layer
 * defers out of engine callbacks runs right after them. */
void hm_serf_tick(hm_serf_t *s, uint64_t now);
void hm_serf_packet(hm_serf_t *s, uint64_t now, const hm_addr_t *from, const uint8_t *p, size_t n);
uint32_t hm_serf_stream_accept(hm_serf_t *s, uint64_t now, const hm_addr_t *from);
int hm_serf_stream_data(hm_serf_t *s, uint64_t now, uint32_t id, const uint8_t *p, size_t n);
void hm_serf_stream_failed(hm_serf_t *s, uint64_t now, uint32_t id, const char *why);
/* Outputs: what the engine wants sent (hm_swim_poll) and the next time
 * either layer needs a tick. */
int hm_serf_poll(hm_serf_t *s, hm_swim_out_t *out);
uint64_t hm_serf_next_deadline(const hm_serf_t *s);

/* Actions. */
/* memberlist join (push/pull) to every address, then a Serf join intent if
 * any answered; the result comes through cb->join_done. 0 on failure. */
uint32_t hm_serf_join(hm_serf_t *s, uint64_t now, const hm_addr_t *addrs, size_t n,
                      bool ignore_old);
/* Graceful leave (serf-wire.md section 12): progresses on ticks;
 * hm_serf_state() becomes HM_SERF_LEFT when done. */
int hm_serf_leave(hm_serf_t *s, uint64_t now, char *err, size_t errlen);
hm_serf_state_t hm_serf_state(const hm_serf_t *s);
int hm_serf_force_leave(hm_serf_t *s, uint64_t now, const char *node, bool prune);
int hm_serf_set_tags(hm_serf_t *s, uint64_t now, const hm_tags_t *tags, char *err, size_t errlen);
/* Frees tags that own their strings (every key and value malloc'ed), as the
 * Serf layer's and the agent's copies do; leaves t empty. */
void hm_serf_tags_free(hm_tags_t *t);
int hm_serf_user_event(hm_serf_t *s, uint64_t now, const char *name, const uint8_t *payload,
                       size_t len, bool coalesce, char *err, size_t errlen);
int hm_serf_query(hm_serf_t *s, uint64_t now, const hm_query_params_t *p, hm_query_reply_fn fn,
                  void *ud, uint32_t *id_out, char *err, size_t errlen);
int hm_serf_respond(hm_serf_t *s, uint64_t now, const void *opaque, const uint8_t *buf, size_t len,
                    char *err, size_t errlen);
/* Serf's default query timeout: GossipInterval x QueryTimeoutMult x
 * ceil(log10(N+1)), N = alive + suspect members including us. */
uint64_t hm_serf_default_query_timeout(const hm_serf_t *s);

/* State. */
const hm_member_t *hm_serf_local(const hm_serf_t *s);
const hm_member_t *hm_serf_member(const hm_serf_t *s, const char *name);
void hm_serf_members_foreach(const hm_serf_t *s, hm_member_iter_fn fn, void *ud);
size_t hm_serf_members_count(const hm_serf_t *s);
int hm_serf_coordinate(const hm_serf_t *s, const char *node, hm_coord_t *out);
void hm_serf_stats(const hm_serf_t *s, hm_stat_emit_fn emit, void *ud);
void hm_serf_clocks(const hm_serf_t *s, uint64_t *member, uint64_t *event, uint64_t *query);

/* Pure helpers, exposed for tests. */
/* Go's tag filter: unanchored RE2 match (hm_regex.h) of expr on the tag value
 * (missing tag = ""); 1 match, 0 no match, -1 bad expression. */
int hm_serf_tag_match(const char *expr, const char *value);
uint64_t hm_serf_query_timeout(uint32_t gossip_interval_ms, uint32_t mult, size_t n);

#endif
