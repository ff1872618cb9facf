/*
 * Go RE2 regular expressions on POSIX regcomp(REG_EXTENDED): the one
 * translator of the project (the Serf layer's query tag filters, and
 * mod_tags' `tags`/`tags-query` filters).  Serf matches tags with Go's
 * regexp package; the RE2 constructs people write become ERE:
 *   (?:x) -> (x);  a leading (?i) -> REG_ICASE;  \d \D \w \W \s \S ->
 *   bracket classes (also inside [...]);  . -> [^\n] (RE2's . skips a
 *   newline);  \A -> ^, \z -> $;  \Q...\E -> escaped literals;  lazy
 *   quantifiers -> greedy (same match / no-match answer);  \t \n \r \f \v
 *   \a;  escaped punctuation -> the character.
 * Refused (Go refuses them, or ERE means something else): backreferences,
 * other flag groups, named groups, \p{..}, \b \B.  Matching is bytewise.
 */
#ifndef HM_REGEX_H
#define HM_REGEX_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct hm_re {
    regex_t re;
    bool ok;
} hm_re_t;

/* RE2 `src` as ERE into out[outlen]; *icase set by a leading (?i).
 * 0, or -1 with *err (a static string). */
int hm_re_translate(const char *src, char *out, size_t outlen, bool *icase, const char **err);
/* anchored: as Serf's members filter, "^" + expr + "$" textually (so
 * "a|b" means "^a|b$").  Unanchored: as Go's regexp.MatchString. */
int hm_re_compile(hm_re_t *r, const char *expr, bool anchored, const char **err);
bool hm_re_match(const hm_re_t *r, const char *s);
void hm_re_free(hm_re_t *r);
/* Compile, match, free: 1 match, 0 no match, -1 bad expression. */
int hm_re_match_once(const char *expr, const char *s, bool anchored, const char **err);

#endif
