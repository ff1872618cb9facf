/* Vivaldi coordinates (see hm_serf_coord.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hm_serf_coord.h"

#define ERROR_MAX 1.5
#define CE 0.25
#define CC 0.25
#define HEIGHT_MIN 10e-6
#define GRAVITY_RHO 150.0
#define ZERO 1.0e-6

void hm_coord_init(hm_coord_t *c)
{
    memset(c, 0, sizeof(*c));
    c->error = ERROR_MAX;
    c->height = HEIGHT_MIN;
}

static bool finite_ok(double f)
{
    return !isinf(f) && !isnan(f);
}

bool hm_coord_valid(const hm_coord_t *c)
{
    for (int i = 0; i < HM_COORD_DIM; i++)
        if (!finite_ok(c->vec[i]))
            return false;
    return finite_ok(c->error) && finite_ok(c->adjustment) && finite_ok(c->height);
}

static double magnitude_diff(const double *a, const double *b)
{
    double sum = 0;

    for (int i = 0; i < HM_COORD_DIM; i++)
        sum += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(sum);
}

static double raw_distance(const hm_coord_t *a, const hm_coord_t *b)
{
    return magnitude_diff(a->vec, b->vec) + a->height + b->height;
}

double hm_coord_distance(const hm_coord_t *a, const hm_coord_t *b)
{
    double dist = raw_distance(a, b);
    double adj = dist + a->adjustment + b->adjustment;

    /* Go truncates to a time.Duration in nanoseconds. */
    return trunc((adj > 0.0 ? adj : dist) * 1e9) / 1e9;
}

static double rand_unit(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* Unit vector from b to a and the distance between them. */
static double unit_vector_at(const double *a, const double *b, double *unit, uint64_t *rng)
{
    double mag = magnitude_diff(a, b);
    static const double zero[HM_COORD_DIM];

    if (mag > ZERO) {
        for (int i = 0; i < HM_COORD_DIM; i++)
            unit[i] = (a[i] - b[i]) / mag;
        return mag;
    }
    for (int i = 0; i < HM_COORD_DIM; i++)
        unit[i] = rand_unit(rng) - 0.5;
    mag = magnitude_diff(unit, zero);
    if (mag > ZERO) {
        for (int i = 0; i < HM_COORD_DIM; i++)
            unit[i] /= mag;
        return 0.0;
    }
    memset(unit, 0, sizeof(double) * HM_COORD_DIM);
    unit[0] = 1.0;
    return 0.0;
}

static void apply_force(hm_coord_t *c, double force, const hm_coord_t *other, uint64_t *rng)
{
    double unit[HM_COORD_DIM];
    double mag = unit_vector_at(c->vec, other->vec, unit, rng);

    for (int i = 0; i < HM_COORD_DIM; i++)
        c->vec[i] += unit[i] * force;
    if (mag > ZERO) {
        c->height = (c->height + other->height) * force / mag + c->height;
        c->height = fmax(c->height, HEIGHT_MIN);
    }
}

void hm_coord_client_init(hm_coord_client_t *cl, uint64_t seed)
{
    memset(cl, 0, sizeof(*cl));
    hm_coord_init(&cl->coord);
    cl->rng = seed;
}

void hm_coord_client_free(hm_coord_client_t *cl)
{
    for (size_t i = 0; i < cl->npeers; i++)
        free(cl->peers[i].name);
    free(cl->peers);
    cl->peers = NULL;
    cl->npeers = cl->cap = 0;
}

static hm_coord_peer_t *peer_get(hm_coord_client_t *cl, const char *node)
{
    for (size_t i = 0; i < cl->npeers; i++)
        if (strcmp(cl->peers[i].name, node) == 0)
            return &cl->peers[i];
    if (cl->npeers == cl->cap) {
        size_t cap = cl->cap ? cl->cap * 2 : 8;
        hm_coord_peer_t *p = realloc(cl->peers, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        cl->peers = p;
        cl->cap = cap;
    }
    memset(&cl->peers[cl->npeers], 0, sizeof(cl->peers[0]));
    cl->peers[cl->npeers].name = strdup(node);
    if (cl->peers[cl->npeers].name == NULL)
        return NULL;
    return &cl->peers[cl->npeers++];
}

void hm_coord_forget(hm_coord_client_t *cl, const char *node)
{
    for (size_t i = 0; i < cl->npeers; i++) {
        if (strcmp(cl->peers[i].name, node) == 0) {
            free(cl->peers[i].name);
            cl->peers[i] = cl->peers[--cl->npeers];
            return;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Median of the last few samples: one slow probe must not move us. */
static double latency_filter(hm_coord_client_t *cl, const char *node, double rtt)
{
    hm_coord_peer_t *p = peer_get(cl, node);
    double sorted[HM_COORD_FILTER];

    if (p == NULL)
        return rtt;
    if (p->n == HM_COORD_FILTER) {
        memmove(p->samples, p->samples + 1, sizeof(double) * (HM_COORD_FILTER - 1));
        p->n--;
    }
    p->samples[p->n++] = rtt;
    memcpy(sorted, p->samples, sizeof(double) * p->n);
    qsort(sorted, p->n, sizeof(double), cmp_double);
    return sorted[p->n / 2];
}

static void update_vivaldi(hm_coord_client_t *cl, const hm_coord_t *other, double rtt)
{
    hm_coord_t *c = &cl->coord;
    double dist = hm_coord_distance(c, other);
    double wrongness, total, weight, force;

    if (rtt < ZERO)
        rtt = ZERO;
    wrongness = fabs(dist - rtt) / rtt;
    total = c->error + other->error;
    if (total < ZERO)
        total = ZERO;
    weight = c->error / total;
    c->error = CE * weight * wrongness + c->error * (1.0 - CE * weight);
    if (c->error > ERROR_MAX)
        c->error = ERROR_MAX;
    force = CC * weight * (rtt - dist);
    apply_force(c, force, other, &cl->rng);
}

static void update_adjustment(hm_coord_client_t *cl, const hm_coord_t *other, double rtt)
{
    double sum = 0;

    cl->adj_samples[cl->adj_index] = rtt - raw_distance(&cl->coord, other);
    cl->adj_index = (cl->adj_index + 1) % HM_COORD_ADJ_WINDOW;
    for (int i = 0; i < HM_COORD_ADJ_WINDOW; i++)
        sum += cl->adj_samples[i];
    cl->coord.adjustment = sum / (2.0 * HM_COORD_ADJ_WINDOW);
}

static void update_gravity(hm_coord_client_t *cl)
{
    hm_coord_t origin;
    double dist, force;

    hm_coord_init(&origin);
    dist = hm_coord_distance(&origin, &cl->coord);
    force = -1.0 * pow(dist / GRAVITY_RHO, 2.0);
    apply_force(&cl->coord, force, &origin, &cl->rng);
}

int hm_coord_update(hm_coord_client_t *cl, const char *node, const hm_coord_t *other,
                    int64_t rtt_us)
{
    double rtt;

    if (!hm_coord_valid(other))
        return -1;
    if (rtt_us < 0 || rtt_us > 10 * 1000000LL)
        return -1;
    rtt = latency_filter(cl, node, (double)rtt_us / 1e6);
    update_vivaldi(cl, other, rtt);
    update_adjustment(cl, other, rtt);
    update_gravity(cl);
    if (!hm_coord_valid(&cl->coord)) {
        cl->resets++;
        hm_coord_init(&cl->coord);
    }
    return 0;
}
