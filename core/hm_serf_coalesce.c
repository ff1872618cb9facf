/*
 * Event coalescing, as serf agent configures its Serf (coalesce.go,
 * coalesce_member.go, coalesce_user.go): member events are held until
 * `coalesce` ms after the first or `quiescent` ms after the last, then
 * delivered as one event per type holding the latest change of each
 * member (a member whose latest type was already delivered is skipped,
 * updates excepted); user events sent with "coalesce" keep only those of
 * the newest LTime per name.
 */
#include <stdlib.h>
#include <string.h>

#include "hm_serf_int.h"

typedef struct held_member {
    hm_member_event_type_t type;
    hm_member_t m; /* deep copy */
} held_member_t;

typedef struct held_user {
    char *name;
    uint64_t ltime;
    uint8_t **payloads;
    size_t *lens;
    size_t n;
} held_user_t;

struct serf_coalesce {
    serf_map_t latest; /* name -> held_member_t* */
    serf_map_t last;   /* name -> (type + 1) delivered last */
    uint64_t m_first, m_quiet;
    held_user_t *users;
    size_t nusers;
    uint64_t u_first, u_quiet;
};

static void member_copy_free(hm_member_t *m)
{
    free((char *)m->name);
    for (size_t i = 0; i < m->tags.n; i++) {
        free((char *)m->tags.v[i].key);
        free((char *)m->tags.v[i].value);
    }
    free(m->tags.v);
    memset(m, 0, sizeof(*m));
}

static int member_copy(hm_member_t *d, const hm_member_t *s)
{
    *d = *s;
    d->name = strdup(s->name);
    d->tags.v = calloc(s->tags.n + 1, sizeof(hm_tag_t));
    d->tags.n = 0;
    if (d->name == NULL || d->tags.v == NULL)
        goto fail;
    for (size_t i = 0; i < s->tags.n; i++) {
        d->tags.v[i].key = strdup(s->tags.v[i].key);
        d->tags.v[i].value = strdup(s->tags.v[i].value);
        d->tags.n++;
        if (d->tags.v[i].key == NULL || d->tags.v[i].value == NULL)
            goto fail;
    }
    return 0;
fail:
    member_copy_free(d);
    return -1;
}

static serf_coalesce_t *get(hm_serf_t *s)
{
    if (s->coalesce == NULL)
        s->coalesce = calloc(1, sizeof(serf_coalesce_t));
    return s->coalesce;
}

bool serf_coalesce_member(hm_serf_t *s, hm_member_event_type_t t, const hm_member_t *m)
{
    serf_coalesce_t *c;
    held_member_t *h;

    if (s->cfg.coalesce_period_ms == 0 || s->cfg.quiescent_period_ms == 0 || !(c = get(s)))
        return false;
    h = serf_map_get(&c->latest, m->name);
    if (h == NULL) {
        h = calloc(1, sizeof(*h));
        if (h == NULL || serf_map_put(&c->latest, m->name, h) < 0) {
            free(h);
            return false;
        }
    } else {
        member_copy_free(&h->m);
    }
    h->type = t;
    if (member_copy(&h->m, m) < 0) {
        free(serf_map_del(&c->latest, m->name));
        return false;
    }
    if (c->m_first == 0)
        c->m_first = s->now + s->cfg.coalesce_period_ms;
    c->m_quiet = s->now + s->cfg.quiescent_period_ms;
    return true;
}

static void flush_members(hm_serf_t *s, serf_coalesce_t *c)
{
    const hm_member_t **by_type[HM_EVENT_MEMBER_REAP + 1] = {0};
    size_t n[HM_EVENT_MEMBER_REAP + 1] = {0};
    const char *name;
    void *val;

    for (int t = 0; t <= HM_EVENT_MEMBER_REAP; t++)
        by_type[t] = calloc(c->latest.n + 1, sizeof(hm_member_t *));
    for (long i = serf_map_next(&c->latest, 0, &name, &val); i >= 0;
         i = serf_map_next(&c->latest, i + 1, &name, &val)) {
        held_member_t *h = val;
        uintptr_t prev = (uintptr_t)serf_map_get(&c->last, name);
        if (prev == (uintptr_t)h->type + 1 && h->type != HM_EVENT_MEMBER_UPDATE)
            continue;
        serf_map_put(&c->last, name, (void *)((uintptr_t)h->type + 1));
        if (by_type[h->type])
            by_type[h->type][n[h->type]++] = &h->m;
    }
    for (int t = 0; t <= HM_EVENT_MEMBER_REAP; t++) {
        hm_member_event_t ev = {
            .type = (hm_member_event_type_t)t, .members = by_type[t], .n = n[t]};
        if (n[t] && s->cb.member_event)
            s->cb.member_event(s->cb.ud, &ev);
        free(by_type[t]);
    }
    for (long i = serf_map_next(&c->latest, 0, &name, &val); i >= 0;
         i = serf_map_next(&c->latest, i + 1, &name, &val)) {
        member_copy_free(&((held_member_t *)val)->m);
        free(val);
    }
    serf_map_free(&c->latest);
    c->m_first = c->m_quiet = 0;
}

bool serf_coalesce_user(hm_serf_t *s, const hm_user_event_t *e)
{
    serf_coalesce_t *c;
    held_user_t *u = NULL;
    uint8_t **pv;
    size_t *lv;

    if (!e->coalesce || s->cfg.user_coalesce_period_ms == 0 ||
        s->cfg.user_quiescent_period_ms == 0 || !(c = get(s)))
        return false;
    for (size_t i = 0; i < c->nusers && !u; i++)
        if (strcmp(c->users[i].name, e->name) == 0)
            u = &c->users[i];
    if (u == NULL) {
        held_user_t *nu = realloc(c->users, (c->nusers + 1) * sizeof(*nu));
        if (nu == NULL)
            return false;
        c->users = nu;
        u = &c->users[c->nusers];
        memset(u, 0, sizeof(*u));
        u->name = strdup(e->name);
        if (u->name == NULL)
            return false;
        u->ltime = e->ltime;
        c->nusers++;
    }
    if (e->ltime > u->ltime) {
        for (size_t i = 0; i < u->n; i++)
            free(u->payloads[i]);
        u->n = 0;
        u->ltime = e->ltime;
    } else if (e->ltime < u->ltime) {
        return true; /* older than what we hold: dropped */
    }
    pv = realloc(u->payloads, (u->n + 1) * sizeof(*pv));
    if (pv)
        u->payloads = pv;
    lv = realloc(u->lens, (u->n + 1) * sizeof(*lv));
    if (lv)
        u->lens = lv;
    if (pv && lv && (u->payloads[u->n] = malloc(e->len ? e->len : 1)) != NULL) {
        if (e->len)
            memcpy(u->payloads[u->n], e->payload, e->len);
        u->lens[u->n++] = e->len;
    }
    if (c->u_first == 0)
        c->u_first = s->now + s->cfg.user_coalesce_period_ms;
    c->u_quiet = s->now + s->cfg.user_quiescent_period_ms;
    return true;
}

static void flush_users(hm_serf_t *s, serf_coalesce_t *c)
{
    for (size_t i = 0; i < c->nusers; i++) {
        held_user_t *u = &c->users[i];
        for (size_t k = 0; k < u->n; k++) {
            hm_user_event_t ev = {.ltime = u->ltime,
                                  .name = u->name,
                                  .payload = u->payloads[k],
                                  .len = u->lens[k],
                                  .coalesce = true};
            if (s->cb.user_event)
                s->cb.user_event(s->cb.ud, &ev);
            free(u->payloads[k]);
        }
        free(u->payloads);
        free(u->lens);
        free(u->name);
    }
    free(c->users);
    c->users = NULL;
    c->nusers = 0;
    c->u_first = c->u_quiet = 0;
}

static bool due(uint64_t first, uint64_t quiet, uint64_t now)
{
    return first && (now >= first || now >= quiet);
}

void serf_coalesce_tick(hm_serf_t *s, uint64_t now)
{
    serf_coalesce_t *c = s->coalesce;

    if (c == NULL)
        return;
    /* user coalescer sits before the member one in Serf's chain */
    if (due(c->u_first, c->u_quiet, now))
        flush_users(s, c);
    if (due(c->m_first, c->m_quiet, now))
        flush_members(s, c);
}

uint64_t serf_coalesce_deadline(const hm_serf_t *s)
{
    const serf_coalesce_t *c = s->coalesce;
    uint64_t d = UINT64_MAX;

    if (c == NULL)
        return d;
    if (c->m_first)
        d = c->m_first < c->m_quiet ? c->m_first : c->m_quiet;
    if (c->u_first) {
        uint64_t u = c->u_first < c->u_quiet ? c->u_first : c->u_quiet;
        if (u < d)
            d = u;
    }
    return d;
}

void serf_coalesce_free(hm_serf_t *s)
{
    serf_coalesce_t *c = s->coalesce;
    const char *name;
    void *val;

    if (c == NULL)
        return;
    for (long i = serf_map_next(&c->latest, 0, &name, &val); i >= 0;
         i = serf_map_next(&c->latest, i + 1, &name, &val)) {
        member_copy_free(&((held_member_t *)val)->m);
        free(val);
    }
    serf_map_free(&c->latest);
    serf_map_free(&c->last);
    for (size_t i = 0; i < c->nusers; i++) {
        for (size_t k = 0; k < c->users[i].n; k++)
            free(c->users[i].payloads[k]);
        free(c->users[i].payloads);
        free(c->users[i].lens);
        free(c->users[i].name);
    }
    free(c->users);
    free(c);
    s->coalesce = NULL;
}
