/*
 * hamletd's command line: its own options (-c, -t, -T) and `serf agent`'s
 * flags, and Serf's JSON config files, all mapped onto the same config tree
 * as the YAML file.  Precedence: YAML (or the built-in default) < JSON files
 * in order < flags.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "hm_daemon.h"
#include "hm_log.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- serf agent flags -------------------------------------------------- */

enum {
    F_VALUE,   /* string value -> path */
    F_APPEND,  /* repeatable, appended to a list */
    F_BOOL,    /* -x or -x=true/false */
    F_NOT,     /* bool flag setting path to its negation */
    F_TAG,     /* key=value into tags */
    F_ROLE,    /* tags.role, deprecated */
    F_JSON,    /* -config-file */
    F_JSONDIR, /* -config-dir */
};

static const struct flag {
    const char *name;
    int kind;
    const char *path;
    const char *arg; /* for usage */
    const char *help;
} flags[] = {
    {"advertise", F_VALUE, "advertise", "addr", "address to advertise to other members"},
    {"bind", F_VALUE, "bind", "addr", "gossip address (default 127.0.0.1:7946)"},
    {"broadcast-timeout", F_VALUE, "broadcast_timeout", "dur", "graceful leave wait"},
    {"config-dir", F_JSONDIR, NULL, "dir", "read every *.json in dir (Serf format)"},
    {"config-file", F_JSON, NULL, "file", "read a Serf JSON config file"},
    {"disable-compression", F_NOT, "enable_compression", NULL, "no LZW compression"},
    {"discover", F_VALUE, "discover", "name", "mDNS cluster name"},
    {"encrypt", F_VALUE, "crypto.encrypt_key", "key", "base64 gossip key (crypto module)"},
    {"event-handler", F_APPEND, "handlers.event_handlers", "spec",
     "[filter=]command (handlers module)"},
    {"iface", F_VALUE, "interface", "name", "network interface to bind to"},
    {"join", F_APPEND, "join", "addr", "join this address at start"},
    {"keyring-file", F_VALUE, "crypto.keyring_file", "file", "keyring (crypto module)"},
    {"log-level", F_VALUE, "log_level", "level", "trace, debug, info, warn, err"},
    {"module-path", F_APPEND, "module_path", "dir", "search mod_NAME.so in dir (hamlet)"},
    {"node", F_VALUE, "node_name", "name", "node name (default: host name)"},
    {"profile", F_VALUE, "profile", "name", "lan, wan or local"},
    {"protocol", F_VALUE, "protocol", "n", "Serf protocol version (2..5)"},
    {"rejoin", F_BOOL, "rejoin_after_leave", NULL, "rejoin even after a leave"},
    {"replay", F_BOOL, "replay_on_join", NULL, "replay old user events on join"},
    {"retry-interval", F_VALUE, "retry_interval", "dur", "pause between retry joins"},
    {"retry-join", F_APPEND, "retry_join", "addr", "join this address, retrying"},
    {"retry-max", F_VALUE, "retry_max", "n", "retry join attempts (0: forever)"},
    {"role", F_ROLE, "tags", "role", "deprecated: tag role=ROLE"},
    {"rpc-addr", F_VALUE, "rpc.addr", "addr", "RPC address (rpc module)"},
    {"rpc-auth", F_VALUE, "rpc.auth_key", "token", "RPC auth token (rpc module)"},
    {"snapshot", F_VALUE, "snapshot_path", "file", "snapshot file"},
    {"syslog", F_BOOL, "syslog", NULL, "also log to syslog"},
    {"tag", F_TAG, "tags", "k=v", "a tag (repeatable)"},
    {"tags-file", F_VALUE, "tags_file", "file", "tags persisted in this JSON file"},
};

void hm_opts_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [-c FILE] [-t | -T] [serf agent flags]\n\n"
            "  -c FILE   configuration file (YAML; default: the built-in one,\n"
            "            which is conf/hamlet.yaml)\n"
            "  -t        check the configuration and exit (0 ok, 1 error)\n"
            "  -T        print the effective configuration, defaults included\n"
            "  -v        print the version\n"
            "  -h        this help\n\n"
            "serf agent flags (override the file):\n",
            prog);
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char left[64];
        snprintf(left, sizeof(left), "-%s%s%s", flags[i].name, flags[i].arg ? " " : "",
                 flags[i].arg ? flags[i].arg : "");
        fprintf(out, "  %-28s %s\n", left, flags[i].help);
    }
}

static int add_setting(hm_opts_t *o, const char *path, const char *key, const char *value, int op,
                       const char *flag)
{
    hm_setting_t *v = realloc(o->set, (o->nset + 1) * sizeof(*v)), *s;
    if (v == NULL)
        return -1;
    o->set = v;
    s = &v[o->nset++];
    s->path = path;
    s->key = key ? strdup(key) : NULL;
    s->value = strdup(value);
    s->op = op;
    s->flag = flag;
    return 0;
}

static int add_json(hm_opts_t *o, const char *path, bool dir)
{
    struct hm_json_path *v = realloc(o->json, (o->njson + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    o->json = v;
    v[o->njson].path = strdup(path);
    v[o->njson++].dir = dir;
    return 0;
}

static int bool_word(const char *s, bool *b)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcasecmp(s, "t") == 0) {
        *b = true;
        return 0;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcasecmp(s, "f") == 0) {
        *b = false;
        return 0;
    }
    return -1;
}

static int serf_flag(hm_opts_t *o, const struct flag *f, const char *val, char *err, size_t errlen)
{
    char fl[64];
    bool b = true;

    snprintf(fl, sizeof(fl), "-%s", f->name);
    o->serf_flags = true;
    switch (f->kind) {
    case F_VALUE:
        return add_setting(o, f->path, NULL, val, HM_SET_VALUE, f->name);
    case F_APPEND:
        return add_setting(o, f->path, NULL, val, HM_SET_APPEND, f->name);
    case F_BOOL:
    case F_NOT:
        if (val && bool_word(val, &b) < 0) {
            seterr(err, errlen, "invalid boolean value \"%s\" for flag %s", val, fl);
            return -1;
        }
        if (f->kind == F_NOT)
            b = !b;
        return add_setting(o, f->path, NULL, b ? "true" : "false", HM_SET_VALUE, f->name);
    case F_TAG: {
        const char *eq = strchr(val, '=');
        char key[256];
        if (eq == NULL || eq == val || (size_t)(eq - val) >= sizeof(key)) {
            seterr(err, errlen, "Invalid tag: '%s'", val);
            return -1;
        }
        memcpy(key, val, (size_t)(eq - val));
        key[eq - val] = '\0';
        return add_setting(o, f->path, key, eq + 1, HM_SET_MAP, f->name);
    }
    case F_ROLE:
        return add_setting(o, f->path, "role", val, HM_SET_MAP, f->name);
    case F_JSON:
        return add_json(o, val, false);
    case F_JSONDIR:
        return add_json(o, val, true);
    }
    return -1;
}

int hm_opts_parse(hm_opts_t *o, int argc, char **argv, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *name, *eq, *val = NULL;
        char nm[64];
        const struct flag *f = NULL;

        if (a[0] != '-' || a[1] == '\0') {
            seterr(err, errlen, "unexpected argument: %s", a);
            return -1;
        }
        /* hamletd's own short options */
        if (strcmp(a, "-t") == 0) {
            o->test = true;
            continue;
        }
        if (strcmp(a, "-T") == 0) {
            o->dump = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0) {
            o->help = true;
            continue;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "-version") == 0 || strcmp(a, "--version") == 0) {
            o->version = true;
            continue;
        }
        if (strcmp(a, "-c") == 0) {
            if (i + 1 >= argc) {
                seterr(err, errlen, "flag needs an argument: -c");
                return -1;
            }
            o->conf_file = argv[++i];
            continue;
        }
        /* Go flag syntax: -name, --name, -name=value, -name value */
        name = a + (a[1] == '-' ? 2 : 1);
        eq = strchr(name, '=');
        snprintf(nm, sizeof(nm), "%.*s", (int)(eq ? (size_t)(eq - name) : strlen(name)), name);
        if (eq)
            val = eq + 1;
        for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            if (strcmp(flags[k].name, nm) == 0)
                f = &flags[k];
        if (f == NULL) {
            seterr(err, errlen, "flag provided but not defined: -%s", nm);
            return -1;
        }
        if (val == NULL && f->kind != F_BOOL && f->kind != F_NOT) {
            if (i + 1 >= argc) {
                seterr(err, errlen, "flag needs an argument: -%s", nm);
                return -1;
            }
            val = argv[++i];
        }
        if (serf_flag(o, f, val, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void hm_opts_free(hm_opts_t *o)
{
    for (size_t i = 0; i < o->nset; i++) {
        free(o->set[i].key);
        free(o->set[i].value);
    }
    free(o->set);
    for (size_t i = 0; i < o->njson; i++)
        free(o->json[i].path);
    free(o->json);
    memset(o, 0, sizeof(*o));
}

/* ---- Serf JSON config files ------------------------------------------- */

enum { J_STR, J_INT, J_DUR, J_BOOL, J_BOOLSET, J_LIST, J_TAGS, J_ROLE, J_IGNORE };

static const struct jkey {
    const char *name;
    const char *path;
    int kind;
} jkeys[] = {
    {"node_name", "node_name", J_STR},
    {"role", "tags", J_ROLE},
    {"disable_coordinates", "disable_coordinates", J_BOOL},
    {"tags", "tags", J_TAGS},
    {"tags_file", "tags_file", J_STR},
    {"bind", "bind", J_STR},
    {"interface", "interface", J_STR},
    {"advertise", "advertise", J_STR},
    {"encrypt_key", "crypto.encrypt_key", J_STR},
    {"keyring_file", "crypto.keyring_file", J_STR},
    {"log_level", "log_level", J_STR},
    {"rpc_addr", "rpc.addr", J_STR},
    {"rpc_auth", "rpc.auth_key", J_STR},
    {"leave_on_terminate", "leave_on_terminate", J_BOOL},
    {"skip_leave_on_interrupt", "skip_leave_on_interrupt", J_BOOL},
    {"discover", "discover", J_STR},
    {"reconnect_interval", "reconnect_interval", J_DUR},
    {"reconnect_timeout", "reconnect_timeout", J_DUR},
    {"tombstone_timeout", "tombstone_timeout", J_DUR},
    {"disable_name_resolution", "disable_name_resolution", J_BOOL},
    {"enable_syslog", "syslog", J_BOOL},
    {"syslog_facility", "syslog_facility", J_STR},
    {"event_handlers", "handlers.event_handlers", J_LIST},
    {"start_join", "join", J_LIST},
    {"replay_on_join", "replay_on_join", J_BOOL},
    {"retry_join", "retry_join", J_LIST},
    {"retry_max_attempts", "retry_max", J_INT},
    {"retry_interval", "retry_interval", J_DUR},
    {"rejoin_after_leave", "rejoin_after_leave", J_BOOL},
    {"snapshot_path", "snapshot_path", J_STR},
    {"enable_compression", "enable_compression", J_BOOLSET},
    {"statsite_addr", NULL, J_IGNORE},
    {"statsd_addr", NULL, J_IGNORE},
    {"query_response_size_limit", "query_response_size_limit", J_INT},
    {"query_size_limit", "query_size_limit", J_INT},
    {"user_event_size_limit", "user_event_size_limit", J_INT},
    {"broadcast_timeout", "broadcast_timeout", J_DUR},
    {"protocol", "protocol", J_INT},
    {"profile", "profile", J_STR},
};

static const char *jtype_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* One key of a Serf config, merged the way Serf merges configs: later
 * non-empty strings and non-zero numbers win, booleans only turn on, lists
 * are concatenated, tags merged key by key. */
static int json_key(const char *file, const struct jkey *k, json_t *v, hm_conf_node_t *root,
                    char *err, size_t errlen)
{
    char num[32];
    const char *key;
    json_t *e;
    size_t i;

#define WANT(cond, what)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            seterr(err, errlen, "%s: %s: expected %s, got %s", file, k->name, what,                \
                   jtype_name(v));                                                                 \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

    switch (k->kind) {
    case J_STR:
    case J_DUR:
        WANT(json_is_string(v), "a string");
        if (json_string_length(v) > 0)
            hm_conf_set_path(root, k->path, json_string_value(v), file);
        return 0;
    case J_INT:
        WANT(json_is_integer(v), "an integer");
        if (json_integer_value(v) != 0) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            hm_conf_set_path(root, k->path, num, file);
        }
        return 0;
    case J_BOOL:
        WANT(json_is_boolean(v), "a boolean");
        if (json_is_true(v))
            hm_conf_set_path(root, k->path, "true", file);
        return 0;
    case J_BOOLSET:
        WANT(json_is_boolean(v), "a boolean");
        hm_conf_set_path(root, k->path, json_is_true(v) ? "true" : "false", file);
        return 0;
    case J_LIST:
        WANT(json_is_array(v), "an array of strings");
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e)) {
                seterr(err, errlen, "%s: %s[%zu]: expected a string, got %s", file, k->name, i,
                       jtype_name(e));
                return -1;
            }
            hm_conf_append_path(root, k->path, json_string_value(e), file);
        }
        return 0;
    case J_TAGS:
        WANT(json_is_object(v), "an object of strings");
        json_object_foreach(v, key, e)
        {
            if (!json_is_string(e)) {
                seterr(err, errlen, "%s: tags.%s: expected a string, got %s", file, key,
                       jtype_name(e));
                return -1;
            }
            hm_conf_map_path(root, "tags", key, json_string_value(e), file);
        }
        return 0;
    case J_ROLE:
        WANT(json_is_string(v), "a string");
        hm_core_log(HM_LOG_WARN, "agent",
                    "Deprecation warning: 'Role' has been replaced with "
                    "'Tags'");
        if (json_string_length(v) > 0)
            hm_conf_map_path(root, "tags", "role", json_string_value(v), file);
        return 0;
    default:
        hm_core_log(HM_LOG_WARN, "agent", "%s: %s is not supported by hamlet, ignored", file,
                    k->name);
        return 0;
    }
#undef WANT
}

int hm_json_apply(const char *file, hm_conf_node_t *root, char *err, size_t errlen)
{
    json_error_t je;
    json_t *obj = json_load_file(file, JSON_REJECT_DUPLICATES, &je), *v;
    const char *key;
    int r = 0;

    if (obj == NULL) {
        if (je.line > 0)
            seterr(err, errlen, "%s:%d:%d: JSON error: %s", file, je.line, je.column, je.text);
        else
            seterr(err, errlen, "%s: %s", file, je.text);
        return -1;
    }
    if (!json_is_object(obj)) {
        seterr(err, errlen, "%s: a Serf config file holds a JSON object", file);
        json_decref(obj);
        return -1;
    }
    json_object_foreach(obj, key, v)
    {
        const struct jkey *k = NULL;
        for (size_t i = 0; i < sizeof(jkeys) / sizeof(jkeys[0]); i++)
            if (strcmp(jkeys[i].name, key) == 0)
                k = &jkeys[i];
        if (k == NULL) {
            seterr(err, errlen, "%s: %s: unknown key (not a Serf agent config key)", file, key);
            r = -1;
            break;
        }
        if ((r = json_key(file, k, v, root, err, errlen)) < 0)
            break;
    }
    json_decref(obj);
    return r;
}

static int json_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0 && e->d_name[0] != '.';
}

static int json_dir_apply(const char *dir, hm_conf_node_t *root, char *err, size_t errlen)
{
    struct dirent **list;
    int n = scandir(dir, &list, json_filter, alphasort), r = 0;

    if (n < 0) {
        seterr(err, errlen, "Error reading '%s': %s", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
        if (r == 0)
            r = hm_json_apply(path, root, err, errlen);
        free(list[i]);
    }
    free(list);
    return r;
}

int hm_opts_apply(const hm_opts_t *o, hm_conf_node_t *root, char *err, size_t errlen)
{
    for (size_t i = 0; i < o->njson; i++) {
        int r = o->json[i].dir ? json_dir_apply(o->json[i].path, root, err, errlen)
                               : hm_json_apply(o->json[i].path, root, err, errlen);
        if (r < 0)
            return -1;
    }
    for (size_t i = 0; i < o->nset; i++) {
        const hm_setting_t *s = &o->set[i];
        char where[80];
        int r;
        snprintf(where, sizeof(where), "flag -%s", s->flag);
        if (strcmp(s->flag, "role") == 0)
            hm_core_log(HM_LOG_WARN, "agent",
                        "Deprecation warning: 'Role' has been replaced with 'Tags'");
        switch (s->op) {
        case HM_SET_APPEND:
            r = hm_conf_append_path(root, s->path, s->value, where);
            break;
        case HM_SET_MAP:
            r = hm_conf_map_path(root, s->path, s->key, s->value, where);
            break;
        default:
            r = hm_conf_set_path(root, s->path, s->value, where);
            break;
        }
        if (r < 0) {
            seterr(err, errlen, "%s: %s: conflicts with the type of that key in the file", where,
                   s->path);
            return -1;
        }
    }
    return 0;
}

hm_conf_node_t *hm_config_build(const hm_opts_t *o, char *err, size_t errlen)
{
    hm_conf_node_t *root;

    if (o->conf_file)
        root = hm_conf_parse_file(o->conf_file, err, errlen);
    else
        root = hm_conf_parse_string(hm_conf_default_yaml, hm_conf_default_yaml_len,
                                    "(built-in hamlet.yaml)", err, errlen);
    if (root == NULL)
        return NULL;
    if (hm_opts_apply(o, root, err, errlen) < 0 ||
        hm_conf_validate(root, hm_core_keys, "", true, err, errlen) < 0) {
        hm_conf_free(root);
        return NULL;
    }
    /* node_name defaults to the host name: show it as such in -T */
    if (hm_conf_child(root, "node_name") == NULL) {
        char host[256] = "hamlet";
        hm_conf_node_t *n;
        if (gethostname(host, sizeof(host) - 1) < 0)
            strcpy(host, "hamlet");
        host[sizeof(host) - 1] = '\0';
        n = hm_conf_new(HM_NODE_SCALAR, host, "<default>");
        n->decl = &hm_core_keys[0];
        hm_conf_put(root, "node_name", n);
        /* first, where the schema (and hamlet.yaml) has it */
        memmove(root->kids + 1, root->kids, (root->n - 1) * sizeof(*root->kids));
        root->kids[0] = n;
    }
    return root;
}
