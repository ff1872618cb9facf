/*
 * What a module may ask of the daemon.  Every call is made from the event
 * loop thread.
 */
#ifndef HAMLET_API_H
#define HAMLET_API_H

#include <stdarg.h>
#include <hamlet/module.h>
#include <hamlet/types.h>

struct event_base;

/* Logging, Serf-style lines: "2026/11/25 14:22:03 [INFO] NAME: message". */
void hm_log(hm_ctx_t *ctx, hm_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hm_vlog(hm_ctx_t *ctx, hm_log_level_t level, const char *fmt, va_list ap);

/* The libevent loop, for modules that own sockets, timers or children. */
struct event_base *hm_event_base(hm_ctx_t *ctx);
uint64_t hm_now_ms(hm_ctx_t *ctx); /* monotonic */

/* Membership table (read only; pointers valid until the callback or the
 * current loop iteration returns). */
const hm_member_t *hm_self(hm_ctx_t *ctx);
typedef int (*hm_member_iter_fn)(void *ud, const hm_member_t *m); /* !=0 stops */
void hm_members_foreach(hm_ctx_t *ctx, hm_member_iter_fn fn, void *ud);
size_t hm_members_count(hm_ctx_t *ctx);

/* Cluster actions. */
int hm_user_event(hm_ctx_t *ctx, const char *name, const void *payload, size_t len,
                  bool coalesce);
int hm_query_respond(hm_ctx_t *ctx, const hm_query_t *q, const void *buf, size_t len);
int hm_tags_update(hm_ctx_t *ctx, const hm_tags_t *set, const char *const *del, size_t ndel);

typedef struct hm_query_params {
    const char *name;
    const void *payload;
    size_t len;
    const char *const *filter_nodes;
    size_t n_filter_nodes;
    const hm_tags_t *filter_tags; /* tag -> anchored regexp */
    bool request_ack;
    uint8_t relay_factor;
    uint64_t timeout_ms; /* 0: Serf's default formula */
} hm_query_params_t;

typedef enum { HM_QUERY_ACK, HM_QUERY_RESPONSE, HM_QUERY_DONE } hm_query_reply_type_t;
typedef void (*hm_query_reply_fn)(void *ud, hm_query_reply_type_t type, const char *from,
                                  const uint8_t *payload, size_t len);
/* Sends a query; `fn` sees acks and responses, then DONE once. */
int hm_query_send(hm_ctx_t *ctx, const hm_query_params_t *p, hm_query_reply_fn fn, void *ud,
                  uint32_t *id_out);

/* Filters registered in the hook table, by name ("tags", ...).  1 match,
 * 0 no match, HM_ERROR for no such filter or a bad expression. */
int hm_filter_eval(hm_ctx_t *ctx, const char *name, const char *expr, const hm_member_t *m,
                   const char **err);

/* Membership actions, as the RPC commands of the same names. */
int hm_join(hm_ctx_t *ctx, const char *const *addrs, size_t n, bool replay, size_t *joined,
            char *err, size_t errlen);
int hm_leave(hm_ctx_t *ctx); /* graceful leave, then the daemon exits */
int hm_force_leave(hm_ctx_t *ctx, const char *node, bool prune);

/* Why the last of the calls above that returned HM_ERROR failed, in Serf's
 * own words (what a Serf agent answers an RPC client), e.g. "Encoded length
 * of tags exceeds limit of 512 bytes".  Valid until the next API call; ""
 * if nothing failed yet.  Since ABI minor 1. */
const char *hm_last_error(hm_ctx_t *ctx);

/* Vivaldi coordinate of a member (ours if node is NULL); -1 if unknown. */
typedef struct hm_coord {
    double vec[8];
    double error, adjustment, height;
} hm_coord_t;
int hm_coordinate(hm_ctx_t *ctx, const char *node, hm_coord_t *out);

/* Agent statistics as `serf info` groups them ("agent", "runtime",
 * "serf", ...): emit(section, key, value) once per entry. */
typedef void (*hm_stat_emit_fn)(void *ud, const char *section, const char *key,
                                const char *value);
void hm_stats(hm_ctx_t *ctx, hm_stat_emit_fn emit, void *ud);

/* Metrics a module publishes for the status/metrics outputs. */
void hm_metric_add(hm_ctx_t *ctx, const char *name, double delta);

#endif
