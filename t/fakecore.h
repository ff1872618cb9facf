/*
 * A fake daemon core for module tests: implements <hamlet/api.h>,
 * <hamlet/hook.h> and the <hamlet/conf.h> getters over a tiny config tree,
 * records what a module registers and lets the test drive it.  A module's
 * sources are linked straight into the test with this file.
 */
#ifndef HM_FAKECORE_H
#define HM_FAKECORE_H

#include <hamlet/hamlet.h>

#define FC_MAX 32

typedef struct fc_named {
    char name[64];
    void *fn, *ud;
} fc_named_t;

typedef struct fc_response {
    uint32_t id;
    uint8_t data[4096];
    size_t len;
} fc_response_t;

typedef struct fakecore {
    struct event_base *base;
    hm_member_t self;
    size_t members;
    /* registrations */
    hm_packet_fn packet_out, packet_in;
    hm_stream_out_fn stream_out;
    hm_stream_in_fn stream_in;
    void *transform_ud;
    size_t overhead;
    fc_named_t queries[FC_MAX], filters[FC_MAX], rpcs[FC_MAX];
    size_t nqueries, nfilters, nrpcs;
    hm_member_event_fn member_fn;
    hm_user_event_fn user_fn;
    void *member_ud, *user_ud;
    hm_metrics_fn metrics_fn;
    void *metrics_ud;
    /* effects */
    fc_response_t responses[FC_MAX];
    size_t nresponses;
    int respond_rc; /* what hm_query_respond returns */
    char last_log[1024];
    char logs[16384];
    /* hm_query_send */
    hm_query_params_t sent;
    char sent_name[64];
    uint8_t sent_payload[1024];
    hm_query_reply_fn sent_fn;
    void *sent_ud;
    double metric_sum;
} fakecore_t;

extern fakecore_t fc;

/* The context handed to the module (one module per test). */
hm_ctx_t *fc_ctx(void);

/* Config: a map node; scalars and lists of scalars; sections. */
hm_conf_node_t *fc_map(void);
void fc_set(hm_conf_node_t *map, const char *key, const char *value);
void fc_list_add(hm_conf_node_t *map, const char *key, const char *value);
hm_conf_node_t *fc_section_add(hm_conf_node_t *map, const char *key); /* in a list */
/* Fills absent scalar keys from the module's declared defaults. */
void fc_defaults(hm_conf_node_t *map, const hm_conf_key_t *keys);
void fc_free(hm_conf_node_t *n);

/* Runs a query hook registered under `name` (NULL: the catch-all one). */
int fc_query(const char *name, const hm_query_t *q);
void *fc_named_fn(fc_named_t *v, size_t n, const char *name, void **ud);
/* Sums the metric called `name` from the module's metrics hook. */
double fc_metric(const char *name);

#endif
