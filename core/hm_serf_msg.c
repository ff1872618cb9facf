/* Adapts the Serf layer's message shapes (hm_serf_msg.h) to the wire
 * codecs (hm_serfwire.h). */
#include <stdlib.h>
#include <string.h>

#include "hm_mpack.h"
#include "hm_serf_msg.h"
#include "hm_serfwire.h"

int sw_put_join(hm_buf_t *b, uint64_t ltime, const char *node)
{
    return hm_serf_put_join(b, ltime, node);
}

int sw_put_leave(hm_buf_t *b, uint64_t ltime, const char *node, bool prune)
{
    return hm_serf_put_leave(b, ltime, node, prune);
}

int sw_put_user_event(hm_buf_t *b, const sw_user_event_t *e)
{
    hm_serf_user_event_t m = {.ltime = e->ltime,
                              .name = e->name,
                              .payload = e->len ? e->payload : NULL,
                              .payload_len = e->len,
                              .cc = e->cc};

    return hm_serf_put_user_event(b, &m);
}

int sw_put_query(hm_buf_t *b, const sw_query_t *q)
{
    hm_serf_query_t m = {0};
    hm_buf_t elems = {0};
    int rc = -1;

    for (size_t i = 0; i < q->n_filters; i++)
        if (hm_mp_put_raw(&elems, q->filters[i].p, q->filters[i].n) < 0)
            goto out;
    m.ltime = q->ltime;
    m.id = q->id;
    m.addr = q->addr;
    m.source_node = q->source_node;
    m.filters.p = q->n_filters ? elems.data : NULL;
    m.filters.n = elems.len;
    m.filters.count = (uint32_t)q->n_filters;
    m.flags = q->flags;
    m.relay_factor = q->relay_factor;
    m.timeout_ns = q->timeout_ns;
    m.name = q->name;
    m.payload = q->len ? q->payload : NULL;
    m.payload_len = q->len;
    rc = hm_serf_put_query(b, &m);
out:
    hm_buf_free(&elems);
    return rc;
}

static void resp_to_wire(const sw_query_response_t *r, hm_serf_query_response_t *m)
{
    m->ltime = r->ltime;
    m->id = r->id;
    m->from = r->from;
    m->flags = r->flags;
    m->payload = r->payload;
    m->payload_len = r->len;
}

int sw_put_query_response(hm_buf_t *b, const sw_query_response_t *r)
{
    hm_serf_query_response_t m;

    resp_to_wire(r, &m);
    return hm_serf_put_query_response(b, &m);
}

int sw_put_relay(hm_buf_t *b, const hm_addr_t *dest, const char *dest_name,
                 const sw_query_response_t *r)
{
    hm_buf_t inner = {0};
    int rc;

    rc = sw_put_query_response(&inner, r);
    if (rc == 0)
        rc = hm_serf_put_relay(b, dest, dest_name, inner.data, inner.len);
    hm_buf_free(&inner);
    return rc;
}

int sw_put_push_pull(hm_buf_t *b, const sw_push_pull_t *pp)
{
    hm_serf_push_pull_t m = {0};
    hm_serf_status_ltime_t *st = calloc(pp->n_status + 1, sizeof(*st));
    hm_serf_event_slot_t *sl = calloc(pp->n_slots + 1, sizeof(*sl));
    hm_serf_event_t *ev = NULL;
    size_t total = 0, k = 0;
    int rc = -1;

    for (size_t i = 0; i < pp->n_slots; i++)
        total += pp->slots[i].used ? pp->slots[i].n : 0;
    ev = calloc(total + 1, sizeof(*ev));
    if (st == NULL || sl == NULL || ev == NULL)
        goto out;
    for (size_t i = 0; i < pp->n_status; i++) {
        st[i].name = pp->status[i].name;
        st[i].ltime = pp->status[i].ltime;
    }
    for (size_t i = 0; i < pp->n_slots; i++) {
        const sw_pp_slot_t *s = &pp->slots[i];
        sl[i].present = s->used;
        sl[i].ltime = s->ltime;
        sl[i].events = ev + k;
        sl[i].n = s->used ? s->n : 0;
        for (size_t j = 0; s->used && j < s->n; j++, k++) {
            ev[k].name = s->ev[j].name;
            ev[k].payload = s->ev[j].len ? s->ev[j].payload : NULL;
            ev[k].payload_len = s->ev[j].len;
        }
    }
    m.ltime = pp->ltime;
    m.event_ltime = pp->event_ltime;
    m.query_ltime = pp->query_ltime;
    m.status = st;
    m.n_status = pp->n_status;
    m.left = pp->left;
    m.n_left = pp->n_left;
    m.slots = sl;
    m.n_slots = pp->n_slots;
    rc = hm_serf_put_push_pull(b, &m);
out:
    free(st);
    free(sl);
    free(ev);
    return rc;
}

int sw_put_conflict_member(hm_buf_t *b, const hm_member_t *m)
{
    return hm_serf_put_conflict_response(b, m);
}

int sw_put_node_filter(hm_buf_t *b, const char *const *names, size_t n)
{
    return hm_serf_put_node_filter(b, names, n);
}

int sw_put_tag_filter(hm_buf_t *b, const char *tag, const char *expr)
{
    return hm_serf_put_tag_filter(b, tag, expr);
}

int sw_put_tags(hm_buf_t *b, const hm_tags_t *tags)
{
    static const hm_tags_t none = {0};

    return hm_serf_put_tags(b, tags ? tags : &none);
}

int sw_put_coord(hm_buf_t *b, const hm_coord_t *c)
{
    return hm_serf_put_coord(b, c);
}

int sw_get_intent(const uint8_t *p, size_t n, sw_intent_t *m)
{
    hm_serf_intent_t w;

    if (hm_serf_get_intent(p, n, &w) < 0)
        return -1;
    m->ltime = w.ltime;
    m->node = w.node;
    m->prune = w.prune;
    return 0;
}

int sw_get_user_event(const uint8_t *p, size_t n, sw_user_event_t *m)
{
    hm_serf_user_event_t w;

    if (hm_serf_get_user_event(p, n, &w) < 0)
        return -1;
    m->ltime = w.ltime;
    m->name = w.name;
    m->payload = w.payload;
    m->len = w.payload_len;
    m->cc = w.cc;
    return 0;
}

int sw_get_query(const uint8_t *p, size_t n, sw_query_t *m)
{
    hm_serf_query_t w;
    hm_mp_reader_t it;

    if (hm_serf_get_query(p, n, &w) < 0)
        return -1;
    memset(m, 0, sizeof(*m));
    m->ltime = w.ltime;
    m->id = w.id;
    m->addr = w.addr;
    m->source_node = w.source_node;
    m->flags = w.flags;
    m->relay_factor = w.relay_factor;
    m->timeout_ns = w.timeout_ns;
    m->name = w.name;
    m->payload = w.payload;
    m->len = w.payload_len;
    if (w.filters.count > SW_MAX_FILTERS)
        return -1;
    hm_mp_reader_init(&it, w.filters.p, w.filters.n);
    for (uint32_t i = 0; w.filters.p && i < w.filters.count; i++) {
        hm_ml_str_t f;
        if (hm_serf_next_str(&it, &f) < 0)
            return -1;
        m->filters[i].p = (const uint8_t *)f.p;
        m->filters[i].n = f.n;
        m->n_filters++;
    }
    return 0;
}

int sw_get_query_response(const uint8_t *p, size_t n, sw_query_response_t *m)
{
    hm_serf_query_response_t w;

    if (hm_serf_get_query_response(p, n, &w) < 0)
        return -1;
    m->ltime = w.ltime;
    m->id = w.id;
    m->from = w.from;
    m->flags = w.flags;
    m->payload = w.payload;
    m->len = w.payload_len;
    return 0;
}

int sw_get_relay(const uint8_t *p, size_t n, hm_addr_t *dest, hm_ml_str_t *dest_name,
                 const uint8_t **inner, size_t *inner_len)
{
    return hm_serf_get_relay(p, n, dest, dest_name, inner, inner_len);
}

struct pp_collect {
    sw_pp_slot_t *slots;
    sw_pp_event_t *ev;
    size_t n, cap;
};

static int pp_event(void *ud, uint64_t ltime, const hm_serf_event_t *e)
{
    struct pp_collect *c = ud;

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        sw_pp_event_t *ev = realloc(c->ev, cap * sizeof(*ev));
        sw_pp_slot_t *sl = realloc(c->slots, cap * sizeof(*sl));
        if (ev)
            c->ev = ev;
        if (sl)
            c->slots = sl;
        if (ev == NULL || sl == NULL)
            return -1;
        c->cap = cap;
    }
    c->ev[c->n].name = e->name;
    c->ev[c->n].payload = e->payload;
    c->ev[c->n].len = e->payload_len;
    c->slots[c->n].used = true;
    c->slots[c->n].ltime = ltime;
    c->slots[c->n].n = 1;
    c->n++;
    return 0;
}

/* Decoded events come back one per slot (same LTime may repeat). */
int sw_get_push_pull(const uint8_t *p, size_t n, sw_push_pull_t *pp)
{
    hm_serf_push_pull_view_t v;
    struct pp_collect c = {0};
    hm_mp_reader_t it;

    memset(pp, 0, sizeof(*pp));
    if (hm_serf_get_push_pull(p, n, &v) < 0)
        return -1;
    pp->ltime = v.ltime;
    pp->event_ltime = v.event_ltime;
    pp->query_ltime = v.query_ltime;
    pp->status = calloc(v.status.count + 1, sizeof(*pp->status));
    pp->left = calloc(v.left.count + 1, sizeof(*pp->left));
    if (pp->status == NULL || pp->left == NULL)
        goto fail;
    hm_mp_reader_init(&it, v.status.p, v.status.n);
    for (uint32_t i = 0; v.status.p && i < v.status.count; i++) {
        if (hm_serf_next_ltime(&it, &pp->status[i].name, &pp->status[i].ltime) < 0)
            goto fail;
        pp->n_status++;
    }
    hm_mp_reader_init(&it, v.left.p, v.left.n);
    for (uint32_t i = 0; v.left.p && i < v.left.count; i++) {
        if (hm_serf_next_str(&it, &pp->left[i]) < 0)
            goto fail;
        pp->n_left++;
    }
    if (hm_serf_pp_events(&v, pp_event, &c) < 0)
        goto fail_ev;
    for (size_t i = 0; i < c.n; i++)
        c.slots[i].ev = &c.ev[i];
    pp->slots = c.slots;
    pp->n_slots = c.n;
    pp->events_block = c.ev;
    return 0;
fail_ev:
    free(c.slots);
    free(c.ev);
fail:
    sw_push_pull_free(pp);
    return -1;
}

void sw_push_pull_free(sw_push_pull_t *pp)
{
    free(pp->status);
    free(pp->left);
    free(pp->slots);
    free(pp->events_block);
    memset(pp, 0, sizeof(*pp));
}

int sw_get_member(const uint8_t *p, size_t n, sw_member_t *m)
{
    hm_serf_member_t w;

    if (hm_serf_get_conflict_response(p, n, &w) < 0)
        return -1;
    memset(m, 0, sizeof(*m));
    m->nil = !w.present;
    m->name = w.name;
    m->addr = w.addr;
    m->status = w.status;
    memcpy(m->vsn, w.vsn, sizeof(m->vsn));
    return 0;
}

int sw_get_node_filter_has(const uint8_t *p, size_t n, const char *self)
{
    hm_serf_filter_t f;

    if (hm_serf_get_filter(p, n, &f) < 0 || f.type != HM_SERF_FILTER_NODE)
        return -1;
    return hm_serf_node_filter_has(&f, self) ? 1 : 0;
}

static char *dup_str(hm_ml_str_t s)
{
    char *d = malloc(s.n + 1);

    if (d) {
        if (s.n)
            memcpy(d, s.p, s.n);
        d[s.n] = '\0';
    }
    return d;
}

int sw_get_tag_filter(const uint8_t *p, size_t n, char **tag, char **expr)
{
    hm_serf_filter_t f;

    if (hm_serf_get_filter(p, n, &f) < 0 || f.type != HM_SERF_FILTER_TAG)
        return -1;
    *tag = dup_str(f.tag);
    *expr = dup_str(f.expr);
    if (*tag == NULL || *expr == NULL) {
        free(*tag);
        free(*expr);
        return -1;
    }
    return 0;
}

struct tag_collect {
    hm_tags_t *t;
    size_t cap;
    int err;
};

static int tag_one(void *ud, hm_ml_str_t k, hm_ml_str_t v)
{
    struct tag_collect *c = ud;
    hm_tag_t *nv;

    /* Go decodes into a map: a repeated key keeps the last value. */
    for (size_t i = 0; i < c->t->n; i++) {
        if (strlen(c->t->v[i].key) == k.n && (k.n == 0 || memcmp(c->t->v[i].key, k.p, k.n) == 0)) {
            char *val = dup_str(v);
            if (val == NULL)
                return -1;
            free((char *)c->t->v[i].value);
            c->t->v[i].value = val;
            return 0;
        }
    }
    if (c->t->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        nv = realloc(c->t->v, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        c->t->v = nv;
        c->cap = cap;
    }
    c->t->v[c->t->n].key = dup_str(k);
    c->t->v[c->t->n].value = dup_str(v);
    if (c->t->v[c->t->n].key == NULL || c->t->v[c->t->n].value == NULL) {
        free((char *)c->t->v[c->t->n].key);
        free((char *)c->t->v[c->t->n].value);
        return -1;
    }
    c->t->n++;
    return 0;
}

int sw_get_tags(const uint8_t *p, size_t n, hm_tags_t *tags)
{
    struct tag_collect c = {.t = tags};

    tags->v = NULL;
    tags->n = 0;
    return hm_serf_get_tags(p, n, tag_one, &c);
}

int sw_get_coord(const uint8_t *p, size_t n, hm_coord_t *c)
{
    if (n >= 1 && p[0] != HM_SERF_PING_VERSION)
        return -2;
    return hm_serf_get_coord(p, n, c);
}
