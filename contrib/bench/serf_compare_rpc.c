/*
 * serf_compare_rpc: the raw Serf RPC side of contrib/bench/serf_compare.sh.
 *
 * Built by that script with cc against the tree's own RPC codec
 * (core/hm_rpcc.c, core/hm_rpcwire.c, core/hm_types.c); it is not part of
 * `make` nor of `make check`.  It speaks to hamletd and to a real `serf
 * agent` exactly alike, so any difference in its figures is the agent's.
 *
 *   ports N                          N distinct free 127.0.0.1 ports (TCP+UDP)
 *   up SECS ADDR                     wait until ADDR completes a handshake
 *   wait-alive N SECS ADDR...        wait until every ADDR lists N alive members
 *   members SECS PID ADDR            members calls over one connection; CPU of PID
 *   events N LABEL=ADDR... -- [LABEL=]ADDR...
 *                                    fire N user events per origin, origins in
 *                                    turn (origins sharing a LABEL pooled);
 *                                    per event: ms until every stream saw it;
 *                                    per receiver label: ms to reach such a node
 *   query N LABEL=ADDR... -- ADDR... N queries, origins in turn; every ADDR
 *                                    answers through an RPC stream + respond
 *   converge N JOINER TARGET -- ADDR...
 *                                    `join` JOINER to TARGET (gossip address),
 *                                    ms until every ADDR lists N alive members
 *
 * Output is one "key=value ..." line per result, for the script to parse.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "hm_rpcc.h"

#define MAXC 16   /* connections in one run */
#define MAXREQ 64 /* outstanding requests per connection */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void die(const char *what, const char *addr, const char *err)
{
    fprintf(stderr, "serf_compare_rpc: %s %s: %s\n", what, addr ? addr : "", err ? err : "");
    exit(2);
}

/* ---- CPU of another process ------------------------------------------- */

/* utime+stime in clock ticks from /proc/PID/stat (dead threads included). */
static long cpu_ticks(int pid)
{
    char path[64], buf[2048], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command name, which may hold spaces: state is 3rd */
    if (!(p = strrchr(buf, ')')))
        return -1;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (long)(ut + st);
}

/* Run time in ns, summed over the live threads (/proc/PID/task/T/schedstat):
 * nanosecond resolution where the ticks above are 10 ms. */
static long long cpu_ns(int pid)
{
    char path[300];
    long long sum = 0, v;
    struct dirent *d;
    DIR *dir;

    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    if (!(dir = opendir(path)))
        return -1;
    while ((d = readdir(dir))) {
        FILE *f;
        if (d->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", pid, d->d_name);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%lld", &v) == 1)
                sum += v;
            fclose(f);
        }
    }
    closedir(dir);
    return sum;
}

static double self_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* ---- connections with interleaved streams ------------------------------ */

enum { K_HDR, K_BODY, K_STREAM };

typedef struct {
    hm_rpcc_t c;
    const char *addr;
    int idx;
    struct {
        uint64_t seq;
        int kind;
        int acked;
    } req[MAXREQ];
    int nreq;
    int have_hdr; /* a header was read; its body is next */
    uint64_t hdr_seq;
} conn_t;

/* Called for every response: body NULL for a header-only one (and for the
 * first, acknowledging header of a stream or query). */
typedef void (*rec_fn)(void *ctx, conn_t *k, uint64_t seq, const char *err,
                       const msgpack_object *body, double t);

static void conn_open(conn_t *k, const char *addr, int idx)
{
    memset(k, 0, sizeof(*k));
    k->addr = addr;
    k->idx = idx;
    if (hm_rpcc_connect(&k->c, addr, NULL) != HM_RPCC_OK)
        die("connect", addr, k->c.err);
}

static uint64_t conn_send(conn_t *k, const char *cmd, const hm_buf_t *body, int kind)
{
    uint64_t seq = hm_rpcc_send(&k->c, cmd, body);
    int i;

    if (seq == 0)
        die(cmd, k->addr, k->c.err);
    for (i = 0; i < k->nreq && k->req[i].seq; i++)
        ;
    if (i == MAXREQ) {
        /* forget the oldest stream (an old query past its use) */
        memmove(&k->req[0], &k->req[1], sizeof(k->req[0]) * (MAXREQ - 1));
        i = MAXREQ - 1;
    }
    k->req[i].seq = seq;
    k->req[i].kind = kind;
    k->req[i].acked = 0;
    if (i == k->nreq)
        k->nreq++;
    return seq;
}

/* Does a body follow this header?  Consumes one-shot requests. */
static int conn_body_follows(conn_t *k, uint64_t seq)
{
    for (int i = 0; i < k->nreq; i++) {
        if (k->req[i].seq != seq)
            continue;
        switch (k->req[i].kind) {
        case K_HDR:
            k->req[i].seq = 0;
            return 0;
        case K_BODY:
            k->req[i].seq = 0;
            return 1;
        default:
            if (!k->req[i].acked) {
                k->req[i].acked = 1;
                return 0;
            }
            return 1;
        }
    }
    return 0;
}

/* Dispatches every whole record buffered on k. */
static void conn_drain(conn_t *k, rec_fn fn, void *ctx, double t)
{
    msgpack_object o;
    const char *e;
    size_t n;
    char err[256];

    for (;;) {
        if (hm_rpc_in_next(&k->c.in, &o) != HM_RPC_SCAN_OK)
            return;
        if (k->have_hdr) {
            k->have_hdr = 0;
            fn(ctx, k, k->hdr_seq, "", &o, t);
            continue;
        }
        if (o.type != MSGPACK_OBJECT_MAP || hm_rpc_field_uint(&o, "Seq", &k->hdr_seq) < 0 ||
            hm_rpc_field_str(&o, "Error", &e, &n) < 0)
            die("bad header from", k->addr, "");
        if (n >= sizeof(err))
            n = sizeof(err) - 1;
        memcpy(err, e, n);
        err[n] = '\0';
        if (n) /* reported, not fatal: the run goes on and counts what is missing */
            fprintf(stderr, "serf_compare_rpc: %s answered seq %llu: %s\n", k->addr,
                    (unsigned long long)k->hdr_seq, err);
        if (conn_body_follows(k, k->hdr_seq))
            k->have_hdr = 1;
        else
            fn(ctx, k, k->hdr_seq, err, NULL, t);
    }
}

/* Reads from all connections until done(ctx) or the deadline. */
static int pump(conn_t *ks, int nk, rec_fn fn, int (*done)(void *), void *ctx, double until)
{
    struct pollfd pf[MAXC];
    uint8_t chunk[65536];

    while (!done(ctx)) {
        double left = until - now_ms();
        int rc;
        if (left <= 0)
            return -1;
        for (int i = 0; i < nk; i++)
            pf[i] = (struct pollfd){.fd = ks[i].c.fd, .events = POLLIN};
        rc = poll(pf, (nfds_t)nk, (int)left + 1);
        if (rc < 0 && errno != EINTR)
            die("poll", "", strerror(errno));
        double t = now_ms();
        for (int i = 0; i < nk; i++) {
            ssize_t r;
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = recv(ks[i].c.fd, chunk, sizeof(chunk), 0);
            if (r <= 0)
                die("connection lost to", ks[i].addr, r < 0 ? strerror(errno) : "closed");
            if (hm_rpc_in_feed(&ks[i].c.in, chunk, (size_t)r) < 0)
                die("feed", ks[i].addr, "");
            conn_drain(&ks[i], fn, ctx, t);
        }
    }
    return 0;
}

/* ---- small packers and statistics -------------------------------------- */

static void pack_stream(hm_buf_t *b, const char *filter)
{
    msgpack_packer pk;
    hm_buf_reset(b);
    hm_rpc_packer_init(&pk, b);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_kstr(&pk, "Type", filter);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of v[0..n), sorted in place. */
static double pct(double *v, int n, double p)
{
    int i;
    if (n == 0)
        return -1;
    qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
    i = (int)(p / 100.0 * n + 0.999999) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int split_args(char **argv, int argc, int *sep)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            *sep = i;
            return 0;
        }
    return -1;
}

static int alive_in(const msgpack_object *body)
{
    const msgpack_object *m = hm_rpc_get(body, "Members");
    int alive = 0;

    if (!m || m->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    for (uint32_t i = 0; i < m->via.array.size; i++) {
        const msgpack_object *s = hm_rpc_get(&m->via.array.ptr[i], "Status");
        if (s && hm_rpc_raw_eq(s, "alive"))
            alive++;
    }
    return alive;
}

static int alive_count(hm_rpcc_t *c, const char *addr)
{
    msgpack_object body;
    if (hm_rpcc_call(c, "members", NULL, true, &body) != HM_RPCC_OK)
        die("members", addr, c->err);
    return alive_in(&body);
}

/* ---- ports, up, wait-alive -------------------------------------------- */

static int cmd_ports(int n)
{
    int fds[2 * 64], nf = 0;
    struct sockaddr_in a = {.sin_family = AF_INET};

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int got = 0; got < n && nf < 2 * 64 - 2;) {
        socklen_t len = sizeof(a);
        int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
        a.sin_port = 0;
        if (bind(t, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(t, (struct sockaddr *)&a, &len) < 0)
            die("bind", "", strerror(errno));
        fds[nf++] = t;
        if (bind(u, (struct sockaddr *)&a, sizeof(a)) < 0) {
            close(u); /* UDP side taken: keep t bound so it is not offered again */
            continue;
        }
        fds[nf++] = u;
        printf("%d\n", ntohs(a.sin_port));
        got++;
    }
    for (int i = 0; i < nf; i++)
        close(fds[i]);
    return 0;
}

static int cmd_up(double secs, const char *addr)
{
    double until = now_ms() + secs * 1e3;
    hm_rpcc_t c;

    for (;;) {
        int rc = hm_rpcc_connect(&c, addr, NULL);
        hm_rpcc_close(&c);
        if (rc == HM_RPCC_OK)
            return 0;
        if (now_ms() > until) {
            fprintf(stderr, "serf_compare_rpc: %s not up: %s\n", addr, c.err);
            return 1;
        }
        sleep_ms(20);
    }
}

static int cmd_wait_alive(int want, double secs, char **addrs, int n)
{
    double t0 = now_ms(), until = t0 + secs * 1e3;
    int ok = 0;

    while (!ok) {
        ok = 1;
        for (int i = 0; i < n && ok; i++) {
            hm_rpcc_t c;
            if (hm_rpcc_connect(&c, addrs[i], NULL) != HM_RPCC_OK ||
                alive_count(&c, addrs[i]) != want)
                ok = 0;
            hm_rpcc_close(&c);
        }
        if (!ok && now_ms() > until) {
            fprintf(stderr, "serf_compare_rpc: not all of %d agents list %d alive\n", n, want);
            return 1;
        }
        if (!ok)
            sleep_ms(20);
    }
    printf("wait_ms=%.0f\n", now_ms() - t0);
    return 0;
}

/* ---- members ----------------------------------------------------------- */

static int cmd_members(double secs, int pid, const char *addr)
{
    hm_rpcc_t c;
    msgpack_object body;
    long calls = 0, tk0, tk1;
    long long ns0, ns1;
    double t0, t1 = 0, me0, me1, tick_ms = 1e3 / (double)sysconf(_SC_CLK_TCK);
    int members = -1;

    if (hm_rpcc_connect(&c, addr, NULL) != HM_RPCC_OK)
        die("connect", addr, c.err);
    tk0 = cpu_ticks(pid);
    ns0 = cpu_ns(pid);
    me0 = self_cpu_ms();
    t0 = now_ms();
    do {
        if (hm_rpcc_call(&c, "members", NULL, true, &body) != HM_RPCC_OK)
            die("members", addr, c.err);
        if (calls++ == 0)
            members = (int)hm_rpc_get(&body, "Members")->via.array.size;
    } while ((calls & 15) || (t1 = now_ms()) - t0 < secs * 1e3);
    tk1 = cpu_ticks(pid);
    ns1 = cpu_ns(pid);
    me1 = self_cpu_ms();
    hm_rpcc_close(&c);
    if (tk0 < 0 || tk1 < 0 || ns0 < 0 || ns1 < 0)
        die("cannot read CPU of pid", "", "");
    printf("calls=%ld secs=%.3f rate=%.0f agent_us=%.1f agent_us_ticks=%.1f client_us=%.1f "
           "members=%d\n",
           calls, (t1 - t0) / 1e3, calls / ((t1 - t0) / 1e3), (ns1 - ns0) / 1e3 / calls,
           (tk1 - tk0) * tick_ms * 1e3 / calls, (me1 - me0) * 1e3 / calls, members);
    return 0;
}

/* ---- user events -------------------------------------------------------- */

typedef struct {
    int nk;          /* stream connections (receivers) */
    char name[64];   /* the event in flight */
    double seen[MAXC];
    int nseen;
} ev_ctx_t;

static void ev_rec(void *vp, conn_t *k, uint64_t seq, const char *err,
                   const msgpack_object *body, double t)
{
    ev_ctx_t *x = vp;
    const msgpack_object *ev, *name;

    if (!body || k->idx >= x->nk)
        return;
    ev = hm_rpc_get(body, "Event");
    name = hm_rpc_get(body, "Name");
    if (ev && hm_rpc_raw_eq(ev, "user") && name && hm_rpc_raw_eq(name, x->name) &&
        x->seen[k->idx] < 0) {
        x->seen[k->idx] = t;
        x->nseen++;
    }
}

static int ev_done(void *vp)
{
    ev_ctx_t *x = vp;
    return x->nseen == x->nk;
}

static int never(void *vp)
{
    (void)vp;
    return 0;
}

/* Header-only records (acks of stream/event requests) need no action. */
static int acked_all(conn_t *ks, int nk)
{
    for (int i = 0; i < nk; i++)
        for (int j = 0; j < ks[i].nreq; j++)
            if (ks[i].req[j].seq && ks[i].req[j].kind == K_STREAM && !ks[i].req[j].acked)
                return 0;
    return 1;
}

typedef struct {
    conn_t *ks;
    int nk;
} acks_ctx_t;

static int acks_done(void *vp)
{
    acks_ctx_t *a = vp;
    return acked_all(a->ks, a->nk);
}

static void noop_rec(void *vp, conn_t *k, uint64_t seq, const char *err,
                     const msgpack_object *body, double t)
{
}

/* Origins are LABEL=ADDR; results are grouped by label. */
static void parse_origin(char *arg, char **label, char **addr)
{
    char *eq = strchr(arg, '=');
    if (!eq)
        die("origin must be LABEL=ADDR:", arg, "");
    *eq = '\0';
    *label = arg;
    *addr = eq + 1;
}

/* Origins sharing a label (e.g. two hamletd) are reported together. */
static int ogrp[8], ngrp;
static char *glabel[8];

static void group_origins(char **label, int norg)
{
    ngrp = 0;
    for (int o = 0; o < norg; o++) {
        int g;
        for (g = 0; g < ngrp && strcmp(glabel[g], label[o]); g++)
            ;
        if (g == ngrp)
            glabel[ngrp++] = label[o];
        ogrp[o] = g;
    }
}

static void open_streams(conn_t *ks, char **addrs, int n, const char *filter)
{
    hm_buf_t b = {0};
    acks_ctx_t a = {ks, n};

    pack_stream(&b, filter);
    for (int i = 0; i < n; i++) {
        conn_open(&ks[i], addrs[i], i);
        conn_send(&ks[i], "stream", &b, K_STREAM);
    }
    hm_buf_free(&b);
    if (pump(ks, n, noop_rec, acks_done, &a, now_ms() + 5000) < 0)
        die("stream not acknowledged", "", "");
}

static void report(const char *what, const char *label, double *v, int n, int lost)
{
    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += v[i];
    mean = n ? mean / n : -1;
    printf("%s origin=%s n=%d lost=%d median_ms=%.1f p95_ms=%.1f mean_ms=%.1f max_ms=%.1f\n",
           what, label, n, lost, pct(v, n, 50), pct(v, n, 95), mean, pct(v, n, 100));
}

/* Receivers may be given as LABEL=ADDR too: their labels, NULL if none. */
static char *rlabel[MAXC];

static void strip_labels(char **addrs, int n)
{
    for (int i = 0; i < n && i < MAXC; i++) {
        char *eq = strchr(addrs[i], '=');
        rlabel[i] = NULL;
        if (eq) {
            *eq = '\0';
            rlabel[i] = addrs[i];
            addrs[i] = eq + 1;
        }
    }
}

/* Per receiver label: how long each event took to reach a node of that
 * label (its own origin excluded, which hears it at once). */
static void report_receivers(const char *what, double *lat, const int *from,
                             const char **ofaddr, int nev, char **addrs, int nk)
{
    char to[64], pairw[64];
    double *v = malloc(sizeof(double) * (size_t)(nev * nk + 1));
    const char *done[MAXC];
    int nd = 0;

    for (int j = 0; j < nk; j++) {
        int m = 0, seen = 0;
        if (!rlabel[j])
            continue;
        for (int d = 0; d < nd; d++)
            seen |= !strcmp(done[d], rlabel[j]);
        if (seen)
            continue;
        done[nd++] = rlabel[j];
        for (int e = 0; e < nev; e++)
            for (int r = 0; r < nk; r++)
                if (rlabel[r] && !strcmp(rlabel[r], rlabel[j]) &&
                    strcmp(addrs[r], ofaddr[from[e]]) && lat[e * nk + r] >= 0)
                    v[m++] = lat[e * nk + r];
        snprintf(to, sizeof(to), "%s_to", what);
        snprintf(pairw, sizeof(pairw), "%s_pair", what);
        report(to, rlabel[j], v, m, 0);
        /* the same, for each origin: is one origin slower to reach them? */
        for (int g = 0; g < ngrp; g++) {
            char pair[128];
            m = 0;
            for (int e = 0; e < nev; e++)
                for (int r = 0; r < nk; r++)
                    if (ogrp[from[e]] == g && rlabel[r] && !strcmp(rlabel[r], rlabel[j]) &&
                        strcmp(addrs[r], ofaddr[from[e]]) && lat[e * nk + r] >= 0)
                        v[m++] = lat[e * nk + r];
            snprintf(pair, sizeof(pair), "%s>%s", glabel[g], rlabel[j]);
            report(pairw, pair, v, m, 0);
        }
    }
    free(v);
}

/* Per origin: until the first other node has it (the origin's own gossip
 * tick and first send: memberlist gossips every 200 ms on lan, so about
 * 100 ms is expected). */
static void report_first(const char *what, double *lat, const int *from, const char **ofaddr,
                         int nev, char **addrs, int nk)
{
    double *v = malloc(sizeof(double) * (size_t)(nev + 1));
    char w[64];

    snprintf(w, sizeof(w), "%s_first", what);
    for (int g = 0; g < ngrp; g++) {
        int m = 0;
        for (int e = 0; e < nev; e++) {
            double best = -1;
            if (ogrp[from[e]] != g)
                continue;
            for (int r = 0; r < nk; r++)
                if (strcmp(addrs[r], ofaddr[from[e]]) && lat[e * nk + r] >= 0 &&
                    (best < 0 || lat[e * nk + r] < best))
                    best = lat[e * nk + r];
            if (best >= 0)
                v[m++] = best;
        }
        report(w, glabel[g], v, m, 0);
    }
    free(v);
}

static int cmd_events(int n, char **org, int norg, char **addrs, int nk)
{
    conn_t ks[MAXC];
    ev_ctx_t x = {.nk = nk};
    double lat[8][512];
    int nl[8] = {0}, lost[8] = {0};
    char *label[8], *oaddr[8];
    hm_buf_t b = {0};
    msgpack_packer pk;

    double *each = malloc(sizeof(double) * (size_t)(n * norg * nk + 1));
    int *from = malloc(sizeof(int) * (size_t)(n * norg + 1));

    if (nk + norg > MAXC || norg > 8 || n * norg > 512 || !each || !from)
        die("too many", "", "");
    strip_labels(addrs, nk);
    open_streams(ks, addrs, nk, "user");
    for (int o = 0; o < norg; o++) {
        parse_origin(org[o], &label[o], &oaddr[o]);
        conn_open(&ks[nk + o], oaddr[o], nk + o);
    }
    group_origins(label, norg);
    srand((unsigned)getpid());
    for (int i = 0; i < n * norg; i++) {
        int o = i % norg, g = ogrp[o];
        double t0;
        snprintf(x.name, sizeof(x.name), "bench-%d-%d", (int)getpid(), i);
        for (int j = 0; j < nk; j++)
            x.seen[j] = -1;
        x.nseen = 0;
        hm_buf_reset(&b);
        hm_rpc_packer_init(&pk, &b);
        msgpack_pack_map(&pk, 3);
        hm_rpc_pack_kstr(&pk, "Name", x.name);
        hm_rpc_pack_str(&pk, "Payload");
        hm_rpc_pack_bin(&pk, "payload", 7, false);
        hm_rpc_pack_str(&pk, "Coalesce");
        msgpack_pack_false(&pk);
        t0 = now_ms();
        conn_send(&ks[nk + o], "event", &b, K_HDR);
        if (pump(ks, nk + norg, ev_rec, ev_done, &x, t0 + 5000) < 0) {
            lost[g]++;
            fprintf(stderr, "event %s from %s: not delivered within 5 s by", x.name, oaddr[o]);
            for (int j = 0; j < nk; j++)
                if (x.seen[j] < 0)
                    fprintf(stderr, " %s", addrs[j]);
            fprintf(stderr, "\n");
        } else {
            double last = 0;
            for (int j = 0; j < nk; j++)
                if (x.seen[j] - t0 > last)
                    last = x.seen[j] - t0;
            lat[g][nl[g]++] = last;
        }
        from[i] = o;
        for (int j = 0; j < nk; j++)
            each[i * nk + j] = x.seen[j] < 0 ? -1 : x.seen[j] - t0;
        /* A pause spread evenly over one whole 200 ms gossip interval: the
         * next event then starts at a uniform phase of every node's gossip
         * tick.  (A narrower spread locks onto the ticks, whose phases are
         * fixed for a run, and biases one origin's figures per run.) */
        pump(ks, nk + norg, ev_rec, never, &x, now_ms() + 20 + rand() % 200);
    }
    for (int g = 0; g < ngrp; g++)
        report("events", glabel[g], lat[g], nl[g], lost[g]);
    report_receivers("events", each, from, (const char **)oaddr, n * norg, addrs, nk);
    report_first("events", each, from, (const char **)oaddr, n * norg, addrs, nk);
    free(each);
    free(from);
    hm_buf_free(&b);
    for (int i = 0; i < nk + norg; i++)
        hm_rpcc_close(&ks[i].c);
    return 0;
}

/* ---- queries ------------------------------------------------------------ */

typedef struct {
    int nk;
    uint64_t qseq;   /* the query in flight, on conn qconn */
    int qconn;
    int acks, resps;
    char tag[32];         /* Payload of the query in flight */
    double seen[MAXC];    /* when each responder's stream delivered it */
    char who_ack[MAXC][64], who_resp[MAXC][64]; /* From of each, in order */
    double t_acks, t_resps;
    int responded;
} q_ctx_t;

static void from_copy(char *out, const msgpack_object *body)
{
    const char *p = "";
    size_t n = 0;
    hm_rpc_field_str(body, "From", &p, &n);
    snprintf(out, 64, "%.*s", (int)n, p);
}

static void q_rec(void *vp, conn_t *k, uint64_t seq, const char *err,
                  const msgpack_object *body, double t)
{
    q_ctx_t *x = vp;
    const msgpack_object *f;

    if (!body)
        return;
    if (k->idx < x->nk) { /* a responder's stream: answer the query */
        uint64_t id;
        hm_buf_t b = {0};
        msgpack_packer pk;
        f = hm_rpc_get(body, "Event");
        if (!f || !hm_rpc_raw_eq(f, "query") || hm_rpc_field_uint(body, "ID", &id) < 0)
            return;
        f = hm_rpc_get(body, "Payload");
        if (f && hm_rpc_raw_eq(f, x->tag) && x->seen[k->idx] < 0)
            x->seen[k->idx] = t;
        hm_rpc_packer_init(&pk, &b);
        msgpack_pack_map(&pk, 2);
        hm_rpc_pack_kuint(&pk, "ID", id);
        hm_rpc_pack_str(&pk, "Payload");
        hm_rpc_pack_bin(&pk, "ok", 2, false);
        conn_send(k, "respond", &b, K_HDR);
        hm_buf_free(&b);
        x->responded++;
        return;
    }
    if (k->idx != x->qconn || seq != x->qseq)
        return; /* a late record of an earlier query */
    f = hm_rpc_get(body, "Type");
    if (f && hm_rpc_raw_eq(f, "ack")) {
        if (x->acks < MAXC)
            from_copy(x->who_ack[x->acks], body);
        if (++x->acks == x->nk)
            x->t_acks = t;
    }
    if (f && hm_rpc_raw_eq(f, "response")) {
        if (x->resps < MAXC)
            from_copy(x->who_resp[x->resps], body);
        if (++x->resps == x->nk)
            x->t_resps = t;
    }
}

static int q_done(void *vp)
{
    q_ctx_t *x = vp;
    return x->acks >= x->nk && x->resps >= x->nk;
}

static int cmd_query(int n, char **org, int norg, char **addrs, int nk)
{
    conn_t ks[MAXC];
    q_ctx_t x = {.nk = nk};
    static double ack[8][512], rsp[8][512];
    int na[8] = {0}, nr[8] = {0}, lost[8] = {0};
    char *label[8], *oaddr[8];
    double *each = malloc(sizeof(double) * (size_t)(n * norg * nk + 1));
    int *from = malloc(sizeof(int) * (size_t)(n * norg + 1));
    hm_buf_t b = {0};
    msgpack_packer pk;

    if (nk + norg > MAXC || norg > 8 || n * norg > 512)
        die("too many", "", "");
    strip_labels(addrs, nk);
    open_streams(ks, addrs, nk, "query:benchq");
    for (int o = 0; o < norg; o++) {
        parse_origin(org[o], &label[o], &oaddr[o]);
        conn_open(&ks[nk + o], oaddr[o], nk + o);
    }
    group_origins(label, norg);
    srand((unsigned)getpid());
    for (int i = 0; i < n * norg; i++) {
        int o = i % norg, g = ogrp[o];
        double t0;
        hm_buf_reset(&b);
        hm_rpc_packer_init(&pk, &b);
        msgpack_pack_map(&pk, 7);
        hm_rpc_pack_str(&pk, "FilterNodes");
        msgpack_pack_array(&pk, 0);
        hm_rpc_pack_str(&pk, "FilterTags");
        msgpack_pack_map(&pk, 0);
        hm_rpc_pack_str(&pk, "RequestAck");
        msgpack_pack_true(&pk);
        hm_rpc_pack_kuint(&pk, "RelayFactor", 0);
        hm_rpc_pack_kuint(&pk, "Timeout", 2000000000ull); /* 2 s, in ns */
        hm_rpc_pack_kstr(&pk, "Name", "benchq");
        snprintf(x.tag, sizeof(x.tag), "q%d", i);
        hm_rpc_pack_str(&pk, "Payload");
        hm_rpc_pack_bin(&pk, x.tag, strlen(x.tag), false);
        for (int j = 0; j < nk; j++)
            x.seen[j] = -1;
        x.acks = x.resps = 0;
        x.qconn = nk + o;
        t0 = now_ms();
        x.qseq = conn_send(&ks[nk + o], "query", &b, K_STREAM);
        if (pump(ks, nk + norg, q_rec, q_done, &x, t0 + 2500) < 0) {
            lost[g]++;
            fprintf(stderr, "query %d from %s: %d/%d acks (", i, oaddr[o], x.acks, nk);
            for (int j = 0; j < x.acks && j < MAXC; j++)
                fprintf(stderr, " %s", x.who_ack[j]);
            fprintf(stderr, " ), %d/%d responses (", x.resps, nk);
            for (int j = 0; j < x.resps && j < MAXC; j++)
                fprintf(stderr, " %s", x.who_resp[j]);
            fprintf(stderr, " ); %d queries seen by the responders so far\n", x.responded);
        } else {
            ack[g][na[g]++] = x.t_acks - t0;
            rsp[g][nr[g]++] = x.t_resps - t0;
        }
        from[i] = o;
        for (int j = 0; j < nk; j++)
            each[i * nk + j] = x.seen[j] < 0 ? -1 : x.seen[j] - t0;
        pump(ks, nk + norg, q_rec, never, &x, now_ms() + 20 + rand() % 200); /* see events */
    }
    for (int g = 0; g < ngrp; g++) {
        report("query_acks", glabel[g], ack[g], na[g], lost[g]);
        report("query_resps", glabel[g], rsp[g], nr[g], lost[g]);
    }
    report_receivers("query", each, from, (const char **)oaddr, n * norg, addrs, nk);
    report_first("query", each, from, (const char **)oaddr, n * norg, addrs, nk);
    free(each);
    free(from);
    hm_buf_free(&b);
    for (int i = 0; i < nk + norg; i++)
        hm_rpcc_close(&ks[i].c);
    return 0;
}

/* ---- convergence -------------------------------------------------------- */

static int cmd_converge(int want, const char *joiner, const char *target, char **addrs, int n)
{
    hm_rpcc_t cs[MAXC], j;
    double done[MAXC], t0, tj, last = 0;
    int left = n;
    hm_buf_t b = {0};
    msgpack_packer pk;
    msgpack_object body;

    if (n > MAXC)
        die("too many", "", "");
    for (int i = 0; i < n; i++) {
        if (hm_rpcc_connect(&cs[i], addrs[i], NULL) != HM_RPCC_OK)
            die("connect", addrs[i], cs[i].err);
        done[i] = -1;
    }
    if (hm_rpcc_connect(&j, joiner, NULL) != HM_RPCC_OK)
        die("connect", joiner, j.err);
    hm_rpc_packer_init(&pk, &b);
    msgpack_pack_map(&pk, 2);
    hm_rpc_pack_str(&pk, "Existing");
    msgpack_pack_array(&pk, 1);
    hm_rpc_pack_str(&pk, target);
    hm_rpc_pack_str(&pk, "Replay");
    msgpack_pack_false(&pk);
    t0 = now_ms();
    if (hm_rpcc_call(&j, "join", &b, true, &body) != HM_RPCC_OK)
        die("join", joiner, j.err);
    tj = now_ms();
    while (left > 0 && now_ms() - t0 < 20000) {
        for (int i = 0; i < n; i++) {
            if (done[i] >= 0)
                continue;
            if (alive_count(&cs[i], addrs[i]) == want) {
                done[i] = now_ms() - t0;
                left--;
                if (done[i] > last)
                    last = done[i];
            }
        }
        if (left > 0)
            sleep_ms(5);
    }
    printf("converge_ms=%.1f join_call_ms=%.1f unconverged=%d\n", left ? -1.0 : last, tj - t0,
           left);
    for (int i = 0; i < n; i++)
        hm_rpcc_close(&cs[i]);
    hm_rpcc_close(&j);
    hm_buf_free(&b);
    return left ? 1 : 0;
}

/* ---- main --------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: serf_compare_rpc ports N | up SECS ADDR | wait-alive N SECS ADDR... |\n"
                    "  members SECS PID ADDR | events N LABEL=ADDR... -- ADDR... |\n"
                    "  query N LABEL=ADDR... -- ADDR... | converge N JOINER TARGET -- ADDR...\n");
    return 2;
}

int main(int argc, char **argv)
{
    int sep;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3)
        return usage();
    if (!strcmp(argv[1], "ports"))
        return cmd_ports(atoi(argv[2]));
    if (!strcmp(argv[1], "up") && argc == 4)
        return cmd_up(atof(argv[2]), argv[3]);
    if (!strcmp(argv[1], "wait-alive") && argc >= 5)
        return cmd_wait_alive(atoi(argv[2]), atof(argv[3]), argv + 4, argc - 4);
    if (!strcmp(argv[1], "members") && argc == 5)
        return cmd_members(atof(argv[2]), atoi(argv[3]), argv[4]);
    if ((!strcmp(argv[1], "events") || !strcmp(argv[1], "query")) &&
        split_args(argv, argc, &sep) == 0 && sep > 3 && sep < argc - 1) {
        int (*f)(int, char **, int, char **, int) =
            argv[1][0] == 'e' ? cmd_events : cmd_query;
        return f(atoi(argv[2]), argv + 3, sep - 3, argv + sep + 1, argc - sep - 1);
    }
    if (!strcmp(argv[1], "converge") && argc >= 7 && !strcmp(argv[5], "--"))
        return cmd_converge(atoi(argv[2]), argv[3], argv[4], argv + 6, argc - 6);
    return usage();
}
