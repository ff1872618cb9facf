/* mod_handlers as the daemon drives it (through the real core, t/fakecore.c,
 * and a real libevent loop): specs from the config, member/user/query events run in
 * order, the query answered with the output, exit status and timeouts
 * logged as Serf does, bad specs refused. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "fakecore.h"
#include "tap.h"

extern const hm_module_t hm_module;

static char dir[] = "/tmp/hm-modhandlers-XXXXXX";

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until no handler runs or waits (bounded: 10 s). */
static int settle(void)
{
    long long end = now_ms() + 10000;
    event_base_loop(fc.base, EVLOOP_NONBLOCK);
    while (fc_metric("handlers.running") + fc_metric("handlers.queued") > 0 && now_ms() < end)
        event_base_loop(fc.base, EVLOOP_ONCE);
    return fc_metric("handlers.running") + fc_metric("handlers.queued") == 0;
}

static void user(const char *name, uint64_t ltime, const char *payload)
{
    hm_user_event_t e = {.ltime = ltime,
                         .name = name,
                         .payload = (const uint8_t *)payload,
                         .len = payload ? strlen(payload) : 0};
    hm_run_user_event(fc_daemon(), &e);
}

int main(void)
{
    hm_conf_node_t *conf;
    char log[256], spec[512];
    hm_tag_t tags[] = {{"role", "web"}};

    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(log, sizeof(log), "%s/log", dir);
    fc.base = event_base_new();
    fc.self.name = "h1";
    fc.self.tags.v = tags;
    fc.self.tags.n = 1;

    /* A bad token refuses the start, with Serf's words. */
    conf = fc_map();
    fc_list_add(conf, "event_handlers", "member-join,bogus=x");
    fc_defaults(conf, hm_module.keys);
    is_int(hm_module.init(fc_ctx(), conf), HM_ERROR, "bad spec refused");
    ok(strstr(fc.last_log, "Invalid event script: Event 'bogus' invoking 'x'") != NULL,
       "Serf's message: %s", fc.last_log);
    hm_module.fini(fc_ctx());
    fc_free(conf);

    conf = fc_map();
    snprintf(spec, sizeof(spec),
             "member-join,user:deploy=echo \"$SERF_EVENT $SERF_SELF_ROLE "
             "${SERF_USER_LTIME:-} $(cat | tr '\\n' '|')\" >> %s",
             log);
    fc_list_add(conf, "event_handlers", spec);
    fc_list_add(conf, "event_handlers", "query:ask=cat; echo answered");
    fc_list_add(conf, "event_handlers", "user:fail=exit 3");
    hm_conf_node_t *s = fc_section_add(conf, "handlers");
    fc_set(s, "event", "user:slow");
    fc_set(s, "command", "sleep 30");
    fc_set(s, "timeout", "200ms");
    fc_defaults(s, hm_module.keys[1].children);
    fc_defaults(conf, hm_module.keys);
    is_int(hm_module.init(fc_ctx(), conf), HM_OK, "init");
    ok(fc_hooks("member_event") == 1 && fc_hooks("user_event") == 1, "member and user event hooks");
    is_int(fc_hooks("query"), 1, "a (catch-all) query hook");

    /* A member join with two members: one stdin line each. */
    {
        hm_member_t a = {.name = "n1", .addr = {{127, 0, 0, 1}, 4, 1}};
        hm_member_t b = {.name = "n2", .addr = {{127, 0, 0, 2}, 4, 1}};
        const hm_member_t *ms[] = {&a, &b};
        hm_member_event_t ev = {HM_EVENT_MEMBER_JOIN, ms, 2};
        hm_run_member_event(fc_daemon(), &ev);
        ok(settle(), "member-join handled");
        is_str(fc_slurp(log), "member-join web  n1\t127.0.0.1\t\t|n2\t127.0.0.2\t\t|\n",
               "env and stdin of a member event");
    }

    /* Five user events in a row: run one after another, in order. */
    unlink(log);
    for (int i = 1; i <= 5; i++)
        user("deploy", (uint64_t)i, "p");
    user("unhandled", 9, NULL);
    ok(settle(), "user events handled");
    is_str(fc_slurp(log),
           "user web 1 p|\nuser web 2 p|\nuser web 3 p|\nuser web 4 p|\nuser web 5 p|\n",
           "serial, in event order, payload with its newline");
    is_int(fc_metric("handlers.started"), 6, "one run per matching event");

    /* A query: the output is the response. */
    {
        hm_query_t q = {
            .ltime = 4, .id = 99, .name = "ask", .payload = (const uint8_t *)"hi", .len = 2};
        is_int(fc_query(NULL, &q), HM_OK, "query taken");
        hm_query_t other = {.ltime = 5, .id = 100, .name = "other"};
        is_int(fc_query(NULL, &other), HM_DECLINED, "query without a handler declined");
        ok(settle(), "query handled");
        ok(fc.nresponses == 1 && fc.responses[0].id == 99 && fc.responses[0].len == 12 &&
               memcmp(fc.responses[0].data, "hi\nanswered\n", 12) == 0,
           "response = stdout (payload echoed, then 'answered')");
        fc.respond_rc = HM_ERROR;
        fc_query(NULL, &q);
        settle();
        ok(strstr(fc.logs, "Failed to respond to query 'query: ask'") != NULL,
           "respond failure logged as Serf");
        fc.respond_rc = 0;
    }

    /* Exit status and timeout. */
    user("fail", 10, NULL);
    settle();
    ok(strstr(fc.logs, "[ERR] handlers: Error invoking script 'exit 3': exit status 3") != NULL,
       "non-zero exit logged as Serf");
    {
        long long t0 = now_ms();
        user("slow", 11, NULL);
        ok(settle() && now_ms() - t0 < 5000, "a hanging handler is killed (%lld ms)",
           now_ms() - t0);
        is_int(fc_metric("handlers.timed_out"), 1, "timeout counted");
        ok(strstr(fc.logs, "killed after 200ms timeout") != NULL, "timeout logged");
    }
    ok(strstr(fc.logs, "[INFO] handlers: Received event: user-event: deploy") != NULL &&
           strstr(fc.logs, "[INFO] handlers: Received event: query: ask") != NULL &&
           strstr(fc.logs, "[INFO] handlers: Received event: member-join") != NULL,
       "per-event log lines as Serf's");

    /* SIGHUP: a new handler list applies to the next events. */
    {
        hm_conf_node_t *c2 = fc_map();
        char spec2[512];
        snprintf(spec2, sizeof(spec2), "user:deploy=echo reloaded >> %s", log);
        fc_list_add(c2, "event_handlers", spec2);
        fc_defaults(c2, hm_module.keys);
        unlink(log);
        is_int(hm_module.reload(fc_ctx(), c2), HM_OK, "reload");
        user("deploy", 20, NULL);
        settle();
        is_str(fc_slurp(log), "reloaded\n", "the new handler ran, the old one did not");
        hm_conf_node_t *bad = fc_map();
        fc_list_add(bad, "event_handlers", "nope=x");
        fc_defaults(bad, hm_module.keys);
        is_int(hm_module.reload(fc_ctx(), bad), HM_ERROR, "a bad reload is refused");
        unlink(log);
        user("deploy", 21, NULL);
        settle();
        is_str(fc_slurp(log), "reloaded\n", "and the previous handlers stay");
        fc_free(bad);
        fc_free(c2);
    }

    hm_module.fini(fc_ctx());
    fc_free(conf);
    event_base_free(fc.base);
    unlink(log);
    rmdir(dir);
    return done_testing();
}
