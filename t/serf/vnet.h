/*
 * A tiny virtual network for Serf-layer tests: N hm_serf_t on a virtual
 * clock, datagrams delivered after a fixed latency, streams as reliable
 * exchanges.  Nodes are "s<i>" at 10.0.0.<i+1>:7946.  Everything each node
 * reports (member events, user events, queries, query replies, logs) is
 * recorded for assertions.
 */
#ifndef T_SERF_VNET_H
#define T_SERF_VNET_H

#include "hm_serf.h"

#define VNET_MAX 16

typedef struct vnet_rec {
    int kind;       /* 'J' join, 'L' leave, 'F' failed, 'U' update, 'R' reap, 'E' user event,
                       'Q' query, 'A' ack, 'P' response, 'D' query done */
    char who[64];   /* member name / event name / query name / reply from */
    char data[128]; /* payload (as text) */
    uint64_t ltime;
    uint64_t at;
} vnet_rec_t;

typedef struct vnet_node {
    hm_serf_t *serf;
    bool up;
    bool block_in; /* drop all incoming datagrams */
    vnet_rec_t *rec;
    size_t nrec, cap;
    char logbuf[64][160];
    size_t nlog;
    /* auto-respond to queries with this payload (NULL: don't) */
    const char *answer;
    bool answer_twice;  /* respond a second time (to see it refused) */
    char last_err[256]; /* error of the last refused response */
    uint64_t last_opaque_deadline;
    const void *last_opaque;
    bool shutdown;
    size_t member_callbacks, user_callbacks;
    size_t joined;
    bool join_done;
} vnet_node_t;

typedef struct vnet vnet_t;

vnet_t *vnet_new(void);
void vnet_free(vnet_t *v);
/* cfg may be NULL (local profile defaults); name and addr are filled in. */
int vnet_add(vnet_t *v, hm_serf_config_t *cfg);
int vnet_add_named(vnet_t *v, hm_serf_config_t *cfg, const char *name, int addr_index);
vnet_node_t *vnet_node(vnet_t *v, int i);
void vnet_addr(int i, hm_addr_t *a);
uint32_t vnet_join(vnet_t *v, int i, int target, bool ignore_old);
void vnet_crash(vnet_t *v, int i);
void vnet_run(vnet_t *v, uint64_t ms); /* advance the clock by ms */
uint64_t vnet_now(vnet_t *v);
/* Status of `name` as node i sees it (HM_STATUS_NONE if unknown). */
hm_status_t vnet_status(vnet_t *v, int i, const char *name);
size_t vnet_count(vnet_node_t *n, int kind, const char *who);
/* Run until cond(v, ud) or ms elapse; returns true if cond became true. */
bool vnet_run_until(vnet_t *v, uint64_t ms, bool (*cond)(vnet_t *, void *), void *ud);
void *vnet_ud(vnet_t *v, int i); /* ud for vnet_query_cb: replies recorded on node i */
/* Deliver a datagram to node i as if from node index from_addr. */
void vnet_inject(vnet_t *v, int i, int from_addr, const uint8_t *p, size_t n);
void vnet_query_cb(void *ud, hm_query_reply_type_t t, const char *from, const uint8_t *p, size_t n);

#endif
