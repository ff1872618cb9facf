/*
 * The agent: reads the core config, binds the gossip sockets and implements
 * the cluster half of <hamlet/api.h>.  (First cut: sockets and the API
 * surface; the Serf layer and the engine are wired in next.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "hm_agent.h"

struct hm_agent {
    struct event_base *base;
    struct hm_daemon *daemon;
    char name[256];
    char bind_str[128];
    struct sockaddr_storage bind_sa;
    socklen_t bind_len;
    evutil_socket_t udp_fd, tcp_fd;
    struct event *udp_ev, *tcp_ev;
    hm_member_t self;
};

/* One agent per process: the API functions take a module context, whose
 * daemon owns exactly this agent. */
static hm_agent_t *g_agent;

static void fmt_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "ip:port", "[v6]:port", "ip" (port 7946). */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    const char *port_s = NULL;
    long port = 7946;
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (e == NULL || (size_t)(e - s - 1) >= sizeof(host))
            return -1;
        memcpy(host, s + 1, (size_t)(e - s - 1));
        host[e - s - 1] = '\0';
        if (e[1] == ':')
            port_s = e + 2;
    } else {
        const char *c = strrchr(s, ':');
        size_t n = c ? (size_t)(c - s) : strlen(s);
        if (n >= sizeof(host))
            return -1;
        memcpy(host, s, n);
        host[n] = '\0';
        if (c)
            port_s = c + 1;
    }
    if (port_s) {
        char *end;
        port = strtol(port_s, &end, 10);
        if (*port_s == '\0' || *end != '\0' || port < 0 || port > 65535)
            return -1;
    }
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
        return 0;
    }
    return -1;
}

hm_agent_t *hm_agent_new(struct event_base *base, const hm_conf_node_t *root, char *err,
                         size_t errlen)
{
    hm_agent_t *a = calloc(1, sizeof(*a));
    const char *name = root ? hm_conf_str(root, "node_name") : NULL;
    const char *bind = root ? hm_conf_str(root, "bind") : NULL;

    if (a == NULL) {
        fmt_err(err, errlen, "out of memory");
        return NULL;
    }
    a->base = base;
    a->udp_fd = a->tcp_fd = -1;
    if (name && name[0])
        snprintf(a->name, sizeof(a->name), "%s", name);
    else if (gethostname(a->name, sizeof(a->name) - 1) < 0)
        snprintf(a->name, sizeof(a->name), "hamlet");
    snprintf(a->bind_str, sizeof(a->bind_str), "%s", bind && bind[0] ? bind : "0.0.0.0:7946");
    if (parse_addr(a->bind_str, &a->bind_sa, &a->bind_len) < 0) {
        fmt_err(err, errlen, "invalid bind address '%s'", a->bind_str);
        free(a);
        return NULL;
    }
    a->self.name = a->name;
    a->self.status = HM_STATUS_ALIVE;
    a->self.incarnation = 1;
    g_agent = a;
    return a;
}

void hm_agent_set_daemon(hm_agent_t *a, struct hm_daemon *d)
{
    a->daemon = d;
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
    uint8_t buf[65536];

    (void)what;
    (void)arg;
    while (recv(fd, buf, sizeof(buf), 0) >= 0)
        ;
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    int c;

    (void)what;
    (void)arg;
    while ((c = accept(fd, NULL, NULL)) >= 0)
        close(c);
}

int hm_agent_start(hm_agent_t *a, char *err, size_t errlen)
{
    int one = 1;
    int fam = a->bind_sa.ss_family;

    a->udp_fd = socket(fam, SOCK_DGRAM, 0);
    a->tcp_fd = socket(fam, SOCK_STREAM, 0);
    if (a->udp_fd < 0 || a->tcp_fd < 0)
        goto fail;
    setsockopt(a->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(a->tcp_fd, (struct sockaddr *)&a->bind_sa, a->bind_len) < 0 ||
        bind(a->udp_fd, (struct sockaddr *)&a->bind_sa, a->bind_len) < 0 ||
        listen(a->tcp_fd, 128) < 0)
        goto fail;
    evutil_make_socket_nonblocking(a->udp_fd);
    evutil_make_socket_nonblocking(a->tcp_fd);
    a->udp_ev = event_new(a->base, a->udp_fd, EV_READ | EV_PERSIST, on_udp, a);
    a->tcp_ev = event_new(a->base, a->tcp_fd, EV_READ | EV_PERSIST, on_accept, a);
    if (a->udp_ev == NULL || a->tcp_ev == NULL)
        goto fail;
    event_add(a->udp_ev, NULL);
    event_add(a->tcp_ev, NULL);
    return 0;
fail:
    fmt_err(err, errlen, "failed to bind %s: %s", a->bind_str, strerror(errno));
    return -1;
}

int hm_agent_reload(hm_agent_t *a, const hm_conf_node_t *root, char *err, size_t errlen)
{
    (void)a;
    (void)root;
    (void)err;
    (void)errlen;
    return 0;
}

struct leave_cb {
    void (*done)(void *ud);
    void *ud;
};

static void leave_fire(evutil_socket_t fd, short what, void *arg)
{
    struct leave_cb *lc = arg;

    (void)fd;
    (void)what;
    lc->done(lc->ud);
    free(lc);
}

void hm_agent_leave(hm_agent_t *a, void (*done)(void *ud), void *ud)
{
    struct leave_cb *lc = malloc(sizeof(*lc));

    if (lc == NULL) {
        done(ud);
        return;
    }
    lc->done = done;
    lc->ud = ud;
    if (event_base_once(a->base, -1, EV_TIMEOUT, leave_fire, lc, NULL) < 0) {
        free(lc);
        done(ud);
    }
}

void hm_agent_dump(hm_agent_t *a)
{
    fprintf(stderr, "    agent: node %s bind %s\n", a->name, a->bind_str);
}

void hm_agent_free(hm_agent_t *a)
{
    if (a == NULL)
        return;
    if (a->udp_ev)
        event_free(a->udp_ev);
    if (a->tcp_ev)
        event_free(a->tcp_ev);
    if (a->udp_fd >= 0)
        close(a->udp_fd);
    if (a->tcp_fd >= 0)
        close(a->tcp_fd);
    if (g_agent == a)
        g_agent = NULL;
    free(a);
}

/* ---- the cluster half of <hamlet/api.h> ---- */

const hm_member_t *hm_self(hm_ctx_t *ctx)
{
    (void)ctx;
    return g_agent ? &g_agent->self : NULL;
}

void hm_members_foreach(hm_ctx_t *ctx, hm_member_iter_fn fn, void *ud)
{
    (void)ctx;
    if (g_agent)
        fn(ud, &g_agent->self);
}

size_t hm_members_count(hm_ctx_t *ctx)
{
    (void)ctx;
    return g_agent ? 1 : 0;
}

int hm_user_event(hm_ctx_t *ctx, const char *name, const void *payload, size_t len,
                  bool coalesce)
{
    (void)ctx;
    (void)name;
    (void)payload;
    (void)len;
    (void)coalesce;
    return HM_ERROR;
}

int hm_query_respond(hm_ctx_t *ctx, const hm_query_t *q, const void *buf, size_t len)
{
    (void)ctx;
    (void)q;
    (void)buf;
    (void)len;
    return HM_ERROR;
}

int hm_tags_update(hm_ctx_t *ctx, const hm_tags_t *set, const char *const *del, size_t ndel)
{
    (void)ctx;
    (void)set;
    (void)del;
    (void)ndel;
    return HM_ERROR;
}

int hm_query_send(hm_ctx_t *ctx, const hm_query_params_t *p, hm_query_reply_fn fn, void *ud,
                  uint32_t *id_out)
{
    (void)ctx;
    (void)p;
    (void)fn;
    (void)ud;
    (void)id_out;
    return HM_ERROR;
}

int hm_join(hm_ctx_t *ctx, const char *const *addrs, size_t n, bool replay, size_t *joined,
            char *err, size_t errlen)
{
    (void)ctx;
    (void)addrs;
    (void)n;
    (void)replay;
    if (joined)
        *joined = 0;
    fmt_err(err, errlen, "join not implemented yet");
    return HM_ERROR;
}

int hm_leave(hm_ctx_t *ctx)
{
    (void)ctx;
    return HM_ERROR;
}

int hm_force_leave(hm_ctx_t *ctx, const char *node, bool prune)
{
    (void)ctx;
    (void)node;
    (void)prune;
    return HM_ERROR;
}

int hm_coordinate(hm_ctx_t *ctx, const char *node, hm_coord_t *out)
{
    (void)ctx;
    (void)node;
    (void)out;
    return -1;
}

void hm_stats(hm_ctx_t *ctx, hm_stat_emit_fn emit, void *ud)
{
    (void)ctx;
    if (g_agent)
        emit(ud, "agent", "name", g_agent->name);
}
