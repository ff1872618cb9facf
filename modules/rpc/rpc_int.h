/*
 * mod_rpc internals: the server, its connections, and the command groups
 * (rpc_cmds.c: one-shot commands; rpc_stream.c: stream, monitor, query,
 * respond, stop; rpc_ext.c: commands served by other modules).
 */
#ifndef MOD_RPC_INT_H
#define MOD_RPC_INT_H

#include <hamlet/hamlet.h>
#include <hamlet/rpc.h>

#include "hm_rpcwire.h"

struct bufferevent;
struct evconnlistener;

#define RPC_LOG_RING 512          /* lines a new monitor gets first (Serf: 512) */
#define RPC_MAX_OUTPUT (8u << 20) /* backlog: records dropped, reading paused */
#define RPC_MAX_CMD 128

typedef struct rpc_srv rpc_srv_t;
typedef struct rpc_conn rpc_conn_t;

/* One `stream` registration: which events go out under which Seq. */
typedef struct rpc_stream {
    uint64_t seq;
    unsigned member_mask; /* bit per hm_member_event_type_t */
    bool all_user, all_query;
    char **user_names, **query_names;
    size_t n_user, n_query;
    struct rpc_stream *next;
} rpc_stream_t;

/* A query delivered to this client's stream, answerable with `respond`. */
typedef struct rpc_pending {
    uint64_t id;
    hm_query_t q; /* name/payload cleared: only id, opaque, deadline kept */
    struct rpc_pending *next;
} rpc_pending_t;

struct rpc_conn {
    rpc_srv_t *srv;
    struct bufferevent *bev; /* NULL once closed (the struct may live on) */
    hm_rpc_in_t in;
    char peer[64];
    int version; /* 0 until handshake */
    bool did_auth;
    bool closing;       /* close once the output is flushed */
    bool lingering;     /* output flushed and half-closed: draining input */
    bool paused;        /* not read until its output drains (RPC_MAX_OUTPUT) */
    bool leave_pending; /* `leave` answered at shutdown, when it is done */
    uint64_t leave_seq;
    int refs; /* queries and module requests still pointing here */
    /* a header read whose body has not arrived yet */
    bool have_header;
    char cmd[RPC_MAX_CMD];
    uint64_t seq;
    const uint8_t *raw_body; /* the current body's bytes, during its handler */
    size_t raw_len;
    rpc_stream_t *streams;
    bool monitor;
    uint64_t monitor_seq;
    hm_log_level_t monitor_level;
    rpc_pending_t *pending;
    uint64_t next_query_id;
    rpc_conn_t *next;
};

struct rpc_srv {
    hm_ctx_t *ctx;
    struct evconnlistener *lis;
    char *auth;
    char *addr;
    rpc_conn_t *conns;
    /* the last RPC_LOG_RING log lines, replayed to a new monitor */
    char *ring[RPC_LOG_RING];
    hm_log_level_t ring_lvl[RPC_LOG_RING];
    size_t ring_head, ring_n;
    bool in_log; /* a log line is being fanned out: don't log about it */
};

/* Why the API call just made failed, in Serf's words (hm_last_error), or
 * `fallback` should the core have no text. */
static inline const char *rpc_api_error(const rpc_srv_t *s, const char *fallback)
{
    const char *e = hm_last_error(s->ctx);

    return e && e[0] ? e : fallback;
}

/* --- mod_rpc.c: output and connection lifetime --------------------------- */

/* A client on an accepted socket (also used by the fuzzer, on a socketpair). */
struct sockaddr;
rpc_conn_t *rpc_conn_new(rpc_srv_t *s, int fd, const struct sockaddr *sa);
/* Sends {Error, Seq} and, when body is non-NULL, its bytes. */
void rpc_send(rpc_conn_t *c, uint64_t seq, const char *error, const hm_buf_t *body);
/* Already framed bytes (headers included). */
void rpc_write(rpc_conn_t *c, const hm_buf_t *raw);
/* Same for stream records: dropped (false) when the client lags too far. */
bool rpc_send_record(rpc_conn_t *c, uint64_t seq, const hm_buf_t *body);
/* Closes now, or after the pending output when flush is true. */
void rpc_close(rpc_conn_t *c, bool flush);
void rpc_ref(rpc_conn_t *c);
void rpc_unref(rpc_conn_t *c);
static inline bool rpc_alive(const rpc_conn_t *c)
{
    return c->bev != NULL && !c->closing;
}

/* --- command table ------------------------------------------------------- */

/* Whether a body object follows the header (commands of other modules are
 * looked at when they arrive: see process() in mod_rpc.c). */
typedef enum { BODY_NONE, BODY_ONE } rpc_body_t;

/* Handlers return 0, or -1 to close the connection without a reply (as
 * Serf does for a body it cannot decode). */
typedef int (*rpc_cmd_fn)(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);

typedef struct rpc_cmd {
    const char *name;
    rpc_body_t body;
    rpc_cmd_fn fn;
} rpc_cmd_t;

const rpc_cmd_t *rpc_cmd_find(const char *name);

/* rpc_cmds.c */
int rpc_cmd_handshake(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_auth(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_event(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_force_leave(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_join(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_members(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_members_filtered(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_tags(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_leave(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_stats(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_get_coordinate(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);

/* rpc_stream.c */
int rpc_cmd_stream(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_monitor(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_stop(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_query(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
int rpc_cmd_respond(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
void rpc_stream_free(rpc_conn_t *c);
int rpc_hooks_register(rpc_srv_t *s);
void rpc_ring_free(rpc_srv_t *s);

/* rpc_ext.c: keyring commands and any command another module registered */
int rpc_cmd_keys(rpc_conn_t *c, uint64_t seq, const msgpack_object *body);
/* Dispatches `name` through hm_rpc_dispatch; false when nobody serves it. */
bool rpc_ext_dispatch(rpc_conn_t *c, const char *name, uint64_t seq, const msgpack_object *body,
                      const uint8_t *raw, size_t rawlen);

/* Small helpers shared by the command files. */
int rpc_obj_tags(const msgpack_object *o, hm_tags_t *out); /* malloc'ed copies */
void rpc_tags_free(hm_tags_t *t);
/* An optional array of strings (absent or nil: none) as malloc'ed copies in
 * a NULL-terminated array; *n counts the slots filled.  -1 when it is
 * neither array nor nil, or on a non-string or no memory: free what was
 * copied with rpc_strs_free in every case. */
int rpc_obj_strs(const msgpack_object *o, char ***out, size_t *n);
void rpc_strs_free(char **v, size_t n);

#endif
