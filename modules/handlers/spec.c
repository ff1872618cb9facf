/* Parsing and matching of Serf's event handler specifications. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static bool valid_event(const char *e)
{
    static const char *const ok[] = {
        "member-join", "member-leave", "member-failed", "member-update",
        "member-reap", "user",         "query",         "*"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(e, ok[i]) == 0)
            return true;
    return false;
}

void handlers_describe(const handler_spec_t *s, char *buf, size_t len)
{
    if (s->name[0])
        snprintf(buf, len, "Event '%s:%s' invoking '%s'", s->event, s->name, s->script);
    else
        snprintf(buf, len, "Event '%s' invoking '%s'", s->event, s->script);
}

static void spec_free(handler_spec_t *s)
{
    free(s->event);
    free(s->name);
    free(s->script);
}

int handlers_parse(handler_specs_t *out, const char *entry, uint64_t timeout_ms, char *err,
                   size_t errlen)
{
    const char *eq = strchr(entry, '=');
    char *filter = eq ? strndup(entry, (size_t)(eq - entry)) : strdup("");
    const char *script = eq ? eq + 1 : entry;
    size_t first = out->n;
    char *tok, *save = NULL, *p;

    if (filter == NULL)
        goto nomem;
    if (filter[0] == 0) {
        free(filter);
        if ((filter = strdup("*")) == NULL)
            goto nomem;
    }
    /* strings.Split keeps empty tokens: "a,,b" has an empty (invalid) one. */
    for (p = filter;; p = NULL) {
        handler_spec_t s = {0}, *nv;
        tok = p ? p : save;
        if (tok == NULL)
            break;
        char *comma = strchr(tok, ',');
        if (comma) {
            *comma = 0;
            save = comma + 1;
        } else {
            save = NULL;
        }
        if (strncmp(tok, "user:", 5) == 0) {
            s.event = strdup("user");
            s.name = strdup(tok + 5);
        } else if (strncmp(tok, "query:", 6) == 0) {
            s.event = strdup("query");
            s.name = strdup(tok + 6);
        } else {
            s.event = strdup(tok);
            s.name = strdup("");
        }
        s.script = strdup(script);
        s.timeout_ms = timeout_ms;
        if (!s.event || !s.name || !s.script) {
            spec_free(&s);
            goto nomem;
        }
        if (!valid_event(s.event)) {
            char d[512];
            handlers_describe(&s, d, sizeof(d));
            snprintf(err, errlen, "Invalid event script: %s", d);
            spec_free(&s);
            goto fail;
        }
        nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
        if (nv == NULL) {
            spec_free(&s);
            goto nomem;
        }
        out->v = nv;
        out->v[out->n++] = s;
        if (save == NULL)
            break;
    }
    free(filter);
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    free(filter);
    while (out->n > first)
        spec_free(&out->v[--out->n]);
    return -1;
}

void handlers_specs_free(handler_specs_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        spec_free(&s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

bool handlers_match(const handler_spec_t *s, const char *type, const char *name)
{
    if (strcmp(s->event, "*") == 0)
        return true;
    if (strcmp(s->event, type) != 0)
        return false;
    if ((strcmp(type, "user") == 0 || strcmp(type, "query") == 0) && s->name[0])
        return name != NULL && strcmp(s->name, name) == 0;
    return true;
}
