/* mod_handlers' pure parts: Serf's spec syntax, the environment and stdin
 * Serf gives a handler, and the asynchronous runner (timeout kills the
 * group, floods are bounded, forks never hold the loop, no zombies). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "tap.h"
#include "../modules/handlers/env.h"
#include "../modules/handlers/run.h"
#include "../modules/handlers/spec.h"

static void test_spec(void)
{
    handler_specs_t s = {0};
    char err[256], d[256];

    ok(handlers_parse(&s, "handler.sh", 0, err, sizeof(err)) == 0 && s.n == 1 &&
           strcmp(s.v[0].event, "*") == 0 && strcmp(s.v[0].script, "handler.sh") == 0,
       "no filter: '*'");
    ok(handlers_parse(&s, "member-join,user:deploy,query=/bin/x a b", 5, err, sizeof(err)) == 0 &&
           s.n == 4,
       "comma list: one handler per token");
    ok(strcmp(s.v[1].event, "member-join") == 0 && strcmp(s.v[2].event, "user") == 0 &&
           strcmp(s.v[2].name, "deploy") == 0 && strcmp(s.v[3].event, "query") == 0 &&
           strcmp(s.v[3].script, "/bin/x a b") == 0 && s.v[3].timeout_ms == 5,
       "tokens parsed in order");
    ok(handlers_parse(&s, "foo.sh a=b", 0, err, sizeof(err)) < 0 && s.n == 4,
       "split at the first '=': 'foo.sh a' is a bad filter");
    is_str(err, "Invalid event script: Event 'foo.sh a' invoking 'b'", "Serf's error text");
    ok(handlers_parse(&s, "user:deploy,bogus=x", 0, err, sizeof(err)) < 0 && s.n == 4,
       "one bad token rejects the whole entry");
    ok(handlers_parse(&s, "member-join,,member-leave=x", 0, err, sizeof(err)) < 0,
       "empty token is invalid (strings.Split)");
    ok(handlers_parse(&s, "query:=q.sh", 0, err, sizeof(err)) == 0 && s.n == 5 &&
           strcmp(s.v[4].name, "") == 0,
       "query: with an empty name = every query");
    handlers_describe(&s.v[2], d, sizeof(d));
    is_str(d, "Event 'user:deploy' invoking '/bin/x a b'", "describe as Serf prints it");
    ok(handlers_match(&s.v[0], "member-reap", NULL), "* matches member-reap");
    ok(handlers_match(&s.v[1], "member-join", NULL), "member-join matches");
    ok(!handlers_match(&s.v[1], "member-leave", NULL), "member-join vs leave");
    ok(handlers_match(&s.v[2], "user", "deploy") && !handlers_match(&s.v[2], "user", "deploy2"),
       "user:NAME exact");
    ok(!handlers_match(&s.v[2], "query", "deploy"), "user:NAME is not a query");
    ok(handlers_match(&s.v[3], "query", "anything"), "query matches every query");
    ok(handlers_match(&s.v[4], "query", "x"), "query: matches every query");
    handlers_specs_free(&s);
}

static const char *env_get(char **env, const char *k)
{
    size_t n = strlen(k);
    for (size_t i = 0; env[i]; i++)
        if (strncmp(env[i], k, n) == 0 && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

static void test_env(void)
{
    hm_tag_t st[] = {{"role", "web"}, {"my-tag.x", "v"}, {"dc", "east"}};
    hm_member_t self = {.name = "h1", .tags = {st, 3}};
    char *base[] = {"PATH=/bin", "SERF_EVENT=stale", NULL};
    handler_event_t ue = {
        .type = "user", .name = "deploy", .ltime = 42, .payload = (const uint8_t *)"abc", .len = 3};
    char **env = handlers_env(base, &self, &ue);
    char name[64];
    hm_buf_t in = {0};

    is_str(env_get(env, "PATH"), "/bin", "daemon environment kept");
    is_str(env_get(env, "SERF_EVENT"), "user", "SERF_EVENT replaces an inherited value");
    is_str(env_get(env, "SERF_SELF_NAME"), "h1", "SERF_SELF_NAME");
    is_str(env_get(env, "SERF_SELF_ROLE"), "web", "SERF_SELF_ROLE");
    is_str(env_get(env, "SERF_TAG_ROLE"), "web", "SERF_TAG_ROLE");
    is_str(env_get(env, "SERF_TAG_MY_TAG_X"), "v", "SERF_TAG_MY_TAG_X (sanitized)");
    is_str(env_get(env, "SERF_USER_EVENT"), "deploy", "SERF_USER_EVENT");
    is_str(env_get(env, "SERF_USER_LTIME"), "42", "SERF_USER_LTIME");
    ok(env_get(env, "SERF_QUERY_NAME") == NULL, "no query variables for a user event");
    handlers_env_free(env);
    handlers_tag_env_name("a\xc3\xa9-b", name, sizeof(name));
    is_str(name, "A__B", "one '_' per non-ASCII rune");

    handlers_stdin(&ue, &in);
    ok(in.len == 4 && memcmp(in.data, "abc\n", 4) == 0, "payload gets a newline");
    hm_buf_reset(&in);
    ue.payload = (const uint8_t *)"x\n";
    ue.len = 2;
    handlers_stdin(&ue, &in);
    ok(in.len == 2, "payload ending in newline unchanged");
    hm_buf_reset(&in);
    ue.len = 0;
    handlers_stdin(&ue, &in);
    is_int(in.len, 0, "empty payload: empty stdin");

    handler_event_t qe = {.type = "query", .name = "q1", .ltime = 7};
    env = handlers_env(NULL, &self, &qe);
    ok(env_get(env, "SERF_QUERY_NAME") && strcmp(env_get(env, "SERF_QUERY_NAME"), "q1") == 0 &&
           strcmp(env_get(env, "SERF_QUERY_LTIME"), "7") == 0 &&
           env_get(env, "SERF_USER_EVENT") == NULL,
       "query variables");
    handlers_env_free(env);

    hm_tag_t t2[] = {{"role", "d\tb"}, {"dc", "we\nst"}};
    hm_member_t m1 = {.name = "n\t1", .addr = {{127, 0, 0, 2}, 4, 7946}, .tags = {t2, 2}};
    hm_member_t m2 = {.name = "n2",
                      .addr = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}, 16, 1}};
    hm_member_t m3 = {.name = "n3", .addr = {{0x20, 0x01, 0x0d, 0xb8, [15] = 1}, 16, 1}};
    const hm_member_t *ms[] = {&m1, &m2, &m3};
    handler_event_t me = {.type = "member-join", .members = ms, .n = 3};
    hm_buf_reset(&in);
    handlers_stdin(&me, &in);
    hm_buf_append(&in, "", 1);
    is_str((char *)in.data,
           "n\\t1\t127.0.0.2\td\\tb\trole=d\\tb,dc=we\\nst\n"
           "n2\t10.0.0.1\t\t\n"
           "n3\t2001:db8::1\t\t\n",
           "member lines: NAME IP ROLE TAGS, tabs/newlines escaped, v4-mapped dotted");
    env = handlers_env(NULL, &self, &me);
    ok(env_get(env, "SERF_USER_LTIME") == NULL && env_get(env, "SERF_QUERY_LTIME") == NULL,
       "member events carry no LTIME");
    handlers_env_free(env);
    hm_buf_free(&in);
}

/* ---- runner ---- */

typedef struct res {
    int done;
    handlers_result_t r;
    uint8_t out[HANDLERS_OUTPUT_MAX];
    long long ms;
} res_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_done(void *ud, const handlers_result_t *r)
{
    res_t *x = ud;
    x->done++;
    x->r = *r;
    memcpy(x->out, r->out, r->out_len);
    x->r.out = x->out;
    x->ms = now_ms();
}

/* Runs the loop until `x` is done or 10 s pass (a bound, not a wait). */
static void run_until(struct event_base *b, res_t *x)
{
    long long end = now_ms() + 10000;
    while (!x->done && now_ms() < end)
        event_base_loop(b, EVLOOP_ONCE);
}

static res_t *run(struct event_base *b, const char *cmd, const char *input, uint64_t timeout)
{
    static res_t x;
    handlers_run_opts_t o = {.command = cmd,
                             .env = (char *[]){"PATH=/usr/bin:/bin", NULL},
                             .input = (const uint8_t *)input,
                             .input_len = input ? strlen(input) : 0,
                             .timeout_ms = timeout,
                             .kill_grace_ms = 300};
    memset(&x, 0, sizeof(x));
    ok(handlers_run(b, &o, on_done, &x) != NULL, "started: %s", cmd);
    run_until(b, &x);
    return &x;
}

/* A process is gone when it no longer exists or is a zombie of someone else. */
static int gone(pid_t pid)
{
    char path[64], st[256];
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return 1;
    size_t n = fread(st, 1, sizeof(st) - 1, f);
    fclose(f);
    st[n] = 0;
    char *p = strrchr(st, ')');
    return p && p[1] == ' ' && p[2] == 'Z';
}

static int wait_gone(pid_t pid)
{
    long long end = now_ms() + 5000;
    while (!gone(pid) && now_ms() < end)
        usleep(10000);
    return gone(pid);
}

static void tick(evutil_socket_t fd, short w, void *arg)
{
    (*(int *)arg)++;
}

static void test_run(void)
{
    struct event_base *b = event_base_new();
    res_t *x;
    long long t0;

    x = run(b, "cat; echo err >&2", "hello\n", 0);
    ok(x->done == 1 && WIFEXITED(x->r.status) && WEXITSTATUS(x->r.status) == 0,
       "exit 0, done once");
    ok(x->r.out_len == 10 && memcmp(x->out, "hello\nerr\n", 10) == 0,
       "stdin fed; stdout and stderr merged in order");

    x = run(b, "exit 3", NULL, 0);
    is_int(WEXITSTATUS(x->r.status), 3, "exit status kept");

    x = run(b, "echo \"$SERF_X\"", NULL, 0);
    ok(x->r.out_len == 1, "only the given environment");

    t0 = now_ms();
    x = run(b, "sleep 30", NULL, 200);
    ok(x->done && x->r.timed_out && WIFSIGNALED(x->r.status), "timeout kills (signal %d)",
       WIFSIGNALED(x->r.status) ? WTERMSIG(x->r.status) : 0);
    ok(x->ms - t0 < 3000, "killed within bounds (%lld ms)", x->ms - t0);

    t0 = now_ms();
    x = run(b, "trap '' TERM; sleep 30", NULL, 100);
    ok(x->done && x->r.timed_out && WIFSIGNALED(x->r.status) && WTERMSIG(x->r.status) == SIGKILL,
       "TERM ignored: SIGKILL after the grace period");

    x = run(b, "head -c 5000000 /dev/zero | tr '\\0' a; printf END", NULL, 0);
    ok(x->r.total_written == 5000003 && x->r.out_len == HANDLERS_OUTPUT_MAX &&
           memcmp(x->out + HANDLERS_OUTPUT_MAX - 4, "aEND", 4) == 0,
       "flood: %llu bytes counted, last 8 KiB kept", (unsigned long long)x->r.total_written);

    /* A background child keeping the output pipe open must not hold the run. */
    t0 = now_ms();
    x = run(b, "sleep 20 & echo $!", NULL, 0);
    ok(x->done && x->ms - t0 < 3000, "shell exits: done although a child holds the pipe (%lld ms)",
       x->ms - t0);
    pid_t bg = (pid_t)atoi((char *)x->out);
    ok(bg > 0 && !gone(bg), "background child still running (pid %d)", (int)bg);
    if (bg > 0)
        kill(bg, SIGKILL);

    /* Timeout kills the whole process group, grandchildren included. */
    x = run(b, "sleep 20 & echo $!; sleep 20", NULL, 300);
    bg = (pid_t)atoi((char *)x->out);
    ok(x->r.timed_out && bg > 0 && wait_gone(bg), "timeout killed the grandchild %d too", (int)bg);

    /* Every direct child is reaped: no zombie of ours is left. */
    {
        int zombies = waitpid(-1, NULL, WNOHANG);
        ok(zombies <= 0, "nothing left to reap (waitpid %d)", zombies);
    }

    /* Input larger than a pipe to a command that never reads it. */
    {
        char *big = malloc(1 << 20);
        memset(big, 'x', (1 << 20) - 1);
        big[(1 << 20) - 1] = 0;
        x = run(b, "exit 0", big, 0);
        ok(x->done && WIFEXITED(x->r.status), "unread 1 MiB stdin: no SIGPIPE death, done");
        free(big);
    }

    /* The loop keeps running while a handler sleeps. */
    {
        static res_t y;
        int ticks = 0;
        struct timeval tv = {0, 20000};
        struct event *t = event_new(b, -1, EV_PERSIST, tick, &ticks);
        handlers_run_opts_t o = {.command = "sleep 0.5", .env = (char *[]){NULL}};
        memset(&y, 0, sizeof(y));
        event_add(t, &tv);
        handlers_run(b, &o, on_done, &y);
        run_until(b, &y);
        event_free(t);
        ok(y.done && ticks >= 5, "loop ran %d timer ticks during a 0.5 s handler", ticks);
    }

    /* Cannot start: reported through the callback, from the loop. */
    {
        static res_t y;
        handlers_run_opts_t o = {
            .command = "x", .env = (char *[]){NULL}, .shell = "/nonexistent/sh"};
        memset(&y, 0, sizeof(y));
        handlers_run(b, &o, on_done, &y);
        ok(y.done == 0, "failure not reported from inside the call");
        run_until(b, &y);
        ok(y.done == 1 && y.r.spawn_errno != 0, "spawn failure reported (%s)",
           strerror(y.r.spawn_errno));
    }
    event_base_free(b);
}

/* Random spec strings never crash the parser (deterministic). */
static void test_garbage(void)
{
    static const char alphabet[] = "=,:*user-joinqy ab";
    uint64_t x = 0x853c49e6748fea9bull;
    char s[48], err[256];
    size_t total = 0;

    for (int i = 0; i < 20000; i++) {
        handler_specs_t sp = {0};
        size_t n = (size_t)(i % 40);
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[j] = alphabet[x % (sizeof(alphabet) - 1)];
        }
        s[n] = 0;
        if (handlers_parse(&sp, s, 0, err, sizeof(err)) == 0)
            total += sp.n;
        handlers_specs_free(&sp);
    }
    ok(total > 0, "20000 random specs parsed or refused (%zu handlers made)", total);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as mod_handlers does in the daemon */
    test_spec();
    test_env();
    test_run();
    test_garbage();
    return done_testing();
}
