/* The hook table: registration order, runner semantics per hook kind, the
 * log observers, ticks on a manual clock, forgetting a module's hooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_daemon.h"
#include "hm_log.h"
#include "tap.h"

static char trace[256];

static void mark(const char *s)
{
    strncat(trace, s, sizeof(trace) - strlen(trace) - 1);
}

/* packet transforms: append the tag byte, or decline / drop */
static int tf_append(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    const char *tag = ud;
    mark(tag);
    hm_buf_append(out, in, len);
    hm_buf_append(out, tag, 1);
    return HM_OK;
}

static int tf_decline(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    (void)in, (void)len, (void)out;
    mark(ud);
    return HM_DECLINED;
}

static int tf_drop(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    (void)in, (void)len, (void)out;
    mark(ud);
    return HM_DROP;
}

static int st_in(void *ud, const uint8_t *in, size_t len, hm_buf_t *out, size_t *consumed)
{
    mark(ud);
    if (len < 4)
        return HM_AGAIN;
    hm_buf_append(out, in, 4);
    *consumed = 4;
    return HM_OK;
}

static int st_in_decline(void *ud, const uint8_t *in, size_t len, hm_buf_t *out, size_t *consumed)
{
    (void)in, (void)len, (void)out, (void)consumed;
    mark(ud);
    return HM_DECLINED;
}

static void on_member(void *ud, const hm_member_event_t *ev)
{
    (void)ev;
    mark(ud);
}

static void on_user(void *ud, const hm_user_event_t *ev)
{
    (void)ev;
    mark(ud);
}

static int q_ok(void *ud, const hm_query_t *q)
{
    (void)q;
    mark(ud);
    return HM_OK;
}

static int q_decline(void *ud, const hm_query_t *q)
{
    (void)q;
    mark(ud);
    return HM_DECLINED;
}

static int filt(void *ud, const char *expr, const hm_member_t *m, const char **err)
{
    (void)m;
    mark(ud);
    if (strcmp(expr, "bad") == 0) {
        *err = "bad expression";
        return HM_ERROR;
    }
    return strcmp(expr, "yes") == 0;
}

static int filt_decline(void *ud, const char *expr, const hm_member_t *m, const char **err)
{
    (void)expr, (void)m, (void)err;
    mark(ud);
    return HM_DECLINED;
}

static int rpc_cmd(void *ud, void *req)
{
    mark(ud);
    *(int *)req += 1;
    return HM_OK;
}

static void tick(void *ud, uint64_t now)
{
    (void)now;
    mark(ud);
}

static void metrics(void *ud, hm_metric_emit_fn emit, void *eud)
{
    emit(eud, ud, 7);
}

static void emit(void *ud, const char *name, double v)
{
    char buf[64];
    (void)ud;
    snprintf(buf, sizeof(buf), "%s=%g;", name, v);
    mark(buf);
}

static char last_line[512];
static int log_lines;

static void on_log(void *ud, hm_log_level_t lvl, const char *line)
{
    (void)ud, (void)lvl;
    log_lines++;
    snprintf(last_line, sizeof(last_line), "%s", line);
    /* logging from an observer must not recurse */
    hm_core_log(HM_LOG_INFO, "test", "from the observer");
}

int main(void)
{
    struct hm_daemon *d = hm_daemon_new(NULL);
    hm_ctx_t *a = hm_ctx_new(d, "a"), *b = hm_ctx_new(d, "b"), *c = hm_ctx_new(d, "c");
    hm_buf_t out = {0};
    size_t used = 0;
    int r, n = 0;
    const char *ferr = NULL;
    hm_query_t q = {.name = "deploy"};
    hm_member_event_t mev = {0};
    hm_user_event_t uev = {0};

    ok(d && a && b && c, "daemon shell and contexts");
    is_str(hm_ctx_module_name(b), "b", "context name");
    hm_ctx_set_data(a, &n);
    ok(hm_ctx_data(a) == &n, "context data slot");
    ok(hm_ctx_daemon(a) == d, "context -> daemon");

    /* transforms chain in registration order */
    hm_hook_packet_out(a, tf_append, "1");
    hm_hook_packet_out(b, tf_decline, "2");
    hm_hook_packet_out(c, tf_append, "3");
    r = hm_run_packet_out(d, (const uint8_t *)"x", 1, &out);
    is_int(r, HM_OK, "packet out: transformed");
    ok(out.len == 3 && memcmp(out.data, "x13", 3) == 0, "each hook saw the previous output");
    is_str(trace, "123", "packet out: registration order, decline passes through");
    hm_buf_reset(&out);
    trace[0] = 0;
    hm_hook_packet_in(a, tf_decline, "a");
    hm_hook_packet_in(b, tf_drop, "b");
    hm_hook_packet_in(c, tf_append, "c");
    r = hm_run_packet_in(d, (const uint8_t *)"x", 1, &out);
    is_int(r, HM_DROP, "packet in: drop stops the chain");
    is_str(trace, "ab", "packet in: hooks after the drop do not run");
    is_int(out.len, 0, "packet in: nothing written on drop");
    trace[0] = 0;
    r = hm_run_stream_out(d, (const uint8_t *)"x", 1, &out);
    is_int(r, HM_DECLINED, "stream out: no hook, declined (use the input)");
    ok(!hm_hooks_have_transforms(NULL) && hm_hooks_have_transforms(d), "have transforms");
    hm_hook_set_packet_overhead(a, 29);
    is_int(hm_hooks_packet_overhead(d), 29, "packet overhead");

    hm_hook_stream_in(a, st_in_decline, "s");
    hm_hook_stream_in(b, st_in, "t");
    r = hm_run_stream_in(d, (const uint8_t *)"ab", 2, &out, &used);
    is_int(r, HM_AGAIN, "stream in: first non-declining hook decides (again)");
    r = hm_run_stream_in(d, (const uint8_t *)"abcdef", 6, &out, &used);
    is_int(r, HM_OK, "stream in: ok");
    is_int(used, 4, "stream in: consumed");
    is_str(trace, "stst", "stream in order");
    trace[0] = 0;

    /* observers all run, in order */
    hm_hook_member_event(b, on_member, "B");
    hm_hook_member_event(a, on_member, "A");
    hm_hook_user_event(c, on_user, "u");
    hm_hook_user_event(a, on_user, "v");
    hm_run_member_event(d, &mev);
    hm_run_user_event(d, &uev);
    is_str(trace, "BAuv", "observers run in registration order, not module order");
    trace[0] = 0;

    /* queries: named first (first non-declined wins), then catch-alls */
    hm_hook_query(a, NULL, q_ok, "*1");
    hm_hook_query(a, "deploy", q_decline, "d1");
    hm_hook_query(b, "deploy", q_ok, "d2");
    hm_hook_query(c, "deploy", q_ok, "d3");
    hm_hook_query(c, "other", q_ok, "o");
    hm_hook_query(b, NULL, q_decline, "*2");
    r = hm_run_query(d, &q, true);
    is_int(r, HM_OK, "query handled");
    is_str(trace, "d1d2*1*2", "query: named in order until handled, then every catch-all");
    trace[0] = 0;
    r = hm_run_query(d, &q, false);
    is_str(trace, "d1d2", "query without catch-alls (internal queries)");
    trace[0] = 0;
    q.name = "nobody";
    r = hm_run_query(d, &q, false);
    is_int(r, HM_DECLINED, "unhandled query declined");

    /* filters and RPC commands: named, first non-declining wins */
    hm_hook_filter(a, "tags", filt_decline, "f1");
    hm_hook_filter(b, "tags", filt, "f2");
    is_int(hm_filter_eval(a, "tags", "yes", NULL, &ferr), 1, "filter match");
    is_int(hm_filter_eval(a, "tags", "no", NULL, &ferr), 0, "filter no match");
    is_int(hm_filter_eval(a, "tags", "bad", NULL, &ferr), HM_ERROR, "filter error");
    is_str(ferr, "bad expression", "filter error message");
    is_int(hm_filter_eval(a, "nope", "x", NULL, &ferr), HM_ERROR, "unknown filter");
    is_str(ferr, "no such filter", "unknown filter message");
    is_str(trace, "f1f2f1f2f1f2", "filter order");
    trace[0] = 0;
    hm_hook_rpc(b, "jobs", rpc_cmd, "r");
    is_int(hm_rpc_dispatch(a, "jobs", &n), HM_OK, "rpc dispatch");
    is_int(n, 1, "rpc command ran");
    is_int(hm_rpc_dispatch(a, "none", &n), HM_DECLINED, "unknown rpc command declined");
    is_int(hm_hook_rpc(b, NULL, rpc_cmd, "r"), HM_ERROR, "rpc hook needs a name");
    trace[0] = 0;

    /* ticks on a manual clock */
    hm_hook_tick(a, 100, tick, "T");
    hm_hook_tick(b, 250, tick, "U");
    uint64_t t0 = hm_now_ms(a);
    hm_run_tick(d, t0 + 50);
    is_str(trace, "", "no tick before its interval");
    hm_run_tick(d, t0 + 110);
    hm_run_tick(d, t0 + 300);
    is_str(trace, "TTU", "ticks fire per interval");
    trace[0] = 0;

    /* metrics: counters, then hooks */
    hm_metric_add(a, "a.sent", 2);
    hm_metric_add(a, "a.sent", 3);
    hm_hook_metrics(c, metrics, "c.gauge");
    hm_metrics_collect(a, emit, NULL);
    is_str(trace, "a.sent=5;c.gauge=7;", "metrics");
    trace[0] = 0;

    /* log observers see every line, whatever the level */
    hm_log_set_output(NULL);
    hm_log_set_level(HM_LOG_ERR);
    hm_hook_log(c, on_log, NULL);
    hm_log_attach(d);
    hm_log(a, HM_LOG_DEBUG, "hello %d", 42);
    is_int(log_lines, 1, "observer saw a line below the level (and did not recurse)");
    ok(strstr(last_line, " [DEBUG] a: hello 42") != NULL, "Serf-style line: %s", last_line);
    ok(strlen(last_line) > 20 && last_line[4] == '/' && last_line[7] == '/' && last_line[13] == ':',
       "timestamp YYYY/MM/DD HH:MM:SS");
    hm_core_log(HM_LOG_WARN, "memberlist", "x\n");
    ok(strstr(last_line, "[WARN] memberlist: x") && last_line[strlen(last_line) - 1] == 'x',
       "core log with subsystem, trailing newline dropped");

    /* the level filters what is written; syslog facilities */
    {
        char *mem = NULL;
        size_t memlen = 0;
        FILE *f = open_memstream(&mem, &memlen);
        hm_log_level_t lvl;
        hm_log_set_output(f);
        hm_log_set_level(HM_LOG_WARN);
        hm_core_log(HM_LOG_INFO, "agent", "quiet");
        hm_core_log(HM_LOG_ERR, "agent", "loud");
        fclose(f);
        ok(mem && !strstr(mem, "quiet") && strstr(mem, "[ERR] agent: loud\n"),
           "lines below the level are not written, others are, one per line");
        free(mem);
        hm_log_set_output(NULL);
        ok(hm_log_parse_level("WARN", &lvl) == 0 && lvl == HM_LOG_WARN, "level names parse");
        ok(hm_log_parse_level("loud", &lvl) < 0, "unknown level refused");
        is_str(hm_log_level_name(HM_LOG_TRACE), "TRACE", "level name");
        ok(hm_log_set_syslog(true, "LOCAL9") < 0, "unknown syslog facility refused");
        ok(hm_log_set_syslog(true, "local3") == 0, "syslog facility (case-insensitive)");
        hm_log_set_syslog(false, NULL);
    }

    /* forgetting a module's hooks */
    hm_hooks_forget(d->hooks, a);
    hm_run_member_event(d, &mev);
    is_str(trace, "B", "forgotten hooks no longer run");
    hm_log_attach(NULL);

    /* NULL daemon: pass-through */
    is_int(hm_run_packet_out(NULL, (const uint8_t *)"x", 1, &out), HM_DECLINED, "NULL daemon");
    hm_buf_free(&out);
    hm_daemon_free(d);
    return done_testing();
}
