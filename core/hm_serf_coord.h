/*
 * Vivaldi network coordinates, as serf/coordinate (client.go,
 * coordinate.go) computes them with DefaultConfig: 8 dimensions, error max
 * 1.5, CE = CC = 0.25, adjustment window 20, height min 1e-5 s, latency
 * filter of 3 samples (median), gravity rho 150.  Pure computation.
 */
#ifndef HM_SERF_COORD_H
#define HM_SERF_COORD_H

#include <hamlet/api.h>

#define HM_COORD_DIM 8
#define HM_COORD_ADJ_WINDOW 20
#define HM_COORD_FILTER 3

typedef struct hm_coord_peer {
    char *name;
    double samples[HM_COORD_FILTER];
    unsigned n;
} hm_coord_peer_t;

typedef struct hm_coord_client {
    hm_coord_t coord;
    double adj_samples[HM_COORD_ADJ_WINDOW];
    unsigned adj_index;
    hm_coord_peer_t *peers; /* latency filter per peer */
    size_t npeers, cap;
    uint64_t resets;
    uint64_t rng; /* for the random unit vector when two nodes coincide */
} hm_coord_client_t;

void hm_coord_init(hm_coord_t *c); /* origin, error 1.5, height 1e-5 */
bool hm_coord_valid(const hm_coord_t *c);
double hm_coord_distance(const hm_coord_t *a, const hm_coord_t *b); /* seconds */

void hm_coord_client_init(hm_coord_client_t *cl, uint64_t seed);
void hm_coord_client_free(hm_coord_client_t *cl);
/* Feed one RTT to `node` whose coordinate is `other`.  0, or -1 when the
 * sample is rejected (invalid coordinate, rtt < 0 or > 10 s). */
int hm_coord_update(hm_coord_client_t *cl, const char *node, const hm_coord_t *other,
                    int64_t rtt_us);
void hm_coord_forget(hm_coord_client_t *cl, const char *node);

#endif
