/*
 * The gossip engine: memberlist-compatible SWIM with Lifeguard, sans-I/O.
 *
 * The engine never touches a socket or the clock.  The caller (hamletd's
 * network glue, or the simulator) feeds it time, datagrams and stream bytes,
 * and drains what it wants sent with hm_swim_poll().  After every call the
 * caller re-arms one timer for hm_swim_next_deadline().
 *
 * Times are milliseconds on a monotonic clock chosen by the caller.
 * Packets in and out are plaintext memberlist messages (CRC and compression
 * are the engine's; encryption belongs to the packet hooks of the glue).
 */
#ifndef HM_SWIM_H
#define HM_SWIM_H

#include <hamlet/types.h>

typedef struct hm_swim hm_swim_t;

typedef struct hm_swim_config {
    const char *name;
    hm_addr_t addr; /* advertised address and port */
    uint32_t probe_interval_ms, probe_timeout_ms;
    uint32_t indirect_checks;
    uint32_t retransmit_mult, suspicion_mult, suspicion_max_timeout_mult;
    uint32_t push_pull_interval_ms;
    uint32_t gossip_interval_ms, gossip_nodes, gossip_to_the_dead_ms;
    uint32_t tcp_timeout_ms;
    uint32_t awareness_max_multiplier;
    uint32_t udp_buffer_size;
    uint32_t dead_node_reclaim_ms; /* 0: never */
    bool enable_compression;
    bool disable_tcp_pings;
    /* hamlet's deviation from memberlist (on unless disabled): a suspicion
     * that times out is checked with one push/pull with a peer we reached
     * lately and one with the suspect before the node is declared dead; a
     * refutation we missed (higher incarnation) or the suspect's answer
     * keeps it, and a suspect we cannot reach at all gets one more period
     * (hm_swim.c, "checking a death").  true: memberlist's behaviour. */
    bool disable_suspicion_verify;
    uint8_t vsn[6];         /* default {1,5,2,2,5,5} */
    size_t packet_overhead; /* bytes added by packet-out hooks (AES-GCM: 29) */
    uint64_t seed;          /* PRNG seed: the simulator makes runs reproducible */
} hm_swim_config_t;

/* memberlist DefaultLANConfig / DefaultWANConfig / DefaultLocalConfig.
 * Returns -1 for an unknown profile name. */
int hm_swim_config_profile(hm_swim_config_t *c, const char *profile);

typedef struct hm_swim_node {
    const char *name;
    hm_addr_t addr;
    const uint8_t *meta;
    size_t meta_len;
    uint32_t incarnation;
    uint8_t state; /* enum hm_ml_state */
    uint8_t vsn[6];
    uint64_t state_change_ms;
} hm_swim_node_t;

/* The layer above (Serf).  Called synchronously from inside engine calls;
 * callbacks must not call back into the engine except where noted. */
typedef struct hm_swim_delegate {
    void *ud;
    /* Node meta (tags) for our alive messages; at most `limit` (512) bytes. */
    size_t (*node_meta)(void *ud, uint8_t *buf, size_t limit);
    /* A user message ([8] body) arrived by UDP or TCP. */
    void (*notify_msg)(void *ud, const uint8_t *p, size_t n);
    /* Append up to `limit` bytes of queued broadcasts as separate parts,
     * each costing `overhead` extra; returns the number of parts added.
     * parts[i] are engine-owned buffers: hm_buf_reset() and fill them (as
     * hm_bcast_get() does).  Give the raw Serf messages: the engine adds
     * the [8] user-message type byte (`overhead` already counts it). */
    size_t (*get_broadcasts)(void *ud, size_t overhead, size_t limit, hm_buf_t *parts,
                             size_t max_parts);
    /* Push/pull user state. */
    void (*local_state)(void *ud, bool join, hm_buf_t *out);
    void (*merge_remote_state)(void *ud, const uint8_t *p, size_t n, bool join);
    /* Membership changes (memberlist's EventDelegate). */
    void (*notify_join)(void *ud, const hm_swim_node_t *n);
    void (*notify_leave)(void *ud, const hm_swim_node_t *n); /* dead or left */
    void (*notify_update)(void *ud, const hm_swim_node_t *n);
    /* Another node claims our name, or an existing one from elsewhere. */
    void (*notify_conflict)(void *ud, const hm_swim_node_t *existing, const hm_swim_node_t *other);
    /* Ping delegate (Serf: Vivaldi coordinates). */
    void (*ack_payload)(void *ud, hm_buf_t *out);
    void (*notify_ping_complete)(void *ud, const hm_swim_node_t *n, uint64_t rtt_us,
                                 const uint8_t *payload, size_t len);
    /* A push/pull stream ended: one from hm_swim_join(), or one of the
     * engine's periodic push/pulls (an id the caller never saw: ignore). */
    void (*stream_done)(void *ud, uint32_t stream_id, bool ok, const char *err);
    /* Optional: memberlist's log lines (malformed input, suspicions,
     * refutations, push/pulls), without the "memberlist: " prefix. */
    void (*log)(void *ud, hm_log_level_t level, const char *msg);
} hm_swim_delegate_t;

typedef enum {
    HM_SWIM_SEND_PACKET,  /* send `data` as one UDP datagram to `to` */
    HM_SWIM_STREAM_OPEN,  /* connect TCP to `to`, write `data`, then feed
                             everything read with hm_swim_stream_data() */
    HM_SWIM_STREAM_REPLY, /* write `data` on inbound stream `stream_id`, close */
    HM_SWIM_STREAM_CLOSE, /* close stream `stream_id` (the engine is done with
                             it; a no-op if the caller already closed it) */
} hm_swim_out_type_t;

typedef struct hm_swim_out {
    hm_swim_out_type_t type;
    hm_addr_t to;
    uint32_t stream_id;
    uint64_t deadline_ms; /* for streams: give up (hm_swim_stream_failed) after */
    hm_buf_t data;        /* ownership passes to the caller: hm_buf_free() it */
} hm_swim_out_t;

hm_swim_t *hm_swim_new(const hm_swim_config_t *cfg, const hm_swim_delegate_t *d, uint64_t now);
void hm_swim_free(hm_swim_t *s);

/* Inputs. */
void hm_swim_tick(hm_swim_t *s, uint64_t now);
/* Prefetch what the next call will touch first, in steps: level 0 (the
 * engine's own lines) to 6, each reading only what the one before brought
 * in.  Whoever drives many engines (the simulator) calls them for the
 * engines it is about to serve, a few engines apart; it changes nothing
 * but timing. */
#define HM_SWIM_WARM_LEVELS 7
void hm_swim_warm(const hm_swim_t *s, unsigned level);
void hm_swim_packet(hm_swim_t *s, uint64_t now, const hm_addr_t *from, const uint8_t *p, size_t n);
uint32_t hm_swim_stream_accept(hm_swim_t *s, uint64_t now, const hm_addr_t *from);
/* Bytes read so far on a stream (the whole buffer from its start, after the
 * stream-in hooks).  Returns HM_AGAIN to wait for more, HM_OK when the
 * engine is done with it, HM_ERROR when it was malformed (the engine has
 * already closed it). */
int hm_swim_stream_data(hm_swim_t *s, uint64_t now, uint32_t id, const uint8_t *p, size_t n);
/* Connection refused, reset, EOF before a whole message, or deadline. */
void hm_swim_stream_failed(hm_swim_t *s, uint64_t now, uint32_t id, const char *why);

/* Outputs: 1 and fills `out` while there is something to do, else 0. */
int hm_swim_poll(hm_swim_t *s, hm_swim_out_t *out);
uint64_t hm_swim_next_deadline(const hm_swim_t *s);

/* Actions. */
uint32_t hm_swim_join(hm_swim_t *s, uint64_t now, const hm_addr_t *to); /* push/pull, Join=true */
int hm_swim_leave(hm_swim_t *s, uint64_t now);
bool hm_swim_leave_done(const hm_swim_t *s);         /* leave broadcast fully sent */
int hm_swim_update_meta(hm_swim_t *s, uint64_t now); /* new incarnation + alive */
/* A user message straight to one address, with piggybacked broadcasts. */
int hm_swim_send_user(hm_swim_t *s, uint64_t now, const hm_addr_t *to, const uint8_t *p, size_t n);
void hm_swim_set_packet_overhead(hm_swim_t *s, size_t overhead);

/* State.  Node views (find, foreach, callbacks) are valid until the next
 * call into the engine. */
size_t hm_swim_num_nodes(const hm_swim_t *s); /* estimated, incl. self and dead */
const hm_swim_node_t *hm_swim_find(const hm_swim_t *s, const char *name);
typedef int (*hm_swim_iter_fn)(void *ud, const hm_swim_node_t *n);
void hm_swim_foreach(const hm_swim_t *s, hm_swim_iter_fn fn, void *ud);
int hm_swim_health(const hm_swim_t *s); /* Lifeguard awareness score */

/* Counters for stats and tests. */
typedef struct hm_swim_stats {
    uint64_t packets_in, packets_out, bytes_in, bytes_out;
    uint64_t dropped_malformed, dropped_crc, dropped_other;
    uint64_t probes, probe_failures, suspects, refutes, deaths;
    uint64_t push_pulls, streams_in, streams_out;
    /* suspicion timeouts checked with a peer; of those, declared dead after
     * all (the others were refuted, or died by another's dead message) */
    uint64_t verifies, verify_dead;
} hm_swim_stats_t;
const hm_swim_stats_t *hm_swim_stats(const hm_swim_t *s);

/* The transmit-limited broadcast queue (memberlist queue.go), shared with
 * the Serf layer's three queues. */
typedef struct hm_bcast_queue hm_bcast_queue_t;
typedef void (*hm_bcast_done_fn)(void *ud);
hm_bcast_queue_t *hm_bcast_new(uint32_t retransmit_mult);
void hm_bcast_free(hm_bcast_queue_t *q);
/* `name` non-NULL: replaces (and finishes) any queued message of that name. */
int hm_bcast_push(hm_bcast_queue_t *q, const char *name, const uint8_t *msg, size_t n,
                  hm_bcast_done_fn done, void *ud);
size_t hm_bcast_get(hm_bcast_queue_t *q, size_t num_nodes, size_t overhead, size_t limit,
                    hm_buf_t *parts, size_t max_parts);
size_t hm_bcast_len(const hm_bcast_queue_t *q);
void hm_bcast_prune(hm_bcast_queue_t *q, size_t max_retain);

#endif
