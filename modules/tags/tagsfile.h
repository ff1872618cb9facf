/*
 * Serf's tags file (-tags-file): a JSON object of strings, written by Go's
 * json.MarshalIndent(tags, "", "  ") (keys sorted, HTML-safe escapes) with
 * mode 0600.  Pure, no daemon.
 */
#ifndef MOD_TAGS_TAGSFILE_H
#define MOD_TAGS_TAGSFILE_H

#include <hamlet/types.h>

/* Loads into a newly allocated set (free with tags_set_free).  A missing
 * file is not an error (Serf starts with no tags): returns 1 then. */
int tags_file_load(const char *path, hm_tags_t *out, char *err, size_t errlen);
int tags_file_save(const char *path, const hm_tags_t *t, char *err, size_t errlen);
/* Go's encoding of the whole object, exactly (for tests and comparison). */
char *tags_file_encode(const hm_tags_t *t);
void tags_set_free(hm_tags_t *t);
/* Same keys and values, in any order. */
int tags_equal(const hm_tags_t *a, const hm_tags_t *b);

#endif
