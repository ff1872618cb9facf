/*
 * mod_rpc: the Serf RPC ("IPC") server, so the `serf` CLI, `hamlet` and any
 * Serf RPC client can drive hamletd (shared/spec/serf-rpc.md).
 *
 * One libevent listener, one bufferevent per client.  Input bytes collect
 * in an hm_rpc_in_t; whole msgpack objects are taken from it one at a time
 * (header, then the body when the command has one).  Anything malformed or
 * oversized gets an error response and the connection is closed after it;
 * the daemon carries on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "rpc_int.h"

static const hm_conf_key_t rpc_keys[] = {
    {"addr", HM_CONF_ADDR, "127.0.0.1:7373", 0, 0, NULL,
     "where `serf` and `hamlet` clients connect (serf agent -rpc-addr)", NULL},
    {"auth_key", HM_CONF_STRING, "", 0, 0, NULL,
     "token clients must send first (serf's rpc_auth; empty: none)", NULL},
    HM_CONF_END};

/* Serf's commands.  BODY_ONE: a body object always follows the header. */
static const rpc_cmd_t cmds[] = {
    {"handshake", BODY_ONE, rpc_cmd_handshake},
    {"auth", BODY_ONE, rpc_cmd_auth},
    {"event", BODY_ONE, rpc_cmd_event},
    {"force-leave", BODY_ONE, rpc_cmd_force_leave},
    {"join", BODY_ONE, rpc_cmd_join},
    {"members", BODY_NONE, rpc_cmd_members},
    {"members-filtered", BODY_ONE, rpc_cmd_members_filtered},
    {"tags", BODY_ONE, rpc_cmd_tags},
    {"stream", BODY_ONE, rpc_cmd_stream},
    {"monitor", BODY_ONE, rpc_cmd_monitor},
    {"stop", BODY_ONE, rpc_cmd_stop},
    {"leave", BODY_NONE, rpc_cmd_leave},
    {"query", BODY_ONE, rpc_cmd_query},
    {"respond", BODY_ONE, rpc_cmd_respond},
    {"install-key", BODY_ONE, rpc_cmd_keys},
    {"use-key", BODY_ONE, rpc_cmd_keys},
    {"remove-key", BODY_ONE, rpc_cmd_keys},
    {"list-keys", BODY_NONE, rpc_cmd_keys},
    {"stats", BODY_NONE, rpc_cmd_stats},
    {"get-coordinate", BODY_ONE, rpc_cmd_get_coordinate},
};

const rpc_cmd_t *rpc_cmd_find(const char *name)
{
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}

/* --- output -------------------------------------------------------------- */

static bool send_raw(rpc_conn_t *c, uint64_t seq, const char *error, const hm_buf_t *body)
{
    hm_buf_t out = {0};
    bool ok;

    if (c->bev == NULL)
        return false;
    ok = hm_rpc_pack_response(&out, error ? error : "", seq) == 0 &&
         (body == NULL || hm_buf_append(&out, body->data, body->len) == 0) &&
         bufferevent_write(c->bev, out.data, out.len) == 0;
    hm_buf_free(&out);
    return ok;
}

void rpc_send(rpc_conn_t *c, uint64_t seq, const char *error, const hm_buf_t *body)
{
    if (!send_raw(c, seq, error, body) && c->bev)
        rpc_close(c, false);
}

void rpc_write(rpc_conn_t *c, const hm_buf_t *raw)
{
    if (c->bev && bufferevent_write(c->bev, raw->data, raw->len) < 0)
        rpc_close(c, false);
}

bool rpc_send_record(rpc_conn_t *c, uint64_t seq, const hm_buf_t *body)
{
    if (!rpc_alive(c))
        return false;
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > RPC_MAX_OUTPUT) {
        if (!c->srv->in_log)
            hm_log(c->srv->ctx, HM_LOG_WARN, "Dropping event to %s", c->peer);
        return false;
    }
    return send_raw(c, seq, "", body);
}

/* --- connection lifetime -------------------------------------------------- */

static void conn_free(rpc_conn_t *c)
{
    hm_rpc_in_free(&c->in);
    free(c);
}

void rpc_ref(rpc_conn_t *c)
{
    c->refs++;
}

/* A closed connection is already off the server's list: freeing it later
 * (last query done) never touches the server, which may be gone. */
void rpc_unref(rpc_conn_t *c)
{
    if (--c->refs == 0 && c->bev == NULL)
        conn_free(c);
}

void rpc_close(rpc_conn_t *c, bool flush)
{
    rpc_srv_t *s = c->srv;

    if (c->bev == NULL)
        return;
    if (flush && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        c->closing = true; /* write_cb finishes the job */
        return;
    }
    bufferevent_free(c->bev);
    c->bev = NULL;
    c->closing = true;
    rpc_stream_free(c);
    for (rpc_conn_t **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    if (c->refs == 0)
        conn_free(c);
}

/* Error reply, then close once it is written. */
static void fail(rpc_conn_t *c, uint64_t seq, const char *error)
{
    rpc_send(c, seq, error, NULL);
    rpc_close(c, true);
}

/* --- input ------------------------------------------------------------- */

static int parse_header(rpc_conn_t *c, const msgpack_object *h)
{
    const char *p;
    size_t n;

    if (h->type != MSGPACK_OBJECT_MAP || hm_rpc_field_uint(h, "Seq", &c->seq) < 0 ||
        hm_rpc_field_str(h, "Command", &p, &n) < 0)
        return -1;
    if (n >= sizeof(c->cmd))
        n = sizeof(c->cmd) - 1; /* cannot name a command: "Unsupported" */
    if (n)
        memcpy(c->cmd, p, n);
    c->cmd[n] = '\0';
    return 0;
}

/* A header-shaped map: what a client sends next when a command of a module
 * has no body (extension commands do not tell us). */
static bool looks_like_header(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_MAP && hm_rpc_get(o, "Command") && hm_rpc_get(o, "Seq");
}

/* Runs the pending command with its body (NULL: none).  raw: body bytes. */
static void run(rpc_conn_t *c, const rpc_cmd_t *cmd, const msgpack_object *body, const uint8_t *raw,
                size_t rawlen)
{
    c->have_header = false;
    if (cmd == NULL) {
        if (!rpc_ext_dispatch(c, c->cmd, c->seq, body, raw, rawlen))
            fail(c, c->seq, HM_RPC_ERR_UNSUPPORTED);
        return;
    }
    c->raw_body = raw;
    c->raw_len = rawlen;
    if (cmd->fn(c, c->seq, body) < 0)
        rpc_close(c, true);
    c->raw_body = NULL;
    c->raw_len = 0;
}

/* Checks made on the header alone, in Serf's order.  Returns false when the
 * request is finished (answered or the connection closing). */
static bool admit(rpc_conn_t *c, const rpc_cmd_t *cmd)
{
    rpc_srv_t *s = c->srv;

    if (strcmp(c->cmd, "handshake") != 0 && c->version == 0) {
        fail(c, c->seq, HM_RPC_ERR_HANDSHAKE);
        return false;
    }
    if (s->auth[0] && !c->did_auth && strcmp(c->cmd, "auth") != 0 &&
        strcmp(c->cmd, "handshake") != 0) {
        /* Serf leaves any body unread: it will be taken as the next header */
        hm_log(s->ctx, HM_LOG_WARN, "Client sending commands before auth");
        rpc_send(c, c->seq, HM_RPC_ERR_AUTH_REQUIRED, NULL);
        return false;
    }
    return true;
}

/* A client that sends requests without reading the answers stops being
 * read (as Serf's blocking writes stop it) until its output has drained. */
static bool backlogged(rpc_conn_t *c)
{
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) <= RPC_MAX_OUTPUT)
        return false;
    if (!c->paused) {
        c->paused = true;
        bufferevent_disable(c->bev, EV_READ);
    }
    return true;
}

static void process(rpc_conn_t *c)
{
    while (rpc_alive(c) && !backlogged(c)) {
        const rpc_cmd_t *cmd;
        msgpack_object o;
        size_t before;
        int rc;

        if (!c->have_header) {
            rc = hm_rpc_in_next(&c->in, &o);
            if (rc == HM_RPC_SCAN_MORE)
                return;
            if (rc != HM_RPC_SCAN_OK || parse_header(c, &o) < 0) {
                fail(c, 0,
                     hm_rpc_in_pending(&c->in) > HM_RPC_MAX_OBJECT ? "Request too large"
                                                                   : "Malformed request header");
                return;
            }
            cmd = rpc_cmd_find(c->cmd);
            if (!admit(c, cmd))
                continue;
            c->have_header = true;
            if (cmd && cmd->body == BODY_NONE) {
                run(c, cmd, NULL, NULL, 0);
                continue;
            }
        }
        cmd = rpc_cmd_find(c->cmd);
        if (cmd == NULL) {
            /* a module's command: a body follows unless the next object
             * is already the next request (or nothing is buffered) */
            rc = hm_rpc_in_peek(&c->in, &o);
            if (rc == HM_RPC_SCAN_MORE && hm_rpc_in_pending(&c->in) > 0 &&
                hm_rpc_in_pending(&c->in) <= HM_RPC_MAX_OBJECT)
                return;
            if (rc != HM_RPC_SCAN_OK || looks_like_header(&o)) {
                run(c, NULL, NULL, NULL, 0);
                continue;
            }
        }
        before = c->in.off;
        rc = hm_rpc_in_next(&c->in, &o);
        if (rc == HM_RPC_SCAN_MORE)
            return;
        if (rc != HM_RPC_SCAN_OK) {
            fail(c, c->seq,
                 hm_rpc_in_pending(&c->in) > HM_RPC_MAX_OBJECT ? "Request too large"
                                                               : "Malformed request body");
            return;
        }
        run(c, cmd, &o, c->in.buf.data + before, c->in.off - before);
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    rpc_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t chunk[16384];

    if (c->closing) { /* lingering close: read and forget */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    rpc_ref(c); /* handlers may close c under us */
    while (c->bev && evbuffer_get_length(in) > 0) {
        int n = evbuffer_remove(in, chunk, sizeof(chunk));
        if (n <= 0 || hm_rpc_in_feed(&c->in, chunk, (size_t)n) < 0) {
            rpc_close(c, false);
            break;
        }
        process(c);
    }
    rpc_unref(c);
}

/* Once the last answer is out, a closing connection half-closes and keeps
 * reading (and dropping) what the client still sends, for up to two
 * seconds: closing with unread input would reset the connection and could
 * destroy the error reply before the client reads it (nginx's lingering
 * close). */
static void write_cb(struct bufferevent *bev, void *arg)
{
    rpc_conn_t *c = arg;
    struct timeval linger = {2, 0};

    if (c->closing && !c->lingering && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        c->lingering = true;
        shutdown(bufferevent_getfd(bev), SHUT_WR);
        bufferevent_set_timeouts(bev, &linger, NULL);
    } else if (c->paused && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        c->paused = false;
        bufferevent_enable(bev, EV_READ);
        rpc_ref(c);
        process(c); /* what was buffered while paused */
        rpc_unref(c);
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        rpc_close(arg, false);
}

static void format_peer(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
        snprintf(out, len, "local");
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        evutil_inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const void *)sa;
        evutil_inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, ntohs(s4->sin_port));
    }
}

rpc_conn_t *rpc_conn_new(rpc_srv_t *s, evutil_socket_t fd, const struct sockaddr *sa)
{
    rpc_conn_t *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        evutil_closesocket(fd);
        return NULL;
    }
    c->srv = s;
    hm_rpc_in_init(&c->in);
    evutil_make_socket_nonblocking(fd);
    c->bev = bufferevent_socket_new(hm_event_base(s->ctx), fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        free(c);
        return NULL;
    }
    format_peer(sa, c->peer, sizeof(c->peer));
    c->next = s->conns;
    s->conns = c;
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return c;
}

static void accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    rpc_srv_t *s = arg;
    rpc_conn_t *c = rpc_conn_new(s, fd, sa);

    if (c)
        hm_log(s->ctx, HM_LOG_DEBUG, "Accepted client: %s", c->peer);
}

/* --- module ------------------------------------------------------------ */

static int rpc_listen(rpc_srv_t *s)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (evutil_parse_sockaddr_port(s->addr, (struct sockaddr *)&ss, &len) < 0) {
        hm_log(s->ctx, HM_LOG_ERR, "bad RPC address %s", s->addr);
        return HM_ERROR;
    }
    s->lis =
        evconnlistener_new_bind(hm_event_base(s->ctx), accept_cb, s,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                -1, (struct sockaddr *)&ss, len);
    if (s->lis == NULL) {
        hm_log(s->ctx, HM_LOG_ERR, "Failed to start the RPC listener on %s: %s", s->addr,
               evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return HM_ERROR;
    }
    return HM_OK;
}

static void rpc_fini(hm_ctx_t *ctx);

static int rpc_init(hm_ctx_t *ctx, const hm_conf_node_t *conf)
{
    rpc_srv_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return HM_ERROR;
    s->ctx = ctx;
    s->addr = strdup(hm_conf_str(conf, "addr") ? hm_conf_str(conf, "addr") : "127.0.0.1:7373");
    s->auth = strdup(hm_conf_str(conf, "auth_key") ? hm_conf_str(conf, "auth_key") : "");
    hm_ctx_set_data(ctx, s);
    if (s->addr == NULL || s->auth == NULL || rpc_hooks_register(s) < 0 || rpc_listen(s) < 0) {
        rpc_fini(ctx);
        return HM_ERROR;
    }
    hm_log(ctx, HM_LOG_INFO, "RPC listening on %s", s->addr);
    return HM_OK;
}

/* The loop no longer runs: write what is queued straight to the socket.
 * (A socket bufferevent keeps its output's front frozen so that only it
 * drains it; the bufferevent is freed right after this.) */
static void flush_now(rpc_conn_t *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evutil_socket_t fd = bufferevent_getfd(c->bev);

    if (fd >= 0 && evbuffer_get_length(out) > 0) {
        evbuffer_unfreeze(out, 1);
        evbuffer_write(out, fd);
    }
}

/* Shutdown: the answer to `leave` goes out now that the leave is over, and
 * what is queued is written before the sockets close, as far as the kernel
 * takes it without waiting. */
static void rpc_fini(hm_ctx_t *ctx)
{
    rpc_srv_t *s = hm_ctx_data(ctx);

    if (s == NULL)
        return;
    if (s->lis)
        evconnlistener_free(s->lis);
    while (s->conns) {
        rpc_conn_t *c = s->conns;
        if (c->bev && c->leave_pending)
            send_raw(c, c->leave_seq, "", NULL);
        if (c->bev)
            flush_now(c);
        rpc_close(c, false); /* unlinks c; freed now or at its last unref */
    }
    rpc_ring_free(s);
    free(s->addr);
    free(s->auth);
    free(s);
    hm_ctx_set_data(ctx, NULL);
}

HM_MODULE = {HM_MODULE_V1, "rpc", "0.1.0", rpc_keys, rpc_init, NULL, rpc_fini, {NULL}};
