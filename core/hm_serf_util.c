/* Serf layer helpers: the string-keyed hash map. */
#include <stdlib.h>
#include <string.h>

#include "hm_serf_int.h"

static char tomb_;
#define TOMB (&tomb_)

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s)
        h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
    return h;
}

static long find_slot(const serf_map_t *m, const char *key)
{
    size_t i, mask;

    if (m->cap == 0)
        return -1;
    mask = m->cap - 1;
    for (i = hash_str(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == NULL)
            return -1;
        if (m->keys[i] != TOMB && strcmp(m->keys[i], key) == 0)
            return (long)i;
    }
}

void *serf_map_get(const serf_map_t *m, const char *key)
{
    long i = find_slot(m, key);

    return i < 0 ? NULL : m->vals[i];
}

static int grow(serf_map_t *m)
{
    serf_map_t n = {0};
    size_t cap = m->cap ? m->cap * 2 : 16;

    /* Only rehash live entries: tombstones vanish. */
    while (m->n * 2 >= cap)
        cap *= 2;
    n.keys = calloc(cap, sizeof(char *));
    n.vals = calloc(cap, sizeof(void *));
    if (n.keys == NULL || n.vals == NULL) {
        free(n.keys);
        free(n.vals);
        return -1;
    }
    n.cap = cap;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] && m->keys[i] != TOMB) {
            size_t j = hash_str(m->keys[i]) & (cap - 1);
            while (n.keys[j])
                j = (j + 1) & (cap - 1);
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
            n.n++;
            n.used++;
        }
    }
    free(m->keys);
    free(m->vals);
    *m = n;
    return 0;
}

int serf_map_put(serf_map_t *m, const char *key, void *val)
{
    long i = find_slot(m, key);
    size_t j;
    char *k;

    if (i >= 0) {
        m->vals[i] = val;
        return 0;
    }
    if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) < 0)
        return -1;
    k = strdup(key);
    if (k == NULL)
        return -1;
    for (j = hash_str(key) & (m->cap - 1); m->keys[j] && m->keys[j] != TOMB;
         j = (j + 1) & (m->cap - 1))
        ;
    if (m->keys[j] == NULL)
        m->used++;
    m->keys[j] = k;
    m->vals[j] = val;
    m->n++;
    return 0;
}

void *serf_map_del(serf_map_t *m, const char *key)
{
    long i = find_slot(m, key);
    void *v;

    if (i < 0)
        return NULL;
    v = m->vals[i];
    free(m->keys[i]);
    m->keys[i] = TOMB;
    m->vals[i] = NULL;
    m->n--;
    return v;
}

void serf_map_free(serf_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] && m->keys[i] != TOMB)
            free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

void serf_map_free_all(serf_map_t *m)
{
    for (long i = serf_map_next(m, 0, NULL, NULL); i >= 0; i = serf_map_next(m, i + 1, NULL, NULL))
        free(m->vals[i]);
    serf_map_free(m);
}

long serf_map_next(const serf_map_t *m, long i, const char **key, void **val)
{
    for (; i >= 0 && (size_t)i < m->cap; i++) {
        if (m->keys[i] && m->keys[i] != TOMB) {
            if (key)
                *key = m->keys[i];
            if (val)
                *val = m->vals[i];
            return i;
        }
    }
    return -1;
}
