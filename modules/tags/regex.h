/*
 * Go RE2 syntax on POSIX regcomp(REG_EXTENDED).  Serf filters tags with Go's
 * regexp package; this translates the RE2 constructs people write into ERE
 * and refuses what ERE cannot express the same way:
 *   (?:x) -> (x);  leading (?i) -> REG_ICASE;  \d \D \w \W \s \S -> classes
 *   (also inside [...]);  . -> [^\n] (RE2's . does not match a newline);
 *   \A -> ^, \z -> $;  \Q...\E -> escaped literals;  lazy *? +? ?? {n,m}?
 *   -> greedy (same yes/no answer);  \. \- \/ ... -> the literal character.
 * Refused, as Go refuses them or because ERE differs: backreferences \1..\9,
 * other (?flags) groups, \p{..} Unicode classes, \b \B (word boundaries are
 * GNU-only and differ at UTF-8), named groups (?P<..>).
 * Matching is bytewise (no UTF-8 awareness): `.` matches one byte, not one
 * rune -- the only difference on ASCII-free values.
 */
#ifndef MOD_TAGS_REGEX_H
#define MOD_TAGS_REGEX_H

#include <regex.h>
#include <stdbool.h>

typedef struct tags_re {
    regex_t re;
    bool ok;
} tags_re_t;

/* Translate RE2 `src` to ERE into `out`; *icase set by a leading (?i).
 * 0, or -1 with *err. */
int tags_re_translate(const char *src, char *out, size_t outlen, bool *icase, const char **err);
/* anchored: Serf's members filter, "^" + expr + "$" (textually, as Serf
 * builds it, so "a|b" means "^a|b$").  Unanchored: Serf's query filter. */
int tags_re_compile(tags_re_t *r, const char *expr, bool anchored, const char **err);
bool tags_re_match(const tags_re_t *r, const char *s);
void tags_re_free(tags_re_t *r);

#endif
