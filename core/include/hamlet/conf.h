/*
 * Configuration schema and read access.
 *
 * The core and every module declare the keys they accept as a table of
 * hm_conf_key_t terminated by HM_CONF_END.  The loader validates the YAML
 * tree against the tables (unknown key, wrong type, out-of-range value: an
 * error naming file:line:column and the key path), fills in defaults, and
 * hands each module its validated subtree.
 */
#ifndef HAMLET_CONF_H
#define HAMLET_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HM_CONF_STRING,
    HM_CONF_INT,      /* integer, checked against [min, max] */
    HM_CONF_BOOL,     /* true/false/yes/no/on/off */
    HM_CONF_DURATION, /* "500ms", "10s", "5m", "24h"; read in milliseconds */
    HM_CONF_SIZE,     /* "512", "4k", "1m"; read in bytes */
    HM_CONF_ADDR,     /* "host:port", "[v6]:port" or "host" */
    HM_CONF_ENUM,     /* string, one of `choices` ("a|b|c") */
    HM_CONF_LIST,     /* sequence of strings */
    HM_CONF_MAP,      /* mapping string -> string (free keys, e.g. tags) */
    HM_CONF_SECTION,  /* mapping with declared `children` */
    HM_CONF_SECTION_LIST, /* sequence of sections with declared `children` */
} hm_conf_type_t;

typedef struct hm_conf_key {
    const char *name;
    hm_conf_type_t type;
    const char *def;     /* default as YAML text, NULL = unset */
    int64_t min, max;    /* for INT, DURATION (ms) and SIZE; 0,0 = unbounded */
    const char *choices; /* for ENUM: "lan|wan|local" */
    const char *doc;     /* one line, shown by `hamletd -T` and in docs */
    const struct hm_conf_key *children; /* for SECTION / SECTION_LIST */
} hm_conf_key_t;

#define HM_CONF_END {NULL, 0, NULL, 0, 0, NULL, NULL, NULL}

typedef struct hm_conf_node hm_conf_node_t; /* opaque, validated tree node */

/* Path lookups: "a.b.c" relative to `n`.  A missing key returns its
 * declared default (already filled in by validation). */
const char *hm_conf_str(const hm_conf_node_t *n, const char *path);
int64_t hm_conf_int(const hm_conf_node_t *n, const char *path);
bool hm_conf_bool(const hm_conf_node_t *n, const char *path);
int64_t hm_conf_ms(const hm_conf_node_t *n, const char *path);    /* DURATION */
int64_t hm_conf_bytes(const hm_conf_node_t *n, const char *path); /* SIZE */
const hm_conf_node_t *hm_conf_get(const hm_conf_node_t *n, const char *path);
bool hm_conf_isset(const hm_conf_node_t *n, const char *path); /* given in the file */

/* Sequences and maps: count and index access. */
size_t hm_conf_len(const hm_conf_node_t *n);
const hm_conf_node_t *hm_conf_at(const hm_conf_node_t *n, size_t i);
const char *hm_conf_key_at(const hm_conf_node_t *n, size_t i); /* maps */
const char *hm_conf_value(const hm_conf_node_t *n);            /* scalars */

/* Where a node came from, for module-level error messages:
 * "file:line:column". */
const char *hm_conf_where(const hm_conf_node_t *n);

#endif
