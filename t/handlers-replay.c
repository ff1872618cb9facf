/* Test helper: runs a handler command for one event through mod_handlers'
 * own env.c / run.c, the way the module does, and prints its output.
 *   handlers-replay -s SELF [-t k=v]... -e TYPE [-n NAME] [-l LTIME]
 *                   [-p PAYLOAD] [-m NAME/IP/k=v,k=v]... -- COMMAND
 * Exit status: the command's (or 99 when it could not run). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "../modules/handlers/env.h"
#include "../modules/handlers/run.h"

extern char **environ;

static hm_tag_t *parse_tags(char *spec, size_t *n)
{
    hm_tag_t *v = calloc(32, sizeof(*v));
    char *save = NULL;
    *n = 0;
    for (char *t = strtok_r(spec, ",", &save); t && *n < 32; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq)
            continue;
        *eq = 0;
        v[*n].key = t;
        v[(*n)++].value = eq + 1;
    }
    return v;
}

static hm_member_t *parse_member(char *spec)
{
    hm_member_t *m = calloc(1, sizeof(*m));
    char *ip = strchr(spec, '/'), *tags;
    m->name = spec;
    if (ip) {
        *ip++ = 0;
        tags = strchr(ip, '/');
        if (tags)
            *tags++ = 0;
        if (inet_pton(AF_INET, ip, m->addr.ip) == 1)
            m->addr.len = 4;
        else if (inet_pton(AF_INET6, ip, m->addr.ip) == 1)
            m->addr.len = 16;
        if (tags)
            m->tags.v = parse_tags(tags, &m->tags.n);
    }
    return m;
}

static int finished;
static handlers_result_t result;
static uint8_t outbuf[HANDLERS_OUTPUT_MAX];

static void on_done(void *ud, const handlers_result_t *r)
{
    result = *r;
    memcpy(outbuf, r->out, r->out_len);
    finished = 1;
}

int main(int argc, char **argv)
{
    hm_member_t self = {0};
    hm_tag_t selftags[32];
    const hm_member_t *members[32];
    handler_event_t ev = {0};
    hm_buf_t in = {0};
    int c;

    while ((c = getopt(argc, argv, "s:t:e:n:l:p:m:")) != -1) {
        switch (c) {
        case 's':
            self.name = optarg;
            break;
        case 't': {
            char *eq = strchr(optarg, '=');
            if (eq && self.tags.n < 32) {
                *eq = 0;
                selftags[self.tags.n].key = optarg;
                selftags[self.tags.n++].value = eq + 1;
            }
            break;
        }
        case 'e':
            ev.type = optarg;
            break;
        case 'n':
            ev.name = optarg;
            break;
        case 'l':
            ev.ltime = strtoull(optarg, NULL, 10);
            break;
        case 'p':
            ev.payload = (const uint8_t *)optarg;
            ev.len = strlen(optarg);
            break;
        case 'm':
            if (ev.n < 32)
                members[ev.n++] = parse_member(optarg);
            break;
        default:
            return 99;
        }
    }
    if (optind >= argc || ev.type == NULL || self.name == NULL) {
        fprintf(stderr, "usage: handlers-replay -s SELF -e TYPE ... -- COMMAND\n");
        return 99;
    }
    self.tags.v = selftags;
    ev.members = members;
    signal(SIGPIPE, SIG_IGN);

    char **env = handlers_env(environ, &self, &ev);
    struct event_base *b = event_base_new();
    handlers_stdin(&ev, &in);
    handlers_run_opts_t o = {
        .command = argv[optind], .env = env, .input = in.data, .input_len = in.len};
    if (!env || !b || !handlers_run(b, &o, on_done, NULL))
        return 99;
    while (!finished)
        event_base_loop(b, EVLOOP_ONCE);
    fwrite(outbuf, 1, result.out_len, stdout);
    handlers_env_free(env);
    hm_buf_free(&in);
    event_base_free(b);
    for (size_t i = 0; i < ev.n; i++) {
        free(((hm_member_t *)members[i])->tags.v);
        free((hm_member_t *)members[i]);
    }
    if (result.spawn_errno || !WIFEXITED(result.status))
        return 99;
    return WEXITSTATUS(result.status);
}
