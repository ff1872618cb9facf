/*
 * hamlet module ABI.
 *
 * A module is a shared object mod_NAME.so that exports exactly one symbol,
 * `hm_module` (see HM_MODULE below).  The loader reads `abi_major` first and
 * refuses the module before touching any other field when it differs from
 * HM_ABI_MAJOR: the layout of everything after it may have changed.
 * `abi_minor` grows when functions are added to the core API; a module built
 * against minor N runs on any core with minor >= N (httpd's "at least" rule).
 */
#ifndef HAMLET_MODULE_H
#define HAMLET_MODULE_H

#include <stdint.h>
#include <hamlet/conf.h>

#define HM_ABI_MAJOR 1
#define HM_ABI_MINOR 1 /* 1: hm_last_error() */
#define HM_MODULE_SYMBOL "hm_module"
#define HM_MODULE_MAGIC 0x686d6f64u /* "hmod" */

typedef struct hm_ctx hm_ctx_t; /* the daemon as seen by one module */

/* Return codes shared by the core and modules (nginx-style vocabulary). */
enum {
    HM_OK = 0,
    HM_ERROR = -1,
    HM_DECLINED = -2, /* "not mine": the next hook is asked */
    HM_AGAIN = -3,    /* need more input */
    HM_DROP = -4,     /* input rejected on purpose (counted, not an error) */
};

typedef struct hm_module {
    uint32_t abi_major; /* must stay the first field, forever */
    uint32_t abi_minor;
    uint32_t magic;     /* HM_MODULE_MAGIC */
    const char *name;   /* "rpc" for mod_rpc.so; also its config section */
    const char *version;
    /* Keys accepted under `NAME:` in the YAML file, or NULL for none. */
    const hm_conf_key_t *keys;
    /* Called once at start-up, after the core is configured and before the
     * gossip engine starts.  `conf` is the module's validated subtree (never
     * NULL: an absent section is an empty map with defaults filled in).
     * Register hooks here.  Return HM_OK, or HM_ERROR after logging why. */
    int (*init)(hm_ctx_t *ctx, const hm_conf_node_t *conf);
    /* Called on SIGHUP with the new, already validated subtree.  NULL means
     * the module keeps its old settings.  HM_ERROR rejects the reload. */
    int (*reload)(hm_ctx_t *ctx, const hm_conf_node_t *conf);
    /* Called at shutdown in reverse load order; free everything. */
    void (*fini)(hm_ctx_t *ctx);
    void *spare[8];
} hm_module_t;

#define HM_MODULE_V1 HM_ABI_MAJOR, HM_ABI_MINOR, HM_MODULE_MAGIC

/* Usage:  HM_MODULE = { HM_MODULE_V1, "example", "1.0", keys, init, NULL, fini }; */
#define HM_MODULE __attribute__((visibility("default"))) const hm_module_t hm_module

/* Per-module private data slot. */
void hm_ctx_set_data(hm_ctx_t *ctx, void *data);
void *hm_ctx_data(hm_ctx_t *ctx);
const char *hm_ctx_module_name(hm_ctx_t *ctx);

#endif
