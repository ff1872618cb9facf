/*
 * Serf's tags file (-tags-file): the node's tags as the JSON object Go's
 * json.MarshalIndent(tags, "", "  ") writes (keys sorted bytewise, strings
 * HTML-safe: < > & as \u003c \u003e \u0026, U+2028/9 escaped, invalid
 * UTF-8 as \ufffd; no trailing newline), mode 0600.  The one
 * implementation of the project (the agent's tags_file).
 */
#ifndef HM_TAGSFILE_H
#define HM_TAGSFILE_H

#include <stddef.h>

#include <hamlet/types.h>

/* Go's bytes for the object (malloc'ed, NUL-terminated), NULL if no memory. */
char *hm_tagsfile_encode(const hm_tags_t *t);
/* Replaces path atomically (path.tmp, then rename), 0600.  0 or -1 + err. */
int hm_tagsfile_save(const char *path, const hm_tags_t *t, char *err, size_t errlen);
/* Calls set(ud, key, value) for each tag of the file.  1 when the file does
 * not exist (Serf then starts without tags), 0 loaded, -1 + err (not JSON,
 * not an object of strings -- Go's Unmarshal into map[string]string fails
 * the same way -- or set() failed). */
typedef int (*hm_tagsfile_set_fn)(void *ud, const char *key, const char *value);
int hm_tagsfile_load(const char *path, hm_tagsfile_set_fn set, void *ud, char *err,
                     size_t errlen);

#endif
