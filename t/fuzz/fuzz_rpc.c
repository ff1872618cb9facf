/*
 * libFuzzer harness for mod_rpc's request path: the input bytes are what a
 * client sends on one connection (a socketpair into the real server code:
 * framing, session rules, every command's body decoding, streams, monitor,
 * queries, module commands).  The cluster API is stubbed; its hooks fire
 * synchronously so stream records and early query replies are exercised.
 * The first input byte picks options (auth key on or off).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "../../modules/rpc/rpc_int.h"

extern const hm_module_t hm_module;

static struct event_base *base;
static struct hm_ctx *ctx = (struct hm_ctx *)1;
static void *data;
static hm_member_event_fn mev;
static hm_user_event_fn uev;
static hm_query_fn qev;
static hm_log_fn lev;
static void *mud, *uud, *qud, *lud;
static hm_tag_t tag = {"role", "web"};
static hm_member_t self = {
    "n1", {{127, 0, 0, 1}, 4, 7946}, {&tag, 1}, HM_STATUS_ALIVE, {1, 5, 2, 2, 5, 5}, 1};

const char *hm_conf_str(const hm_conf_node_t *n, const char *path)
{
    return strcmp(path, "addr") == 0 ? "127.0.0.1" : "";
}
void hm_ctx_set_data(hm_ctx_t *c, void *d)
{
    data = d;
}
void *hm_ctx_data(hm_ctx_t *c)
{
    return data;
}
struct event_base *hm_event_base(hm_ctx_t *c)
{
    return base;
}
uint64_t hm_now_ms(hm_ctx_t *c)
{
    return 1000;
}
int hm_hook_member_event(hm_ctx_t *c, hm_member_event_fn fn, void *ud)
{
    mev = fn, mud = ud;
    return 0;
}
int hm_hook_user_event(hm_ctx_t *c, hm_user_event_fn fn, void *ud)
{
    uev = fn, uud = ud;
    return 0;
}
int hm_hook_query(hm_ctx_t *c, const char *name, hm_query_fn fn, void *ud)
{
    qev = fn, qud = ud;
    return 0;
}
int hm_hook_log(hm_ctx_t *c, hm_log_fn fn, void *ud)
{
    lev = fn, lud = ud;
    return 0;
}
void hm_log(hm_ctx_t *c, hm_log_level_t level, const char *fmt, ...)
{
    if (lev)
        lev(lud, level, "2026/01/01 00:00:00 [INFO] rpc: a line");
}
const hm_member_t *hm_self(hm_ctx_t *c)
{
    return &self;
}
void hm_members_foreach(hm_ctx_t *c, hm_member_iter_fn fn, void *ud)
{
    fn(ud, &self);
}
int hm_filter_eval(hm_ctx_t *c, const char *name, const char *expr, const hm_member_t *m,
                   const char **err)
{
    *err = "no such filter";
    return HM_ERROR;
}
int hm_user_event(hm_ctx_t *c, const char *name, const void *p, size_t len, bool co)
{
    hm_user_event_t ev = {7, name, p, len, co};
    uev(uud, &ev);
    return len > 100 ? HM_ERROR : HM_OK;
}
int hm_tags_update(hm_ctx_t *c, const hm_tags_t *set, const char *const *del, size_t ndel)
{
    const hm_member_t *v[1] = {&self};
    hm_member_event_t ev = {HM_EVENT_MEMBER_UPDATE, v, 1};
    mev(mud, &ev);
    return HM_OK;
}
int hm_query_send(hm_ctx_t *c, const hm_query_params_t *p, hm_query_reply_fn fn, void *ud,
                  uint32_t *id)
{
    hm_query_t q = {9, 9, p->name, p->payload, p->len, 2000, NULL};
    if (p->len > 200)
        return HM_ERROR;
    qev(qud, &q);
    fn(ud, HM_QUERY_ACK, "n1", NULL, 0);
    fn(ud, HM_QUERY_RESPONSE, "n1", (const uint8_t *)"r", 1);
    fn(ud, HM_QUERY_DONE, "", NULL, 0);
    return HM_OK;
}
int hm_query_respond(hm_ctx_t *c, const hm_query_t *q, const void *buf, size_t len)
{
    return len > 10 ? HM_ERROR : HM_OK;
}
int hm_join(hm_ctx_t *c, const char *const *a, size_t n, bool r, size_t *j, char *err, size_t el)
{
    *j = n;
    return HM_OK;
}
int hm_leave(hm_ctx_t *c)
{
    return HM_OK;
}
int hm_force_leave(hm_ctx_t *c, const char *node, bool prune)
{
    return HM_OK;
}
int hm_coordinate(hm_ctx_t *c, const char *node, hm_coord_t *out)
{
    memset(out, 0, sizeof(*out));
    return strcmp(node, "n1") == 0 ? 0 : -1;
}
void hm_stats(hm_ctx_t *c, hm_stat_emit_fn emit, void *ud)
{
    emit(ud, "agent", "name", "n1");
}
int hm_rpc_dispatch(hm_ctx_t *c, const char *command, void *request)
{
    hm_rpc_request_t *r = request;
    const char *k;

    if (strcmp(command, "list-keys") == 0) {
        hm_rpc_keys_reply_t kr = {.list = true};
        return r->reply_keys(r, &kr);
    }
    if (strcmp(command, "x-echo") != 0)
        return HM_DECLINED;
    k = r->field_str(r, "Key");
    r->reply(r, k ? "" : "no key", NULL, 0);
    return HM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
    rpc_srv_t *s;
    int sv[2];
    char sink[65536];

    if (base == NULL) {
        base = event_base_new();
        if (hm_module.init(ctx, NULL) != HM_OK)
            abort();
    }
    s = data;
    if (len < 1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    free(s->auth);
    s->auth = strdup(in[0] & 1 ? "k" : "");
    rpc_conn_new(s, sv[0], NULL);
    if (write(sv[1], in + 1, len - 1) < 0) {
        /* input larger than the socket buffer: fine, partial */
    }
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 200 && s->conns; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        while (recv(sv[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
            ;
    }
    close(sv[1]);
    for (int i = 0; i < 20 && s->conns; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    while (s->conns)
        rpc_close(s->conns, false);
    return 0;
}
