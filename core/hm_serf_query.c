/* Queries: sending, receiving with filters and acks, responses, relays,
 * and the internal `_serf_ping` and `_serf_conflict` (serf/serf/query.go,
 * serf.go handleQuery, event.go Respond, internal_query.go). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_regex.h"
#include "hm_serf_int.h"

#define INTERNAL_PREFIX "_serf_"
enum { INT_NONE, INT_CONFLICT };

int serf_queries_init(hm_serf_t *s)
{
    s->q_buf = calloc(s->cfg.query_buffer ? s->cfg.query_buffer : 1, sizeof(*s->q_buf));
    return s->q_buf ? 0 : -1;
}

static void pending_free(serf_pending_t *p)
{
    serf_map_free(&p->acks);
    serf_map_free(&p->responses);
    free(p);
}

void serf_queries_free(hm_serf_t *s)
{
    if (s->q_buf) {
        for (uint32_t i = 0; i < s->cfg.query_buffer; i++)
            free(s->q_buf[i].ids);
        free(s->q_buf);
        s->q_buf = NULL;
    }
    while (s->pending) {
        serf_pending_t *n = s->pending->next;
        pending_free(s->pending);
        s->pending = n;
    }
    while (s->inq) {
        serf_inq_t *n = s->inq->next;
        free(s->inq->source);
        free(s->inq);
        s->inq = n;
    }
}

/* ---- filters ---- */

/* Go's regexp.MatchString(expr, value): RE2 syntax, unanchored. */
int hm_serf_tag_match(const char *expr, const char *value)
{
    const char *err;

    return hm_re_match_once(expr, value ? value : "", false, &err);
}

static const char *own_tag(const hm_serf_t *s, const char *tag)
{
    for (size_t i = 0; i < s->tags.n; i++)
        if (strcmp(s->tags.v[i].key, tag) == 0)
            return s->tags.v[i].value;
    return "";
}

static bool should_process(hm_serf_t *s, const sw_query_t *q)
{
    for (size_t i = 0; i < q->n_filters; i++) {
        const sw_bytes_t *f = &q->filters[i];
        if (f->n == 0) {
            serf_log(s, HM_LOG_WARN, "query has unrecognized filter type: 0");
            return false;
        }
        if (f->p[0] == SW_FILTER_NODE) {
            int r = sw_get_node_filter_has(f->p, f->n, s->name);
            if (r < 0) {
                serf_log(s, HM_LOG_WARN, "failed to decode filterNodeType");
                return false;
            }
            if (r == 0)
                return false;
        } else if (f->p[0] == SW_FILTER_TAG) {
            char *tag = NULL, *expr = NULL;
            int r;
            if (sw_get_tag_filter(f->p, f->n, &tag, &expr) < 0) {
                serf_log(s, HM_LOG_WARN, "failed to decode filterTagType");
                return false;
            }
            r = hm_serf_tag_match(expr, own_tag(s, tag));
            if (r < 0)
                serf_log(s, HM_LOG_WARN, "failed to compile filter regex (%s)", expr);
            free(tag);
            free(expr);
            if (r <= 0)
                return false;
        } else {
            serf_log(s, HM_LOG_WARN, "query has unrecognized filter type: %d", f->p[0]);
            return false;
        }
    }
    return true;
}

/* ---- responding ---- */

/* Up to k random members that are alive, speak protocol 5 and are not us
 * (query.go kRandomMembers: at most 3n draws). */
static size_t random_relays(hm_serf_t *s, size_t k, serf_member_t **out)
{
    size_t n = s->nlist, got = 0;

    for (size_t i = 0; i < 3 * n && got < k; i++) {
        serf_member_t *m = s->list[serf_rand(s) % n];
        bool dup = false;
        if (m->m.status != HM_STATUS_ALIVE || m->m.vsn[1] < 5 || strcmp(m->name, s->name) == 0)
            continue;
        for (size_t j = 0; j < got && !dup; j++)
            dup = out[j] == m;
        if (!dup)
            out[got++] = m;
    }
    return got;
}

static int relay_response(hm_serf_t *s, uint8_t relay_factor, const hm_addr_t *to, const char *dest,
                          const sw_query_response_t *r, char *err, size_t errlen)
{
    serf_member_t *pick[256];
    hm_buf_t b = {0};
    size_t n;

    if (relay_factor == 0 || s->nlist < (size_t)relay_factor + 1)
        return 0;
    if (sw_put_relay(&b, to, dest, r) < 0) {
        snprintf(err, errlen, "failed to format relayed response");
        hm_buf_free(&b);
        return -1;
    }
    if (b.len > s->cfg.query_response_size_limit) {
        snprintf(err, errlen, "relayed response exceeds limit of %zu bytes",
                 s->cfg.query_response_size_limit);
        hm_buf_free(&b);
        return -1;
    }
    n = random_relays(s, relay_factor, pick);
    for (size_t i = 0; i < n; i++)
        serf_send_user(s, &pick[i]->m.addr, b.data, b.len);
    hm_buf_free(&b);
    return 0;
}

static serf_inq_t *inq_find(hm_serf_t *s, uint64_t handle)
{
    for (serf_inq_t *q = s->inq; q; q = q->next)
        if (q->handle == handle)
            return q;
    return NULL;
}

static int respond(hm_serf_t *s, serf_inq_t *q, const uint8_t *buf, size_t len, char *err,
                   size_t errlen)
{
    sw_query_response_t r = {0};
    hm_buf_t b = {0};
    int rc = -1;

    r.ltime = q->ltime;
    r.id = q->id;
    r.from.p = s->name;
    r.from.n = strlen(s->name);
    r.flags = 0;
    r.payload = buf;
    r.len = len;
    if (sw_put_query_response(&b, &r) < 0) {
        snprintf(err, errlen, "failed to format response");
        goto out;
    }
    if (b.len > s->cfg.query_response_size_limit) {
        snprintf(err, errlen, "response exceeds limit of %zu bytes",
                 s->cfg.query_response_size_limit);
        goto out;
    }
    if (q->responded) {
        snprintf(err, errlen, "response already sent");
        goto out;
    }
    if (s->now > q->deadline) {
        snprintf(err, errlen, "response is past the deadline");
        goto out;
    }
    serf_send_user(s, &q->from, b.data, b.len);
    if (relay_response(s, q->relay_factor, &q->from, q->source, &r, err, errlen) < 0)
        goto out;
    q->responded = true;
    rc = 0;
out:
    hm_buf_free(&b);
    return rc;
}

int hm_serf_respond(hm_serf_t *s, uint64_t now, const void *opaque, const uint8_t *buf, size_t len,
                    char *err, size_t errlen)
{
    serf_inq_t *q;
    char e[256];
    int rc;

    s->now = now;
    q = inq_find(s, (uint64_t)(uintptr_t)opaque);
    if (q == NULL) {
        snprintf(err, errlen, "failed to respond to key query: response is past the deadline");
        return -1;
    }
    rc = respond(s, q, buf, len, e, sizeof(e));
    if (rc < 0)
        snprintf(err, errlen, "failed to respond to key query: %s", e);
    serf_post(s);
    return rc;
}

/* ---- receiving ---- */

static void handle_conflict(hm_serf_t *s, serf_inq_t *q, const uint8_t *payload, size_t len)
{
    char node[HM_SERF_NAME_MAX], e[256];
    const hm_member_t *m;
    hm_buf_t b = {0};

    if (len >= sizeof(node))
        return;
    serf_copy(node, payload, len);
    node[len] = '\0';
    if (strcmp(node, s->name) == 0)
        return;
    serf_log(s, HM_LOG_DEBUG, "Got conflict resolution query for '%s'", node);
    m = hm_serf_member(s, node);
    if (sw_put_conflict_member(&b, m) < 0) {
        serf_log(s, HM_LOG_ERR, "Failed to encode conflict query response");
    } else if (respond(s, q, b.data, b.len, e, sizeof(e)) < 0) {
        serf_log(s, HM_LOG_ERR, "Failed to respond to conflict query: %s", e);
    }
    hm_buf_free(&b);
}

static bool seen_query(hm_serf_t *s, const sw_query_t *q)
{
    serf_q_slot_t *sl = &s->q_buf[q->ltime % s->cfg.query_buffer];
    uint32_t *ids;

    if (sl->used && sl->ltime == q->ltime) {
        for (size_t i = 0; i < sl->n; i++)
            if (sl->ids[i] == q->id)
                return true;
    } else {
        free(sl->ids);
        memset(sl, 0, sizeof(*sl));
        sl->used = true;
        sl->ltime = q->ltime;
    }
    ids = realloc(sl->ids, (sl->n + 1) * sizeof(*ids));
    if (ids) {
        sl->ids = ids;
        sl->ids[sl->n++] = q->id;
    }
    return false;
}

bool serf_handle_query(hm_serf_t *s, const sw_query_t *q)
{
    bool rebroadcast = !(q->flags & SW_QUERY_FLAG_NO_BROADCAST);
    char name[HM_SERF_NAME_MAX];
    serf_inq_t *in;
    hm_query_t hq;
    uint64_t timeout_ms;

    snprintf(name, sizeof(name), "%.*s", (int)q->name.n, q->name.p);
    if (!serf_ltime_fresh(s, true, q->ltime, name))
        return false;
    if (seen_query(s, q))
        return false;
    s->stat_queries++;
    if (!should_process(s, q))
        return rebroadcast;
    if (s->snap)
        serf_snap_query(s->snap, q->ltime);

    in = calloc(1, sizeof(*in));
    if (in == NULL)
        return rebroadcast;
    in->handle = ++s->next_handle;
    in->ltime = q->ltime;
    in->id = q->id;
    in->from = q->addr;
    in->source = malloc(q->source_node.n + 1);
    if (in->source == NULL) {
        free(in);
        return rebroadcast;
    }
    serf_copy(in->source, q->source_node.p, q->source_node.n);
    in->source[q->source_node.n] = '\0';
    in->relay_factor = q->relay_factor;
    timeout_ms = q->timeout_ns > 0 ? (uint64_t)q->timeout_ns / 1000000 : 0;
    in->deadline = s->now + timeout_ms;
    in->next = s->inq;
    s->inq = in;

    if (q->flags & SW_QUERY_FLAG_ACK) {
        sw_query_response_t ack = {0};
        hm_buf_t b = {0};
        char e[256];
        ack.ltime = q->ltime;
        ack.id = q->id;
        ack.from.p = s->name;
        ack.from.n = strlen(s->name);
        ack.flags = SW_QUERY_FLAG_ACK;
        if (sw_put_query_response(&b, &ack) < 0) {
            serf_log(s, HM_LOG_ERR, "failed to format ack");
        } else {
            serf_send_user(s, &q->addr, b.data, b.len);
            if (relay_response(s, q->relay_factor, &q->addr, in->source, &ack, e, sizeof(e)) < 0)
                serf_log(s, HM_LOG_ERR, "failed to relay ack: %s", e);
        }
        hm_buf_free(&b);
    }

    if (strncmp(name, INTERNAL_PREFIX, strlen(INTERNAL_PREFIX)) == 0) {
        const char *iname = name + strlen(INTERNAL_PREFIX);
        if (strcmp(iname, "ping") == 0)
            return rebroadcast;
        if (strcmp(iname, "conflict") == 0) {
            handle_conflict(s, in, q->payload, q->len);
            return rebroadcast;
        }
    }
    if (s->cb.query) {
        hq.ltime = q->ltime;
        hq.id = q->id;
        hq.name = name;
        hq.payload = q->payload;
        hq.len = q->len;
        hq.deadline_ms = in->deadline;
        hq.opaque = (void *)(uintptr_t)in->handle;
        bool was = s->in_engine;
        s->in_engine = true;
        s->cb.query(s->cb.ud, &hq);
        s->in_engine = was;
    }
    return rebroadcast;
}

static serf_pending_t *pending_find(hm_serf_t *s, uint64_t ltime)
{
    for (serf_pending_t *p = s->pending; p; p = p->next)
        if (p->ltime == ltime)
            return p;
    return NULL;
}

static void conflict_response(hm_serf_t *s, serf_pending_t *p, const uint8_t *pl, size_t n)
{
    sw_member_t m;

    if (n < 1 || pl[0] != SW_MSG_CONFLICT_RESPONSE) {
        serf_log(s, HM_LOG_ERR, "Invalid conflict query response type");
        return;
    }
    if (sw_get_member(pl + 1, n - 1, &m) < 0) {
        serf_log(s, HM_LOG_ERR, "Failed to decode conflict query response");
        return;
    }
    p->conflict_responses++;
    if (!m.nil && m.addr.len == s->addr.len && memcmp(m.addr.ip, s->addr.ip, s->addr.len) == 0 &&
        m.addr.port == s->addr.port)
        p->conflict_matching++;
}

void serf_handle_query_response(hm_serf_t *s, const sw_query_response_t *r)
{
    serf_pending_t *p = pending_find(s, r->ltime);
    char from[HM_SERF_NAME_MAX];
    serf_map_t *set;

    snprintf(from, sizeof(from), "%.*s", (int)r->from.n, r->from.p);
    if (p == NULL) {
        serf_log(s, HM_LOG_WARN, "reply for non-running query (LTime: %llu, ID: %u) From: %s",
                 (unsigned long long)r->ltime, r->id, from);
        return;
    }
    if (p->id != r->id) {
        serf_log(s, HM_LOG_WARN, "query reply ID mismatch (Local: %u, Response: %u)", p->id, r->id);
        return;
    }
    if (s->now > p->deadline)
        return;
    if (r->flags & SW_QUERY_FLAG_ACK) {
        if (!p->want_ack)
            return;
        set = &p->acks;
    } else {
        set = &p->responses;
    }
    if (serf_map_get(set, from))
        return;
    serf_map_put(set, from, (void *)1);
    if (p->internal == INT_CONFLICT) {
        if (!(r->flags & SW_QUERY_FLAG_ACK))
            conflict_response(s, p, r->payload, r->len);
    } else if (p->fn) {
        p->fn(p->ud, (r->flags & SW_QUERY_FLAG_ACK) ? HM_QUERY_ACK : HM_QUERY_RESPONSE, from,
              r->payload, r->len);
    }
}

void serf_handle_relay(hm_serf_t *s, const uint8_t *p, size_t n)
{
    hm_addr_t dest;
    hm_ml_str_t name;
    const uint8_t *inner;
    size_t inner_len;
    char a[64];

    if (sw_get_relay(p, n, &dest, &name, &inner, &inner_len) < 0) {
        s->stat_bad_msgs++;
        serf_log(s, HM_LOG_ERR, "Error decoding relay header");
        return;
    }
    serf_addr_str(&dest, a, sizeof(a), true);
    serf_log(s, HM_LOG_DEBUG, "Relaying response to addr: %s", a);
    serf_send_user(s, &dest, inner, inner_len);
}

static void pending_close(hm_serf_t *s, serf_pending_t *p)
{
    if (p->internal == INT_CONFLICT) {
        size_t majority = p->conflict_responses / 2 + 1;
        if (p->conflict_matching >= majority) {
            serf_log(s, HM_LOG_INFO, "majority in name conflict resolution [%zu / %zu]",
                     p->conflict_matching, p->conflict_responses);
        } else {
            serf_log(s, HM_LOG_WARN, "minority in name conflict resolution, quitting [%zu / %zu]",
                     p->conflict_matching, p->conflict_responses);
            s->state = HM_SERF_SHUTDOWN;
            if (s->cb.shutdown)
                s->cb.shutdown(s->cb.ud);
        }
    } else if (p->fn) {
        p->fn(p->ud, HM_QUERY_DONE, NULL, NULL, 0);
    }
}

void serf_queries_tick(hm_serf_t *s, uint64_t now)
{
    serf_pending_t **pp = &s->pending;
    serf_inq_t **ip = &s->inq;

    while (*pp) {
        serf_pending_t *p = *pp;
        if (now >= p->deadline) {
            *pp = p->next;
            pending_close(s, p);
            pending_free(p);
        } else {
            pp = &p->next;
        }
    }
    while (*ip) {
        serf_inq_t *q = *ip;
        if (now > q->deadline) {
            *ip = q->next;
            free(q->source);
            free(q);
        } else {
            ip = &q->next;
        }
    }
}

uint64_t serf_queries_deadline(const hm_serf_t *s)
{
    uint64_t d = UINT64_MAX;

    for (serf_pending_t *p = s->pending; p; p = p->next)
        if (p->deadline < d)
            d = p->deadline;
    for (serf_inq_t *q = s->inq; q; q = q->next)
        if (q->deadline + 1 < d)
            d = q->deadline + 1;
    return d;
}

/* ---- sending ---- */

int serf_query_internal(hm_serf_t *s, const hm_query_params_t *p, hm_query_reply_fn fn, void *ud,
                        int internal, uint32_t *id_out, char *err, size_t errlen)
{
    sw_query_t q = {0};
    hm_buf_t fb[SW_MAX_FILTERS] = {{0}};
    hm_buf_t b = {0};
    serf_pending_t *pend = NULL;
    uint64_t timeout = p->timeout_ms ? p->timeout_ms : hm_serf_default_query_timeout(s);
    size_t nf = 0;
    int rc = -1;

    if (s->cfg.protocol < 4) {
        snprintf(err, errlen, "Feature not supported");
        return -1;
    }
    if (p->n_filter_nodes > 0) {
        if (sw_put_node_filter(&fb[nf], p->filter_nodes, p->n_filter_nodes) < 0)
            goto fmt;
        nf++;
    }
    for (size_t i = 0; p->filter_tags && i < p->filter_tags->n; i++) {
        if (nf == SW_MAX_FILTERS ||
            sw_put_tag_filter(&fb[nf], p->filter_tags->v[i].key, p->filter_tags->v[i].value) < 0)
            goto fmt;
        nf++;
    }
    for (size_t i = 0; i < nf; i++) {
        q.filters[i].p = fb[i].data;
        q.filters[i].n = fb[i].len;
    }
    q.n_filters = nf;
    q.ltime = s->query_clock;
    q.id = (uint32_t)(serf_rand(s) & 0x7fffffff);
    q.addr = s->addr;
    q.source_node.p = s->name;
    q.source_node.n = strlen(s->name);
    q.flags = p->request_ack ? SW_QUERY_FLAG_ACK : 0;
    q.relay_factor = p->relay_factor;
    q.timeout_ns = (int64_t)timeout * 1000000;
    q.name.p = p->name;
    q.name.n = strlen(p->name);
    q.payload = p->payload;
    q.len = p->len;
    if (sw_put_query(&b, &q) < 0)
        goto fmt;
    if (b.len > s->cfg.query_size_limit) {
        snprintf(err, errlen, "query exceeds limit of %zu bytes", s->cfg.query_size_limit);
        goto out;
    }
    pend = calloc(1, sizeof(*pend));
    if (pend == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    pend->ltime = q.ltime;
    pend->id = q.id;
    pend->deadline = s->now + timeout;
    pend->want_ack = p->request_ack;
    pend->cap = serf_num_members_ml(s);
    pend->fn = fn;
    pend->ud = ud;
    pend->internal = internal;
    pend->next = s->pending;
    s->pending = pend;
    if (id_out)
        *id_out = q.id;
    serf_handle_query(s, &q);
    if (hm_bcast_push(s->q_query, NULL, b.data, b.len, NULL, NULL) < 0)
        serf_log(s, HM_LOG_WARN, "Failed to queue query");
    rc = 0;
    goto out;
fmt:
    snprintf(err, errlen, "Failed to format filters");
out:
    for (size_t i = 0; i < SW_MAX_FILTERS; i++)
        hm_buf_free(&fb[i]);
    hm_buf_free(&b);
    return rc;
}

int hm_serf_query(hm_serf_t *s, uint64_t now, const hm_query_params_t *p, hm_query_reply_fn fn,
                  void *ud, uint32_t *id_out, char *err, size_t errlen)
{
    int rc;

    s->now = now;
    rc = serf_query_internal(s, p, fn, ud, INT_NONE, id_out, err, errlen);
    serf_post(s);
    return rc;
}

void serf_start_conflict_resolution(hm_serf_t *s)
{
    hm_query_params_t p = {0};
    char err[256];

    p.name = INTERNAL_PREFIX "conflict";
    p.payload = s->name;
    p.len = strlen(s->name);
    if (serf_query_internal(s, &p, NULL, NULL, INT_CONFLICT, NULL, err, sizeof(err)) < 0)
        serf_log(s, HM_LOG_ERR, "Failed to start name resolution query: %s", err);
}
