/* Plain data types shared by the core API and the hooks. */
#ifndef HAMLET_TYPES_H
#define HAMLET_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HM_LOG_TRACE,
    HM_LOG_DEBUG,
    HM_LOG_INFO,
    HM_LOG_WARN,
    HM_LOG_ERR,
} hm_log_level_t;

/* A network address as memberlist carries it: 4 or 16 IP bytes + port. */
typedef struct hm_addr {
    uint8_t ip[16];
    uint8_t len; /* 4 or 16 */
    uint16_t port;
} hm_addr_t;

/* A growable byte buffer.  Owned by whoever created it. */
typedef struct hm_buf {
    uint8_t *data;
    size_t len, cap;
} hm_buf_t;

int hm_buf_reserve(hm_buf_t *b, size_t extra);
int hm_buf_append(hm_buf_t *b, const void *p, size_t n);
void hm_buf_reset(hm_buf_t *b);
void hm_buf_free(hm_buf_t *b);

typedef struct hm_tag {
    const char *key;
    const char *value;
} hm_tag_t;

typedef struct hm_tags {
    hm_tag_t *v;
    size_t n;
} hm_tags_t;

/* Serf member status, numbered as Serf's MemberStatus. */
typedef enum {
    HM_STATUS_NONE = 0,
    HM_STATUS_ALIVE = 1,
    HM_STATUS_LEAVING = 2,
    HM_STATUS_LEFT = 3,
    HM_STATUS_FAILED = 4,
} hm_status_t;

const char *hm_status_name(hm_status_t s); /* "alive", "leaving", ... */

/* One row of the membership table, as modules read it. */
typedef struct hm_member {
    const char *name;
    hm_addr_t addr;
    hm_tags_t tags;
    hm_status_t status;
    uint8_t vsn[6]; /* pmin pmax pcur dmin dmax dcur */
    uint32_t incarnation;
} hm_member_t;

typedef enum {
    HM_EVENT_MEMBER_JOIN,
    HM_EVENT_MEMBER_LEAVE,
    HM_EVENT_MEMBER_FAILED,
    HM_EVENT_MEMBER_UPDATE,
    HM_EVENT_MEMBER_REAP,
} hm_member_event_type_t;

const char *hm_member_event_name(hm_member_event_type_t t); /* "member-join" */

typedef struct hm_member_event {
    hm_member_event_type_t type;
    const hm_member_t *const *members;
    size_t n;
} hm_member_event_t;

typedef struct hm_user_event {
    uint64_t ltime;
    const char *name;
    const uint8_t *payload;
    size_t len;
    bool coalesce;
} hm_user_event_t;

typedef struct hm_query {
    uint64_t ltime;
    uint32_t id;
    const char *name;
    const uint8_t *payload;
    size_t len;
    uint64_t deadline_ms; /* monotonic ms after which responses are useless */
    void *opaque;         /* core's handle: pass to hm_query_respond() */
} hm_query_t;

#endif
