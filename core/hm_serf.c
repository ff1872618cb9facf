/*
 * The Serf layer: member table, intents, push/pull state, join/leave,
 * tags, reap/reconnect and the engine delegate (serf/serf/serf.go,
 * delegate.go, event_delegate.go, ping_delegate.go).  Sans-I/O: it talks
 * only to the engine; the network glue drives it (hm_serf.h).
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_log.h"
#include "hm_serf_int.h"

#define META_MAX 512

/* ---- small helpers ---- */

void serf_log(hm_serf_t *s, hm_log_level_t lvl, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (s->cb.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->cb.log(s->cb.ud, lvl, line);
}

uint64_t serf_rand(hm_serf_t *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void serf_addr_str(const hm_addr_t *a, char *buf, size_t len, bool with_port)
{
    char ip[INET6_ADDRSTRLEN] = "<nil>";

    if (a->len == 4)
        inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
    else if (a->len == 16)
        inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
    if (!with_port)
        snprintf(buf, len, "%s", ip);
    else if (a->len == 16)
        snprintf(buf, len, "[%s]:%u", ip, a->port);
    else
        snprintf(buf, len, "%s:%u", ip, a->port);
}

static char *str_dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

void hm_serf_tags_free(hm_tags_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free((char *)t->v[i].key);
        free((char *)t->v[i].value);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

static int tags_copy(hm_tags_t *dst, const hm_tags_t *src)
{
    hm_tags_t t = {0};

    if (src && src->n) {
        t.v = calloc(src->n, sizeof(*t.v));
        if (t.v == NULL)
            return -1;
        for (size_t i = 0; i < src->n; i++) {
            t.v[i].key = strdup(src->v[i].key);
            t.v[i].value = strdup(src->v[i].value ? src->v[i].value : "");
            t.n++;
            if (t.v[i].key == NULL || t.v[i].value == NULL) {
                hm_serf_tags_free(&t);
                return -1;
            }
        }
    }
    *dst = t;
    return 0;
}

size_t serf_num_members_ml(const hm_serf_t *s)
{
    size_t n = 0;

    /* memberlist NumMembers: nodes not dead or left. */
    for (size_t i = 0; i < s->nlist; i++) {
        const hm_swim_node_t *sn = hm_swim_find(s->swim, s->list[i]->name);
        if (sn && (sn->state == HM_ML_STATE_ALIVE || sn->state == HM_ML_STATE_SUSPECT))
            n++;
    }
    return n ? n : 1;
}

void serf_send_user(hm_serf_t *s, const hm_addr_t *to, const uint8_t *msg, size_t n)
{
    serf_outmsg_t *o;

    if (s->nout == s->capout) {
        size_t cap = s->capout ? s->capout * 2 : 8;
        serf_outmsg_t *p = realloc(s->outbox, cap * sizeof(*p));
        if (p == NULL)
            return;
        s->outbox = p;
        s->capout = cap;
    }
    o = &s->outbox[s->nout];
    memset(o, 0, sizeof(*o));
    o->to = *to;
    if (hm_buf_append(&o->msg, msg, n) < 0)
        return;
    s->nout++;
}

/* Serf's direct sends (query acks, responses, relays) are memberlist
 * SendToAddress: a lone user message, compressed if that makes it
 * smaller, never carrying piggybacked broadcasts (which would spend their
 * few transmissions on the query's origin).  They leave through
 * hm_serf_poll() ahead of the engine's own output. */
static int pop_outbox(hm_serf_t *s, hm_swim_out_t *out)
{
    serf_outmsg_t o;
    hm_buf_t plain = {0};

    if (s->nout == 0)
        return 0;
    o = s->outbox[0];
    memmove(s->outbox, s->outbox + 1, (s->nout - 1) * sizeof(*s->outbox));
    s->nout--;
    memset(out, 0, sizeof(*out));
    out->type = HM_SWIM_SEND_PACKET;
    out->to = o.to;
    if (hm_ml_put_user(&plain, o.msg.data, o.msg.len) < 0) {
        hm_buf_free(&o.msg);
        hm_buf_free(&plain);
        return -1;
    }
    hm_buf_free(&o.msg);
    if (s->cfg.swim.enable_compression &&
        hm_ml_put_compress(&out->data, plain.data, plain.len) == 0 && out->data.len < plain.len) {
        hm_buf_free(&plain);
        return 1;
    }
    hm_buf_free(&out->data);
    out->data = plain;
    return 1;
}

/* ---- member table ---- */

static serf_member_t *member_get(const hm_serf_t *s, const char *name)
{
    return serf_map_get(&s->members, name);
}

static serf_member_t *member_add(hm_serf_t *s, const char *name)
{
    serf_member_t *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->name = strdup(name);
    if (m->name == NULL || serf_map_put(&s->members, name, m) < 0)
        goto fail;
    if (s->nlist == s->caplist) {
        size_t cap = s->caplist ? s->caplist * 2 : 16;
        serf_member_t **l = realloc(s->list, cap * sizeof(*l));
        if (l == NULL) {
            serf_map_del(&s->members, name);
            goto fail;
        }
        s->list = l;
        s->caplist = cap;
    }
    m->index = s->nlist;
    s->list[s->nlist++] = m;
    m->m.name = m->name;
    return m;
fail:
    free(m->name);
    free(m);
    return NULL;
}

static void set_status(hm_serf_t *s, serf_member_t *m, hm_status_t st)
{
    if (m->m.status == HM_STATUS_FAILED)
        s->n_failed--;
    if (m->m.status == HM_STATUS_LEFT)
        s->n_left--;
    m->m.status = st;
    if (st == HM_STATUS_FAILED)
        s->n_failed++;
    if (st == HM_STATUS_LEFT)
        s->n_left++;
}

static void member_set_node(hm_serf_t *s, serf_member_t *m, const hm_swim_node_t *n)
{
    hm_tags_t t = {0};

    m->m.addr = n->addr;
    memcpy(m->m.vsn, n->vsn, sizeof(m->m.vsn));
    m->m.incarnation = n->incarnation;
    if (sw_get_tags(n->meta, n->meta_len, &t) < 0)
        serf_log(s, HM_LOG_ERR, "Failed to decode tags of %s", n->name);
    hm_serf_tags_free(&m->m.tags);
    m->m.tags = t;
}

/* Erase a member completely: reap (timeout or forced prune). */
static void member_erase(hm_serf_t *s, serf_member_t *m)
{
    size_t i = m->index;
    hm_coord_t *c;

    serf_map_del(&s->members, m->name);
    s->list[i] = s->list[--s->nlist];
    s->list[i]->index = i;
    if (!s->cfg.disable_coordinates) {
        hm_coord_forget(&s->coord, m->name);
        c = serf_map_del(&s->coord_cache, m->name);
        free(c);
    }
    /* The event carries the member as it was (failed or left). */
    serf_emit_member(s, HM_EVENT_MEMBER_REAP, m);
    set_status(s, m, HM_STATUS_NONE);
    hm_serf_tags_free(&m->m.tags);
    free(m->name);
    free(m);
}

void serf_emit_member(hm_serf_t *s, hm_member_event_type_t t, serf_member_t *m)
{
    const hm_member_t *one = &m->m;
    hm_member_event_t ev = {.type = t, .members = &one, .n = 1};

    if (s->snap)
        serf_snap_member(s->snap, t, m);
    if (serf_coalesce_member(s, t, &m->m))
        return;
    if (s->cb.member_event)
        s->cb.member_event(s->cb.ud, &ev);
}

/* ---- intents (serf.go handleNodeJoinIntent / handleNodeLeaveIntent) ---- */

static bool upsert_intent(hm_serf_t *s, const char *node, uint8_t type, uint64_t ltime)
{
    serf_intent_t *in = serf_map_get(&s->intents, node);

    if (in && ltime <= in->ltime)
        return false;
    if (in == NULL) {
        in = calloc(1, sizeof(*in));
        if (in == NULL || serf_map_put(&s->intents, node, in) < 0) {
            free(in);
            return false;
        }
    }
    in->type = type;
    in->ltime = ltime;
    in->when = s->now;
    return true;
}

static bool recent_intent(hm_serf_t *s, const char *node, uint8_t type, uint64_t *ltime)
{
    serf_intent_t *in = serf_map_get(&s->intents, node);

    if (in && in->type == type) {
        *ltime = in->ltime;
        return true;
    }
    return false;
}

bool serf_handle_join_intent(hm_serf_t *s, uint64_t ltime, const char *node, size_t node_len)
{
    char name[HM_SERF_NAME_MAX];
    serf_member_t *m;

    lc_witness(&s->clock, ltime);
    if (node_len >= sizeof(name))
        return false;
    serf_copy(name, node, node_len);
    name[node_len] = '\0';
    m = member_get(s, name);
    if (m == NULL)
        return upsert_intent(s, name, SW_MSG_JOIN, ltime);
    if (ltime <= m->status_ltime)
        return false;
    m->status_ltime = ltime;
    if (m->m.status == HM_STATUS_LEAVING)
        set_status(s, m, HM_STATUS_ALIVE);
    return true;
}

static void prune_now(hm_serf_t *s, serf_member_t *m)
{
    char ip[64];

    serf_addr_str(&m->m.addr, ip, sizeof(ip), false);
    serf_log(s, HM_LOG_INFO, "EventMemberReap (forced): %s %s", m->name, ip);
    member_erase(s, m);
}

/* serf.go handlePrune: a member still leaving is given BroadcastTimeout +
 * LeavePropagateDelay (Go sleeps that long) for its leave to finish
 * spreading before it is erased; a failed or left one goes at once.  The
 * wait is a deadline here (prune_due), not a sleep holding the table. */
static void handle_prune(hm_serf_t *s, serf_member_t *m)
{
    if (m->m.status != HM_STATUS_LEAVING) {
        prune_now(s, m);
        return;
    }
    if (m->prune_at == 0)
        m->prune_at = s->now + s->cfg.broadcast_timeout_ms + s->cfg.leave_propagate_delay_ms;
    if (m->prune_at < s->next_prune)
        s->next_prune = m->prune_at;
}

/* Erases the members whose prune wait is over (whatever their status then:
 * Go erases after its sleep unconditionally). */
static void prune_due(hm_serf_t *s)
{
    char *names[64];
    size_t n;

    do {
        n = 0;
        s->next_prune = UINT64_MAX;
        for (size_t i = 0; i < s->nlist; i++) {
            serf_member_t *m = s->list[i];
            if (m->prune_at && m->prune_at <= s->now && n < 64)
                names[n++] = m->name;
            else if (m->prune_at && m->prune_at < s->next_prune)
                s->next_prune = m->prune_at;
        }
        for (size_t i = 0; i < n; i++) /* collected first: erasing reorders */
            prune_now(s, member_get(s, names[i]));
    } while (n == 64);
}

bool serf_handle_leave_intent(hm_serf_t *s, uint64_t ltime, const char *node, size_t node_len,
                              bool prune)
{
    char name[HM_SERF_NAME_MAX], ip[64];
    serf_member_t *m;

    lc_witness(&s->clock, ltime);
    if (node_len >= sizeof(name))
        return false;
    serf_copy(name, node, node_len);
    name[node_len] = '\0';
    m = member_get(s, name);
    if (m == NULL)
        return upsert_intent(s, name, SW_MSG_LEAVE, ltime);
    if (ltime <= m->status_ltime)
        return false;
    if (strcmp(name, s->name) == 0 && s->state == HM_SERF_ALIVE) {
        serf_log(s, HM_LOG_DEBUG, "Refuting an older leave intent");
        s->want_refute_join = true;
        return false;
    }
    m->status_ltime = ltime;
    switch (m->m.status) {
    case HM_STATUS_ALIVE:
        set_status(s, m, HM_STATUS_LEAVING);
        if (prune)
            handle_prune(s, m);
        return true;
    case HM_STATUS_FAILED:
        set_status(s, m, HM_STATUS_LEFT);
        serf_addr_str(&m->m.addr, ip, sizeof(ip), false);
        serf_log(s, HM_LOG_INFO, "EventMemberLeave (forced): %s %s", m->name, ip);
        serf_emit_member(s, HM_EVENT_MEMBER_LEAVE, m);
        if (prune)
            handle_prune(s, m);
        return true;
    case HM_STATUS_LEAVING:
    case HM_STATUS_LEFT:
        if (prune)
            handle_prune(s, m);
        return true;
    default:
        return false;
    }
}

static void queue_msg(hm_serf_t *s, hm_bcast_queue_t *q, const uint8_t *p, size_t n,
                      hm_bcast_done_fn done)
{
    if (hm_bcast_push(q, NULL, p, n, done, s) < 0)
        serf_log(s, HM_LOG_WARN, "Failed to queue broadcast");
}

void serf_broadcast_join(hm_serf_t *s, uint64_t ltime)
{
    hm_buf_t b = {0};

    lc_witness(&s->clock, ltime);
    serf_handle_join_intent(s, ltime, s->name, strlen(s->name));
    if (sw_put_join(&b, ltime, s->name) == 0)
        queue_msg(s, s->q_intent, b.data, b.len, NULL);
    else
        serf_log(s, HM_LOG_WARN, "Failed to broadcast join intent");
    hm_buf_free(&b);
}

/* ---- engine delegate ---- */

static size_t d_node_meta(void *ud, uint8_t *buf, size_t limit)
{
    hm_serf_t *s = ud;
    hm_buf_t b = {0};
    size_t n = 0;

    /* Serf protocol 2 predates tags: the meta is the bare role */
    if (s->cfg.protocol < 3) {
        for (size_t i = 0; i < s->tags.n; i++) {
            if (strcmp(s->tags.v[i].key, "role") == 0) {
                n = strlen(s->tags.v[i].value);
                n = n < limit ? n : limit;
                memcpy(buf, s->tags.v[i].value, n);
            }
        }
        return n;
    }

    if (sw_put_tags(&b, &s->tags) == 0 && b.len <= limit) {
        memcpy(buf, b.data, b.len);
        n = b.len;
    }
    hm_buf_free(&b);
    return n;
}

/* A message that does not decode is counted and dropped (Serf's log text). */
static bool bad_msg(hm_serf_t *s, const char *what)
{
    s->stat_bad_msgs++;
    serf_log(s, HM_LOG_ERR, "Error decoding %s message", what);
    return false;
}

/* The msg_* handlers take a message body and say whether to rebroadcast it. */
static bool msg_intent(hm_serf_t *s, uint8_t type, const uint8_t *p, size_t n)
{
    bool join = type == SW_MSG_JOIN;
    sw_intent_t m;
    int shown; /* the log line shows at most a name buffer's worth */

    if (sw_get_intent(p, n, &m) < 0)
        return bad_msg(s, join ? "join" : "leave");
    shown = m.node.n < HM_SERF_NAME_MAX ? (int)m.node.n : HM_SERF_NAME_MAX - 1;
    serf_log(s, HM_LOG_DEBUG, "%s: %.*s", join ? "messageJoinType" : "messageLeaveType", shown,
             m.node.p);
    if (join)
        return serf_handle_join_intent(s, m.ltime, m.node.p, m.node.n);
    return serf_handle_leave_intent(s, m.ltime, m.node.p, m.node.n, m.prune);
}

static bool msg_user_event(hm_serf_t *s, const uint8_t *p, size_t n)
{
    sw_user_event_t e;

    if (sw_get_user_event(p, n, &e) < 0)
        return bad_msg(s, "user event");
    serf_log(s, HM_LOG_DEBUG, "messageUserEventType: %.*s", (int)e.name.n, e.name.p);
    return serf_handle_user_event(s, &e);
}

static bool msg_query(hm_serf_t *s, const uint8_t *p, size_t n)
{
    sw_query_t qm;

    if (sw_get_query(p, n, &qm) < 0)
        return bad_msg(s, "query");
    serf_log(s, HM_LOG_DEBUG, "messageQueryType: %.*s", (int)qm.name.n, qm.name.p);
    return serf_handle_query(s, &qm);
}

static bool msg_query_response(hm_serf_t *s, const uint8_t *p, size_t n)
{
    sw_query_response_t r;

    if (sw_get_query_response(p, n, &r) < 0)
        return bad_msg(s, "query response");
    serf_log(s, HM_LOG_DEBUG, "messageQueryResponseType: %.*s", (int)r.from.n, r.from.p);
    serf_handle_query_response(s, &r);
    return false;
}

static void d_notify_msg(void *ud, const uint8_t *p, size_t n)
{
    hm_serf_t *s = ud;
    bool rebroadcast = false;
    hm_bcast_queue_t *q = s->q_intent;

    if (n == 0)
        return;
    switch (p[0]) {
    case SW_MSG_LEAVE:
    case SW_MSG_JOIN:
        rebroadcast = msg_intent(s, p[0], p + 1, n - 1);
        break;
    case SW_MSG_USER_EVENT:
        rebroadcast = msg_user_event(s, p + 1, n - 1);
        q = s->q_event;
        break;
    case SW_MSG_QUERY:
        rebroadcast = msg_query(s, p + 1, n - 1);
        q = s->q_query;
        break;
    case SW_MSG_QUERY_RESPONSE:
        msg_query_response(s, p + 1, n - 1);
        break;
    case SW_MSG_RELAY:
        serf_handle_relay(s, p + 1, n - 1);
        break;
    default:
        serf_log(s, HM_LOG_WARN, "Received message of unknown type: %d", p[0]);
        break;
    }
    if (rebroadcast)
        queue_msg(s, q, p, n, NULL);
}

static size_t d_get_broadcasts(void *ud, size_t overhead, size_t limit, hm_buf_t *parts,
                               size_t max_parts)
{
    hm_serf_t *s = ud;
    hm_bcast_queue_t *order[3] = {s->q_intent, s->q_query, s->q_event};
    size_t got = 0, used = 0;

    for (int i = 0; i < 3 && got < max_parts && used < limit; i++) {
        size_t k =
            hm_bcast_get(order[i], s->nlist, overhead, limit - used, parts + got, max_parts - got);
        for (size_t j = got; j < got + k; j++)
            used += parts[j].len + overhead;
        got += k;
    }
    return got;
}

static void d_local_state(void *ud, bool join, hm_buf_t *out)
{
    hm_serf_t *s = ud;
    sw_push_pull_t pp = {0};
    size_t nl = 0;

    (void)join;
    pp.ltime = s->clock;
    pp.event_ltime = s->event_clock;
    pp.query_ltime = s->query_clock;
    pp.status = calloc(s->nlist ? s->nlist : 1, sizeof(*pp.status));
    pp.left = calloc(s->nlist ? s->nlist : 1, sizeof(*pp.left));
    if (pp.status == NULL || pp.left == NULL)
        goto out;
    for (size_t i = 0; i < s->nlist; i++) {
        serf_member_t *m = s->list[i];
        pp.status[i].name.p = m->name;
        pp.status[i].name.n = strlen(m->name);
        pp.status[i].ltime = m->status_ltime;
        if (m->m.status == HM_STATUS_LEFT) {
            pp.left[nl].p = m->name;
            pp.left[nl++].n = strlen(m->name);
        }
    }
    pp.n_status = s->nlist;
    pp.n_left = nl;
    if (serf_encode_event_buffer(s, &pp) < 0 || sw_put_push_pull(out, &pp) < 0)
        serf_log(s, HM_LOG_ERR, "Failed to encode local state");
out:
    free(pp.slots);
    free(pp.status);
    free(pp.left);
}

static void d_merge_remote_state(void *ud, const uint8_t *p, size_t n, bool join)
{
    hm_serf_t *s = ud;
    sw_push_pull_t pp;

    if (n == 0) {
        serf_log(s, HM_LOG_ERR, "Remote state is zero bytes");
        return;
    }
    if (p[0] != SW_MSG_PUSH_PULL) {
        serf_log(s, HM_LOG_ERR, "Remote state has bad type prefix: %d", p[0]);
        return;
    }
    if (sw_get_push_pull(p + 1, n - 1, &pp) < 0) {
        s->stat_bad_msgs++;
        serf_log(s, HM_LOG_ERR, "Failed to decode remote state");
        return;
    }
    if (pp.ltime > 0)
        lc_witness(&s->clock, pp.ltime - 1);
    if (pp.event_ltime > 0)
        lc_witness(&s->event_clock, pp.event_ltime - 1);
    if (pp.query_ltime > 0)
        lc_witness(&s->query_clock, pp.query_ltime - 1);
    /* Left members first, as leave intents one past their status time. */
    for (size_t i = 0; i < pp.n_left; i++) {
        uint64_t lt = 0;
        for (size_t j = 0; j < pp.n_status; j++)
            if (pp.status[j].name.n == pp.left[i].n &&
                serf_eq(pp.status[j].name.p, pp.left[i].p, pp.left[i].n))
                lt = pp.status[j].ltime;
        serf_handle_leave_intent(s, lt + 1, pp.left[i].p, pp.left[i].n, false);
    }
    for (size_t j = 0; j < pp.n_status; j++) {
        bool left = false;
        for (size_t i = 0; i < pp.n_left && !left; i++)
            left = pp.status[j].name.n == pp.left[i].n &&
                   serf_eq(pp.status[j].name.p, pp.left[i].p, pp.left[i].n);
        if (!left)
            serf_handle_join_intent(s, pp.status[j].ltime, pp.status[j].name.p,
                                    pp.status[j].name.n);
    }
    if (join && s->event_join_ignore && pp.event_ltime > s->event_min_time)
        s->event_min_time = pp.event_ltime;
    for (size_t i = 0; i < pp.n_slots; i++) {
        sw_pp_slot_t *sl = &pp.slots[i];
        if (!sl->used)
            continue;
        for (size_t k = 0; k < sl->n; k++) {
            sw_user_event_t e = {.ltime = sl->ltime,
                                 .name = sl->ev[k].name,
                                 .payload = sl->ev[k].payload,
                                 .len = sl->ev[k].len,
                                 .cc = false};
            serf_handle_user_event(s, &e);
        }
    }
    sw_push_pull_free(&pp);
}

static void d_notify_join(void *ud, const hm_swim_node_t *n)
{
    hm_serf_t *s = ud;
    serf_member_t *m = member_get(s, n->name);
    hm_status_t old;
    uint64_t lt;
    char ip[64];

    if (m == NULL) {
        m = member_add(s, n->name);
        if (m == NULL)
            return;
        old = HM_STATUS_NONE;
        set_status(s, m, HM_STATUS_ALIVE);
        if (recent_intent(s, n->name, SW_MSG_JOIN, &lt))
            m->status_ltime = lt;
        if (recent_intent(s, n->name, SW_MSG_LEAVE, &lt)) {
            set_status(s, m, HM_STATUS_LEAVING);
            m->status_ltime = lt;
        }
    } else {
        old = m->m.status;
        set_status(s, m, HM_STATUS_ALIVE);
        m->leave_time = 0;
    }
    (void)old;
    member_set_node(s, m, n);
    serf_addr_str(&m->m.addr, ip, sizeof(ip), false);
    serf_log(s, HM_LOG_INFO, "EventMemberJoin: %s %s", m->name, ip);
    serf_emit_member(s, HM_EVENT_MEMBER_JOIN, m);
}

static void d_notify_leave(void *ud, const hm_swim_node_t *n)
{
    hm_serf_t *s = ud;
    serf_member_t *m = member_get(s, n->name);
    char ip[64];
    bool left;

    if (m == NULL)
        return;
    switch (m->m.status) {
    case HM_STATUS_LEAVING:
        set_status(s, m, HM_STATUS_LEFT);
        break;
    case HM_STATUS_ALIVE:
        set_status(s, m, HM_STATUS_FAILED);
        break;
    default:
        serf_log(s, HM_LOG_WARN, "Bad state when leave: %d", m->m.status);
        return;
    }
    m->leave_time = s->now;
    left = m->m.status == HM_STATUS_LEFT;
    serf_addr_str(&m->m.addr, ip, sizeof(ip), false);
    serf_log(s, HM_LOG_INFO, "%s: %s %s", left ? "EventMemberLeave" : "EventMemberFailed", m->name,
             ip);
    serf_emit_member(s, left ? HM_EVENT_MEMBER_LEAVE : HM_EVENT_MEMBER_FAILED, m);
}

static void d_notify_update(void *ud, const hm_swim_node_t *n)
{
    hm_serf_t *s = ud;
    serf_member_t *m = member_get(s, n->name);

    if (m == NULL)
        return;
    member_set_node(s, m, n);
    serf_log(s, HM_LOG_INFO, "EventMemberUpdate: %s", m->name);
    serf_emit_member(s, HM_EVENT_MEMBER_UPDATE, m);
}

static void d_notify_conflict(void *ud, const hm_swim_node_t *existing, const hm_swim_node_t *other)
{
    hm_serf_t *s = ud;
    char a[64], b[64];

    serf_addr_str(&existing->addr, a, sizeof(a), true);
    serf_addr_str(&other->addr, b, sizeof(b), true);
    if (strcmp(existing->name, s->name) != 0) {
        serf_log(s, HM_LOG_WARN, "Name conflict for '%s' both %s and %s are claiming",
                 existing->name, a, b);
        return;
    }
    serf_log(s, HM_LOG_ERR,
             "Node name conflicts with another node at %s. Names must be unique! "
             "(Resolution enabled: %s)",
             b, s->cfg.name_conflict_resolution ? "true" : "false");
    if (s->cfg.name_conflict_resolution)
        s->want_conflict_query = true;
}

static void d_ack_payload(void *ud, hm_buf_t *out)
{
    hm_serf_t *s = ud;

    if (s->cfg.disable_coordinates)
        return;
    if (sw_put_coord(out, &s->coord.coord) < 0)
        serf_log(s, HM_LOG_ERR, "Failed to encode coordinate");
}

static void cache_coord(hm_serf_t *s, const char *name, const hm_coord_t *c)
{
    hm_coord_t *p = serf_map_get(&s->coord_cache, name);

    if (p == NULL) {
        p = malloc(sizeof(*p));
        if (p == NULL || serf_map_put(&s->coord_cache, name, p) < 0) {
            free(p);
            return;
        }
    }
    *p = *c;
}

static void d_notify_ping_complete(void *ud, const hm_swim_node_t *n, uint64_t rtt_us,
                                   const uint8_t *payload, size_t len)
{
    hm_serf_t *s = ud;
    hm_coord_t c;
    int r;

    if (s->cfg.disable_coordinates || payload == NULL || len == 0)
        return;
    r = sw_get_coord(payload, len, &c);
    if (r == -2) {
        serf_log(s, HM_LOG_ERR, "Unsupported ping version: %d", payload[0]);
        return;
    }
    if (r < 0) {
        serf_log(s, HM_LOG_ERR, "Failed to decode coordinate from ping");
        return;
    }
    if (hm_coord_update(&s->coord, n->name, &c, (int64_t)rtt_us) < 0) {
        serf_log(s, HM_LOG_TRACE, "Rejected coordinate from %s", n->name);
        return;
    }
    cache_coord(s, n->name, &c);
    cache_coord(s, s->name, &s->coord.coord);
}

static serf_join_t *join_find(hm_serf_t *s, uint32_t id)
{
    for (serf_join_t *j = s->joins; j; j = j->next)
        if (j->id == id)
            return j;
    return NULL;
}

static void join_finish(hm_serf_t *s, serf_join_t *j)
{
    serf_join_t **pp;

    for (pp = &s->joins; *pp && *pp != j; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = j->next;
    if (j->ignore_old)
        s->event_join_ignore = false;
    for (serf_join_t *o = s->joins; o; o = o->next)
        if (o->ignore_old)
            s->event_join_ignore = true;
    if (j->ok > 0)
        serf_broadcast_join(s, s->clock);
    if (s->cb.join_done)
        s->cb.join_done(s->cb.ud, j->id, j->ok, j->ok ? NULL : j->err);
    free(j);
}

static void rejoin_next(hm_serf_t *s);

/* memberlist's own log lines (suspicions, refutations, failures), which
 * serf agent writes too. */
static void d_swim_log(void *ud, hm_log_level_t level, const char *msg)
{
    serf_log(ud, level, "%s", msg);
}

static void d_stream_done(void *ud, uint32_t stream_id, bool ok, const char *err)
{
    hm_serf_t *s = ud;
    serf_stream_t **pp, *st;

    for (pp = &s->streams; *pp && (*pp)->stream_id != stream_id; pp = &(*pp)->next)
        ;
    if ((st = *pp) == NULL)
        return;
    *pp = st->next;
    if (st->kind == SS_JOIN) {
        serf_join_t *j = join_find(s, st->join_id);
        if (j) {
            if (ok)
                j->ok++;
            else if (err)
                snprintf(j->err, sizeof(j->err), "%s", err);
            if (--j->pending == 0)
                join_finish(s, j);
        }
    } else if (st->kind == SS_REJOIN) {
        if (ok) {
            serf_log(s, HM_LOG_INFO, "Re-joined to previously known node: %s",
                     s->rejoin_names[s->rejoin_next - 1]);
            s->rejoin_active = false;
        } else {
            rejoin_next(s);
        }
    } else if (!ok) {
        serf_log(s, HM_LOG_DEBUG, "reconnect failed: %s", err ? err : "");
    }
    free(st);
}

static int track_stream(hm_serf_t *s, uint32_t sid, enum serf_stream_kind k, uint32_t join_id)
{
    serf_stream_t *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return -1;
    st->stream_id = sid;
    st->kind = k;
    st->join_id = join_id;
    st->next = s->streams;
    s->streams = st;
    return 0;
}

/* ---- creation ---- */

int hm_serf_config_default(hm_serf_config_t *c, const char *profile)
{
    memset(c, 0, sizeof(*c));
    if (hm_swim_config_profile(&c->swim, profile ? profile : "lan") < 0)
        return -1;
    c->protocol = 5;
    c->broadcast_timeout_ms = 5000;
    c->leave_propagate_delay_ms = 1000;
    c->reap_interval_ms = 15000;
    c->reconnect_interval_ms = 30000;
    c->reconnect_timeout_ms = 24ULL * 3600 * 1000;
    c->tombstone_timeout_ms = 24ULL * 3600 * 1000;
    c->recent_intent_timeout_ms = 5ULL * 60 * 1000;
    c->flap_timeout_ms = 60000;
    c->queue_check_interval_ms = 30000;
    c->queue_depth_warning = 128;
    c->max_queue_depth = 4096;
    c->event_buffer = 512;
    c->query_buffer = 512;
    c->query_timeout_mult = 16;
    c->user_event_size_limit = 512;
    c->query_size_limit = 1024;
    c->query_response_size_limit = 1024;
    c->name_conflict_resolution = true;
    return 0;
}

static int tags_meta_len(const hm_tags_t *t)
{
    hm_buf_t b = {0};
    int n;

    n = sw_put_tags(&b, t) < 0 ? -1 : (int)b.len;
    hm_buf_free(&b);
    return n;
}

static void add_self_if_missing(hm_serf_t *s)
{
    const hm_swim_node_t *n;
    hm_swim_node_t tmp;
    uint8_t meta[META_MAX];

    if (member_get(s, s->name))
        return;
    n = hm_swim_find(s->swim, s->name);
    if (n == NULL) {
        memset(&tmp, 0, sizeof(tmp));
        tmp.name = s->name;
        tmp.addr = s->addr;
        tmp.meta = meta;
        tmp.meta_len = d_node_meta(s, meta, sizeof(meta));
        tmp.incarnation = 1;
        memcpy(tmp.vsn, s->cfg.swim.vsn, sizeof(tmp.vsn));
        n = &tmp;
    }
    d_notify_join(s, n);
}

static void snapshot_restore(hm_serf_t *s);

hm_serf_t *hm_serf_new(const hm_serf_config_t *cfg, const hm_serf_callbacks_t *cb, uint64_t now,
                       char *err, size_t errlen)
{
    hm_serf_t *s;
    hm_swim_delegate_t d = {0};
    hm_swim_config_t sc;

    if (cfg->protocol < 2 || cfg->protocol > 5) {
        hm_seterr(err, errlen, "Protocol version '%d' too %s. Must be in range: [2, 5]",
                  cfg->protocol, cfg->protocol < 2 ? "low" : "high");
        return NULL;
    }
    if (cfg->user_event_size_limit > 9216) {
        hm_seterr(err, errlen, "user event size limit exceeds limit of 9216 bytes");
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto oom;
    s->cfg = *cfg;
    s->cb = *cb;
    s->now = now;
    s->rng = cfg->seed ? cfg->seed : 0x5eed;
    s->name = strdup(cfg->swim.name);
    s->addr = cfg->swim.addr;
    s->cfg.swim.name = s->name;
    s->cfg.snapshot_path = NULL;
    s->cfg.tags = NULL;
    if (s->name == NULL || tags_copy(&s->tags, cfg->tags) < 0)
        goto oom;
    if (tags_meta_len(&s->tags) < 0) {
        hm_seterr(err, errlen, "Encoded length of tags exceeds limit of %d bytes", META_MAX);
        goto fail;
    }
    hm_coord_client_init(&s->coord, serf_rand(s));
    s->q_intent = hm_bcast_new(cfg->swim.retransmit_mult);
    s->q_event = hm_bcast_new(cfg->swim.retransmit_mult);
    s->q_query = hm_bcast_new(cfg->swim.retransmit_mult);
    if (!s->q_intent || !s->q_event || !s->q_query || serf_events_init(s) < 0 ||
        serf_queries_init(s) < 0)
        goto oom;
    if (cfg->snapshot_path && cfg->snapshot_path[0]) {
        s->snap = serf_snap_open(s, cfg->snapshot_path, cfg->rejoin_after_leave, err, errlen);
        if (s->snap == NULL)
            goto fail;
    }
    lc_increment(&s->clock);
    lc_increment(&s->event_clock);
    lc_increment(&s->query_clock);
    if (s->snap) {
        lc_witness(&s->clock, serf_snap_last_clock(s->snap));
        lc_witness(&s->event_clock, serf_snap_last_event_clock(s->snap));
        lc_witness(&s->query_clock, serf_snap_last_query_clock(s->snap));
        s->event_min_time = serf_snap_last_event_clock(s->snap) + 1;
        s->query_min_time = serf_snap_last_query_clock(s->snap) + 1;
    }
    if (!cfg->disable_coordinates)
        cache_coord(s, s->name, &s->coord.coord);

    sc = s->cfg.swim;
    sc.vsn[3] = 2;
    sc.vsn[4] = 5;
    sc.vsn[5] = cfg->protocol;
    if (sc.vsn[0] == 0) {
        sc.vsn[0] = 1;
        sc.vsn[1] = 5;
        sc.vsn[2] = 2;
    }
    s->cfg.swim = sc;
    d.ud = s;
    d.node_meta = d_node_meta;
    d.notify_msg = d_notify_msg;
    d.get_broadcasts = d_get_broadcasts;
    d.local_state = d_local_state;
    d.merge_remote_state = d_merge_remote_state;
    d.notify_join = d_notify_join;
    d.notify_leave = d_notify_leave;
    d.notify_update = d_notify_update;
    d.notify_conflict = d_notify_conflict;
    d.ack_payload = d_ack_payload;
    d.notify_ping_complete = d_notify_ping_complete;
    d.stream_done = d_stream_done;
    d.log = d_swim_log;
    s->swim = hm_swim_new(&sc, &d, now);
    if (s->swim == NULL) {
        hm_seterr(err, errlen, "Failed to create memberlist");
        goto fail;
    }
    add_self_if_missing(s);
    s->next_reap = now + cfg->reap_interval_ms;
    s->next_prune = UINT64_MAX;
    s->next_reconnect = now + cfg->reconnect_interval_ms;
    s->next_queue_check = now + cfg->queue_check_interval_ms;
    if (s->snap)
        snapshot_restore(s);
    return s;
oom:
    hm_seterr(err, errlen, "out of memory");
fail:
    hm_serf_free(s);
    return NULL;
}

void hm_serf_free(hm_serf_t *s)
{
    if (s == NULL)
        return;
    if (s->swim)
        hm_swim_free(s->swim);
    if (s->snap)
        serf_snap_close(s->snap);
    if (s->q_intent)
        hm_bcast_free(s->q_intent);
    if (s->q_event)
        hm_bcast_free(s->q_event);
    if (s->q_query)
        hm_bcast_free(s->q_query);
    serf_events_free(s);
    serf_queries_free(s);
    serf_coalesce_free(s);
    for (size_t i = 0; i < s->nlist; i++) {
        hm_serf_tags_free(&s->list[i]->m.tags);
        free(s->list[i]->name);
        free(s->list[i]);
    }
    free(s->list);
    serf_map_free(&s->members);
    serf_map_free_all(&s->intents);
    serf_map_free_all(&s->coord_cache);
    hm_coord_client_free(&s->coord);
    for (size_t i = 0; i < s->nout; i++)
        hm_buf_free(&s->outbox[i].msg);
    free(s->outbox);
    while (s->streams) {
        serf_stream_t *n = s->streams->next;
        free(s->streams);
        s->streams = n;
    }
    while (s->joins) {
        serf_join_t *n = s->joins->next;
        free(s->joins);
        s->joins = n;
    }
    for (size_t i = 0; i < s->n_rejoin; i++)
        free(s->rejoin_names[i]);
    free(s->rejoin_names);
    free(s->rejoin_addrs);
    hm_serf_tags_free(&s->tags);
    free(s->name);
    free(s);
}

hm_swim_t *hm_serf_swim(hm_serf_t *s)
{
    return s->swim;
}

/* ---- periodic work ---- */

static void reap(hm_serf_t *s)
{
    char *names[64];
    size_t n = 0;

    /* Collect first: erasing reorders the list. */
    do {
        n = 0;
        for (size_t i = 0; i < s->nlist && n < 64; i++) {
            serf_member_t *m = s->list[i];
            uint64_t limit = m->m.status == HM_STATUS_FAILED ? s->cfg.reconnect_timeout_ms
                                                             : s->cfg.tombstone_timeout_ms;
            if ((m->m.status == HM_STATUS_FAILED || m->m.status == HM_STATUS_LEFT) &&
                s->now - m->leave_time > limit)
                names[n++] = m->name;
        }
        for (size_t i = 0; i < n; i++) {
            serf_member_t *m = member_get(s, names[i]);
            serf_log(s, HM_LOG_INFO, "EventMemberReap: %s", m->name);
            member_erase(s, m);
        }
    } while (n == 64);
    for (long i = serf_map_next(&s->intents, 0, NULL, NULL); i >= 0;
         i = serf_map_next(&s->intents, i + 1, NULL, NULL)) {
        serf_intent_t *in = s->intents.vals[i];
        if (s->now - in->when > s->cfg.recent_intent_timeout_ms) {
            free(serf_map_del(&s->intents, s->intents.keys[i]));
        }
    }
}

static void reconnect(hm_serf_t *s)
{
    size_t alive, k, idx = 0;
    double prob;
    char a[64];
    uint32_t sid;

    if (s->n_failed == 0)
        return;
    alive = s->nlist - s->n_failed - s->n_left;
    prob = (double)s->n_failed / (double)(alive ? alive : 1);
    if ((double)(serf_rand(s) >> 11) / 9007199254740992.0 > prob) {
        serf_log(s, HM_LOG_DEBUG, "forgoing reconnect for random throttling");
        return;
    }
    k = serf_rand(s) % s->n_failed;
    for (size_t i = 0; i < s->nlist; i++) {
        if (s->list[i]->m.status == HM_STATUS_FAILED && k-- == 0) {
            idx = i;
            break;
        }
    }
    serf_addr_str(&s->list[idx]->m.addr, a, sizeof(a), true);
    serf_log(s, HM_LOG_INFO, "attempting reconnect to %s %s", s->list[idx]->name, a);
    sid = hm_swim_join(s->swim, s->now, &s->list[idx]->m.addr);
    if (sid)
        track_stream(s, sid, SS_RECONNECT, 0);
}

static void check_queues(hm_serf_t *s)
{
    const char *names[3] = {"Intent", "Event", "Query"};
    hm_bcast_queue_t *qs[3] = {s->q_intent, s->q_event, s->q_query};
    size_t max = s->cfg.max_queue_depth;

    if (s->cfg.min_queue_depth > 0) {
        max = 2 * s->nlist;
        if (max < s->cfg.min_queue_depth)
            max = s->cfg.min_queue_depth;
    }
    for (int i = 0; i < 3; i++) {
        size_t n = hm_bcast_len(qs[i]);
        if (n >= s->cfg.queue_depth_warning)
            serf_log(s, HM_LOG_WARN, "%s queue depth: %zu", names[i], n);
        if (n > max) {
            serf_log(s, HM_LOG_WARN, "%s queue depth (%zu) exceeds limit (%zu), dropping messages!",
                     names[i], n, max);
            hm_bcast_prune(qs[i], max);
        }
    }
}

/* hamlet's addition to Serf's leave: the intent also goes straight to a
 * few alive members.  Gossip gives it RetransmitMult * ceil(log10(n + 1))
 * transmissions (2 in a small cluster on the local profile), and some of
 * them go to members dead less than GossipToTheDeadTime: a member that
 * misses every one takes our memberlist leave that follows as a failure. */
#define LEAVE_DIRECT_MAX 8

static void leave_intent_direct(hm_serf_t *s, const uint8_t *msg, size_t n)
{
    size_t i, sent = 0, start = s->nlist ? serf_rand(s) % s->nlist : 0;

    for (i = 0; i < s->nlist && sent < LEAVE_DIRECT_MAX; i++) {
        serf_member_t *m = s->list[(start + i) % s->nlist];
        if (m->m.status != HM_STATUS_ALIVE || strcmp(m->name, s->name) == 0)
            continue;
        serf_send_user(s, &m->m.addr, msg, n);
        sent++;
    }
}

static void leave_intent_done(void *ud)
{
    hm_serf_t *s = ud;

    s->leave_intent_sent = true;
}

static void leave_progress(hm_serf_t *s)
{
    switch (s->leave_phase) {
    case LP_INTENT:
        if (!s->leave_intent_sent && s->now < s->leave_deadline)
            return;
        if (!s->leave_intent_sent)
            serf_log(s, HM_LOG_WARN, "timeout while waiting for graceful leave");
        hm_swim_leave(s->swim, s->now);
        s->leave_phase = LP_MEMBERLIST;
        s->leave_deadline = s->now + s->cfg.broadcast_timeout_ms;
        /* fall through */
    case LP_MEMBERLIST:
        if (!hm_swim_leave_done(s->swim) && s->now < s->leave_deadline)
            return;
        if (!hm_swim_leave_done(s->swim))
            serf_log(s, HM_LOG_WARN, "timeout waiting for leave broadcast");
        s->leave_phase = LP_PROPAGATE;
        s->leave_deadline = s->now + s->cfg.leave_propagate_delay_ms;
        /* fall through */
    case LP_PROPAGATE:
        if (s->now < s->leave_deadline)
            return;
        s->leave_phase = LP_DONE;
        if (s->state != HM_SERF_SHUTDOWN)
            s->state = HM_SERF_LEFT;
        return;
    default:
        return;
    }
}

/* Work deferred out of engine callbacks, run after every input. */
void serf_post(hm_serf_t *s)
{
    if (s->in_engine)
        return;
    if (s->want_refute_join) {
        s->want_refute_join = false;
        serf_broadcast_join(s, s->clock);
    }
    if (s->want_meta_update) {
        s->want_meta_update = false;
        s->in_engine = true;
        hm_swim_update_meta(s->swim, s->now);
        s->in_engine = false;
    }
    if (s->want_conflict_query) {
        s->want_conflict_query = false;
        serf_start_conflict_resolution(s);
    }
    leave_progress(s);
}

void hm_serf_tick(hm_serf_t *s, uint64_t now)
{
    s->now = now;
    if (s->state == HM_SERF_SHUTDOWN)
        return;
    if (now >= s->next_prune)
        prune_due(s);
    if (now >= s->next_reap) {
        reap(s);
        s->next_reap = now + s->cfg.reap_interval_ms;
    }
    if (now >= s->next_reconnect) {
        if (s->state == HM_SERF_ALIVE)
            reconnect(s);
        s->next_reconnect = now + s->cfg.reconnect_interval_ms;
    }
    if (now >= s->next_queue_check) {
        check_queues(s);
        s->next_queue_check = now + s->cfg.queue_check_interval_ms;
    }
    serf_queries_tick(s, now);
    serf_coalesce_tick(s, now);
    if (s->snap)
        serf_snap_tick(s->snap, now, s->clock);
    serf_post(s);
    s->in_engine = true;
    hm_swim_tick(s->swim, now);
    s->in_engine = false;
    serf_post(s);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t hm_serf_next_deadline(const hm_serf_t *s)
{
    uint64_t d;

    if (s->state == HM_SERF_SHUTDOWN)
        return UINT64_MAX;
    d = hm_swim_next_deadline(s->swim);
    d = min64(d, s->next_reap);
    d = min64(d, s->next_prune);
    d = min64(d, s->next_reconnect);
    d = min64(d, s->next_queue_check);
    d = min64(d, serf_queries_deadline(s));
    d = min64(d, serf_coalesce_deadline(s));
    if (s->snap)
        d = min64(d, serf_snap_deadline(s->snap));
    /* Progress that engine activity allows is made in serf_post(); what
     * is left waits for time. */
    if (s->leave_phase != LP_NONE && s->leave_phase != LP_DONE)
        d = min64(d, s->leave_deadline);
    return d;
}

void hm_serf_packet(hm_serf_t *s, uint64_t now, const hm_addr_t *from, const uint8_t *p, size_t n)
{
    s->now = now;
    if (s->state == HM_SERF_SHUTDOWN)
        return;
    s->in_engine = true;
    hm_swim_packet(s->swim, now, from, p, n);
    s->in_engine = false;
    serf_post(s);
}

uint32_t hm_serf_stream_accept(hm_serf_t *s, uint64_t now, const hm_addr_t *from)
{
    s->now = now;
    if (s->state == HM_SERF_SHUTDOWN)
        return 0;
    return hm_swim_stream_accept(s->swim, now, from);
}

int hm_serf_stream_data(hm_serf_t *s, uint64_t now, uint32_t id, const uint8_t *p, size_t n)
{
    int r;

    s->now = now;
    s->in_engine = true;
    r = hm_swim_stream_data(s->swim, now, id, p, n);
    s->in_engine = false;
    serf_post(s);
    return r;
}

void hm_serf_stream_failed(hm_serf_t *s, uint64_t now, uint32_t id, const char *why)
{
    s->now = now;
    s->in_engine = true;
    hm_swim_stream_failed(s->swim, now, id, why);
    s->in_engine = false;
    serf_post(s);
}

int hm_serf_poll(hm_serf_t *s, hm_swim_out_t *out)
{
    int r;

    if (s->state == HM_SERF_SHUTDOWN)
        return 0;
    while ((r = pop_outbox(s, out)) < 0)
        ;
    if (r > 0)
        return 1;
    return hm_swim_poll(s->swim, out);
}

/* ---- actions ---- */

uint32_t hm_serf_join(hm_serf_t *s, uint64_t now, const hm_addr_t *addrs, size_t n, bool ignore_old)
{
    serf_join_t *j;

    s->now = now;
    if (s->state != HM_SERF_ALIVE || n == 0)
        return 0;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return 0;
    j->id = ++s->next_join_id ? s->next_join_id : ++s->next_join_id;
    j->ignore_old = ignore_old;
    snprintf(j->err, sizeof(j->err), "no node could be contacted");
    j->next = s->joins;
    s->joins = j;
    if (ignore_old)
        s->event_join_ignore = true;
    for (size_t i = 0; i < n; i++) {
        uint32_t sid = hm_swim_join(s->swim, now, &addrs[i]);
        if (sid && track_stream(s, sid, SS_JOIN, j->id) == 0)
            j->pending++;
    }
    if (j->pending == 0) {
        uint32_t id = j->id;
        join_finish(s, j);
        serf_post(s);
        return id;
    }
    return j->id;
}

int hm_serf_leave(hm_serf_t *s, uint64_t now, char *err, size_t errlen)
{
    hm_buf_t b = {0};
    uint64_t lt;
    bool others = false;

    s->now = now;
    if (s->state == HM_SERF_LEFT)
        return 0;
    if (s->state == HM_SERF_LEAVING) {
        hm_seterr(err, errlen, "Leave already in progress");
        return -1;
    }
    if (s->state == HM_SERF_SHUTDOWN) {
        hm_seterr(err, errlen, "Leave called after Shutdown");
        return -1;
    }
    s->state = HM_SERF_LEAVING;
    if (s->snap)
        serf_snap_leave(s->snap);
    lt = s->clock;
    lc_increment(&s->clock);
    serf_handle_leave_intent(s, lt, s->name, strlen(s->name), false);
    for (size_t i = 0; i < s->nlist && !others; i++)
        others = s->list[i]->m.status == HM_STATUS_ALIVE && strcmp(s->list[i]->name, s->name);
    s->leave_phase = LP_INTENT;
    s->leave_deadline = now + s->cfg.broadcast_timeout_ms;
    s->leave_intent_sent = !others;
    if (others) {
        if (sw_put_leave(&b, lt, s->name, false) == 0) {
            queue_msg(s, s->q_intent, b.data, b.len, leave_intent_done);
            leave_intent_direct(s, b.data, b.len);
        }
        hm_buf_free(&b);
    }
    serf_post(s);
    return 0;
}

hm_serf_state_t hm_serf_state(const hm_serf_t *s)
{
    return s->state;
}

int hm_serf_force_leave(hm_serf_t *s, uint64_t now, const char *node, bool prune)
{
    hm_buf_t b = {0};
    uint64_t lt = s->clock;
    bool others = false;

    s->now = now;
    lc_increment(&s->clock);
    serf_handle_leave_intent(s, lt, node, strlen(node), prune);
    for (size_t i = 0; i < s->nlist && !others; i++)
        others = s->list[i]->m.status == HM_STATUS_ALIVE && strcmp(s->list[i]->name, s->name);
    if (others) {
        if (sw_put_leave(&b, lt, node, prune) < 0) {
            hm_buf_free(&b);
            return -1;
        }
        queue_msg(s, s->q_intent, b.data, b.len, NULL);
        hm_buf_free(&b);
    }
    serf_post(s);
    return 0;
}

int hm_serf_set_tags(hm_serf_t *s, uint64_t now, const hm_tags_t *tags, char *err, size_t errlen)
{
    hm_tags_t t;

    s->now = now;
    if (tags_meta_len(tags) < 0) {
        hm_seterr(err, errlen, "Encoded length of tags exceeds limit of %d bytes", META_MAX);
        return -1;
    }
    if (tags_copy(&t, tags) < 0) {
        hm_seterr(err, errlen, "out of memory");
        return -1;
    }
    hm_serf_tags_free(&s->tags);
    s->tags = t;
    /* from inside an engine callback (a module's hook), wait until it returns */
    if (s->in_engine)
        s->want_meta_update = true;
    else
        hm_swim_update_meta(s->swim, now);
    serf_post(s);
    return 0;
}

uint64_t hm_serf_query_timeout(uint32_t gossip_interval_ms, uint32_t mult, size_t n)
{
    return (uint64_t)gossip_interval_ms * mult * (uint64_t)ceil(log10((double)n + 1));
}

uint64_t hm_serf_default_query_timeout(const hm_serf_t *s)
{
    return hm_serf_query_timeout(s->cfg.swim.gossip_interval_ms, s->cfg.query_timeout_mult,
                                 serf_num_members_ml(s));
}

/* ---- state ---- */

const hm_member_t *hm_serf_local(const hm_serf_t *s)
{
    serf_member_t *m = member_get(s, s->name);

    return m ? &m->m : NULL;
}

const hm_member_t *hm_serf_member(const hm_serf_t *s, const char *name)
{
    serf_member_t *m = member_get(s, name);

    return m ? &m->m : NULL;
}

void hm_serf_members_foreach(const hm_serf_t *s, hm_member_iter_fn fn, void *ud)
{
    for (size_t i = 0; i < s->nlist; i++)
        if (fn(ud, &s->list[i]->m))
            return;
}

size_t hm_serf_members_count(const hm_serf_t *s)
{
    return s->nlist;
}

int hm_serf_coordinate(const hm_serf_t *s, const char *node, hm_coord_t *out)
{
    hm_coord_t *c;

    if (s->cfg.disable_coordinates)
        return -1;
    if (node == NULL || strcmp(node, s->name) == 0) {
        *out = s->coord.coord;
        return 0;
    }
    c = serf_map_get(&s->coord_cache, node);
    if (c == NULL)
        return -1;
    *out = *c;
    return 0;
}

void hm_serf_clocks(const hm_serf_t *s, uint64_t *member, uint64_t *event, uint64_t *query)
{
    if (member)
        *member = s->clock;
    if (event)
        *event = s->event_clock;
    if (query)
        *query = s->query_clock;
}

void hm_serf_stats(const hm_serf_t *s, hm_stat_emit_fn emit, void *ud)
{
    char v[32];

#define EMIT_U(k, x)                                                                               \
    do {                                                                                           \
        snprintf(v, sizeof(v), "%llu", (unsigned long long)(x));                                   \
        emit(ud, "serf", k, v);                                                                    \
    } while (0)
    EMIT_U("members", s->nlist);
    EMIT_U("failed", s->n_failed);
    EMIT_U("left", s->n_left);
    EMIT_U("health_score", hm_swim_health(s->swim));
    EMIT_U("member_time", s->clock);
    EMIT_U("event_time", s->event_clock);
    EMIT_U("query_time", s->query_clock);
    EMIT_U("intent_queue", hm_bcast_len(s->q_intent));
    EMIT_U("event_queue", hm_bcast_len(s->q_event));
    EMIT_U("query_queue", hm_bcast_len(s->q_query));
    if (!s->cfg.disable_coordinates)
        EMIT_U("coordinate_resets", s->coord.resets);
#undef EMIT_U
}

/* ---- snapshot rejoin ---- */

static void rejoin_next(hm_serf_t *s)
{
    while (s->rejoin_next < s->n_rejoin) {
        size_t i = s->rejoin_next++;
        uint32_t sid;
        serf_log(s, HM_LOG_INFO, "Attempting re-join to previously known node: %s",
                 s->rejoin_names[i]);
        sid = hm_swim_join(s->swim, s->now, &s->rejoin_addrs[i]);
        if (sid && track_stream(s, sid, SS_REJOIN, 0) == 0)
            return;
    }
    if (s->rejoin_active)
        serf_log(s, HM_LOG_WARN, "Failed to re-join any previously known node");
    s->rejoin_active = false;
}

int serf_parse_hostport(const char *str, hm_addr_t *a)
{
    char host[128];
    const char *c;
    char *end;
    long port;
    size_t n;

    memset(a, 0, sizeof(*a));
    if (str[0] == '[') {
        const char *e = strchr(str, ']');
        if (e == NULL || e[1] != ':' || (size_t)(e - str - 1) >= sizeof(host))
            return -1;
        n = (size_t)(e - str - 1);
        memcpy(host, str + 1, n);
        host[n] = '\0';
        c = e + 1;
    } else {
        c = strrchr(str, ':');
        if (c == NULL || (size_t)(c - str) >= sizeof(host))
            return -1;
        n = (size_t)(c - str);
        memcpy(host, str, n);
        host[n] = '\0';
    }
    port = strtol(c + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    a->port = (uint16_t)port;
    if (inet_pton(AF_INET, host, a->ip) == 1)
        a->len = 4;
    else if (inet_pton(AF_INET6, host, a->ip) == 1)
        a->len = 16;
    else
        return -1;
    return 0;
}

static void snapshot_restore(hm_serf_t *s)
{
    const char **names, **addrs;
    size_t n = serf_snap_alive(s->snap, &names, &addrs), k = 0;

    if (n == 0)
        return;
    s->rejoin_names = calloc(n, sizeof(char *));
    s->rejoin_addrs = calloc(n, sizeof(hm_addr_t));
    if (s->rejoin_names == NULL || s->rejoin_addrs == NULL)
        return;
    /* Random order, as Go's map iteration. */
    for (size_t i = 0; i < n; i++) {
        hm_addr_t a;
        if (strcmp(names[i], s->name) == 0 || serf_parse_hostport(addrs[i], &a) < 0)
            continue;
        s->rejoin_names[k] = str_dup_n(names[i], strlen(names[i]));
        s->rejoin_addrs[k++] = a;
    }
    s->n_rejoin = k;
    for (size_t i = k; i > 1; i--) {
        size_t j = serf_rand(s) % i;
        char *tn = s->rejoin_names[i - 1];
        hm_addr_t ta = s->rejoin_addrs[i - 1];
        s->rejoin_names[i - 1] = s->rejoin_names[j];
        s->rejoin_addrs[i - 1] = s->rejoin_addrs[j];
        s->rejoin_names[j] = tn;
        s->rejoin_addrs[j] = ta;
    }
    if (k) {
        s->rejoin_active = true;
        rejoin_next(s);
    }
}
