/* The virtual network of t/serf/vnet.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnet.h"

typedef struct task {
    uint64_t at;
    uint64_t seq;
    int kind; /* 0 packet, 1 stream open, 2 stream reply, 3 stream fail */
    int from, to;
    uint32_t stream_id;
    hm_buf_t data;
} task_t;

struct vnet {
    vnet_node_t nodes[VNET_MAX];
    int n;
    int addr_index[VNET_MAX];
    uint64_t now, seq;
    task_t *tasks;
    size_t ntasks, cap;
    /* reply capture while feeding an accepted stream */
    int capture_node;
    uint32_t capture_id;
    hm_buf_t captured;
    bool have_capture;
};

void vnet_addr(int i, hm_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    a->len = 4;
    a->ip[0] = 10;
    a->ip[3] = (uint8_t)(i + 1);
    a->port = 7946;
}

static int node_of(vnet_t *v, const hm_addr_t *a)
{
    if (a->len != 4 || a->ip[0] != 10)
        return -1;
    for (int i = 0; i < v->n; i++)
        if (v->addr_index[i] == a->ip[3] - 1 && v->nodes[i].up)
            return i;
    return -1;
}

static void rec_add(vnet_node_t *n, int kind, const char *who, const uint8_t *data, size_t len,
                    uint64_t ltime, uint64_t at)
{
    vnet_rec_t *r;

    if (n->nrec == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 64;
        n->rec = realloc(n->rec, n->cap * sizeof(*n->rec));
    }
    r = &n->rec[n->nrec++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    snprintf(r->who, sizeof(r->who), "%s", who ? who : "");
    if (data)
        snprintf(r->data, sizeof(r->data), "%.*s", (int)len, (const char *)data);
    r->ltime = ltime;
    r->at = at;
}

typedef struct cbctx {
    vnet_t *v;
    int i;
} cbctx_t;
static cbctx_t ctxs[VNET_MAX];

static void cb_log(void *ud, hm_log_level_t lvl, const char *msg)
{
    cbctx_t *c = ud;
    vnet_node_t *n = &c->v->nodes[c->i];

    if (getenv("VNET_LOG"))
        fprintf(stderr, "# [%llu] s%d: %s\n", (unsigned long long)c->v->now, c->i, msg);
    if (lvl >= HM_LOG_INFO) {
        snprintf(n->logbuf[n->nlog % 64], sizeof(n->logbuf[0]), "%s", msg);
        n->nlog++;
    }
}

static void cb_member(void *ud, const hm_member_event_t *ev)
{
    cbctx_t *c = ud;
    static const char k[] = "JLFUR";

    c->v->nodes[c->i].member_callbacks++;
    for (size_t i = 0; i < ev->n; i++)
        rec_add(&c->v->nodes[c->i], k[ev->type], ev->members[i]->name, NULL, 0, 0, c->v->now);
}

static void cb_user(void *ud, const hm_user_event_t *ev)
{
    cbctx_t *c = ud;

    c->v->nodes[c->i].user_callbacks++;
    rec_add(&c->v->nodes[c->i], 'E', ev->name, ev->payload, ev->len, ev->ltime, c->v->now);
}

static void cb_query(void *ud, const hm_query_t *q)
{
    cbctx_t *c = ud;
    vnet_node_t *n = &c->v->nodes[c->i];
    char err[256];

    rec_add(n, 'Q', q->name, q->payload, q->len, q->ltime, c->v->now);
    n->last_opaque = q->opaque;
    n->last_opaque_deadline = q->deadline_ms;
    if (n->answer && hm_serf_respond(n->serf, c->v->now, q->opaque, (const uint8_t *)n->answer,
                                     strlen(n->answer), err, sizeof(err)) < 0)
        snprintf(n->last_err, sizeof(n->last_err), "%s", err);
    if (n->answer && n->answer_twice &&
        hm_serf_respond(n->serf, c->v->now, q->opaque, (const uint8_t *)n->answer,
                        strlen(n->answer), err, sizeof(err)) < 0)
        snprintf(n->last_err, sizeof(n->last_err), "%s", err);
}

static void cb_join_done(void *ud, uint32_t id, size_t joined, const char *err)
{
    cbctx_t *c = ud;

    (void)id;
    (void)err;
    c->v->nodes[c->i].joined = joined;
    c->v->nodes[c->i].join_done = true;
}

static void cb_shutdown(void *ud)
{
    cbctx_t *c = ud;

    c->v->nodes[c->i].shutdown = true;
}

/* ud of a query sent from a test: the node's context. */
void vnet_query_cb(void *ud, hm_query_reply_type_t t, const char *from, const uint8_t *p, size_t n)
{
    cbctx_t *c = ud;
    int k = t == HM_QUERY_ACK ? 'A' : t == HM_QUERY_RESPONSE ? 'P' : 'D';

    rec_add(&c->v->nodes[c->i], k, from, p, n, 0, c->v->now);
}

vnet_t *vnet_new(void)
{
    return calloc(1, sizeof(vnet_t));
}

int vnet_add_named(vnet_t *v, hm_serf_config_t *cfg, const char *name, int addr_index)
{
    hm_serf_config_t c;
    hm_serf_callbacks_t cb = {0};
    char err[256];
    int i = v->n;

    if (i >= VNET_MAX)
        return -1;
    if (cfg)
        c = *cfg;
    else
        hm_serf_config_default(&c, "local");
    c.swim.name = name;
    vnet_addr(addr_index, &c.swim.addr);
    c.seed = 1000 + (uint64_t)i;
    c.swim.seed = 2000 + (uint64_t)i;
    ctxs[i].v = v;
    ctxs[i].i = i;
    cb.ud = &ctxs[i];
    cb.log = cb_log;
    cb.member_event = cb_member;
    cb.user_event = cb_user;
    cb.query = cb_query;
    cb.join_done = cb_join_done;
    cb.shutdown = cb_shutdown;
    memset(&v->nodes[i], 0, sizeof(v->nodes[i]));
    v->addr_index[i] = addr_index;
    v->nodes[i].up = true;
    v->n++;
    v->nodes[i].serf = hm_serf_new(&c, &cb, v->now, err, sizeof(err));
    if (v->nodes[i].serf == NULL) {
        fprintf(stderr, "# hm_serf_new: %s\n", err);
        v->n--;
        return -1;
    }
    return i;
}

int vnet_add(vnet_t *v, hm_serf_config_t *cfg)
{
    char name[16];

    snprintf(name, sizeof(name), "s%d", v->n);
    return vnet_add_named(v, cfg, name, v->n);
}

vnet_node_t *vnet_node(vnet_t *v, int i)
{
    return &v->nodes[i];
}

void vnet_free(vnet_t *v)
{
    for (int i = 0; i < v->n; i++) {
        hm_serf_free(v->nodes[i].serf);
        free(v->nodes[i].rec);
    }
    for (size_t i = 0; i < v->ntasks; i++)
        hm_buf_free(&v->tasks[i].data);
    free(v->tasks);
    hm_buf_free(&v->captured);
    free(v);
}

static void push_task(vnet_t *v, int kind, int from, int to, uint32_t sid, const hm_buf_t *d)
{
    task_t *t;

    if (v->ntasks == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->tasks = realloc(v->tasks, v->cap * sizeof(*v->tasks));
    }
    t = &v->tasks[v->ntasks++];
    memset(t, 0, sizeof(*t));
    t->at = v->now + 1;
    t->seq = v->seq++;
    t->kind = kind;
    t->from = from;
    t->to = to;
    t->stream_id = sid;
    if (d)
        hm_buf_append(&t->data, d->data, d->len);
}

static void drain(vnet_t *v, int i)
{
    hm_swim_out_t o;
    vnet_node_t *n = &v->nodes[i];

    if (!n->up)
        return;
    while (hm_serf_poll(n->serf, &o)) {
        int to = node_of(v, &o.to);
        switch (o.type) {
        case HM_SWIM_SEND_PACKET:
            if (to >= 0)
                push_task(v, 0, i, to, 0, &o.data);
            break;
        case HM_SWIM_STREAM_OPEN:
            if (to >= 0)
                push_task(v, 1, i, to, o.stream_id, &o.data);
            else
                push_task(v, 3, -1, i, o.stream_id, NULL);
            break;
        case HM_SWIM_STREAM_REPLY:
            if (v->capture_node == i && v->capture_id == o.stream_id) {
                hm_buf_reset(&v->captured);
                hm_buf_append(&v->captured, o.data.data, o.data.len);
                v->have_capture = true;
            }
            break;
        case HM_SWIM_STREAM_CLOSE:
            break;
        }
        hm_buf_free(&o.data);
    }
}

static void run_task(vnet_t *v, task_t *t)
{
    hm_addr_t from;
    vnet_node_t *dst = &v->nodes[t->to];

    if (!dst->up)
        return;
    if (t->from >= 0)
        vnet_addr(v->addr_index[t->from], &from);
    switch (t->kind) {
    case 0:
        if (!dst->block_in && v->nodes[t->from].up)
            hm_serf_packet(dst->serf, v->now, &from, t->data.data, t->data.len);
        drain(v, t->to);
        break;
    case 1: {
        uint32_t sid;
        int r;
        if (!v->nodes[t->from].up)
            break;
        sid = hm_serf_stream_accept(dst->serf, v->now, &from);
        v->capture_node = t->to;
        v->capture_id = sid;
        v->have_capture = false;
        r = hm_serf_stream_data(dst->serf, v->now, sid, t->data.data, t->data.len);
        drain(v, t->to);
        v->capture_node = -1;
        if (r == HM_OK && v->have_capture)
            push_task(v, 2, t->to, t->from, t->stream_id, &v->captured);
        else
            push_task(v, 3, t->to, t->from, t->stream_id, NULL);
        break;
    }
    case 2:
        hm_serf_stream_data(dst->serf, v->now, t->stream_id, t->data.data, t->data.len);
        drain(v, t->to);
        break;
    case 3:
        hm_serf_stream_failed(dst->serf, v->now, t->stream_id, "connection refused");
        drain(v, t->to);
        break;
    }
}

uint32_t vnet_join(vnet_t *v, int i, int target, bool ignore_old)
{
    hm_addr_t a;
    uint32_t id;

    vnet_addr(v->addr_index[target], &a);
    v->nodes[i].join_done = false;
    id = hm_serf_join(v->nodes[i].serf, v->now, &a, 1, ignore_old);
    drain(v, i);
    return id;
}

void vnet_crash(vnet_t *v, int i)
{
    v->nodes[i].up = false;
}

static void step(vnet_t *v, uint64_t end)
{
    uint64_t next = end;
    long best = -1;

    for (size_t k = 0; k < v->ntasks; k++) {
        task_t *t = &v->tasks[k];
        if (t->at > end)
            continue;
        if (best < 0 || t->at < v->tasks[best].at ||
            (t->at == v->tasks[best].at && t->seq < v->tasks[best].seq))
            best = (long)k;
    }
    if (best >= 0 && v->tasks[best].at < next)
        next = v->tasks[best].at;
    for (int i = 0; i < v->n; i++) {
        uint64_t d;
        if (!v->nodes[i].up)
            continue;
        d = hm_serf_next_deadline(v->nodes[i].serf);
        if (d < next)
            next = d;
    }
    if (next > v->now)
        v->now = next;
    if (best >= 0 && v->tasks[best].at <= v->now) {
        task_t t = v->tasks[best];
        v->tasks[best] = v->tasks[--v->ntasks];
        run_task(v, &t);
        hm_buf_free(&t.data);
    }
    for (int i = 0; i < v->n; i++) {
        if (v->nodes[i].up && hm_serf_next_deadline(v->nodes[i].serf) <= v->now) {
            hm_serf_tick(v->nodes[i].serf, v->now);
            drain(v, i);
        }
    }
}

void *vnet_ud(vnet_t *v, int i)
{
    (void)v;
    return &ctxs[i];
}

void vnet_inject(vnet_t *v, int i, int from_addr, const uint8_t *p, size_t n)
{
    hm_addr_t a;

    vnet_addr(from_addr, &a);
    hm_serf_packet(v->nodes[i].serf, v->now, &a, p, n);
    drain(v, i);
}

void vnet_run(vnet_t *v, uint64_t ms)
{
    uint64_t end = v->now + ms;

    while (v->now < end)
        step(v, end);
    for (int i = 0; i < v->n; i++)
        drain(v, i);
}

bool vnet_run_until(vnet_t *v, uint64_t ms, bool (*cond)(vnet_t *, void *), void *ud)
{
    uint64_t end = v->now + ms;

    for (int i = 0; i < v->n; i++)
        drain(v, i);
    while (v->now < end) {
        if (cond(v, ud))
            return true;
        step(v, end);
    }
    return cond(v, ud);
}

uint64_t vnet_now(vnet_t *v)
{
    return v->now;
}

hm_status_t vnet_status(vnet_t *v, int i, const char *name)
{
    const hm_member_t *m = hm_serf_member(v->nodes[i].serf, name);

    return m ? m->status : HM_STATUS_NONE;
}

size_t vnet_count(vnet_node_t *n, int kind, const char *who)
{
    size_t c = 0;

    for (size_t i = 0; i < n->nrec; i++)
        if (n->rec[i].kind == kind && (who == NULL || strcmp(n->rec[i].who, who) == 0))
            c++;
    return c;
}
