/*
 * Internal daemon structures shared by the core files: the daemon, the
 * module contexts, and the internal halves of the config tree, the module
 * loader and the serf-flag parser.  Not installed; modules never see it.
 */
#ifndef HM_DAEMON_H
#define HM_DAEMON_H

#include <stdio.h>

#include <hamlet/hamlet.h>

#include "hm_hooks.h"

struct event_base;
struct event;
struct hm_agent;

/* ---- config tree (hm_conf.c) ---------------------------------------- */

enum { HM_NODE_NULL, HM_NODE_SCALAR, HM_NODE_SEQ, HM_NODE_MAP };

struct hm_conf_node {
    int kind;
    char *key;       /* key when this node is a mapping value */
    char *key_where; /* where that key was written */
    char *value;     /* scalars (normalised after validation) */
    char *where;     /* "file:line:column" */
    struct hm_conf_node **kids;
    size_t n, cap;
    const hm_conf_key_t *decl; /* set by validation */
    int64_t num;               /* INT, DURATION (ms), SIZE (bytes) */
    bool set;                  /* given by a source (file, flag), not a default */
};

/* Errors are "file:line:column: key.path: message". */
hm_conf_node_t *hm_conf_parse_file(const char *path, char *err, size_t errlen);
hm_conf_node_t *hm_conf_parse_string(const char *text, size_t len, const char *name, char *err,
                                     size_t errlen);
hm_conf_node_t *hm_conf_new(int kind, const char *value, const char *where);
void hm_conf_free(hm_conf_node_t *n);
/* Map entry by key (direct child), or NULL. */
hm_conf_node_t *hm_conf_child(const hm_conf_node_t *map, const char *key);
/* Adds/replaces map[key] = val (takes ownership of val). */
void hm_conf_put(hm_conf_node_t *map, const char *key, hm_conf_node_t *val);
void hm_conf_push(hm_conf_node_t *seq, hm_conf_node_t *val);
/* Editing by dotted path, creating intermediate maps (for flags / JSON). */
int hm_conf_set_path(hm_conf_node_t *root, const char *path, const char *value, const char *where);
int hm_conf_append_path(hm_conf_node_t *root, const char *path, const char *value,
                        const char *where);
int hm_conf_map_path(hm_conf_node_t *root, const char *path, const char *key, const char *value,
                     const char *where);

/*
 * Validates a mapping against `keys` and fills in defaults.  `path` is the
 * key path of `n` ("" for the root).  Keys of `n` listed in `skip` (NULL
 * terminated; or every unknown key when skip_unknown) are left alone: the
 * root's module sections are checked by the module loader.
 */
int hm_conf_validate(hm_conf_node_t *n, const hm_conf_key_t *keys, const char *path,
                     bool skip_unknown, char *err, size_t errlen);
/* Writes the tree as YAML with each key's doc as a comment (hamletd -T). */
void hm_conf_dump(FILE *out, const hm_conf_node_t *n, int indent);

/* The core schema (hm_conf_core.c) and the built-in default config text
 * (conf/hamlet.yaml, embedded at build time). */
extern const hm_conf_key_t hm_core_keys[];
extern const char hm_conf_default_yaml[];
extern const unsigned long hm_conf_default_yaml_len;
bool hm_core_key(const char *name);

/* ---- modules (hm_module.c) ------------------------------------------- */

struct hm_ctx {
    struct hm_daemon *d;
    char *name;
    const hm_module_t *mod; /* NULL for built-in contexts */
    void *dl;
    void *data;
    char *path;
    const hm_conf_node_t *conf;
    size_t overhead; /* hm_hook_set_packet_overhead */
    bool inited;
};

struct hm_daemon {
    struct event_base *base;
    hm_hooks_t *hooks;
    struct hm_agent *agent;
    hm_ctx_t *core; /* context the core itself logs and registers with */
    hm_ctx_t **mods;
    size_t nmods;
    hm_ctx_t **ctxs; /* every context created (freed with the daemon) */
    size_t nctxs;
};

/*
 * Resolves the module list of a validated core config and validates every
 * module section of `root` (the root's non-core keys): loads each module
 * listed (or, without a `modules:` key, the automatic list: rpc and tags
 * when found, plus every module that has a section), checks ABI and magic,
 * validates its subtree.  Modules are dlopen()ed but not initialised.
 * On error returns -1 with "module NAME: reason" / a config error in err.
 */
int hm_modules_load(struct hm_daemon *d, hm_conf_node_t *root, char *err, size_t errlen);
/* Calls init on every loaded module in order; -1 names the one that failed. */
int hm_modules_init(struct hm_daemon *d, char *err, size_t errlen);
/* Validates a new root's module sections against the loaded modules (SIGHUP). */
int hm_modules_check(struct hm_daemon *d, hm_conf_node_t *root, char *err, size_t errlen);
int hm_modules_reload(struct hm_daemon *d, const hm_conf_node_t *root, char *err, size_t errlen);
/* fini in reverse order, dlclose. */
void hm_modules_unload(struct hm_daemon *d);
/* The effective module path of a validated root (configured or default). */
size_t hm_module_path(const hm_conf_node_t *root, const char **dirs, size_t max);
/* Finds mod_NAME.so on the path: 0 and the path in buf, or -1. */
int hm_module_find(const hm_conf_node_t *root, const char *name, char *buf, size_t len);

/* ---- serf agent flags and JSON config (hm_flags.c) -------------------- */

typedef struct hm_setting {
    const char *path; /* config key path */
    char *key;        /* map entry key (tags) */
    char *value;
    int op;           /* HM_SET_* */
    const char *flag; /* for error messages: "-bind" */
} hm_setting_t;

enum { HM_SET_VALUE, HM_SET_APPEND, HM_SET_MAP };

typedef struct hm_opts {
    const char *conf_file; /* -c */
    bool test;             /* -t */
    bool dump;             /* -T */
    bool help, version;
    hm_setting_t *set; /* serf flags, in command-line order */
    size_t nset;
    struct hm_json_path {
        char *path;
        bool dir;
    } * json; /* -config-file / -config-dir, in order */
    size_t njson;
    bool serf_flags; /* any serf flag given */
} hm_opts_t;

/* 0 ok, -1 with a message in err (unknown flag: caller prints usage). */
int hm_opts_parse(hm_opts_t *o, int argc, char **argv, char *err, size_t errlen);
void hm_opts_free(hm_opts_t *o);
void hm_opts_usage(FILE *out, const char *prog);
/* Applies the JSON config files (and dirs) and then the flags onto root. */
int hm_opts_apply(const hm_opts_t *o, hm_conf_node_t *root, char *err, size_t errlen);
/* One Serf JSON config file merged onto root. */
int hm_json_apply(const char *file, hm_conf_node_t *root, char *err, size_t errlen);

/*
 * The whole pipeline: file (or the built-in default) + JSON files + flags,
 * validated against the core schema.  Returns the root or NULL with err.
 */
hm_conf_node_t *hm_config_build(const hm_opts_t *o, char *err, size_t errlen);

#endif
