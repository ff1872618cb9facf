/*
 * Serf's event handler specification (serf/cmd/serf/command/agent/
 * event_handler.go): "[FILTER=]COMMAND", split at the first '='; FILTER is
 * a comma list of member-join, member-leave, member-failed, member-update,
 * member-reap, user, user:NAME, query, query:NAME or '*' (also the default).
 * One entry with N filter tokens becomes N handlers, in that order.
 */
#ifndef MOD_HANDLERS_SPEC_H
#define MOD_HANDLERS_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct handler_spec {
    char *event;         /* "member-join", ..., "user", "query" or "*" */
    char *name;          /* user:NAME / query:NAME, "" otherwise */
    char *script;        /* run as /bin/sh -c SCRIPT */
    uint64_t timeout_ms; /* 0: never killed (Serf) */
} handler_spec_t;

typedef struct handler_specs {
    handler_spec_t *v;
    size_t n;
} handler_specs_t;

/* Appends the handlers of one entry.  An invalid token fails the whole
 * entry with Serf's text: "Invalid event script: Event 'bogus' invoking 'x'". */
int handlers_parse(handler_specs_t *out, const char *entry, uint64_t timeout_ms, char *err,
                   size_t errlen);
void handlers_specs_free(handler_specs_t *s);

/* Does handler `s` run for an event of SERF_EVENT type `type` ("member-join",
 * "user", "query", ...) named `name` (user event or query name, else NULL)? */
bool handlers_match(const handler_spec_t *s, const char *type, const char *name);

/* Serf's EventScript.String(): "Event 'user:deploy' invoking 'x'". */
void handlers_describe(const handler_spec_t *s, char *buf, size_t len);

#endif
