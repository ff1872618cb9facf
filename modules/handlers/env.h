/*
 * The environment and standard input of a handler, exactly as Serf's
 * invokeEventScript builds them (serf/cmd/serf/command/agent/invoke.go).
 */
#ifndef MOD_HANDLERS_ENV_H
#define MOD_HANDLERS_ENV_H

#include <hamlet/hamlet.h>

/* One event as handlers see it. */
typedef struct handler_event {
    const char *type; /* SERF_EVENT: "member-join", ..., "user", "query" */
    /* member events */
    const hm_member_t *const *members;
    size_t n;
    /* user events and queries */
    const char *name;
    uint64_t ltime;
    const uint8_t *payload;
    size_t len;
} handler_event_t;

/* SERF_TAG_ suffix: upper-cased, every byte outside [A-Z0-9_] -> '_'. */
void handlers_tag_env_name(const char *key, char *out, size_t len);

/* `base` (the daemon's environment) plus SERF_EVENT, SERF_SELF_NAME,
 * SERF_SELF_ROLE, SERF_TAG_* (this node's tags), then SERF_USER_EVENT /
 * SERF_USER_LTIME or SERF_QUERY_NAME / SERF_QUERY_LTIME; a later value of
 * the same variable replaces an earlier one (Go's exec dedups so).
 * NULL-terminated, free with handlers_env_free. */
char **handlers_env(char *const *base, const hm_member_t *self, const handler_event_t *ev);
void handlers_env_free(char **env);

/* Standard input: one "NAME\tIP\tROLE\tTAGS\n" line per member (tabs and
 * newlines in NAME, ROLE, TAGS written as \t and \n), or the payload with a
 * '\n' appended when it does not end with one (nothing when empty). */
int handlers_stdin(const handler_event_t *ev, hm_buf_t *out);

/* Go's net.IP.String() of a member address (IPv4-mapped v6 as dotted). */
void handlers_ip_string(const hm_addr_t *a, char *buf, size_t len);

#endif
