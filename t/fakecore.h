/*
 * The daemon core for module unit tests: a thin layer over the real core
 * (libhmcore.a).  The hook table, the config tree and its validation against
 * the module's declared keys, the logger and the metrics are the real ones
 * (hm_daemon_new/hm_ctx_new); the test drives the module through the same
 * runners the agent calls (hm_run_query, hm_run_packet_in, ...).
 *
 * Only what needs a running cluster is a test double: the cluster half of
 * <hamlet/api.h> (hm_self, hm_members_count, hm_query_respond,
 * hm_query_send, ...), implemented by the agent in hamletd.  Its doubles
 * record what the module did in `fc` for the test to check.
 *
 * A test links exactly one module's sources with this file.
 */
#ifndef HM_FAKECORE_H
#define HM_FAKECORE_H

#include <hamlet/hamlet.h>

#include "../core/hm_daemon.h"
#include "../core/hm_hooks.h"

#define FC_MAX 32

typedef struct fc_response {
    uint32_t id;
    uint8_t data[4096];
    size_t len;
} fc_response_t;

/* The cluster doubles' state, and the log lines seen (reset by fc_reset). */
typedef struct fakecore {
    struct event_base *base; /* the daemon's event base (set by the test) */
    hm_member_t self;
    size_t members;
    /* hm_query_respond */
    fc_response_t responses[FC_MAX];
    size_t nresponses;
    int respond_rc; /* what hm_query_respond returns */
    /* hm_query_send */
    hm_query_params_t sent;
    char sent_name[64];
    uint8_t sent_payload[1024];
    hm_query_reply_fn sent_fn;
    void *sent_ud;
    /* every line the real logger wrote (through a real hm_hook_log observer) */
    char last_log[1024];
    char logs[16384];
} fakecore_t;

extern fakecore_t fc;

/* The module's context in a real daemon shell (created on first use). */
hm_ctx_t *fc_ctx(void);
struct hm_daemon *fc_daemon(void);
/* Between sections: what unloading the module leaves (its hooks forgotten,
 * its packet overhead and data cleared, as the loader does), `fc` cleared. */
void fc_reset(void);
/* How many hooks of a kind are registered ("query", "packet_in", ...). */
int fc_hooks(const char *kind);

/* Config: real nodes.  A map; scalars and lists of scalars; sections. */
hm_conf_node_t *fc_map(void);
void fc_set(hm_conf_node_t *map, const char *key, const char *value);
void fc_list_add(hm_conf_node_t *map, const char *key, const char *value);
hm_conf_node_t *fc_section_add(hm_conf_node_t *map, const char *key); /* in a list */
/* The core's validation against the module's declared keys (defaults
 * filled in, values normalised); returns its result, printing why on error. */
int fc_defaults(hm_conf_node_t *map, const hm_conf_key_t *keys);
void fc_free(hm_conf_node_t *n);

/* Runs the query hooks as the agent does: named ones for q->name (name
 * given, must be q->name), or the catch-all ones too (name NULL). */
int fc_query(const char *name, const hm_query_t *q);
/* Sums the metric called `name` over the real metrics runner. */
double fc_metric(const char *name);
/* A small file's text (up to 4 KiB, static buffer; "" if unreadable). */
char *fc_slurp(const char *path);

#endif
