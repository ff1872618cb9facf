/*
 * mod_handlers: Serf's event handlers.  Same specification syntax, same
 * environment and stdin, query responses from the output, run in the same
 * order (one at a time by default, like Serf); beyond Serf: a timeout that
 * kills the handler's process group, an optional concurrency limit, and a
 * loop that never waits for a handler.
 */
#define _GNU_SOURCE /* asprintf, pipe2 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include <hamlet/hamlet.h>

#include "env.h"
#include "run.h"
#include "spec.h"

extern char **environ;

#define SLOW_MS 1000 /* Serf's warnSlow */

typedef struct job {
    struct job *next;
    struct mod_handlers *m;
    char *script, *type, *label; /* label: Serf's event.String() */
    uint64_t timeout_ms;
    char **env;
    hm_buf_t input;
    bool is_query;
    hm_query_t q; /* copy: ltime, id, deadline, opaque stay valid */
    handlers_proc_t *proc;
    struct event *slow;
} job_t;

typedef struct mod_handlers {
    hm_ctx_t *ctx;
    handler_specs_t specs;
    job_t *head, *tail; /* waiting */
    size_t queued, running;
    job_t **live; /* running jobs, for shutdown */
    size_t nlive;
    int64_t concurrency, queue_limit;
    uint64_t started, failed, timed_out, dropped;
} mod_handlers_t;

static const hm_conf_key_t handler_keys[] = {
    {"event", HM_CONF_STRING, "*", 0, 0, NULL, "Serf filter: member-join,user:NAME,query,...",
     NULL},
    {"command", HM_CONF_STRING, NULL, 0, 0, NULL, "run as /bin/sh -c COMMAND", NULL},
    {"timeout", HM_CONF_DURATION, "0", 0, 0, NULL, "kill after this long (0: never)", NULL},
    HM_CONF_END,
};

static const hm_conf_key_t keys[] = {
    {"event_handlers", HM_CONF_LIST, NULL, 0, 0, NULL,
     "Serf -event-handler specs, \"[FILTER=]COMMAND\"", NULL},
    {"handlers", HM_CONF_SECTION_LIST, NULL, 0, 0, NULL,
     "handlers with their own timeout: {event, command, timeout}", handler_keys},
    {"timeout", HM_CONF_DURATION, "0", 0, 0, NULL,
     "kill a handler's process group after this long (0: never, as Serf)", NULL},
    {"concurrency", HM_CONF_INT, "1", 1, 256, NULL,
     "handlers run at once (1: one after another in event order, as Serf)", NULL},
    {"queue_limit", HM_CONF_INT, "1024", 1, 1000000, NULL,
     "handler runs waiting; beyond it new ones are dropped with a warning", NULL},
    HM_CONF_END,
};

static void job_free(job_t *j)
{
    if (j->slow)
        event_free(j->slow);
    free(j->script);
    free(j->type);
    free(j->label);
    free((char *)j->q.name);
    handlers_env_free(j->env);
    hm_buf_free(&j->input);
    free(j);
}

static void live_del(mod_handlers_t *m, job_t *j)
{
    for (size_t i = 0; i < m->nlive; i++)
        if (m->live[i] == j) {
            m->live[i] = m->live[--m->nlive];
            return;
        }
}

static void pump(mod_handlers_t *m);

static void on_slow(evutil_socket_t fd, short what, void *arg)
{
    job_t *j = arg;
    hm_log(j->m->ctx, HM_LOG_WARN, "Script '%s' slow, execution exceeding %ds", j->script,
           SLOW_MS / 1000);
}

static void respond(job_t *j, const handlers_result_t *r)
{
    if (hm_query_respond(j->m->ctx, &j->q, r->out, r->out_len) < 0)
        hm_log(j->m->ctx, HM_LOG_WARN, "Failed to respond to query '%s': %s", j->label,
               r->out_len > 1024 ? "response exceeds limit of 1024 bytes"
                                 : "response failed (past the deadline?)");
}

static void on_done(void *ud, const handlers_result_t *r)
{
    job_t *j = ud;
    mod_handlers_t *m = j->m;

    if (r->total_written > HANDLERS_OUTPUT_MAX)
        hm_log(m->ctx, HM_LOG_WARN, "Script '%s' generated %llu bytes of output, truncated to %d",
               j->script, (unsigned long long)r->total_written, HANDLERS_OUTPUT_MAX);
    hm_log(m->ctx, HM_LOG_DEBUG, "Event '%s' script output: %.*s", j->type, (int)r->out_len,
           (const char *)r->out);
    if (r->spawn_errno) {
        m->failed++;
        hm_log(m->ctx, HM_LOG_ERR, "Error invoking script '%s': %s", j->script,
               strerror(r->spawn_errno));
    } else if (r->timed_out) {
        m->timed_out++;
        hm_log(m->ctx, HM_LOG_ERR, "Error invoking script '%s': killed after %llums timeout",
               j->script, (unsigned long long)j->timeout_ms);
    } else if (WIFSIGNALED(r->status)) {
        m->failed++;
        hm_log(m->ctx, HM_LOG_ERR, "Error invoking script '%s': signal: %s", j->script,
               strsignal(WTERMSIG(r->status)));
    } else if (WEXITSTATUS(r->status) != 0) {
        m->failed++;
        hm_log(m->ctx, HM_LOG_ERR, "Error invoking script '%s': exit status %d", j->script,
               WEXITSTATUS(r->status));
    } else if (j->is_query && r->total_written > 0) {
        respond(j, r);
    }
    live_del(m, j);
    m->running--;
    job_free(j);
    pump(m);
}

static void start(mod_handlers_t *m, job_t *j)
{
    handlers_run_opts_t o = {.command = j->script,
                             .env = j->env,
                             .input = j->input.data,
                             .input_len = j->input.len,
                             .timeout_ms = j->timeout_ms};
    struct timeval tv = {SLOW_MS / 1000, 0};
    job_t **nl = realloc(m->live, (m->nlive + 1) * sizeof(*nl));

    if (nl == NULL) {
        job_free(j);
        return;
    }
    m->live = nl;
    j->proc = handlers_run(hm_event_base(m->ctx), &o, on_done, j);
    if (j->proc == NULL) {
        hm_log(m->ctx, HM_LOG_ERR, "Error invoking script '%s': out of resources", j->script);
        m->failed++;
        job_free(j);
        return;
    }
    m->live[m->nlive++] = j;
    m->running++;
    m->started++;
    j->slow = evtimer_new(hm_event_base(m->ctx), on_slow, j);
    if (j->slow)
        evtimer_add(j->slow, &tv);
}

static void pump(mod_handlers_t *m)
{
    while (m->head && m->running < (size_t)m->concurrency) {
        job_t *j = m->head;
        m->head = j->next;
        if (m->head == NULL)
            m->tail = NULL;
        m->queued--;
        start(m, j);
    }
}

static void enqueue(mod_handlers_t *m, job_t *j)
{
    if (m->queued >= (size_t)m->queue_limit) {
        m->dropped++;
        hm_log(m->ctx, HM_LOG_WARN, "handler queue full (%zu): dropping '%s' for %s", m->queued,
               j->script, j->label);
        job_free(j);
        return;
    }
    j->next = NULL;
    if (m->tail)
        m->tail->next = j;
    else
        m->head = j;
    m->tail = j;
    m->queued++;
}

/* One job per matching handler, in handler order; env and stdin built now
 * (member pointers are only valid during the callback). */
static bool dispatch(mod_handlers_t *m, const handler_event_t *ev, const char *label,
                     const hm_query_t *q)
{
    const hm_member_t *self = hm_self(m->ctx);
    bool any = false;

    hm_log(m->ctx, HM_LOG_INFO, "Received event: %s", label);
    for (size_t i = 0; i < m->specs.n; i++) {
        const handler_spec_t *s = &m->specs.v[i];
        job_t *j;
        if (!handlers_match(s, ev->type, ev->name))
            continue;
        any = true;
        j = calloc(1, sizeof(*j));
        if (j == NULL)
            continue;
        j->m = m;
        j->script = strdup(s->script);
        j->type = strdup(ev->type);
        j->label = strdup(label);
        j->timeout_ms = s->timeout_ms;
        j->env = handlers_env(environ, self, ev);
        if (q) {
            j->is_query = true;
            j->q = *q;
            j->q.name = strdup(q->name);
            j->q.payload = NULL;
            j->q.len = 0;
        }
        if (!j->script || !j->type || !j->label || !j->env || (q && !j->q.name) ||
            handlers_stdin(ev, &j->input) < 0) {
            hm_log(m->ctx, HM_LOG_ERR, "out of memory preparing '%s'", s->script);
            job_free(j);
            continue;
        }
        enqueue(m, j);
    }
    pump(m);
    return any;
}

static void on_member_event(void *ud, const hm_member_event_t *e)
{
    handler_event_t ev = {.type = hm_member_event_name(e->type), .members = e->members, .n = e->n};
    dispatch(ud, &ev, ev.type, NULL);
}

static void on_user_event(void *ud, const hm_user_event_t *e)
{
    handler_event_t ev = {
        .type = "user", .name = e->name, .ltime = e->ltime, .payload = e->payload, .len = e->len};
    char label[512];

    snprintf(label, sizeof(label), "user-event: %s", e->name);
    dispatch(ud, &ev, label, NULL);
}

static int on_query(void *ud, const hm_query_t *q)
{
    handler_event_t ev = {
        .type = "query", .name = q->name, .ltime = q->ltime, .payload = q->payload, .len = q->len};
    char label[512];

    snprintf(label, sizeof(label), "query: %s", q->name);
    return dispatch(ud, &ev, label, q) ? HM_OK : HM_DECLINED;
}

static void on_metrics(void *ud, hm_metric_emit_fn emit, void *eud)
{
    mod_handlers_t *m = ud;

    emit(eud, "handlers.started", (double)m->started);
    emit(eud, "handlers.failed", (double)m->failed);
    emit(eud, "handlers.timed_out", (double)m->timed_out);
    emit(eud, "handlers.dropped", (double)m->dropped);
    emit(eud, "handlers.running", (double)m->running);
    emit(eud, "handlers.queued", (double)m->queued);
}

static int load_specs(hm_ctx_t *ctx, const hm_conf_node_t *conf, handler_specs_t *out)
{
    const hm_conf_node_t *list = hm_conf_get(conf, "event_handlers");
    const hm_conf_node_t *secs = hm_conf_get(conf, "handlers");
    uint64_t timeout = (uint64_t)hm_conf_ms(conf, "timeout");
    char err[1024];

    for (size_t i = 0; list && i < hm_conf_len(list); i++) {
        const char *v = hm_conf_value(hm_conf_at(list, i));
        if (v && handlers_parse(out, v, timeout, err, sizeof(err)) < 0) {
            hm_log(ctx, HM_LOG_ERR, "%s: %s", hm_conf_where(hm_conf_at(list, i)), err);
            return -1;
        }
    }
    for (size_t i = 0; secs && i < hm_conf_len(secs); i++) {
        const hm_conf_node_t *s = hm_conf_at(secs, i);
        const char *ev = hm_conf_str(s, "event"), *cmd = hm_conf_str(s, "command");
        char *entry;
        if (cmd == NULL || *cmd == 0) {
            hm_log(ctx, HM_LOG_ERR, "%s: a handler needs a command", hm_conf_where(s));
            return -1;
        }
        if (asprintf(&entry, "%s=%s", ev && *ev ? ev : "*", cmd) < 0)
            return -1;
        int rc = handlers_parse(out, entry, (uint64_t)hm_conf_ms(s, "timeout"), err, sizeof(err));
        free(entry);
        if (rc < 0) {
            hm_log(ctx, HM_LOG_ERR, "%s: %s", hm_conf_where(s), err);
            return -1;
        }
    }
    return 0;
}

static int handlers_init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    mod_handlers_t *m = calloc(1, sizeof(*m));
    struct sigaction sa;

    if (m == NULL)
        return HM_ERROR;
    m->ctx = ctx;
    hm_ctx_set_data(ctx, m);
    m->concurrency = hm_conf_int(conf, "concurrency");
    m->queue_limit = hm_conf_int(conf, "queue_limit");
    if (load_specs(ctx, conf, &m->specs) < 0)
        return HM_ERROR;
    /* Writing a payload to a handler that does not read it must not kill
     * the daemon. */
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    if (hm_hook_member_event(ctx, on_member_event, m) < 0 ||
        hm_hook_user_event(ctx, on_user_event, m) < 0 ||
        hm_hook_query(ctx, NULL, on_query, m) < 0 || hm_hook_metrics(ctx, on_metrics, m) < 0)
        return HM_ERROR;
    return HM_OK;
}

/* SIGHUP: new handlers for new events; runs already queued keep theirs. */
static int handlers_reload(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    mod_handlers_t *m = hm_ctx_data(ctx);
    handler_specs_t fresh = {0};

    if (load_specs(ctx, conf, &fresh) < 0) {
        handlers_specs_free(&fresh);
        return HM_ERROR;
    }
    handlers_specs_free(&m->specs);
    m->specs = fresh;
    m->concurrency = hm_conf_int(conf, "concurrency");
    m->queue_limit = hm_conf_int(conf, "queue_limit");
    pump(m);
    return HM_OK;
}

static void handlers_fini(hm_ctx_t *ctx)
{
    mod_handlers_t *m = hm_ctx_data(ctx);

    if (m == NULL)
        return;
    while (m->head) {
        job_t *j = m->head;
        m->head = j->next;
        job_free(j);
    }
    for (size_t i = 0; i < m->nlive; i++) {
        handlers_proc_abort(m->live[i]->proc);
        job_free(m->live[i]);
    }
    free(m->live);
    handlers_specs_free(&m->specs);
    free(m);
    hm_ctx_set_data(ctx, NULL);
}

HM_MODULE = {HM_MODULE_V1,  "handlers",      "0.1.0",       keys,
             handlers_init, handlers_reload, handlers_fini, {NULL}};
