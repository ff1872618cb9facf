/*
 * The hook table.
 *
 * Modules register typed callbacks at init; the core calls them in
 * registration order (modules in the order the YAML lists them).  Runner
 * semantics per hook, as in httpd:
 *   - transforms (packet/stream, in/out): each hook in turn; HM_DECLINED
 *     passes the buffer on unchanged, HM_OK replaces it, HM_DROP stops.
 *   - observers (member event, user event, query, metrics, tick): all run.
 *   - named handlers (query by name, filter, RPC command, HTTP route): the
 *     first registered for the name wins; HM_DECLINED asks the next one.
 */
#ifndef HAMLET_HOOK_H
#define HAMLET_HOOK_H

#include <hamlet/module.h>
#include <hamlet/types.h>

/* UDP packets, whole datagrams.  out: plaintext -> wire; in: wire -> plaintext.
 * Write the result into `out` (empty on entry) and return HM_OK, or return
 * HM_DECLINED to leave the packet as it is, or HM_DROP to discard it. */
typedef int (*hm_packet_fn)(void *ud, const uint8_t *in, size_t len, hm_buf_t *out);

/* TCP streams.  out: one whole plaintext message -> framed bytes.
 * in: called with the bytes buffered so far from the start of the stream;
 * return HM_AGAIN for more, HM_OK with the plaintext in `out` and
 * *consumed set, HM_DECLINED (not framed by this module) or HM_DROP. */
typedef int (*hm_stream_out_fn)(void *ud, const uint8_t *in, size_t len, hm_buf_t *out);
typedef int (*hm_stream_in_fn)(void *ud, const uint8_t *in, size_t len, hm_buf_t *out,
                               size_t *consumed);

typedef void (*hm_member_event_fn)(void *ud, const hm_member_event_t *ev);
typedef void (*hm_user_event_fn)(void *ud, const hm_user_event_t *ev);
/* A query addressed to this node.  Answer now or later with
 * hm_query_respond(); return HM_DECLINED if not handled. */
typedef int (*hm_query_fn)(void *ud, const hm_query_t *q);

/* Filter evaluator: does `m` match `expr`?  1 yes, 0 no, HM_ERROR with
 * `err` filled (a static or module-owned string) for a bad expression. */
typedef int (*hm_filter_fn)(void *ud, const char *expr, const hm_member_t *m, const char **err);

/* Metrics: call `emit` once per figure. */
typedef void (*hm_metric_emit_fn)(void *emit_ud, const char *name, double value);
typedef void (*hm_metrics_fn)(void *ud, hm_metric_emit_fn emit, void *emit_ud);

typedef void (*hm_tick_fn)(void *ud, uint64_t now_ms);

/* Every log line the daemon writes, whatever the configured level (for
 * `serf monitor`): `line` is the formatted Serf-style line without '\n'. */
typedef void (*hm_log_fn)(void *ud, hm_log_level_t level, const char *line);

/* RPC commands and HTTP routes carry opaque request/response handles owned
 * by the module that serves the protocol (rpc, http); their types are in
 * that module's public header. */
typedef int (*hm_rpc_fn)(void *ud, void *request);
typedef int (*hm_http_fn)(void *ud, void *request);

int hm_hook_packet_out(hm_ctx_t *ctx, hm_packet_fn fn, void *ud);
int hm_hook_packet_in(hm_ctx_t *ctx, hm_packet_fn fn, void *ud);
int hm_hook_stream_out(hm_ctx_t *ctx, hm_stream_out_fn fn, void *ud);
int hm_hook_stream_in(hm_ctx_t *ctx, hm_stream_in_fn fn, void *ud);
int hm_hook_member_event(hm_ctx_t *ctx, hm_member_event_fn fn, void *ud);
int hm_hook_user_event(hm_ctx_t *ctx, hm_user_event_fn fn, void *ud);
/* name: queries of exactly that name (first hook that does not decline
 * answers).  name NULL: every query, after the named hooks; all of these run
 * (handlers' "query" scripts, RPC streams).  Internal "_serf_*" queries only
 * reach hooks registered for their exact name. */
int hm_hook_query(hm_ctx_t *ctx, const char *name, hm_query_fn fn, void *ud);
int hm_hook_filter(hm_ctx_t *ctx, const char *name, hm_filter_fn fn, void *ud);
int hm_hook_rpc(hm_ctx_t *ctx, const char *command, hm_rpc_fn fn, void *ud);
int hm_hook_http(hm_ctx_t *ctx, const char *path, hm_http_fn fn, void *ud);
int hm_hook_metrics(hm_ctx_t *ctx, hm_metrics_fn fn, void *ud);
int hm_hook_log(hm_ctx_t *ctx, hm_log_fn fn, void *ud);
int hm_hook_tick(hm_ctx_t *ctx, uint32_t interval_ms, hm_tick_fn fn, void *ud);

/* For the modules that serve RPC and HTTP (rpc, http): run the command or
 * route registered under that name by any module (first that does not
 * decline wins); HM_DECLINED when nobody serves it. */
int hm_rpc_dispatch(hm_ctx_t *ctx, const char *command, void *request);
int hm_http_dispatch(hm_ctx_t *ctx, const char *path, void *request);
/* Every published figure: hm_metric_add() counters, then the metrics hooks. */
void hm_metrics_collect(hm_ctx_t *ctx, hm_metric_emit_fn emit, void *emit_ud);

/* Bytes the packet-out transforms add (e.g. 29 for AES-GCM v1), so the
 * gossip engine can budget piggybacked broadcasts. */
void hm_hook_set_packet_overhead(hm_ctx_t *ctx, size_t bytes);

#endif
