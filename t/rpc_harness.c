/*
 * A stand-in daemon for testing mod_rpc before hamletd runs an agent: the
 * real core (config, module loader, hooks, logger) with a scripted cluster
 * behind <hamlet/api.h>: four members, user events and queries delivered
 * to the hooks at once, queries answered by n2 ("resp-from-n2\n") and acked
 * by every live member, `respond` of a streaming client routed back to the
 * query's sender as a response from n1.
 *
 *   rpc_harness PORT [AUTH_KEY]    prints "ready" once listening
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "hm_daemon.h"
#include "hm_log.h"

static struct hm_daemon *D;
static hm_tag_t t1[8] = {{"role", "web"}, {"dc", "east"}}, t2[] = {{"role", "db"}};
static hm_member_t M[4] = {
    {"n1", {{127, 0, 0, 1}, 4, 7946}, {t1, 2}, HM_STATUS_ALIVE, {1, 5, 2, 2, 5, 5}, 1},
    {"n2", {{127, 0, 0, 1}, 4, 7947}, {t2, 1}, HM_STATUS_ALIVE, {1, 5, 2, 2, 5, 5}, 1},
    {"n3", {{127, 0, 0, 1}, 4, 7948}, {NULL, 0}, HM_STATUS_ALIVE, {1, 5, 2, 2, 5, 5}, 1},
    {"n4", {{127, 0, 0, 1}, 4, 7949}, {NULL, 0}, HM_STATUS_LEFT, {1, 5, 2, 2, 5, 5}, 1},
};
static size_t NM = 4;
static uint64_t ltime = 1;
static char tagstore[8][2][64];

const hm_member_t *hm_self(hm_ctx_t *ctx)
{
    return &M[0];
}

void hm_members_foreach(hm_ctx_t *ctx, hm_member_iter_fn fn, void *ud)
{
    for (size_t i = 0; i < NM; i++)
        if (fn(ud, &M[i]))
            return;
}

size_t hm_members_count(hm_ctx_t *ctx)
{
    return NM;
}

static hm_member_t *find(const char *name)
{
    for (size_t i = 0; i < NM; i++)
        if (strcmp(M[i].name, name) == 0)
            return &M[i];
    return NULL;
}

static void member_event(hm_member_event_type_t t, const hm_member_t *m)
{
    const hm_member_t *v[1] = {m};
    hm_member_event_t ev = {t, v, 1};
    hm_run_member_event(D, &ev);
}

int hm_user_event(hm_ctx_t *ctx, const char *name, const void *payload, size_t len, bool coalesce)
{
    hm_user_event_t ev = {++ltime, name, payload, len, coalesce};

    if (strlen(name) + len > 512)
        return HM_ERROR;
    hm_log(ctx, HM_LOG_INFO, "Received event: user-event: %s", name);
    hm_run_user_event(D, &ev);
    return HM_OK;
}

int hm_tags_update(hm_ctx_t *ctx, const hm_tags_t *set, const char *const *del, size_t ndel)
{
    hm_tags_t *t = &M[0].tags;

    for (size_t i = 0; i < ndel; i++)
        for (size_t k = 0; k < t->n; k++)
            if (strcmp(t->v[k].key, del[i]) == 0) {
                t->v[k] = t->v[--t->n];
                break;
            }
    for (size_t i = 0; set && i < set->n; i++) {
        size_t k;
        for (k = 0; k < t->n && strcmp(t->v[k].key, set->v[i].key) != 0; k++)
            ;
        if (k == 8)
            return HM_ERROR;
        snprintf(tagstore[k][0], 64, "%s", set->v[i].key);
        snprintf(tagstore[k][1], 64, "%s", set->v[i].value);
        t->v[k].key = tagstore[k][0];
        t->v[k].value = tagstore[k][1];
        if (k == t->n)
            t->n++;
    }
    member_event(HM_EVENT_MEMBER_UPDATE, &M[0]);
    return HM_OK;
}

/* --- queries ------------------------------------------------------------ */

typedef struct fq {
    hm_query_reply_fn fn;
    void *ud;
    struct event *tick, *end;
    char *name;
    uint8_t *payload;
    size_t len;
    bool ack, done;
    char nodes[4];
    hm_query_t q;
} fq_t;

static fq_t *live_q; /* the query a stream's `respond` answers */

static void q_end(evutil_socket_t fd, short what, void *arg)
{
    fq_t *q = arg;

    q->fn(q->ud, HM_QUERY_DONE, "", NULL, 0);
    if (live_q == q)
        live_q = NULL;
    event_free(q->tick);
    event_free(q->end);
    free(q->name);
    free(q->payload);
    free(q);
}

static void q_tick(evutil_socket_t fd, short what, void *arg)
{
    fq_t *q = arg;

    for (size_t i = 0; i < NM; i++) {
        if (!q->nodes[i] || M[i].status != HM_STATUS_ALIVE)
            continue;
        if (q->ack)
            q->fn(q->ud, HM_QUERY_ACK, M[i].name, NULL, 0);
        if (i == 1 && strncmp(q->name, "_serf_", 6) != 0)
            q->fn(q->ud, HM_QUERY_RESPONSE, "n2", (const uint8_t *)"resp-from-n2\n", 13);
    }
    /* n1 (this node) sees the query: streams may answer with `respond` */
    if (q->nodes[0] && strncmp(q->name, "_serf_", 6) != 0) {
        live_q = q;
        hm_run_query(D, &q->q, true);
    }
}

static bool tags_match(const hm_member_t *m, const hm_tags_t *f)
{
    for (size_t i = 0; f && i < f->n; i++) {
        const char *v = "";
        regex_t re;
        bool ok;
        for (size_t k = 0; k < m->tags.n; k++)
            if (strcmp(m->tags.v[k].key, f->v[i].key) == 0)
                v = m->tags.v[k].value;
        if (regcomp(&re, f->v[i].value, REG_EXTENDED | REG_NOSUB) != 0)
            return false;
        ok = regexec(&re, v, 0, NULL, 0) == 0;
        regfree(&re);
        if (!ok)
            return false;
    }
    return true;
}

int hm_query_send(hm_ctx_t *ctx, const hm_query_params_t *p, hm_query_reply_fn fn, void *ud,
                  uint32_t *id_out)
{
    fq_t *q;
    struct timeval tick = {0, 20000}, end;
    uint64_t ms = p->timeout_ms ? p->timeout_ms : 500;

    if (p->len + strlen(p->name) > 1024)
        return HM_ERROR;
    q = calloc(1, sizeof(*q));
    q->fn = fn;
    q->ud = ud;
    q->name = strdup(p->name);
    q->payload = malloc(p->len + 1);
    memcpy(q->payload, p->payload ? p->payload : (const void *)"", p->len);
    q->len = p->len;
    q->ack = p->request_ack;
    for (size_t i = 0; i < NM; i++) {
        bool in = p->n_filter_nodes == 0;
        for (size_t k = 0; k < p->n_filter_nodes; k++)
            in |= strcmp(p->filter_nodes[k], M[i].name) == 0;
        q->nodes[i] = in && tags_match(&M[i], p->filter_tags);
    }
    q->q =
        (hm_query_t){++ltime, (uint32_t)ltime, q->name, q->payload, q->len, hm_now_ms(ctx) + ms, q};
    end.tv_sec = (time_t)(ms / 1000);
    end.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    q->tick = evtimer_new(hm_event_base(ctx), q_tick, q);
    q->end = evtimer_new(hm_event_base(ctx), q_end, q);
    evtimer_add(q->tick, &tick);
    evtimer_add(q->end, &end);
    if (id_out)
        *id_out = (uint32_t)ltime;
    return HM_OK;
}

int hm_query_respond(hm_ctx_t *ctx, const hm_query_t *q, const void *buf, size_t len)
{
    fq_t *f = q->opaque;

    if (f == NULL || f != live_q || len > 1024)
        return HM_ERROR;
    f->fn(f->ud, HM_QUERY_RESPONSE, "n1", buf, len);
    return HM_OK;
}

/* --- membership actions, coordinates, stats ------------------------------------ */

int hm_join(hm_ctx_t *ctx, const char *const *addrs, size_t n, bool replay, size_t *joined,
            char *err, size_t errlen)
{
    size_t ok = 0;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(addrs[i], "127.0.0.1:1") == 0) {
            snprintf(err, errlen,
                     "1 error occurred:\n\t* Failed to join 127.0.0.1:1: dial tcp "
                     "127.0.0.1:1: connect: connection refused\n\n");
            *joined = ok;
            return HM_ERROR;
        }
        ok++;
    }
    *joined = ok;
    return HM_OK;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(arg);
}

int hm_leave(hm_ctx_t *ctx)
{
    struct timeval tv = {0, 100000};

    event_base_once(hm_event_base(ctx), -1, EV_TIMEOUT, stop_cb, hm_event_base(ctx), &tv);
    return HM_OK;
}

int hm_force_leave(hm_ctx_t *ctx, const char *node, bool prune)
{
    hm_member_t *m = find(node);

    if (m == NULL)
        return HM_OK;
    m->status = HM_STATUS_LEFT;
    member_event(HM_EVENT_MEMBER_LEAVE, m);
    if (prune) {
        member_event(HM_EVENT_MEMBER_REAP, m);
        *m = M[--NM];
    }
    return HM_OK;
}

int hm_coordinate(hm_ctx_t *ctx, const char *node, hm_coord_t *out)
{
    hm_member_t *m = find(node ? node : "n1");

    if (m == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    out->vec[0] = 0.0005 * (double)(m - M);
    out->height = 0.0001;
    out->error = 0.5;
    return 0;
}

void hm_stats(hm_ctx_t *ctx, hm_stat_emit_fn emit, void *ud)
{
    char n[16];

    snprintf(n, sizeof(n), "%zu", NM);
    emit(ud, "agent", "name", "n1");
    emit(ud, "runtime", "os", "linux");
    emit(ud, "serf", "members", n);
    emit(ud, "serf", "encrypted", "false");
    emit(ud, "event_handlers", "user:deploy", "/bin/true");
}

/* --- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    char yaml[4096], err[2048] = "";
    const char *bd = getenv("top_builddir");
    struct event_base *base = event_base_new();
    hm_conf_node_t *root;

    if (argc < 2)
        return 2;
    snprintf(yaml, sizeof(yaml),
             "module_path: [\"%s/modules\"]\nmodules: [rpc]\nlog_level: debug\n"
             "rpc:\n  addr: \"127.0.0.1:%s\"\n  auth_key: \"%s\"\n",
             bd ? bd : ".", argv[1], argc > 2 ? argv[2] : "");
    D = hm_daemon_new(base);
    hm_log_attach(D);
    hm_log_set_level(HM_LOG_DEBUG);
    root = hm_conf_parse_string(yaml, strlen(yaml), "harness.yaml", err, sizeof(err));
    if (root == NULL || hm_conf_validate(root, hm_core_keys, "", true, err, sizeof(err)) < 0 ||
        hm_modules_load(D, root, err, sizeof(err)) < 0 ||
        hm_modules_init(D, err, sizeof(err)) < 0) {
        fprintf(stderr, "harness: %s\n", err);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    event_base_dispatch(base);
    hm_modules_unload(D);
    hm_daemon_free(D);
    hm_conf_free(root);
    event_base_free(base);
    return 0;
}
