/*
 * Serf messages as the Serf layer sees them: decoded structs and the
 * calls it makes to encode and decode them.  The codecs themselves are the
 * wire layer's (hm_serfwire.h); hm_serf_msg.c only adapts them to the
 * shapes the Serf logic keeps (arrays instead of encoded sequences).
 */
#ifndef HM_SERF_MSG_H
#define HM_SERF_MSG_H

#include <hamlet/api.h>

#include "hm_mlwire.h"

enum sw_msg_type {
    SW_MSG_LEAVE = 0,
    SW_MSG_JOIN = 1,
    SW_MSG_PUSH_PULL = 2,
    SW_MSG_USER_EVENT = 3,
    SW_MSG_QUERY = 4,
    SW_MSG_QUERY_RESPONSE = 5,
    SW_MSG_CONFLICT_RESPONSE = 6,
    SW_MSG_KEY_REQUEST = 7,
    SW_MSG_KEY_RESPONSE = 8,
    SW_MSG_RELAY = 9,
};

#define SW_QUERY_FLAG_ACK 1u
#define SW_QUERY_FLAG_NO_BROADCAST 2u
#define SW_FILTER_NODE 0
#define SW_FILTER_TAG 1
#define SW_MAX_FILTERS 64

typedef struct sw_intent {
    uint64_t ltime;
    hm_ml_str_t node;
    bool prune; /* leave only */
} sw_intent_t;

typedef struct sw_user_event {
    uint64_t ltime;
    hm_ml_str_t name;
    const uint8_t *payload;
    size_t len;
    bool cc;
} sw_user_event_t;

typedef struct sw_bytes {
    const uint8_t *p;
    size_t n;
} sw_bytes_t;

typedef struct sw_query {
    uint64_t ltime;
    uint32_t id;
    hm_addr_t addr; /* Addr + Port */
    hm_ml_str_t source_node;
    sw_bytes_t filters[SW_MAX_FILTERS];
    size_t n_filters;
    uint32_t flags;
    uint8_t relay_factor;
    int64_t timeout_ns;
    hm_ml_str_t name;
    const uint8_t *payload;
    size_t len;
} sw_query_t;

typedef struct sw_query_response {
    uint64_t ltime;
    uint32_t id;
    hm_ml_str_t from;
    uint32_t flags;
    const uint8_t *payload;
    size_t len;
} sw_query_response_t;

/* Push/pull user state.  Decoded names point into the input. */
typedef struct sw_pp_status {
    hm_ml_str_t name;
    uint64_t ltime;
} sw_pp_status_t;

typedef struct sw_pp_event {
    hm_ml_str_t name;
    const uint8_t *payload;
    size_t len;
} sw_pp_event_t;

typedef struct sw_pp_slot {
    bool used; /* false: nil */
    uint64_t ltime;
    sw_pp_event_t *ev;
    size_t n;
} sw_pp_slot_t;

typedef struct sw_push_pull {
    uint64_t ltime, event_ltime, query_ltime;
    sw_pp_status_t *status;
    size_t n_status;
    hm_ml_str_t *left;
    size_t n_left;
    sw_pp_slot_t *slots;
    size_t n_slots;
    sw_pp_event_t *events_block; /* decode only: what the slots point into */
} sw_push_pull_t;

/* A Serf Member as the `_serf_conflict` response carries it. */
typedef struct sw_member {
    bool nil;
    hm_ml_str_t name;
    hm_addr_t addr;
    const hm_tags_t *tags; /* encode only */
    int status;
    uint8_t vsn[6]; /* pmin pmax pcur dmin dmax dcur */
} sw_member_t;

/* Encoders append [type][body]; 0 or -1. */
int sw_put_join(hm_buf_t *b, uint64_t ltime, const char *node);
int sw_put_leave(hm_buf_t *b, uint64_t ltime, const char *node, bool prune);
int sw_put_user_event(hm_buf_t *b, const sw_user_event_t *e);
int sw_put_query(hm_buf_t *b, const sw_query_t *q);
int sw_put_query_response(hm_buf_t *b, const sw_query_response_t *r);
int sw_put_relay(hm_buf_t *b, const hm_addr_t *dest, const char *dest_name,
                 const sw_query_response_t *r);
int sw_put_push_pull(hm_buf_t *b, const sw_push_pull_t *pp);
int sw_put_conflict_member(hm_buf_t *b, const hm_member_t *m); /* [6][Member or nil] */
/* Filters: [0][names...], [1]{Expr, Tag}; no outer type byte. */
int sw_put_node_filter(hm_buf_t *b, const char *const *names, size_t n);
int sw_put_tag_filter(hm_buf_t *b, const char *tag, const char *expr);
/* Node meta: 0xff + map of tags (-1 when over 512 bytes). */
int sw_put_tags(hm_buf_t *b, const hm_tags_t *tags);
/* Ack payload: [1] + Coordinate. */
int sw_put_coord(hm_buf_t *b, const hm_coord_t *c);

/* Decoders take the body after the type byte; 0 or -1. */
int sw_get_intent(const uint8_t *p, size_t n, sw_intent_t *m);
int sw_get_user_event(const uint8_t *p, size_t n, sw_user_event_t *m);
int sw_get_query(const uint8_t *p, size_t n, sw_query_t *m);
int sw_get_query_response(const uint8_t *p, size_t n, sw_query_response_t *m);
/* Relay: header decoded, *inner points at the inner [type][body]. */
int sw_get_relay(const uint8_t *p, size_t n, hm_addr_t *dest, hm_ml_str_t *dest_name,
                 const uint8_t **inner, size_t *inner_len);
/* Allocates arrays; free with sw_push_pull_free. */
int sw_get_push_pull(const uint8_t *p, size_t n, sw_push_pull_t *pp);
void sw_push_pull_free(sw_push_pull_t *pp);
int sw_get_member(const uint8_t *p, size_t n, sw_member_t *m);
/* Filters (whole filter bytes, type byte included): node filter matches
 * `self`? tag filter: tag and expr (copied, NUL-terminated, malloc'ed). */
int sw_get_node_filter_has(const uint8_t *p, size_t n, const char *self);
int sw_get_tag_filter(const uint8_t *p, size_t n, char **tag, char **expr);
/* Meta to tags: allocates keys and values; free with hm_serf_tags_free.
 * Legacy (no 0xff) gives {"role": meta}. */
int sw_get_tags(const uint8_t *p, size_t n, hm_tags_t *tags);
/* Ack payload -> coordinate: 0 ok, -1 undecodable, -2 wrong version. */
int sw_get_coord(const uint8_t *p, size_t n, hm_coord_t *c);

#endif
