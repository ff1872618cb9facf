/*
 * The hook table, core side: what the agent (and the daemon) call to run the
 * hooks that modules registered through <hamlet/hook.h>.  Every runner takes
 * the daemon; d == NULL (unit tests of the agent) means "no hooks": the
 * transforms pass data through, observers see nothing, handlers decline.
 *
 * Order: hooks run in registration order (modules initialise in the order
 * the config lists them).
 */
#ifndef HM_HOOKS_H
#define HM_HOOKS_H

#include <hamlet/hamlet.h>

struct hm_daemon;
struct hm_agent;
typedef struct hm_hooks hm_hooks_t;

hm_hooks_t *hm_hooks_new(void);
void hm_hooks_free(hm_hooks_t *h);
/* Forget every hook `ctx` registered (a module being unloaded). */
void hm_hooks_forget(hm_hooks_t *h, hm_ctx_t *ctx);

/*
 * Packet and stream-out transforms: each hook in turn sees the output of the
 * previous one.  Returns
 *   HM_DECLINED  no hook changed the data: send/use `in` as it is (`out` untouched);
 *   HM_OK        the result is in `out` (appended to it);
 *   HM_DROP      a hook discarded it on purpose (count it, don't log loudly);
 *   HM_ERROR     a hook failed.
 */
int hm_run_packet_out(struct hm_daemon *d, const uint8_t *in, size_t len, hm_buf_t *out);
int hm_run_packet_in(struct hm_daemon *d, const uint8_t *in, size_t len, hm_buf_t *out);
int hm_run_stream_out(struct hm_daemon *d, const uint8_t *in, size_t len, hm_buf_t *out);
/*
 * Stream in: `in` holds the bytes buffered so far from the start of the
 * stream.  The first hook that does not decline decides: HM_AGAIN (read
 * more and call again), HM_OK (plaintext in `out`, *consumed bytes of `in`
 * used), HM_DROP/HM_ERROR (close the stream).  HM_DECLINED: nobody frames
 * this stream, read it as plain memberlist.
 */
int hm_run_stream_in(struct hm_daemon *d, const uint8_t *in, size_t len, hm_buf_t *out,
                     size_t *consumed);
/* True when a packet/stream transform is registered (e.g. encryption on). */
bool hm_hooks_have_transforms(struct hm_daemon *d);
/* Sum of hm_hook_set_packet_overhead() over the modules. */
size_t hm_hooks_packet_overhead(struct hm_daemon *d);

/* Observers: every hook runs. */
void hm_run_member_event(struct hm_daemon *d, const hm_member_event_t *ev);
void hm_run_user_event(struct hm_daemon *d, const hm_user_event_t *ev);
/*
 * Queries: first the hooks registered for q->name, in order, until one does
 * not return HM_DECLINED; then, when catch_all is true, every hook registered
 * with name NULL (handlers' "query" scripts, RPC streams): they all run.
 * The agent passes catch_all=false for internal "_serf_*" queries.
 * Returns HM_OK when some hook returned HM_OK, else HM_DECLINED.
 */
int hm_run_query(struct hm_daemon *d, const hm_query_t *q, bool catch_all);
/* Runs the tick hooks whose interval has elapsed at now_ms (the daemon also
 * drives them from libevent timers; this is for virtual clocks and tests). */
void hm_run_tick(struct hm_daemon *d, uint64_t now_ms);
/* Counters from hm_metric_add(), then every metrics hook. */
void hm_run_metrics(struct hm_daemon *d, hm_metric_emit_fn emit, void *ud);
/* Log observers (hm_core_log calls this itself). */
void hm_run_log(struct hm_daemon *d, hm_log_level_t lvl, const char *line);
bool hm_hooks_have_log(struct hm_daemon *d);

/* Named handlers: first registered for the name that does not decline wins.
 * HM_DECLINED when none takes it. */
int hm_run_rpc(struct hm_daemon *d, const char *command, void *request);
int hm_run_http(struct hm_daemon *d, const char *path, void *request);

/* From a module context to the daemon and its agent (the cluster half of
 * <hamlet/api.h> is implemented by the agent). */
struct hm_daemon *hm_ctx_daemon(hm_ctx_t *ctx);
struct hm_agent *hm_daemon_agent(struct hm_daemon *d);
void hm_daemon_set_agent(struct hm_daemon *d, struct hm_agent *a);
struct event_base *hm_daemon_base(struct hm_daemon *d);

/* A daemon shell for tests and tools: a hook table, no config, no agent. */
struct hm_daemon *hm_daemon_new(struct event_base *base);
void hm_daemon_free(struct hm_daemon *d);
/* A context for a module called `name` (not loaded from a file), e.g. to
 * register hooks from a test or from the core itself. */
hm_ctx_t *hm_ctx_new(struct hm_daemon *d, const char *name);

#endif
