/*
 * The snapshot file (serf/serf/snapshot.go): an append-only text log of
 * member joins and departures and the three Lamport clocks, replayed at
 * start-up to restore the clocks and re-join remembered nodes, compacted
 * when it grows.  File I/O only; time comes from the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hm_serf_int.h"

#define FLUSH_INTERVAL_MS 500
#define CLOCK_INTERVAL_MS 500
#define ERROR_RECOVERY_MS 30000
#define MIN_COMPACT_SIZE (128 * 1024)
#define BYTES_PER_NODE 128
#define COMPACTION_THRESHOLD 2

struct serf_snap {
    hm_serf_t *s;
    char *path;
    int fd;
    hm_buf_t pending; /* the buffered writer */
    serf_map_t alive; /* name -> strdup'ed "ip:port" */
    uint64_t last_clock, last_event_clock, last_query_clock;
    uint64_t last_flush, next_clock_check, last_compaction_try;
    bool compaction_tried;
    int64_t offset;
    bool leaving, rejoin_after_leave;
    /* AliveNodes() result, kept until close */
    const char **names, **addrs;
};

static void alive_set(serf_snap_t *sn, const char *name, const char *addr)
{
    char *old = serf_map_get(&sn->alive, name);
    char *v = strdup(addr);

    if (v == NULL)
        return;
    if (serf_map_put(&sn->alive, name, v) < 0) {
        free(v);
        return;
    }
    free(old);
}

static void alive_del(serf_snap_t *sn, const char *name)
{
    free(serf_map_del(&sn->alive, name));
}

static int flush(serf_snap_t *sn)
{
    size_t off = 0;

    while (off < sn->pending.len) {
        ssize_t w = write(sn->fd, sn->pending.data + off, sn->pending.len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (size_t)w;
    }
    hm_buf_reset(&sn->pending);
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int compact(serf_snap_t *sn)
{
    size_t plen = strlen(sn->path) + sizeof(".compact");
    char *tmp = malloc(plen), line[1024];
    int fd, n;
    int64_t off = 0;
    const char *name;
    void *val;

    if (tmp == NULL)
        return -1;
    snprintf(tmp, plen, "%s.compact", sn->path);
    fd = open(tmp, O_RDWR | O_TRUNC | O_CREAT, 0755);
    if (fd < 0)
        goto fail;
    for (long i = serf_map_next(&sn->alive, 0, &name, &val); i >= 0;
         i = serf_map_next(&sn->alive, i + 1, &name, &val)) {
        n = snprintf(line, sizeof(line), "alive: %s %s\n", name, (char *)val);
        if (write_all(fd, line, (size_t)n) < 0)
            goto fail_fd;
        off += n;
    }
    n = snprintf(line, sizeof(line),
                 "clock: %" PRIu64 "\nevent-clock: %" PRIu64 "\nquery-clock: %" PRIu64 "\n",
                 sn->last_clock, sn->last_event_clock, sn->last_query_clock);
    if (write_all(fd, line, (size_t)n) < 0 || fsync(fd) < 0)
        goto fail_fd;
    off += n;
    close(fd);
    flush(sn);
    close(sn->fd);
    sn->fd = -1;
    if (unlink(sn->path) < 0 || rename(tmp, sn->path) < 0)
        goto fail;
    sn->fd = open(sn->path, O_RDWR | O_APPEND | O_CREAT, 0755);
    if (sn->fd < 0)
        goto fail;
    sn->offset = off;
    sn->last_flush = sn->s->now;
    free(tmp);
    return 0;
fail_fd:
    close(fd);
fail:
    if (sn->fd < 0)
        sn->fd = open(sn->path, O_RDWR | O_APPEND | O_CREAT, 0644);
    free(tmp);
    return -1;
}

static int64_t max_size(const serf_snap_t *sn)
{
    int64_t t = (int64_t)sn->alive.n * BYTES_PER_NODE * COMPACTION_THRESHOLD;

    return t < MIN_COMPACT_SIZE ? MIN_COMPACT_SIZE : t;
}

static int append_line(serf_snap_t *sn, const char *l)
{
    size_t n = strlen(l);
    uint64_t now = sn->s->now;

    if (sn->fd < 0 || hm_buf_append(&sn->pending, l, n) < 0)
        return -1;
    if (now - sn->last_flush > FLUSH_INTERVAL_MS) {
        sn->last_flush = now;
        if (flush(sn) < 0)
            return -1;
    }
    sn->offset += (int64_t)n;
    if (sn->offset > max_size(sn))
        return compact(sn);
    return 0;
}

static void try_append(serf_snap_t *sn, const char *l)
{
    hm_serf_t *s = sn->s;

    if (append_line(sn, l) == 0)
        return;
    serf_log(s, HM_LOG_ERR, "Failed to update snapshot: %s", strerror(errno));
    if (!sn->compaction_tried || s->now - sn->last_compaction_try > ERROR_RECOVERY_MS) {
        sn->compaction_tried = true;
        sn->last_compaction_try = s->now;
        serf_log(s, HM_LOG_INFO, "Attempting compaction to recover from error...");
        if (compact(sn) < 0)
            serf_log(s, HM_LOG_ERR, "Compaction failed, will reattempt after 30s");
        else
            serf_log(s, HM_LOG_INFO,
                     "Finished compaction, successfully recovered from error state");
    }
}

static void update_clock(serf_snap_t *sn, uint64_t clock)
{
    char line[64];
    uint64_t last_seen = clock - 1;

    if (clock > 0 && last_seen > sn->last_clock) {
        sn->last_clock = last_seen;
        snprintf(line, sizeof(line), "clock: %" PRIu64 "\n", last_seen);
        try_append(sn, line);
    }
}

static int parse_u64(const char *p, uint64_t *v)
{
    char *end;

    if (*p < '0' || *p > '9')
        return -1;
    errno = 0;
    *v = strtoull(p, &end, 10);
    return errno || *end ? -1 : 0;
}

static void replay(serf_snap_t *sn)
{
    hm_serf_t *s = sn->s;
    FILE *f = fdopen(dup(sn->fd), "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t v;

    if (f == NULL)
        return;
    rewind(f);
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n')
            break; /* Go drops a last line without its newline */
        line[len - 1] = '\0';
        if (strncmp(line, "alive: ", 7) == 0) {
            char *info = line + 7, *sp = strrchr(info, ' ');
            if (sp == NULL) {
                serf_log(s, HM_LOG_WARN, "Failed to parse address: %s", line);
                continue;
            }
            *sp = '\0';
            alive_set(sn, info, sp + 1);
        } else if (strncmp(line, "not-alive: ", 11) == 0) {
            alive_del(sn, line + 11);
        } else if (strncmp(line, "clock: ", 7) == 0) {
            if (parse_u64(line + 7, &v) < 0)
                serf_log(s, HM_LOG_WARN, "Failed to convert clock time: %s", line + 7);
            else
                sn->last_clock = v;
        } else if (strncmp(line, "event-clock: ", 13) == 0) {
            if (parse_u64(line + 13, &v) < 0)
                serf_log(s, HM_LOG_WARN, "Failed to convert event clock time: %s", line + 13);
            else
                sn->last_event_clock = v;
        } else if (strncmp(line, "query-clock: ", 13) == 0) {
            if (parse_u64(line + 13, &v) < 0)
                serf_log(s, HM_LOG_WARN, "Failed to convert query clock time: %s", line + 13);
            else
                sn->last_query_clock = v;
        } else if (strncmp(line, "coordinate: ", 12) == 0 || line[0] == '#') {
            continue;
        } else if (strcmp(line, "leave") == 0) {
            if (sn->rejoin_after_leave) {
                serf_log(s, HM_LOG_INFO, "Ignoring previous leave in snapshot");
                continue;
            }
            serf_map_free_all(&sn->alive);
            sn->last_clock = sn->last_event_clock = sn->last_query_clock = 0;
        } else {
            serf_log(s, HM_LOG_WARN, "Unrecognized snapshot line: %s", line);
        }
    }
    free(line);
    fclose(f);
}

serf_snap_t *serf_snap_open(hm_serf_t *s, const char *path, bool rejoin_after_leave, char *err,
                            size_t errlen)
{
    serf_snap_t *sn = calloc(1, sizeof(*sn));
    struct stat st;

    if (sn == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sn->s = s;
    sn->rejoin_after_leave = rejoin_after_leave;
    sn->path = strdup(path);
    sn->fd = open(path, O_RDWR | O_APPEND | O_CREAT, 0644);
    if (sn->path == NULL || sn->fd < 0) {
        snprintf(err, errlen, "Failed to setup snapshot: failed to open snapshot: %s",
                 strerror(errno));
        serf_snap_close(sn);
        return NULL;
    }
    if (fstat(sn->fd, &st) < 0) {
        snprintf(err, errlen, "Failed to setup snapshot: failed to stat snapshot: %s",
                 strerror(errno));
        serf_snap_close(sn);
        return NULL;
    }
    sn->offset = st.st_size;
    replay(sn);
    sn->last_flush = s->now;
    sn->next_clock_check = s->now + CLOCK_INTERVAL_MS;
    return sn;
}

void serf_snap_close(serf_snap_t *sn)
{
    if (sn == NULL)
        return;
    if (sn->fd >= 0) {
        update_clock(sn, sn->s->clock);
        flush(sn);
        fsync(sn->fd);
        close(sn->fd);
    }
    hm_buf_free(&sn->pending);
    serf_map_free_all(&sn->alive);
    free(sn->names);
    free(sn->addrs);
    free(sn->path);
    free(sn);
}

void serf_snap_member(serf_snap_t *sn, hm_member_event_type_t t, const serf_member_t *m)
{
    char line[HM_SERF_NAME_MAX + 80], addr[64];

    if (sn->leaving)
        return;
    if (t == HM_EVENT_MEMBER_JOIN) {
        serf_addr_str(&m->m.addr, addr, sizeof(addr), true);
        alive_set(sn, m->name, addr);
        snprintf(line, sizeof(line), "alive: %s %s\n", m->name, addr);
        try_append(sn, line);
    } else if (t == HM_EVENT_MEMBER_LEAVE || t == HM_EVENT_MEMBER_FAILED) {
        alive_del(sn, m->name);
        snprintf(line, sizeof(line), "not-alive: %s\n", m->name);
        try_append(sn, line);
    } else {
        return;
    }
    update_clock(sn, sn->s->clock);
}

/* An "event-clock:" or "query-clock:" line, only when that clock moved
 * forward, and none once leaving (as Serf's snapshotter). */
static void snap_clock(serf_snap_t *sn, uint64_t *last, const char *label, uint64_t ltime)
{
    char line[64];

    if (sn->leaving || ltime <= *last)
        return;
    *last = ltime;
    snprintf(line, sizeof(line), "%s: %" PRIu64 "\n", label, ltime);
    try_append(sn, line);
}

void serf_snap_user_event(serf_snap_t *sn, uint64_t ltime)
{
    snap_clock(sn, &sn->last_event_clock, "event-clock", ltime);
}

void serf_snap_query(serf_snap_t *sn, uint64_t ltime)
{
    snap_clock(sn, &sn->last_query_clock, "query-clock", ltime);
}

void serf_snap_leave(serf_snap_t *sn)
{
    sn->leaving = true;
    if (!sn->rejoin_after_leave)
        serf_map_free_all(&sn->alive);
    try_append(sn, "leave\n");
    if (flush(sn) < 0)
        serf_log(sn->s, HM_LOG_ERR, "failed to flush leave to snapshot");
    if (sn->fd >= 0 && fsync(sn->fd) < 0)
        serf_log(sn->s, HM_LOG_ERR, "failed to sync leave to snapshot");
}

void serf_snap_tick(serf_snap_t *sn, uint64_t now, uint64_t clock)
{
    if (now < sn->next_clock_check)
        return;
    sn->next_clock_check = now + CLOCK_INTERVAL_MS;
    if (!sn->leaving)
        update_clock(sn, clock);
    /* Unlike Go's writer we also flush here, so a kill -9 loses at most
     * half a second. */
    if (sn->pending.len && sn->fd >= 0) {
        sn->last_flush = now;
        flush(sn);
    }
}

uint64_t serf_snap_deadline(const serf_snap_t *sn)
{
    return sn->next_clock_check;
}

uint64_t serf_snap_last_clock(const serf_snap_t *sn)
{
    return sn->last_clock;
}

uint64_t serf_snap_last_event_clock(const serf_snap_t *sn)
{
    return sn->last_event_clock;
}

uint64_t serf_snap_last_query_clock(const serf_snap_t *sn)
{
    return sn->last_query_clock;
}

size_t serf_snap_alive(const serf_snap_t *snc, const char ***names, const char ***addrs)
{
    serf_snap_t *sn = (serf_snap_t *)snc;
    size_t k = 0;
    const char *name;
    void *val;

    free(sn->names);
    free(sn->addrs);
    sn->names = calloc(sn->alive.n + 1, sizeof(char *));
    sn->addrs = calloc(sn->alive.n + 1, sizeof(char *));
    if (sn->names == NULL || sn->addrs == NULL)
        return 0;
    for (long i = serf_map_next(&sn->alive, 0, &name, &val); i >= 0;
         i = serf_map_next(&sn->alive, i + 1, &name, &val)) {
        sn->names[k] = name;
        sn->addrs[k++] = val;
    }
    *names = sn->names;
    *addrs = sn->addrs;
    return k;
}
