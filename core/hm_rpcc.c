/* Serf RPC client connection: dial, handshake, auth, requests, responses. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hm_rpcc.h"

#define DIAL_TIMEOUT_MS 10000 /* the Go client's DefaultTimeout */
/* A member list of a very large cluster is one object: allow big answers. */
#define MAX_RESPONSE (256u << 20)

/* Go spells syscall errors in lower case ("connection refused"). */
static void go_errno(char *out, size_t len, int e)
{
    snprintf(out, len, "%s", strerror(e));
    if (out[0])
        out[0] = (char)tolower((unsigned char)out[0]);
}

/* net.SplitHostPort: "host:port" or "[host]:port". */
static int split_hostport(const char *addr, char *host, size_t hlen, char *port, size_t plen,
                          char *err, size_t elen)
{
    const char *colon = strrchr(addr, ':'), *h = addr;
    size_t n;

    if (colon == NULL) {
        snprintf(err, elen, "dial tcp: address %s: missing port in address", addr);
        return -1;
    }
    n = (size_t)(colon - addr);
    if (addr[0] == '[') {
        if (n < 2 || addr[n - 1] != ']') {
            snprintf(err, elen, "dial tcp: address %s: missing ']' in address", addr);
            return -1;
        }
        h = addr + 1;
        n -= 2;
    } else if (memchr(addr, ':', n)) {
        snprintf(err, elen, "dial tcp: address %s: too many colons in address", addr);
        return -1;
    }
    if (n >= hlen || strlen(colon + 1) >= plen) {
        snprintf(err, elen, "dial tcp: address %s: too long", addr);
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    snprintf(port, plen, "%s", colon + 1);
    return 0;
}

static void addr_str(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "";

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, ntohs(s4->sin_port));
    }
}

/* connect() with a deadline; returns the fd or -1 with errno set. */
static int dial_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), fl, e = 0;
    socklen_t el = sizeof(e);
    struct pollfd pfd;

    if (fd < 0)
        return -1;
    fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            goto fail;
        pfd.fd = fd;
        pfd.events = POLLOUT;
        if (poll(&pfd, 1, DIAL_TIMEOUT_MS) == 0) {
            errno = ETIMEDOUT;
            goto fail;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0) {
            errno = e ? e : errno;
            goto fail;
        }
    }
    fcntl(fd, F_SETFL, fl);
    return fd;
fail:
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

static int dial(hm_rpcc_t *c, const char *addr)
{
    char host[256], port[64], where[128], why[128];
    struct addrinfo hints = {0}, *res = NULL, *ai;
    int rc, one = 1;

    if (split_hostport(addr, host, sizeof(host), port, sizeof(port), c->err, sizeof(c->err)))
        return -1;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, &res);
    if (rc != 0) {
        snprintf(c->err, sizeof(c->err), "dial tcp: lookup %s: %s", host,
                 rc == EAI_SERVICE ? "unknown port" : "no such host");
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        addr_str(ai->ai_addr, where, sizeof(where));
        c->fd = dial_one(ai);
        if (c->fd >= 0)
            break;
        if (errno == ETIMEDOUT)
            snprintf(why, sizeof(why), "i/o timeout");
        else {
            char e[96];
            go_errno(e, sizeof(e), errno);
            snprintf(why, sizeof(why), "connect: %s", e);
        }
        snprintf(c->err, sizeof(c->err), "dial tcp %s: %s", where, why);
    }
    freeaddrinfo(res);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

uint64_t hm_rpcc_send(hm_rpcc_t *c, const char *command, const hm_buf_t *body)
{
    hm_buf_t out = {0};
    uint64_t seq = ++c->seq;
    int rc;

    rc = hm_rpc_pack_request(&out, command, seq);
    if (rc == 0 && body)
        rc = hm_buf_append(&out, body->data, body->len);
    if (rc == 0)
        rc = write_all(c->fd, out.data, out.len);
    hm_buf_free(&out);
    if (rc < 0) {
        snprintf(c->err, sizeof(c->err), "client closed");
        return 0;
    }
    return seq;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hm_rpcc_read_obj(hm_rpcc_t *c, msgpack_object *obj, int timeout_ms)
{
    int64_t deadline = timeout_ms >= 0 ? mono_ms() + timeout_ms : -1;
    uint8_t chunk[65536];

    for (;;) {
        int rc = hm_rpc_in_next(&c->in, obj);
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        ssize_t r;
        int wait;

        if (rc == HM_RPC_SCAN_OK)
            return HM_RPCC_OK;
        if (rc == HM_RPC_SCAN_BAD) {
            snprintf(c->err, sizeof(c->err), "client closed");
            return HM_RPCC_ECONN;
        }
        wait = deadline < 0 ? -1 : (int)(deadline - mono_ms());
        if (deadline >= 0 && wait <= 0) {
            snprintf(c->err, sizeof(c->err), "i/o timeout");
            return HM_RPCC_ECONN;
        }
        rc = poll(&pfd, 1, wait);
        if (rc < 0 && errno == EINTR) {
            snprintf(c->err, sizeof(c->err), "interrupted");
            return HM_RPCC_ECONN;
        }
        if (rc == 0)
            continue;
        r = recv(c->fd, chunk, sizeof(chunk), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || hm_rpc_in_feed(&c->in, chunk, (size_t)r) < 0) {
            snprintf(c->err, sizeof(c->err), "client closed");
            return HM_RPCC_ECONN;
        }
    }
}

int hm_rpcc_read_header(hm_rpcc_t *c, uint64_t *seq, int timeout_ms)
{
    msgpack_object h;
    const char *e;
    size_t n;
    int rc = hm_rpcc_read_obj(c, &h, timeout_ms);

    if (rc != HM_RPCC_OK)
        return rc;
    if (h.type != MSGPACK_OBJECT_MAP || hm_rpc_field_uint(&h, "Seq", seq) < 0 ||
        hm_rpc_field_str(&h, "Error", &e, &n) < 0) {
        snprintf(c->err, sizeof(c->err), "client closed");
        return HM_RPCC_ECONN;
    }
    if (n >= sizeof(c->err))
        n = sizeof(c->err) - 1;
    if (n)
        memcpy(c->err, e, n);
    c->err[n] = '\0';
    return n ? HM_RPCC_EAGENT : HM_RPCC_OK;
}

int hm_rpcc_call(hm_rpcc_t *c, const char *command, const hm_buf_t *req, bool want_body,
                 msgpack_object *body)
{
    uint64_t seq = hm_rpcc_send(c, command, req), got = 0;
    msgpack_object skip;
    int rc;

    if (seq == 0)
        return HM_RPCC_ECONN;
    for (;;) {
        rc = hm_rpcc_read_header(c, &got, -1);
        if (rc == HM_RPCC_ECONN)
            return rc;
        if (got == seq)
            break;
        /* a stream record of an earlier request: header + one body */
        if (hm_rpcc_read_obj(c, &skip, -1) != HM_RPCC_OK)
            return HM_RPCC_ECONN;
    }
    if (want_body && strcmp(c->err, HM_RPC_ERR_AUTH_REQUIRED) != 0) {
        char saved[sizeof(c->err)];
        memcpy(saved, c->err, sizeof(saved));
        if (hm_rpcc_read_obj(c, body, -1) != HM_RPCC_OK)
            return HM_RPCC_ECONN;
        memcpy(c->err, saved, sizeof(saved));
    }
    return rc;
}

int hm_rpcc_connect(hm_rpcc_t *c, const char *addr, const char *auth)
{
    hm_buf_t body = {0};
    msgpack_packer pk;
    int rc;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    hm_rpc_in_init(&c->in);
    c->in.max = MAX_RESPONSE;
    if (dial(c, addr) < 0)
        return HM_RPCC_ECONN;
    hm_rpc_packer_init(&pk, &body);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_str(&pk, "Version");
    msgpack_pack_int32(&pk, HM_RPC_VERSION);
    rc = hm_rpcc_call(c, "handshake", &body, false, NULL);
    if (rc == HM_RPCC_OK && auth && auth[0]) {
        hm_buf_reset(&body);
        msgpack_pack_map(&pk, 1);
        hm_rpc_pack_kstr(&pk, "AuthKey", auth);
        rc = hm_rpcc_call(c, "auth", &body, false, NULL);
    }
    hm_buf_free(&body);
    return rc;
}

void hm_rpcc_close(hm_rpcc_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    hm_rpc_in_free(&c->in);
}
