/*
 * The agent: reads the core config, builds the Serf layer (hm_serf) and
 * its network glue (hm_net), joins, leaves, and implements the cluster
 * half of <hamlet/api.h> on top of them.  Serf-layer events go to the
 * module hooks (hm_hooks.h); log lines to the daemon's logger.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "hm_agent.h"
#include "hm_api_err.h"
#include "hm_hooks.h"
#include "hm_log.h"
#include "hm_net.h"
#include "hm_serf.h"
#include "hm_tagsfile.h"

struct hm_agent {
    struct event_base *base;
    struct hm_daemon *daemon;
    hm_serf_t *serf;
    hm_net_t *net;
    char *name;
    char bind_str[160];
    struct sockaddr_storage bind_sa;
    socklen_t bind_len;
    hm_addr_t advertise;
    bool started;

    /* config kept for start/reload */
    char **join, **retry_join;
    size_t njoin, nretry;
    uint64_t retry_interval_ms;
    int64_t retry_max, retry_attempts;
    int exit_code; /* 1 once retry_join gave up (serf agent exits 1) */
    bool replay;
    struct event *retry_ev;
    char *tags_file;
    hm_tags_t tags; /* our tags (owned strings) */

    /* the join in progress (hm_net sync mode) */
    uint32_t join_id;
    bool join_finished;
    size_t join_ok;
    char join_err[256];

    /* graceful leave */
    void (*leave_done)(void *ud);
    void *leave_ud;
    struct event *leave_ev;
    uint64_t leave_limit;
};

/* One agent per process: modules reach it through their context's daemon,
 * tests (and early calls) through this. */
static hm_agent_t *g_agent;

static hm_agent_t *agent_of(hm_ctx_t *ctx)
{
    struct hm_daemon *d = ctx ? hm_ctx_daemon(ctx) : NULL;
    hm_agent_t *a = d ? hm_daemon_agent(d) : NULL;

    return a ? a : g_agent;
}

/* ---- addresses ---- */

/* "host", "host:port", "[v6]", "[v6]:port", with an optional "name/"
 * prefix (memberlist's join form); hosts are resolved. */
static int resolve(const char *spec, uint16_t def_port, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256], port[16];
    const char *s = strchr(spec, '/');
    const char *c;
    struct addrinfo hints = {0}, *res = NULL;
    size_t n;

    s = s ? s + 1 : spec;
    snprintf(port, sizeof(port), "%u", def_port);
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (e == NULL || (size_t)(e - s - 1) >= sizeof(host))
            return -1;
        n = (size_t)(e - s - 1);
        memcpy(host, s + 1, n);
        host[n] = '\0';
        if (e[1] == ':')
            snprintf(port, sizeof(port), "%s", e + 2);
    } else if ((c = strrchr(s, ':')) != NULL && strchr(s, ':') == c) {
        n = (size_t)(c - s);
        if (n >= sizeof(host))
            return -1;
        memcpy(host, s, n);
        host[n] = '\0';
        snprintf(port, sizeof(port), "%s", c + 1);
    } else {
        snprintf(host, sizeof(host), "%s", s);
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void sa_to_addr(const struct sockaddr_storage *ss, hm_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        memcpy(a->ip, &in->sin_addr, 4);
        a->len = 4;
        a->port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        memcpy(a->ip, &in6->sin6_addr, 16);
        a->len = 16;
        a->port = ntohs(in6->sin6_port);
    }
}

/* Bound to 0.0.0.0: advertise the first private (else any) IPv4 address,
 * as Serf does. */
static void pick_advertise(hm_addr_t *a)
{
    struct ifaddrs *ifs, *i;
    bool found = false;

    if (getifaddrs(&ifs) < 0)
        goto loopback;
    for (i = ifs; i && !found; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
            (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
            continue;
        memcpy(a->ip, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
        a->len = 4;
        found = true;
    }
    freeifaddrs(ifs);
    if (found)
        return;
loopback:
    a->ip[0] = 127;
    a->ip[1] = a->ip[2] = 0;
    a->ip[3] = 1;
    a->len = 4;
}

/* -iface (serf agent command.go): with an unspecified bind address take
 * the interface's first address that is not link-local; otherwise the
 * bind address must be one of the interface's. */
static bool link_local(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        return b[0] == 169 && b[1] == 254;
    }
    return IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static int apply_interface(hm_agent_t *a, const char *ifname, char *err, size_t errlen)
{
    struct ifaddrs *ifs, *i;
    hm_addr_t bind;
    static const uint8_t zero[16];
    bool any, found = false, has = false;
    char ip[INET6_ADDRSTRLEN];

    if (if_nametoindex(ifname) == 0) {
        hm_seterr(err, errlen, "Invalid network interface: %s", strerror(errno));
        return -1;
    }
    if (getifaddrs(&ifs) < 0) {
        hm_seterr(err, errlen, "Failed to get interface addresses: %s", strerror(errno));
        return -1;
    }
    sa_to_addr(&a->bind_sa, &bind);
    any = memcmp(bind.ip, zero, bind.len) == 0;
    for (i = ifs; i && !found; i = i->ifa_next) {
        hm_addr_t x;
        if (i->ifa_addr == NULL || strcmp(i->ifa_name, ifname) != 0 ||
            (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
            continue;
        has = true;
        sa_to_addr((const struct sockaddr_storage *)i->ifa_addr, &x);
        if (any) {
            if (link_local(i->ifa_addr))
                continue;
            memcpy(&a->bind_sa, i->ifa_addr,
                   i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                     : sizeof(struct sockaddr_in6));
            a->bind_len = i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                            : sizeof(struct sockaddr_in6);
            if (i->ifa_addr->sa_family == AF_INET)
                ((struct sockaddr_in *)&a->bind_sa)->sin_port = htons(bind.port);
            else
                ((struct sockaddr_in6 *)&a->bind_sa)->sin6_port = htons(bind.port);
            inet_ntop(i->ifa_addr->sa_family, x.ip, ip, sizeof(ip));
            hm_core_log(HM_LOG_INFO, "agent", "Using interface '%s' address '%s'", ifname, ip);
            found = true;
        } else if (x.len == bind.len && memcmp(x.ip, bind.ip, x.len) == 0) {
            found = true;
        }
    }
    freeifaddrs(ifs);
    if (!has) {
        hm_seterr(err, errlen, "Interface '%s' has no addresses", ifname);
        return -1;
    }
    if (!found) {
        inet_ntop(bind.len == 16 ? AF_INET6 : AF_INET, bind.ip, ip, sizeof(ip));
        if (any)
            hm_seterr(err, errlen, "Failed to find usable address for interface '%s'", ifname);
        else
            hm_seterr(err, errlen, "Interface '%s' has no '%s' address", ifname, ip);
        return -1;
    }
    return 0;
}

/* ---- tags ---- */

static int tags_set(hm_tags_t *t, const char *k, const char *v)
{
    hm_tag_t *nv;

    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].key, k) == 0) {
            char *d = strdup(v);
            if (d == NULL)
                return -1;
            free((char *)t->v[i].value);
            t->v[i].value = d;
            return 0;
        }
    }
    nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
    if (nv == NULL)
        return -1;
    t->v = nv;
    nv[t->n].key = strdup(k);
    nv[t->n].value = strdup(v);
    if (nv[t->n].key == NULL || nv[t->n].value == NULL) {
        free((char *)nv[t->n].key);
        free((char *)nv[t->n].value);
        return -1;
    }
    t->n++;
    return 0;
}

static void tags_del(hm_tags_t *t, const char *k)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].key, k) == 0) {
            free((char *)t->v[i].key);
            free((char *)t->v[i].value);
            t->v[i] = t->v[--t->n];
            return;
        }
    }
}

static int tags_from_conf(hm_tags_t *t, const hm_conf_node_t *root)
{
    const hm_conf_node_t *m = hm_conf_get(root, "tags");

    for (size_t i = 0; m && i < hm_conf_len(m); i++) {
        const char *k = hm_conf_key_at(m, i);
        const char *v = hm_conf_value(hm_conf_at(m, i));
        if (k && tags_set(t, k, v ? v : "") < 0)
            return -1;
    }
    return 0;
}

static int tags_file_set(void *ud, const char *k, const char *v)
{
    return tags_set(ud, k, v);
}

/* Serf's SetTags writes the file before gossiping the tags, and a failed
 * write fails the change. */
static int tags_file_write(hm_agent_t *a, const hm_tags_t *t)
{
    char err[512];

    if (a->tags_file == NULL)
        return 0;
    if (hm_tagsfile_save(a->tags_file, t, err, sizeof(err)) == 0)
        return 0;
    hm_core_log(HM_LOG_ERR, "agent", "%s", err);
    return hm_api_seterr("%s", err);
}

/* ---- Serf layer callbacks ---- */

static void cb_log(void *ud, hm_log_level_t lvl, const char *msg)
{
    (void)ud;
    hm_core_log(lvl, "serf", "%s", msg);
}

static void cb_member(void *ud, const hm_member_event_t *ev)
{
    hm_agent_t *a = ud;

    /* serf agent's event loop logs every event it hands on */
    hm_core_log(HM_LOG_INFO, "agent", "Received event: %s", hm_member_event_name(ev->type));
    if (a->daemon)
        hm_run_member_event(a->daemon, ev);
}

static void cb_user(void *ud, const hm_user_event_t *ev)
{
    hm_agent_t *a = ud;

    hm_core_log(HM_LOG_INFO, "agent", "Received event: user-event: %s", ev->name);
    if (a->daemon)
        hm_run_user_event(a->daemon, ev);
}

static void cb_query(void *ud, const hm_query_t *q)
{
    hm_agent_t *a = ud;
    bool internal = strncmp(q->name, "_serf_", 6) == 0;

    if (!internal)
        hm_core_log(HM_LOG_INFO, "agent", "Received event: query: %s", q->name);
    if (a->daemon == NULL)
        return;
    if (hm_run_query(a->daemon, q, !internal) != HM_OK && internal)
        hm_core_log(HM_LOG_WARN, "serf", "Unhandled internal query '%s'", q->name + 6);
}

static void cb_join_done(void *ud, uint32_t id, size_t joined, const char *err)
{
    hm_agent_t *a = ud;

    if (id != a->join_id)
        return;
    a->join_finished = true;
    a->join_ok = joined;
    snprintf(a->join_err, sizeof(a->join_err), "%s", err ? err : "");
}

static void cb_shutdown(void *ud)
{
    hm_agent_t *a = ud;

    hm_core_log(HM_LOG_WARN, "agent", "Serf shutdown detected, quitting");
    event_base_loopexit(a->base, NULL);
}

/* ---- transform hooks for the glue ---- */

static int h_packet_out(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    hm_agent_t *a = ud;

    return a->daemon ? hm_run_packet_out(a->daemon, in, len, out) : HM_DECLINED;
}

static int h_packet_in(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    hm_agent_t *a = ud;

    return a->daemon ? hm_run_packet_in(a->daemon, in, len, out) : HM_DECLINED;
}

static int h_stream_out(void *ud, const uint8_t *in, size_t len, hm_buf_t *out)
{
    hm_agent_t *a = ud;

    return a->daemon ? hm_run_stream_out(a->daemon, in, len, out) : HM_DECLINED;
}

static int h_stream_in(void *ud, const uint8_t *in, size_t len, hm_buf_t *out, size_t *used)
{
    hm_agent_t *a = ud;

    return a->daemon ? hm_run_stream_in(a->daemon, in, len, out, used) : HM_DECLINED;
}

/* ---- construction ---- */

static char **conf_list(const hm_conf_node_t *root, const char *key, size_t *n)
{
    const hm_conf_node_t *l = hm_conf_get(root, key);
    size_t len = l ? hm_conf_len(l) : 0;
    char **v = calloc(len + 1, sizeof(char *));

    *n = 0;
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        const char *s = hm_conf_value(hm_conf_at(l, i));
        if (s && (v[*n] = strdup(s)) != NULL)
            (*n)++;
    }
    return v;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int build_serf_config(hm_agent_t *a, const hm_conf_node_t *root, hm_serf_config_t *c,
                             char *err, size_t errlen)
{
    const char *profile = hm_conf_str(root, "profile");
    const char *adv = hm_conf_str(root, "advertise");
    const char *snap = hm_conf_str(root, "snapshot_path");

    if (hm_serf_config_default(c, profile && profile[0] ? profile : "lan") < 0) {
        hm_seterr(err, errlen, "Unknown profile: %s", profile);
        return -1;
    }
    sa_to_addr(&a->bind_sa, &a->advertise);
    if (adv && adv[0]) {
        struct sockaddr_storage ss;
        socklen_t len;
        /* serf: an advertise address without a port means port 7946 */
        if (resolve(adv, 7946, &ss, &len) < 0) {
            hm_seterr(err, errlen, "Failed to parse advertise address: %s", adv);
            return -1;
        }
        sa_to_addr(&ss, &a->advertise);
    } else {
        static const uint8_t zero[16];
        if (memcmp(a->advertise.ip, zero, a->advertise.len) == 0) {
            uint16_t port = a->advertise.port;
            pick_advertise(&a->advertise);
            a->advertise.port = port;
        }
    }
    c->swim.name = a->name;
    c->swim.addr = a->advertise;
    c->swim.enable_compression = hm_conf_bool(root, "enable_compression");
    c->protocol = (uint8_t)hm_conf_int(root, "protocol");
    c->tags = &a->tags;
    c->broadcast_timeout_ms = (uint32_t)hm_conf_ms(root, "broadcast_timeout");
    if (c->broadcast_timeout_ms < 1000)
        c->broadcast_timeout_ms = 1000;
    c->reconnect_interval_ms = (uint32_t)hm_conf_ms(root, "reconnect_interval");
    c->reconnect_timeout_ms = (uint64_t)hm_conf_ms(root, "reconnect_timeout");
    c->tombstone_timeout_ms = (uint64_t)hm_conf_ms(root, "tombstone_timeout");
    c->user_event_size_limit = (size_t)hm_conf_bytes(root, "user_event_size_limit");
    c->query_size_limit = (size_t)hm_conf_bytes(root, "query_size_limit");
    c->query_response_size_limit = (size_t)hm_conf_bytes(root, "query_response_size_limit");
    c->disable_coordinates = hm_conf_bool(root, "disable_coordinates");
    c->swim.disable_suspicion_verify = !hm_conf_bool(root, "verify_suspicions");
    c->name_conflict_resolution = !hm_conf_bool(root, "disable_name_resolution");
    c->snapshot_path = snap && snap[0] ? snap : NULL;
    c->rejoin_after_leave = hm_conf_bool(root, "rejoin_after_leave");
    /* serf agent coalesces what it hands to handlers and RPC streams */
    c->coalesce_period_ms = c->user_coalesce_period_ms = 3000;
    c->quiescent_period_ms = c->user_quiescent_period_ms = 1000;
    c->seed = hm_net_now() ^ ((uint64_t)getpid() << 32);
    c->swim.seed = c->seed * 31 + 7;
    if (c->reconnect_interval_ms == 0)
        c->reconnect_interval_ms = 30000;
    return 0;
}

hm_agent_t *hm_agent_new(struct event_base *base, const hm_conf_node_t *root, char *err,
                         size_t errlen)
{
    hm_agent_t *a = calloc(1, sizeof(*a));
    const char *name = hm_conf_str(root, "node_name");
    const char *bind = hm_conf_str(root, "bind");
    const char *tf = hm_conf_str(root, "tags_file");
    hm_serf_config_t cfg;
    hm_serf_callbacks_t cb = {0};
    hm_net_hooks_t nh = {0};
    char host[256];

    if (a == NULL) {
        hm_seterr(err, errlen, "out of memory");
        return NULL;
    }
    a->base = base;
    if (name && name[0]) {
        a->name = strdup(name);
    } else {
        if (gethostname(host, sizeof(host) - 1) < 0)
            snprintf(host, sizeof(host), "hamlet");
        host[sizeof(host) - 1] = '\0';
        a->name = strdup(host);
    }
    snprintf(a->bind_str, sizeof(a->bind_str), "%s", bind && bind[0] ? bind : "0.0.0.0:7946");
    if (a->name == NULL || resolve(a->bind_str, 7946, &a->bind_sa, &a->bind_len) < 0) {
        hm_seterr(err, errlen, "Failed to parse bind address: %s", a->bind_str);
        goto fail;
    }
    {
        const char *ifname = hm_conf_str(root, "interface");
        if (ifname && ifname[0] && apply_interface(a, ifname, err, errlen) < 0)
            goto fail;
    }
    if (tags_from_conf(&a->tags, root) < 0)
        goto oom;
    if (tf && tf[0]) {
        if (a->tags.n) {
            hm_seterr(err, errlen, "Tags config not allowed while using tag files");
            goto fail;
        }
        a->tags_file = strdup(tf);
        if (a->tags_file == NULL)
            goto oom;
        int r = hm_tagsfile_load(tf, tags_file_set, &a->tags, err, errlen);
        if (r < 0)
            goto fail;
        if (r == 0)
            hm_core_log(HM_LOG_INFO, "agent", "Restored %zu tag(s) from %s", a->tags.n, tf);
    }
    a->join = conf_list(root, "join", &a->njoin);
    a->retry_join = conf_list(root, "retry_join", &a->nretry);
    a->retry_interval_ms = (uint64_t)hm_conf_ms(root, "retry_interval");
    if (a->retry_interval_ms < 1000)
        a->retry_interval_ms = 1000;
    a->retry_max = hm_conf_int(root, "retry_max");
    a->replay = hm_conf_bool(root, "replay_on_join");
    if (build_serf_config(a, root, &cfg, err, errlen) < 0)
        goto fail;
    cb.ud = a;
    cb.log = cb_log;
    cb.member_event = cb_member;
    cb.user_event = cb_user;
    cb.query = cb_query;
    cb.join_done = cb_join_done;
    cb.shutdown = cb_shutdown;
    a->serf = hm_serf_new(&cfg, &cb, hm_net_now(), err, errlen);
    if (a->serf == NULL)
        goto fail;
    nh.ud = a;
    nh.packet_out = h_packet_out;
    nh.packet_in = h_packet_in;
    nh.stream_out = h_stream_out;
    nh.stream_in = h_stream_in;
    a->net = hm_net_new(base, a->serf, &nh);
    if (a->net == NULL)
        goto oom;
    hm_net_set_tcp_timeout(a->net, cfg.swim.tcp_timeout_ms);
    g_agent = a;
    return a;
oom:
    hm_seterr(err, errlen, "out of memory");
fail:
    hm_agent_free(a);
    return NULL;
}

void hm_agent_set_daemon(hm_agent_t *a, struct hm_daemon *d)
{
    a->daemon = d;
}

/* ---- joining ---- */

static int join_addrs(hm_agent_t *a, char *const *specs, size_t n, bool ignore_old, size_t *joined,
                      char *err, size_t errlen)
{
    hm_addr_t *addrs = calloc(n ? n : 1, sizeof(*addrs));
    size_t k = 0;

    *joined = 0;
    if (addrs == NULL) {
        hm_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (resolve(specs[i], 7946, &ss, &len) < 0) {
            hm_core_log(HM_LOG_WARN, "memberlist", "Failed to resolve %s", specs[i]);
            continue;
        }
        sa_to_addr(&ss, &addrs[k++]);
    }
    if (k == 0) {
        free(addrs);
        hm_seterr(err, errlen, "no address could be resolved");
        return -1;
    }
    a->join_finished = false;
    a->join_ok = 0;
    a->join_err[0] = '\0';
    hm_net_sync_streams(a->net, true);
    a->join_id = hm_serf_join(a->serf, hm_net_now(), addrs, k, ignore_old);
    hm_net_kick(a->net);
    hm_net_sync_streams(a->net, false);
    hm_net_kick(a->net);
    free(addrs);
    if (!a->join_finished) {
        hm_seterr(err, errlen, "join did not complete");
        return -1;
    }
    *joined = a->join_ok;
    if (a->join_ok == 0) {
        hm_seterr(err, errlen, "%s", a->join_err[0] ? a->join_err : "no node answered");
        return -1;
    }
    return 0;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg);

static void retry_schedule(hm_agent_t *a)
{
    struct timeval tv = {(time_t)(a->retry_interval_ms / 1000),
                         (suseconds_t)(a->retry_interval_ms % 1000) * 1000};

    if (a->retry_ev == NULL)
        a->retry_ev = evtimer_new(a->base, retry_cb, a);
    if (a->retry_ev)
        evtimer_add(a->retry_ev, &tv);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    hm_agent_t *a = arg;
    char err[512];
    size_t n;

    (void)fd;
    (void)what;
    hm_core_log(HM_LOG_INFO, "agent", "Joining cluster...(replay: %s)",
                a->replay ? "true" : "false");
    if (join_addrs(a, a->retry_join, a->nretry, !a->replay, &n, err, sizeof(err)) == 0) {
        hm_core_log(HM_LOG_INFO, "agent", "Join completed. Synced with %zu initial agents", n);
        return;
    }
    /* As serf's retryJoin: retry_max counts the retries after the first
     * attempt (attempt > max gives up, so max=2 makes 3 attempts), and
     * giving up makes the agent exit 1 without a graceful leave. */
    if (a->retry_max > 0 && ++a->retry_attempts > a->retry_max) {
        hm_core_log(HM_LOG_ERR, "agent", "maximum retry join attempts made, exiting");
        a->exit_code = 1;
        event_base_loopexit(a->base, NULL);
        return;
    }
    hm_core_log(HM_LOG_WARN, "agent", "Join failed: %s, retrying in %llus", err,
                (unsigned long long)(a->retry_interval_ms / 1000));
    retry_schedule(a);
}

int hm_agent_exit_code(const hm_agent_t *a)
{
    return a ? a->exit_code : 0;
}

int hm_agent_start(hm_agent_t *a, char *err, size_t errlen)
{
    size_t n;

    if (hm_net_bind(a->net, (struct sockaddr *)&a->bind_sa, a->bind_len, err, errlen) < 0)
        return -1;
    a->started = true;
    if (a->daemon)
        hm_swim_set_packet_overhead(hm_serf_swim(a->serf), hm_hooks_packet_overhead(a->daemon));
    hm_core_log(HM_LOG_INFO, "agent", "Serf agent starting");
    hm_net_kick(a->net);
    if (a->njoin) {
        hm_core_log(HM_LOG_INFO, "agent", "Joining cluster...(replay: %s)",
                    a->replay ? "true" : "false");
        char why[512];
        if (join_addrs(a, a->join, a->njoin, !a->replay, &n, why, sizeof(why)) < 0) {
            hm_seterr(err, errlen, "Error joining the cluster: %s", why);
            return -1;
        }
        hm_core_log(HM_LOG_INFO, "agent", "Join completed. Synced with %zu initial agents", n);
    }
    if (a->nretry) {
        struct timeval now = {0, 0};
        if (a->retry_ev == NULL)
            a->retry_ev = evtimer_new(a->base, retry_cb, a);
        if (a->retry_ev)
            evtimer_add(a->retry_ev, &now);
    }
    return 0;
}

int hm_agent_reload(hm_agent_t *a, const hm_conf_node_t *root, char *err, size_t errlen)
{
    hm_tags_t t = {0};
    bool same;

    if (a->tags_file)
        return 0;
    if (tags_from_conf(&t, root) < 0) {
        hm_seterr(err, errlen, "out of memory");
        return -1;
    }
    same = t.n == a->tags.n;
    for (size_t i = 0; same && i < t.n; i++) {
        bool found = false;
        for (size_t j = 0; j < a->tags.n && !found; j++)
            found = strcmp(t.v[i].key, a->tags.v[j].key) == 0 &&
                    strcmp(t.v[i].value, a->tags.v[j].value) == 0;
        same = found;
    }
    if (!same) {
        if (hm_serf_set_tags(a->serf, hm_net_now(), &t, err, errlen) < 0) {
            hm_serf_tags_free(&t);
            return -1;
        }
        hm_serf_tags_free(&a->tags);
        a->tags = t;
        hm_net_kick(a->net);
    } else {
        hm_serf_tags_free(&t);
    }
    return 0;
}

/* ---- leaving ---- */

static void leave_check(evutil_socket_t fd, short what, void *arg)
{
    hm_agent_t *a = arg;
    struct timeval tv = {0, 50 * 1000};
    void (*done)(void *) = a->leave_done;

    (void)fd;
    (void)what;
    if (hm_serf_state(a->serf) == HM_SERF_LEAVING && hm_net_now() < a->leave_limit) {
        evtimer_add(a->leave_ev, &tv);
        return;
    }
    if (hm_serf_state(a->serf) == HM_SERF_LEAVING)
        hm_core_log(HM_LOG_WARN, "agent", "timeout waiting for the graceful leave");
    a->leave_done = NULL;
    if (done)
        done(a->leave_ud);
}

void hm_agent_leave(hm_agent_t *a, void (*done)(void *ud), void *ud)
{
    char err[256];
    struct timeval tv = {0, 0};

    hm_core_log(HM_LOG_INFO, "agent", "requesting graceful leave from Serf");
    a->leave_done = done;
    a->leave_ud = ud;
    a->leave_limit = hm_net_now() + 15000;
    if (hm_serf_leave(a->serf, hm_net_now(), err, sizeof(err)) < 0)
        hm_core_log(HM_LOG_WARN, "agent", "%s", err);
    hm_net_kick(a->net);
    if (a->leave_ev == NULL)
        a->leave_ev = evtimer_new(a->base, leave_check, a);
    if (a->leave_ev == NULL) {
        a->leave_done = NULL;
        done(ud);
        return;
    }
    evtimer_add(a->leave_ev, &tv);
}

/* ---- dump, free ---- */

static int dump_one(void *ud, const hm_member_t *m)
{
    char ip[INET6_ADDRSTRLEN] = "?", tags[512] = "";
    size_t off = 0;

    (void)ud;
    inet_ntop(m->addr.len == 16 ? AF_INET6 : AF_INET, m->addr.ip, ip, sizeof(ip));
    for (size_t i = 0; i < m->tags.n && off < sizeof(tags); i++)
        off += (size_t)snprintf(tags + off, sizeof(tags) - off, "%s%s=%s", i ? "," : "",
                                m->tags.v[i].key, m->tags.v[i].value);
    hm_core_log(HM_LOG_INFO, "agent", "member: %s %s:%u %s %s", m->name, ip, m->addr.port,
                hm_status_name(m->status), tags);
    return 0;
}

static void dump_stat(void *ud, const char *section, const char *key, const char *value)
{
    (void)ud;
    hm_core_log(HM_LOG_INFO, "agent", "stat: %s.%s = %s", section, key, value);
}

void hm_agent_dump(hm_agent_t *a)
{
    const hm_net_stats_t *ns = hm_net_stats(a->net);
    const hm_swim_stats_t *ss = hm_swim_stats(hm_serf_swim(a->serf));

    hm_serf_members_foreach(a->serf, dump_one, a);
    hm_serf_stats(a->serf, dump_stat, a);
    hm_core_log(HM_LOG_INFO, "agent",
                "net: udp in %llu out %llu dropped %llu, tcp in %llu out %llu failed %llu",
                (unsigned long long)ns->udp_in, (unsigned long long)ns->udp_out,
                (unsigned long long)ns->udp_dropped, (unsigned long long)ns->tcp_in,
                (unsigned long long)ns->tcp_out, (unsigned long long)ns->tcp_failed);
    hm_core_log(HM_LOG_INFO, "agent",
                "memberlist: probes %llu failures %llu suspects %llu deaths %llu "
                "push/pulls %llu malformed %llu",
                (unsigned long long)ss->probes, (unsigned long long)ss->probe_failures,
                (unsigned long long)ss->suspects, (unsigned long long)ss->deaths,
                (unsigned long long)ss->push_pulls, (unsigned long long)ss->dropped_malformed);
}

void hm_agent_free(hm_agent_t *a)
{
    if (a == NULL)
        return;
    if (a->retry_ev)
        event_free(a->retry_ev);
    if (a->leave_ev)
        event_free(a->leave_ev);
    hm_net_free(a->net);
    hm_serf_free(a->serf);
    free_list(a->join, a->njoin);
    free_list(a->retry_join, a->nretry);
    hm_serf_tags_free(&a->tags);
    free(a->tags_file);
    free(a->name);
    if (g_agent == a)
        g_agent = NULL;
    free(a);
}

/* ---- the cluster half of <hamlet/api.h> ---- */

const hm_member_t *hm_self(hm_ctx_t *ctx)
{
    hm_agent_t *a = agent_of(ctx);

    return a ? hm_serf_local(a->serf) : NULL;
}

void hm_members_foreach(hm_ctx_t *ctx, hm_member_iter_fn fn, void *ud)
{
    hm_agent_t *a = agent_of(ctx);

    if (a)
        hm_serf_members_foreach(a->serf, fn, ud);
}

size_t hm_members_count(hm_ctx_t *ctx)
{
    hm_agent_t *a = agent_of(ctx);

    return a ? hm_serf_members_count(a->serf) : 0;
}

int hm_user_event(hm_ctx_t *ctx, const char *name, const void *payload, size_t len, bool coalesce)
{
    hm_agent_t *a = agent_of(ctx);
    char err[256];

    if (a == NULL)
        return hm_api_seterr("no agent");
    if (hm_serf_user_event(a->serf, hm_net_now(), name, payload, len, coalesce, err, sizeof(err)) <
        0) {
        hm_core_log(HM_LOG_WARN, "agent", "user event: %s", err);
        return hm_api_seterr("%s", err);
    }
    hm_net_kick(a->net);
    return HM_OK;
}

int hm_query_respond(hm_ctx_t *ctx, const hm_query_t *q, const void *buf, size_t len)
{
    hm_agent_t *a = agent_of(ctx);
    char err[256];

    if (a == NULL || q == NULL)
        return hm_api_seterr("no agent or no query");
    if (hm_serf_respond(a->serf, hm_net_now(), q->opaque, buf, len, err, sizeof(err)) < 0) {
        hm_core_log(HM_LOG_WARN, "agent", "%s", err);
        return hm_api_seterr("%s", err);
    }
    hm_net_kick(a->net);
    return HM_OK;
}

int hm_tags_update(hm_ctx_t *ctx, const hm_tags_t *set, const char *const *del, size_t ndel)
{
    hm_agent_t *a = agent_of(ctx);
    hm_tags_t t = {0};
    char err[256];

    if (a == NULL)
        return hm_api_seterr("no agent");
    for (size_t i = 0; i < a->tags.n; i++)
        if (tags_set(&t, a->tags.v[i].key, a->tags.v[i].value) < 0)
            goto fail;
    for (size_t i = 0; set && i < set->n; i++)
        if (tags_set(&t, set->v[i].key, set->v[i].value) < 0)
            goto fail;
    for (size_t i = 0; i < ndel; i++)
        tags_del(&t, del[i]);
    if (tags_file_write(a, &t) < 0)
        goto fail;
    if (hm_serf_set_tags(a->serf, hm_net_now(), &t, err, sizeof(err)) < 0) {
        hm_core_log(HM_LOG_WARN, "agent", "%s", err);
        hm_api_seterr("%s", err);
        goto fail;
    }
    hm_serf_tags_free(&a->tags);
    a->tags = t;
    hm_net_kick(a->net);
    return HM_OK;
fail:
    hm_serf_tags_free(&t);
    return HM_ERROR;
}

int hm_query_send(hm_ctx_t *ctx, const hm_query_params_t *p, hm_query_reply_fn fn, void *ud,
                  uint32_t *id_out)
{
    hm_agent_t *a = agent_of(ctx);
    char err[256];

    if (a == NULL)
        return hm_api_seterr("no agent");
    if (hm_serf_query(a->serf, hm_net_now(), p, fn, ud, id_out, err, sizeof(err)) < 0) {
        hm_core_log(HM_LOG_WARN, "agent", "query: %s", err);
        return hm_api_seterr("%s", err);
    }
    hm_net_kick(a->net);
    return HM_OK;
}

int hm_join(hm_ctx_t *ctx, const char *const *addrs, size_t n, bool replay, size_t *joined,
            char *err, size_t errlen)
{
    hm_agent_t *a = agent_of(ctx);
    size_t j = 0;
    int r;

    if (joined)
        *joined = 0;
    if (a == NULL) {
        hm_seterr(err, errlen, "no agent");
        return HM_ERROR;
    }
    r = join_addrs(a, (char *const *)addrs, n, !replay, &j, err, errlen);
    if (joined)
        *joined = j;
    return r < 0 ? hm_api_seterr("%s", err && err[0] ? err : "join failed") : HM_OK;
}

static void leave_then_exit(void *ud)
{
    hm_agent_t *a = ud;

    event_base_loopexit(a->base, NULL);
}

int hm_leave(hm_ctx_t *ctx)
{
    hm_agent_t *a = agent_of(ctx);

    if (a == NULL)
        return hm_api_seterr("no agent");
    hm_agent_leave(a, leave_then_exit, a);
    return HM_OK;
}

int hm_force_leave(hm_ctx_t *ctx, const char *node, bool prune)
{
    hm_agent_t *a = agent_of(ctx);

    if (a == NULL || node == NULL)
        return hm_api_seterr("no agent or no node");
    if (hm_serf_force_leave(a->serf, hm_net_now(), node, prune) < 0)
        return hm_api_seterr("timed out broadcasting node removal");
    hm_net_kick(a->net);
    return HM_OK;
}

int hm_coordinate(hm_ctx_t *ctx, const char *node, hm_coord_t *out)
{
    hm_agent_t *a = agent_of(ctx);

    if (a == NULL)
        return -1;
    return hm_serf_coordinate(a->serf, node, out);
}

void hm_stats(hm_ctx_t *ctx, hm_stat_emit_fn emit, void *ud)
{
    hm_agent_t *a = agent_of(ctx);
    struct utsname u;
    char v[32];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    if (a == NULL)
        return;
    emit(ud, "agent", "name", a->name);
    if (uname(&u) == 0) {
        /* Go's GOOS/GOARCH spelling, as serf info prints them */
        for (char *c = u.sysname; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        emit(ud, "runtime", "os", u.sysname);
        emit(ud, "runtime", "arch",
             strcmp(u.machine, "x86_64") == 0    ? "amd64"
             : strcmp(u.machine, "aarch64") == 0 ? "arm64"
             : strcmp(u.machine, "i686") == 0    ? "386"
                                                 : u.machine);
    }
    snprintf(v, sizeof(v), "%ld", ncpu > 0 ? ncpu : 1);
    emit(ud, "runtime", "cpu_count", v);
    emit(ud, "runtime", "max_procs", v);
    emit(ud, "runtime", "goroutines", "1");
    emit(ud, "runtime", "version", "hamlet " PACKAGE_VERSION);
    hm_serf_stats(a->serf, emit, ud);
    emit(ud, "serf", "encrypted",
         a->daemon && hm_hooks_have_transforms(a->daemon) ? "true" : "false");
    for (size_t i = 0; i < a->tags.n; i++)
        emit(ud, "tags", a->tags.v[i].key, a->tags.v[i].value);
}
