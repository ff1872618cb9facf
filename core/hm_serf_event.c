/* User events: sending, de-duplication buffer, push/pull replay
 * (serf.go UserEvent / handleUserEvent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_serf_int.h"

#define SANE_LIMIT 9216

int serf_events_init(hm_serf_t *s)
{
    s->ev_buf = calloc(s->cfg.event_buffer ? s->cfg.event_buffer : 1, sizeof(*s->ev_buf));
    return s->ev_buf ? 0 : -1;
}

static void slot_clear(serf_ev_slot_t *sl)
{
    for (size_t i = 0; i < sl->n; i++) {
        free(sl->ev[i].name);
        free(sl->ev[i].payload);
    }
    free(sl->ev);
    memset(sl, 0, sizeof(*sl));
}

void serf_events_free(hm_serf_t *s)
{
    if (s->ev_buf == NULL)
        return;
    for (uint32_t i = 0; i < s->cfg.event_buffer; i++)
        slot_clear(&s->ev_buf[i]);
    free(s->ev_buf);
    s->ev_buf = NULL;
}

static bool slot_has(const serf_ev_slot_t *sl, const sw_user_event_t *e)
{
    for (size_t i = 0; i < sl->n; i++)
        if (strlen(sl->ev[i].name) == e->name.n && serf_eq(sl->ev[i].name, e->name.p, e->name.n) &&
            sl->ev[i].len == e->len &&
            (e->len == 0 || memcmp(sl->ev[i].payload, e->payload, e->len) == 0))
            return true;
    return false;
}

static int slot_add(serf_ev_slot_t *sl, const sw_user_event_t *e)
{
    serf_ev_t *v = realloc(sl->ev, (sl->n + 1) * sizeof(*v));
    serf_ev_t *x;

    if (v == NULL)
        return -1;
    sl->ev = v;
    x = &v[sl->n];
    x->name = malloc(e->name.n + 1);
    x->payload = malloc(e->len ? e->len : 1);
    if (x->name == NULL || x->payload == NULL) {
        free(x->name);
        free(x->payload);
        return -1;
    }
    serf_copy(x->name, e->name.p, e->name.n);
    x->name[e->name.n] = '\0';
    if (e->len)
        memcpy(x->payload, e->payload, e->len);
    x->len = e->len;
    sl->n++;
    return 0;
}

bool serf_ltime_fresh(hm_serf_t *s, bool query, uint64_t ltime, const char *name)
{
    uint64_t *clock = query ? &s->query_clock : &s->event_clock;
    uint64_t min_time = query ? s->query_min_time : s->event_min_time;
    uint64_t size = query ? s->cfg.query_buffer : s->cfg.event_buffer;

    lc_witness(clock, ltime);
    if (ltime < min_time)
        return false;
    if (*clock > size && ltime < *clock - size) {
        serf_log(s, HM_LOG_WARN, "received old %s %s from time %llu (current: %llu)",
                 query ? "query" : "event", name, (unsigned long long)ltime,
                 (unsigned long long)*clock);
        return false;
    }
    return true;
}

bool serf_handle_user_event(hm_serf_t *s, const sw_user_event_t *e)
{
    uint64_t size = s->cfg.event_buffer;
    serf_ev_slot_t *sl;
    hm_user_event_t ue;
    char name[HM_SERF_NAME_MAX];

    snprintf(name, sizeof(name), "%.*s", (int)e->name.n, e->name.p);
    if (!serf_ltime_fresh(s, false, e->ltime, name))
        return false;
    sl = &s->ev_buf[e->ltime % size];
    if (sl->used && sl->ltime == e->ltime) {
        if (slot_has(sl, e))
            return false;
    } else {
        slot_clear(sl);
        sl->used = true;
        sl->ltime = e->ltime;
    }
    if (slot_add(sl, e) < 0)
        return false;
    s->stat_events++;
    if (s->snap)
        serf_snap_user_event(s->snap, e->ltime);
    if (s->cb.user_event) {
        ue.ltime = e->ltime;
        ue.name = sl->ev[sl->n - 1].name;
        ue.payload = e->payload;
        ue.len = e->len;
        ue.coalesce = e->cc;
        if (!serf_coalesce_user(s, &ue))
            s->cb.user_event(s->cb.ud, &ue);
    }
    return true;
}

/* The whole buffer, nil slots included, as Serf sends it: one block
 * holding the slots and then the events they point at. */
int serf_encode_event_buffer(const hm_serf_t *s, sw_push_pull_t *pp)
{
    size_t total = 0, k = 0, n = s->cfg.event_buffer;
    sw_pp_slot_t *slots;
    sw_pp_event_t *ev;

    for (size_t i = 0; i < n; i++)
        if (s->ev_buf[i].used)
            total += s->ev_buf[i].n;
    slots = calloc(1, n * sizeof(*slots) + total * sizeof(*ev) + 1);
    if (slots == NULL)
        return -1;
    ev = (sw_pp_event_t *)(slots + n);
    for (size_t i = 0; i < n; i++) {
        const serf_ev_slot_t *sl = &s->ev_buf[i];
        if (!sl->used)
            continue;
        slots[i].used = true;
        slots[i].ltime = sl->ltime;
        slots[i].ev = ev + k;
        slots[i].n = sl->n;
        for (size_t j = 0; j < sl->n; j++, k++) {
            ev[k].name.p = sl->ev[j].name;
            ev[k].name.n = strlen(sl->ev[j].name);
            ev[k].payload = sl->ev[j].payload;
            ev[k].len = sl->ev[j].len;
        }
    }
    pp->slots = slots;
    pp->n_slots = n;
    return 0;
}

int hm_serf_user_event(hm_serf_t *s, uint64_t now, const char *name, const uint8_t *payload,
                       size_t len, bool coalesce, char *err, size_t errlen)
{
    size_t before = strlen(name) + len;
    sw_user_event_t e;
    hm_buf_t b = {0};

    s->now = now;
    if (before > s->cfg.user_event_size_limit) {
        snprintf(err, errlen, "user event exceeds configured limit of %zu bytes before encoding",
                 s->cfg.user_event_size_limit);
        return -1;
    }
    if (before > SANE_LIMIT) {
        snprintf(err, errlen, "user event exceeds sane limit of %d bytes before encoding",
                 SANE_LIMIT);
        return -1;
    }
    e.ltime = s->event_clock;
    e.name.p = name;
    e.name.n = strlen(name);
    e.payload = payload;
    e.len = len;
    e.cc = coalesce;
    if (sw_put_user_event(&b, &e) < 0) {
        snprintf(err, errlen, "failed to encode user event");
        hm_buf_free(&b);
        return -1;
    }
    if (b.len > s->cfg.user_event_size_limit) {
        snprintf(err, errlen,
                 "encoded user event exceeds configured limit of %zu bytes after "
                 "encoding",
                 s->cfg.user_event_size_limit);
        hm_buf_free(&b);
        return -1;
    }
    if (b.len > SANE_LIMIT) {
        snprintf(err, errlen, "encoded user event exceeds sane limit of %d bytes before encoding",
                 SANE_LIMIT);
        hm_buf_free(&b);
        return -1;
    }
    lc_increment(&s->event_clock);
    serf_handle_user_event(s, &e);
    if (hm_bcast_push(s->q_event, NULL, b.data, b.len, NULL, NULL) < 0)
        serf_log(s, HM_LOG_WARN, "Failed to queue user event");
    hm_buf_free(&b);
    serf_post(s);
    return 0;
}
