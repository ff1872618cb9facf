/*
 * libevent glue for the Serf layer and its engine (see hm_net.h): one UDP
 * socket, one TCP listener, one connection per engine stream, one timer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "hm_net.h"

#define READ_CHUNK 65536
#define MAX_STREAM_BYTES (64u * 1024 * 1024)

typedef struct net_conn {
    struct net_conn *next;
    hm_net_t *net;
    uint32_t id;
    int fd;
    bool outbound, connecting, engine_done, eof;
    struct event *rev, *wev, *tev;
    hm_buf_t in, plain, out;
    size_t out_off;
    uint64_t deadline;
} net_conn_t;

struct hm_net {
    struct event_base *base;
    hm_serf_t *serf;
    hm_net_hooks_t hooks;
    int udp_fd, tcp_fd;
    int family;
    uint16_t port;
    struct event *udp_ev, *tcp_ev, *timer;
    net_conn_t *conns;
    bool busy, again, sync;
    uint32_t tcp_timeout_ms;
    hm_net_stats_t stats;
    /* outputs met while a blocking stream runs, handled after it */
    hm_swim_out_t *deferred;
    size_t ndeferred, capdeferred;
};

uint64_t hm_net_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- addresses ---- */

static socklen_t to_sockaddr(const hm_addr_t *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->len == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a->ip, 4);
        in->sin_port = htons(a->port);
        return sizeof(*in);
    }
    if (a->len == 16) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, a->ip, 16);
        in6->sin6_port = htons(a->port);
        return sizeof(*in6);
    }
    return 0;
}

static void from_sockaddr(const struct sockaddr_storage *ss, hm_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        memcpy(a->ip, &in->sin_addr, 4);
        a->len = 4;
        a->port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        /* v4-mapped peers look like IPv4 to the engine */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            memcpy(a->ip, (const uint8_t *)&in6->sin6_addr + 12, 4);
            a->len = 4;
        } else {
            memcpy(a->ip, &in6->sin6_addr, 16);
            a->len = 16;
        }
        a->port = ntohs(in6->sin6_port);
    }
}

/* ---- connections ---- */

static void conn_free(net_conn_t *c)
{
    hm_net_t *n = c->net;
    net_conn_t **pp;

    for (pp = &n->conns; *pp && *pp != c; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = c->next;
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    if (c->tev)
        event_free(c->tev);
    if (c->fd >= 0)
        close(c->fd);
    hm_buf_free(&c->in);
    hm_buf_free(&c->plain);
    hm_buf_free(&c->out);
    free(c);
}

static net_conn_t *conn_find(hm_net_t *n, uint32_t id)
{
    for (net_conn_t *c = n->conns; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

/* The engine gave up on it or never knew it: just drop the socket. */
static void conn_fail(net_conn_t *c, const char *why)
{
    hm_net_t *n = c->net;

    n->stats.tcp_failed++;
    if (!c->engine_done)
        hm_serf_stream_failed(n->serf, hm_net_now(), c->id, why);
    conn_free(c);
}

/* Feed everything read so far; returns 1 to keep reading, 0 when the
 * connection is finished with (maybe freed), -1 failed (freed). */
static int conn_feed(net_conn_t *c)
{
    hm_net_t *n = c->net;
    const uint8_t *p = c->in.data;
    size_t len = c->in.len;
    int r;

    if (n->hooks.stream_in && len) {
        size_t used = 0;
        hm_buf_reset(&c->plain);
        r = n->hooks.stream_in(n->hooks.ud, c->in.data, c->in.len, &c->plain, &used);
        if (r == HM_AGAIN)
            return 1;
        if (r == HM_DROP || r == HM_ERROR) {
            conn_fail(c, "stream rejected by hook");
            return -1;
        }
        if (r == HM_OK) {
            p = c->plain.data;
            len = c->plain.len;
        }
    }
    r = hm_serf_stream_data(n->serf, hm_net_now(), c->id, p, len);
    if (r == HM_AGAIN)
        return 1;
    c->engine_done = true;
    if (r != HM_OK) {
        conn_free(c);
        return -1;
    }
    if (c->outbound || c->out.len == c->out_off) {
        /* Inbound: a reply may still come out of the engine; the caller
         * drains it before deciding (see after_feed). */
        if (c->outbound) {
            conn_free(c);
            return 0;
        }
    }
    return 0;
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg);

static void conn_want_write(net_conn_t *c)
{
    if (c->wev)
        event_add(c->wev, NULL);
}

/* After the engine is done with an inbound stream and its outputs have
 * been drained: close unless a reply is being written. */
static void after_feed(hm_net_t *n, uint32_t id)
{
    net_conn_t *c = conn_find(n, id);

    if (c && c->engine_done && !c->outbound && c->out.len == c->out_off)
        conn_free(c);
}

static int conn_read(net_conn_t *c)
{
    uint8_t buf[READ_CHUNK];
    ssize_t r;

    for (;;) {
        r = read(c->fd, buf, sizeof(buf));
        if (r > 0) {
            if (c->in.len + (size_t)r > MAX_STREAM_BYTES ||
                hm_buf_append(&c->in, buf, (size_t)r) < 0) {
                conn_fail(c, "stream too large");
                return -1;
            }
            c->net->stats.tcp_in += (uint64_t)r;
            continue;
        }
        if (r == 0) {
            c->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        conn_fail(c, strerror(errno));
        return -1;
    }
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    net_conn_t *c = arg;
    hm_net_t *n = c->net;
    uint32_t id = c->id;
    int r;

    (void)fd;
    (void)what;
    if (conn_read(c) < 0)
        goto out;
    if (c->engine_done) {
        if (c->eof)
            conn_free(c);
        goto out;
    }
    r = conn_feed(c);
    if (r == 1 && c->eof)
        conn_fail(c, "EOF");
    hm_net_kick(n);
    after_feed(n, id);
out:
    hm_net_kick(n);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    net_conn_t *c = arg;
    hm_net_t *n = c->net;

    (void)what;
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            conn_fail(c, strerror(err));
            hm_net_kick(n);
            return;
        }
        c->connecting = false;
    }
    while (c->out_off < c->out.len) {
        ssize_t w = write(fd, c->out.data + c->out_off, c->out.len - c->out_off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                conn_want_write(c);
                return;
            }
            conn_fail(c, strerror(errno));
            hm_net_kick(n);
            return;
        }
        n->stats.tcp_out += (uint64_t)w;
        c->out_off += (size_t)w;
    }
    /* An inbound stream is finished once its reply is out. */
    if (!c->outbound && c->engine_done) {
        conn_free(c);
        hm_net_kick(n);
    }
}

static void conn_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    net_conn_t *c = arg;
    hm_net_t *n = c->net;

    (void)fd;
    (void)what;
    conn_fail(c, "i/o timeout");
    hm_net_kick(n);
}

static int conn_events(net_conn_t *c)
{
    hm_net_t *n = c->net;
    uint64_t now = hm_net_now();
    struct timeval tv;
    uint64_t d = c->deadline > now ? c->deadline - now : 0;

    c->rev = event_new(n->base, c->fd, EV_READ | EV_PERSIST, conn_read_cb, c);
    c->wev = event_new(n->base, c->fd, EV_WRITE, conn_write_cb, c);
    c->tev = evtimer_new(n->base, conn_timeout_cb, c);
    if (c->rev == NULL || c->wev == NULL || c->tev == NULL)
        return -1;
    tv.tv_sec = (time_t)(d / 1000);
    tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
    event_add(c->rev, NULL);
    event_add(c->tev, &tv);
    return 0;
}

static net_conn_t *conn_new(hm_net_t *n, uint32_t id, int fd, bool outbound, uint64_t deadline)
{
    net_conn_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->net = n;
    c->id = id;
    c->fd = fd;
    c->outbound = outbound;
    c->deadline = deadline;
    c->next = n->conns;
    n->conns = c;
    return c;
}

static int frame_out(hm_net_t *n, const hm_buf_t *data, hm_buf_t *out)
{
    int r = HM_DECLINED;

    if (n->hooks.stream_out)
        r = n->hooks.stream_out(n->hooks.ud, data->data, data->len, out);
    if (r == HM_DECLINED) {
        hm_buf_reset(out);
        return hm_buf_append(out, data->data, data->len);
    }
    return r == HM_OK ? 0 : -1;
}

static void send_packet(hm_net_t *n, hm_swim_out_t *o);
static int udp_read(hm_net_t *n, int max);

/* While a blocking stream runs, keep answering the cluster: datagrams in,
 * ticks, packets out.  Anything else the engine asks for waits. */
static void drain_packets(hm_net_t *n)
{
    hm_swim_out_t o;

    while (hm_serf_poll(n->serf, &o)) {
        if (o.type == HM_SWIM_SEND_PACKET) {
            send_packet(n, &o);
            hm_buf_free(&o.data);
            continue;
        }
        if (n->ndeferred == n->capdeferred) {
            size_t cap = n->capdeferred ? n->capdeferred * 2 : 8;
            hm_swim_out_t *d = realloc(n->deferred, cap * sizeof(*d));
            if (d == NULL) {
                hm_buf_free(&o.data);
                continue;
            }
            n->deferred = d;
            n->capdeferred = cap;
        }
        n->deferred[n->ndeferred++] = o;
    }
}

/* Blocking variant for joins: connect, write, read until the engine is
 * satisfied or the deadline passes, serving gossip meanwhile so that a
 * slow peer does not make us look dead. */
static void run_blocking(hm_net_t *n, net_conn_t *c)
{
    struct pollfd pfd[2] = {{.fd = c->fd}, {.fd = n->udp_fd, .events = POLLIN}};
    uint32_t id = c->id;

    for (;;) {
        uint64_t now = hm_net_now(), wake = c->deadline, d = hm_serf_next_deadline(n->serf);
        int r;

        if (now >= c->deadline) {
            conn_fail(c, "i/o timeout");
            return;
        }
        if (d <= now) {
            hm_serf_tick(n->serf, now);
            drain_packets(n);
            continue;
        }
        if (d < wake)
            wake = d;
        pfd[0].events = (c->connecting || c->out_off < c->out.len) ? POLLOUT : POLLIN;
        pfd[0].revents = pfd[1].revents = 0;
        r = poll(pfd, n->udp_fd >= 0 ? 2 : 1, (int)(wake - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        if (pfd[1].revents & POLLIN) {
            udp_read(n, 64);
            drain_packets(n);
        }
        if (!(pfd[0].revents & (POLLIN | POLLOUT | POLLERR | POLLHUP)))
            continue;
        if (pfd[0].events == POLLOUT) {
            int err = 0;
            socklen_t len = sizeof(err);
            if (c->connecting) {
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                    conn_fail(c, strerror(err));
                    return;
                }
                c->connecting = false;
            }
            ssize_t w = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                conn_fail(c, strerror(errno));
                return;
            }
            if (w > 0) {
                c->out_off += (size_t)w;
                n->stats.tcp_out += (uint64_t)w;
            }
            continue;
        }
        if (conn_read(c) < 0)
            return;
        if (conn_feed(c) != 1)
            return;
        if (c->eof) {
            conn_fail(c, "EOF");
            return;
        }
        (void)id;
    }
}

static void stream_open(hm_net_t *n, hm_swim_out_t *o)
{
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(&o->to, &ss);
    net_conn_t *c;
    int fd = -1;

    if (len == 0)
        goto fail;
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        goto fail;
    evutil_make_socket_nonblocking(fd);
    evutil_make_socket_closeonexec(fd);
    c = conn_new(n, o->stream_id, fd, true, o->deadline_ms);
    if (c == NULL) {
        close(fd);
        goto fail;
    }
    if (frame_out(n, &o->data, &c->out) < 0) {
        conn_fail(c, "stream rejected by hook");
        return;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        if (errno != EINPROGRESS) {
            conn_fail(c, strerror(errno));
            return;
        }
        c->connecting = true;
    }
    if (n->sync) {
        run_blocking(n, c);
        return;
    }
    if (conn_events(c) < 0) {
        conn_fail(c, "out of memory");
        return;
    }
    conn_want_write(c);
    return;
fail:
    n->stats.tcp_failed++;
    hm_serf_stream_failed(n->serf, hm_net_now(), o->stream_id, strerror(errno));
}

static void stream_reply(hm_net_t *n, hm_swim_out_t *o)
{
    net_conn_t *c = conn_find(n, o->stream_id);

    if (c == NULL)
        return;
    hm_buf_reset(&c->out);
    c->out_off = 0;
    if (frame_out(n, &o->data, &c->out) < 0) {
        conn_free(c);
        return;
    }
    c->engine_done = true;
    conn_want_write(c);
}

static void send_packet(hm_net_t *n, hm_swim_out_t *o)
{
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(&o->to, &ss);
    hm_buf_t framed = {0};
    const uint8_t *p = o->data.data;
    size_t plen = o->data.len;
    int r = HM_DECLINED;

    if (len == 0 || n->udp_fd < 0)
        return;
    if (n->hooks.packet_out) {
        r = n->hooks.packet_out(n->hooks.ud, p, plen, &framed);
        if (r == HM_OK) {
            p = framed.data;
            plen = framed.len;
        } else if (r != HM_DECLINED) {
            n->stats.udp_dropped++;
            hm_buf_free(&framed);
            return;
        }
    }
    if (n->family == AF_INET6 && ss.ss_family == AF_INET) {
        /* a v6 socket reaches v4 peers through mapped addresses */
        struct sockaddr_in6 m = {.sin6_family = AF_INET6};
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        ((uint8_t *)&m.sin6_addr)[10] = 0xff;
        ((uint8_t *)&m.sin6_addr)[11] = 0xff;
        memcpy((uint8_t *)&m.sin6_addr + 12, &in->sin_addr, 4);
        m.sin6_port = in->sin_port;
        memcpy(&ss, &m, sizeof(m));
        len = sizeof(m);
    }
    if (sendto(n->udp_fd, p, plen, 0, (struct sockaddr *)&ss, len) >= 0)
        n->stats.udp_out++;
    hm_buf_free(&framed);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    hm_net_t *n = arg;

    (void)fd;
    (void)what;
    hm_serf_tick(n->serf, hm_net_now());
    hm_net_kick(n);
}

static void rearm(hm_net_t *n)
{
    uint64_t d = hm_serf_next_deadline(n->serf), now = hm_net_now(), wait;
    struct timeval tv;

    if (d == UINT64_MAX)
        wait = 3600 * 1000;
    else
        wait = d > now ? d - now : 0;
    if (wait > 3600 * 1000)
        wait = 3600 * 1000;
    tv.tv_sec = (time_t)(wait / 1000);
    tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
    evtimer_add(n->timer, &tv);
}

static void handle_out(hm_net_t *n, hm_swim_out_t *o)
{
    switch (o->type) {
    case HM_SWIM_SEND_PACKET:
        send_packet(n, o);
        break;
    case HM_SWIM_STREAM_OPEN:
        stream_open(n, o);
        break;
    case HM_SWIM_STREAM_REPLY:
        stream_reply(n, o);
        break;
    case HM_SWIM_STREAM_CLOSE: {
        net_conn_t *c = conn_find(n, o->stream_id);
        if (c) {
            c->engine_done = true;
            if (c->out.len == c->out_off)
                conn_free(c);
        }
        break;
    }
    }
    hm_buf_free(&o->data);
}

void hm_net_kick(hm_net_t *n)
{
    hm_swim_out_t o;

    if (n->busy) {
        n->again = true;
        return;
    }
    n->busy = true;
    do {
        n->again = false;
        for (;;) {
            if (n->ndeferred) {
                o = n->deferred[0];
                memmove(n->deferred, n->deferred + 1, --n->ndeferred * sizeof(o));
            } else if (!hm_serf_poll(n->serf, &o)) {
                break;
            }
            handle_out(n, &o);
        }
    } while (n->again);
    n->busy = false;
    if (n->timer)
        rearm(n);
}

/* Reads up to max datagrams into the engine; returns how many. */
static int udp_read(hm_net_t *n, int max)
{
    static uint8_t buf[65536];
    hm_buf_t plain = {0};
    int got = 0;

    for (int i = 0; i < max; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        ssize_t r = recvfrom(n->udp_fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
        const uint8_t *p = buf;
        size_t len;
        hm_addr_t from;

        if (r < 0)
            break;
        got++;
        len = (size_t)r;
        n->stats.udp_in++;
        from_sockaddr(&ss, &from);
        if (n->hooks.packet_in) {
            int h;
            hm_buf_reset(&plain);
            h = n->hooks.packet_in(n->hooks.ud, buf, len, &plain);
            if (h == HM_OK) {
                p = plain.data;
                len = plain.len;
            } else if (h != HM_DECLINED) {
                n->stats.udp_dropped++;
                continue;
            }
        }
        hm_serf_packet(n->serf, hm_net_now(), &from, p, len);
    }
    hm_buf_free(&plain);
    return got;
}

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
    hm_net_t *n = arg;

    (void)fd;
    (void)what;
    /* a bounded batch per wake-up, so streams and timers get their turn */
    for (int i = 0; i < 16 && udp_read(n, 16) > 0; i++)
        hm_net_kick(n);
    hm_net_kick(n);
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
    hm_net_t *n = arg;

    (void)what;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int c = accept(fd, (struct sockaddr *)&ss, &sl);
        hm_addr_t from;
        uint32_t id;
        net_conn_t *nc;

        if (c < 0)
            return;
        evutil_make_socket_nonblocking(c);
        evutil_make_socket_closeonexec(c);
        from_sockaddr(&ss, &from);
        id = hm_serf_stream_accept(n->serf, hm_net_now(), &from);
        if (id == 0) {
            close(c);
            continue;
        }
        nc = conn_new(n, id, c, false, hm_net_now() + n->tcp_timeout_ms);
        if (nc == NULL) {
            close(c);
            hm_serf_stream_failed(n->serf, hm_net_now(), id, "out of memory");
            continue;
        }
        if (conn_events(nc) < 0)
            conn_fail(nc, "out of memory");
        hm_net_kick(n);
    }
}

hm_net_t *hm_net_new(struct event_base *base, hm_serf_t *serf, const hm_net_hooks_t *hooks)
{
    hm_net_t *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return NULL;
    n->base = base;
    n->serf = serf;
    if (hooks)
        n->hooks = *hooks;
    n->udp_fd = n->tcp_fd = -1;
    n->tcp_timeout_ms = 10000;
    n->timer = evtimer_new(base, timer_cb, n);
    if (n->timer == NULL) {
        free(n);
        return NULL;
    }
    return n;
}

void hm_net_set_tcp_timeout(hm_net_t *n, uint32_t ms)
{
    n->tcp_timeout_ms = ms ? ms : 10000;
}

void hm_net_sync_streams(hm_net_t *n, bool on)
{
    n->sync = on;
}

int hm_net_bind(hm_net_t *n, const struct sockaddr *sa, socklen_t len, char *err, size_t errlen)
{
    int one = 1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    n->family = sa->sa_family;
    n->tcp_fd = socket(sa->sa_family, SOCK_STREAM, 0);
    if (n->tcp_fd < 0)
        goto fail;
    setsockopt(n->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(n->tcp_fd, sa, len) < 0 || listen(n->tcp_fd, 128) < 0)
        goto fail;
    /* Port 0: UDP takes the port TCP got. */
    if (getsockname(n->tcp_fd, (struct sockaddr *)&ss, &sl) < 0)
        goto fail;
    n->udp_fd = socket(sa->sa_family, SOCK_DGRAM, 0);
    if (n->udp_fd < 0 || bind(n->udp_fd, (struct sockaddr *)&ss, sl) < 0)
        goto fail;
    {
        int sz = 2 * 1024 * 1024;
        setsockopt(n->udp_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    }
    n->port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                      : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    evutil_make_socket_nonblocking(n->udp_fd);
    evutil_make_socket_nonblocking(n->tcp_fd);
    evutil_make_socket_closeonexec(n->udp_fd);
    evutil_make_socket_closeonexec(n->tcp_fd);
    n->udp_ev = event_new(n->base, n->udp_fd, EV_READ | EV_PERSIST, udp_cb, n);
    n->tcp_ev = event_new(n->base, n->tcp_fd, EV_READ | EV_PERSIST, accept_cb, n);
    if (n->udp_ev == NULL || n->tcp_ev == NULL)
        goto fail;
    event_add(n->udp_ev, NULL);
    event_add(n->tcp_ev, NULL);
    hm_net_kick(n);
    return 0;
fail:
    snprintf(err, errlen, "Failed to start the Serf agent: %s", strerror(errno));
    if (n->tcp_fd >= 0)
        close(n->tcp_fd);
    if (n->udp_fd >= 0)
        close(n->udp_fd);
    n->tcp_fd = n->udp_fd = -1;
    return -1;
}

uint16_t hm_net_port(const hm_net_t *n)
{
    return n->port;
}

const hm_net_stats_t *hm_net_stats(const hm_net_t *n)
{
    return &n->stats;
}

void hm_net_free(hm_net_t *n)
{
    if (n == NULL)
        return;
    while (n->conns)
        conn_free(n->conns);
    for (size_t i = 0; i < n->ndeferred; i++)
        hm_buf_free(&n->deferred[i].data);
    free(n->deferred);
    if (n->udp_ev)
        event_free(n->udp_ev);
    if (n->tcp_ev)
        event_free(n->tcp_ev);
    if (n->timer)
        event_free(n->timer);
    if (n->udp_fd >= 0)
        close(n->udp_fd);
    if (n->tcp_fd >= 0)
        close(n->tcp_fd);
    free(n);
}
