/*
 * Serf 0.9.4 messages carried inside memberlist user messages, Serf's
 * push/pull user state, tags in node meta, the Vivaldi coordinate in ack
 * payloads and the key-query bodies (shared/spec/serf-wire.md sections 1,
 * 2, 6, 10).  Pure functions; no I/O.
 *
 * Conventions as hm_mlwire.h: encoders APPEND `[type byte][msgpack]` to an
 * hm_buf_t and return 0 or -1; decoders take the body AFTER the type byte
 * and return 0 or -1 (malformed); decoded structs point into the input
 * (strings are hm_ml_str_t, not NUL-terminated).  A Serf message on UDP is
 * `[8 = HM_ML_USER][serf type][body]`: hm_serf_put_* write from the serf
 * type byte on, so wrap with the user byte yourself (or build into a
 * buffer that already holds it).
 */
#ifndef HM_SERFWIRE_H
#define HM_SERFWIRE_H

#include <hamlet/api.h> /* hm_coord_t */
#include <hamlet/types.h>

#include "hm_mlwire.h"

enum hm_serf_msg_type {
    HM_SERF_LEAVE = 0,
    HM_SERF_JOIN = 1,
    HM_SERF_PUSH_PULL = 2,
    HM_SERF_USER_EVENT = 3,
    HM_SERF_QUERY = 4,
    HM_SERF_QUERY_RESPONSE = 5,
    HM_SERF_CONFLICT_RESPONSE = 6,
    HM_SERF_KEY_REQUEST = 7,
    HM_SERF_KEY_RESPONSE = 8,
    HM_SERF_RELAY = 9,
};

#define HM_SERF_QUERY_FLAG_ACK 1u
#define HM_SERF_QUERY_FLAG_NO_BROADCAST 2u
enum hm_serf_filter_type { HM_SERF_FILTER_NODE = 0, HM_SERF_FILTER_TAG = 1 };
#define HM_SERF_TAG_MAGIC 0xff
#define HM_SERF_META_MAX 512 /* memberlist MetaMaxSize */
#define HM_SERF_PING_VERSION 1
#define HM_SERF_COORD_DIM 8

/*
 * A msgpack array or map kept encoded: `p`/`n` cover its elements (after
 * the header), `count` is the number of elements (map: pairs).  Iterate
 * with hm_serf_next_str / hm_serf_next_pair.  `p == NULL` means nil.
 */
typedef struct hm_serf_seq {
    const uint8_t *p;
    size_t n;
    uint32_t count;
} hm_serf_seq_t;

/* Iteration helpers over a decoded (hence validated) hm_serf_seq_t:
 *   hm_mp_reader_t it; hm_mp_reader_init(&it, seq.p, seq.n);
 *   for (i = 0; i < seq.count; i++) hm_serf_next_str(&it, &s); */
int hm_serf_next_str(hm_mp_reader_t *it, hm_ml_str_t *s);                    /* raw or nil */
int hm_serf_next_pair(hm_mp_reader_t *it, hm_ml_str_t *k, hm_ml_str_t *v);   /* string map */
int hm_serf_next_ltime(hm_mp_reader_t *it, hm_ml_str_t *k, uint64_t *ltime); /* StatusLTimes */

/* ---- join (1), leave (0) ---------------------------------------------------- */

typedef struct hm_serf_intent {
    uint64_t ltime;
    hm_ml_str_t node;
    bool prune; /* leave only */
} hm_serf_intent_t;

int hm_serf_put_join(hm_buf_t *b, uint64_t ltime, const char *node);
int hm_serf_put_leave(hm_buf_t *b, uint64_t ltime, const char *node, bool prune);
int hm_serf_get_intent(const uint8_t *p, size_t n, hm_serf_intent_t *m); /* join or leave */

/* ---- userEvent (3) ------------------------------------------------------------ */

typedef struct hm_serf_user_event {
    uint64_t ltime;
    hm_ml_str_t name;
    const uint8_t *payload; /* NULL: nil (written c0) */
    size_t payload_len;
    bool cc;
} hm_serf_user_event_t;

int hm_serf_put_user_event(hm_buf_t *b, const hm_serf_user_event_t *m);
int hm_serf_get_user_event(const uint8_t *p, size_t n, hm_serf_user_event_t *m);

/* ---- query (4) ------------------------------------------------------------------ */

typedef struct hm_serf_query {
    uint64_t ltime;
    uint32_t id;
    hm_addr_t addr; /* Addr + Port: where responses go */
    hm_ml_str_t source_node;
    /* Filters: a [][]byte; each element is one filter (see below).  To
     * encode, build the elements with hm_serf_add_*_filter into a buffer
     * and set p/n/count from it (count 0: written as nil, like Serf). */
    hm_serf_seq_t filters;
    uint32_t flags;
    uint8_t relay_factor;
    int64_t timeout_ns; /* time.Duration */
    hm_ml_str_t name;
    const uint8_t *payload; /* NULL: nil */
    size_t payload_len;
} hm_serf_query_t;

int hm_serf_put_query(hm_buf_t *b, const hm_serf_query_t *m);
int hm_serf_get_query(const uint8_t *p, size_t n, hm_serf_query_t *m);

/* Filter elements: append one encoded filter as a raw element to `elems`
 * and bump *count.  Node filter [0][array of names]; tag filter
 * [1]{Expr, Tag}. */
int hm_serf_add_node_filter(hm_buf_t *elems, uint32_t *count, const char *const *names, size_t n);
int hm_serf_add_tag_filter(hm_buf_t *elems, uint32_t *count, const char *tag, const char *expr);
/* The bare filter bytes (what one Filters element contains), appended to b. */
int hm_serf_put_node_filter(hm_buf_t *b, const char *const *names, size_t n);
int hm_serf_put_tag_filter(hm_buf_t *b, const char *tag, const char *expr);

typedef struct hm_serf_filter {
    uint8_t type;        /* enum hm_serf_filter_type */
    hm_serf_seq_t nodes; /* node filter: strings */
    hm_ml_str_t tag, expr;
} hm_serf_filter_t;

/* Decodes one filter element (the bytes of one Filters entry).  Unknown
 * filter type or malformed body: -1 (Serf then does not process the query). */
int hm_serf_get_filter(const uint8_t *p, size_t n, hm_serf_filter_t *f);
/* Node filter: is `name` in the list (exact match)? */
bool hm_serf_node_filter_has(const hm_serf_filter_t *f, const char *name);

/* ---- queryResponse (5) ----------------------------------------------------------- */

typedef struct hm_serf_query_response {
    uint64_t ltime;
    uint32_t id;
    hm_ml_str_t from;
    uint32_t flags;
    const uint8_t *payload; /* NULL: nil (acks) */
    size_t payload_len;
} hm_serf_query_response_t;

int hm_serf_put_query_response(hm_buf_t *b, const hm_serf_query_response_t *m);
int hm_serf_get_query_response(const uint8_t *p, size_t n, hm_serf_query_response_t *m);

/* ---- relay (9) ---------------------------------------------------------------------- */

/* [9]{DestAddr:{IP,Port,Zone:""}, DestName}[inner message bytes] */
int hm_serf_put_relay(hm_buf_t *b, const hm_addr_t *dest, const char *dest_name,
                      const uint8_t *inner, size_t inner_len);
int hm_serf_get_relay(const uint8_t *p, size_t n, hm_addr_t *dest, hm_ml_str_t *dest_name,
                      const uint8_t **inner, size_t *inner_len);

/* ---- pushPull (2): Serf's push/pull user state ------------------------------------- */

typedef struct hm_serf_event {
    hm_ml_str_t name;
    const uint8_t *payload; /* NULL: nil */
    size_t payload_len;
} hm_serf_event_t;

/* One slot of the event dedupe buffer; present == false: nil slot. */
typedef struct hm_serf_event_slot {
    bool present;
    uint64_t ltime;
    const hm_serf_event_t *events;
    size_t n;
} hm_serf_event_slot_t;

typedef struct hm_serf_status_ltime {
    hm_ml_str_t name;
    uint64_t ltime;
} hm_serf_status_ltime_t;

typedef struct hm_serf_push_pull {
    uint64_t ltime, event_ltime, query_ltime;
    const hm_serf_status_ltime_t *status; /* StatusLTimes (map, written in this order) */
    size_t n_status;
    const hm_ml_str_t *left; /* LeftMembers; NULL with n_left 0: nil */
    size_t n_left;
    const hm_serf_event_slot_t *slots; /* Events: Serf sends all 512 slots */
    size_t n_slots;
} hm_serf_push_pull_t;

int hm_serf_put_push_pull(hm_buf_t *b, const hm_serf_push_pull_t *m);

/* Decoded view: clocks plus the encoded collections. */
typedef struct hm_serf_push_pull_view {
    uint64_t ltime, event_ltime, query_ltime;
    hm_serf_seq_t status; /* map name -> ltime: hm_serf_next_ltime */
    hm_serf_seq_t left;   /* strings: hm_serf_next_str */
    hm_serf_seq_t events; /* slots: walk them with hm_serf_pp_events */
} hm_serf_push_pull_view_t;

/* Validates the whole body first, so on 0 every collection iterates
 * without error. */
int hm_serf_get_push_pull(const uint8_t *p, size_t n, hm_serf_push_pull_view_t *v);
/* Calls fn once per event of every non-nil slot, with the slot's LTime
 * (Serf replays them as user events with that LTime).  fn < 0 stops (-1). */
typedef int (*hm_serf_event_fn)(void *ud, uint64_t ltime, const hm_serf_event_t *ev);
int hm_serf_pp_events(const hm_serf_push_pull_view_t *v, hm_serf_event_fn fn, void *ud);

/* ---- tags in node meta (section 6) ---------------------------------------------------- */

/* 0xff + msgpack map, keys sorted (Go's order is random; sorting keeps the
 * meta stable so re-encoding never looks like an update).  No tags:
 * `ff 80`.  -1 (nothing appended) if the result would exceed 512 bytes. */
int hm_serf_put_tags(hm_buf_t *b, const hm_tags_t *tags);
/* Calls fn(key, value) per tag.  Empty meta or no 0xff prefix: one tag
 * "role" = the whole meta (Serf's legacy rule).  -1 if malformed (tags
 * already delivered stay delivered, as Serf keeps a partial map). */
typedef int (*hm_serf_tag_fn)(void *ud, hm_ml_str_t key, hm_ml_str_t value);
int hm_serf_get_tags(const uint8_t *meta, size_t n, hm_serf_tag_fn fn, void *ud);

/* ---- coordinate in ack payloads (section 10) -------------------------------------------- */

/* [0x01]{Adjustment, Error, Height, Vec[8]} */
int hm_serf_put_coord(hm_buf_t *b, const hm_coord_t *c);
/* Whole ack payload incl. the version byte.  -1: empty, version != 1,
 * malformed, or Vec not 8-dimensional. */
int hm_serf_get_coord(const uint8_t *p, size_t n, hm_coord_t *c);

/* ---- key query payloads (section 2.7) -------------------------------------------------------- */

/* [7]{Key: raw key bytes}; list-keys sends an empty non-nil key. */
int hm_serf_put_key_request(hm_buf_t *b, const uint8_t *key, size_t n);
int hm_serf_get_key_request(const uint8_t *p, size_t n, const uint8_t **key, size_t *len);

typedef struct hm_serf_key_response {
    bool result;
    hm_ml_str_t message;
    hm_serf_seq_t keys; /* decoded: strings (base64); p NULL: nil */
    hm_ml_str_t primary_key;
} hm_serf_key_response_t;

/* keys == NULL: Keys written as nil (every reply but list-keys). */
int hm_serf_put_key_response(hm_buf_t *b, bool result, const char *message, const char *const *keys,
                             size_t n_keys, const char *primary_key);
int hm_serf_get_key_response(const uint8_t *p, size_t n, hm_serf_key_response_t *m);

/* ---- conflictResponse (6): a Member ------------------------------------------------------------
 */

typedef struct hm_serf_member {
    bool present; /* false: the body was nil (responder does not know the node) */
    hm_ml_str_t name;
    hm_addr_t addr;
    hm_serf_seq_t tags; /* decoded: string pairs */
    uint8_t status;     /* hm_status_t numbering */
    uint8_t vsn[6];     /* ProtocolMin/Max/Cur, DelegateMin/Max/Cur */
} hm_serf_member_t;

/* m == NULL writes [6][c0].  Tags from `tags` (sorted, as for meta). */
int hm_serf_put_conflict_response(hm_buf_t *b, const hm_member_t *m);
int hm_serf_get_conflict_response(const uint8_t *p, size_t n, hm_serf_member_t *m);

#endif
