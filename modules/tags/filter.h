/*
 * Tag filters.
 *
 * Serf's filters (tags_serf_*): "KEY=REGEXP", split at the first '=', the
 * regexp matched against the member's value of KEY ("" when absent).
 * Several filters may be given one per line ('\n'); all must match.
 *   members mode (anchored): as `serf members -tag`, Serf compiles "^RE$";
 *   query mode (unanchored): as a node deciding whether a query is for it.
 *
 * The targeting expression (tags_expr_*), for orchestration:
 *   expr  := term ( ',' term )*             all terms must hold
 *   term  := '!' term                       negation
 *          | KEY                            the tag is present
 *          | KEY '='  VALUES | KEY '!=' VALUES   glob match against any of
 *                                           VALUES ('|'-separated; * ? [..])
 *          | KEY '~'  RE     | KEY '!~' RE  RE2 regexp, anchored as Serf
 *          | KEY ( '<' | '<=' | '>' | '>=' ) NUMBER
 *                                           numeric; a missing or
 *                                           non-numeric tag never matches
 *   KEY   := tag name, or @name / @status / @addr for the member's fields
 *   A value may be written "double quoted" (with \" and \\) to hold ',' '|'
 *   or spaces; spaces around terms and operators are ignored.
 * Examples: role=web,dc!=east,cpu>=4   !maintenance   role=web|db,@name~web-.*
 */
#ifndef MOD_TAGS_FILTER_H
#define MOD_TAGS_FILTER_H

#include <stdbool.h>

#include <hamlet/types.h>

const char *tags_get(const hm_tags_t *t, const char *key); /* NULL if absent */

/* 1 match, 0 no match, -1 bad filter (*err set). */
int tags_serf_match(const char *filters, const hm_member_t *m, bool anchored, const char **err);

typedef struct tags_expr tags_expr_t;
tags_expr_t *tags_expr_parse(const char *src, const char **err);
bool tags_expr_eval(const tags_expr_t *e, const hm_member_t *m);
void tags_expr_free(tags_expr_t *e);
/* Parse + eval + free: 1, 0 or -1. */
int tags_expr_match(const char *src, const hm_member_t *m, const char **err);

#endif
