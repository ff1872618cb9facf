/* Config parser and schema validation: every error path with its exact
 * file:line:column and key path, defaults, read access, dump round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hm_daemon.h"
#include "tap.h"

static char err[1024];

/* Parses and validates `yaml` against `keys`; returns the root or NULL. */
static hm_conf_node_t *load(const char *yaml, const hm_conf_key_t *keys)
{
    hm_conf_node_t *root;
    err[0] = '\0';
    root = hm_conf_parse_string(yaml, strlen(yaml), "t.yaml", err, sizeof(err));
    if (root == NULL)
        return NULL;
    if (hm_conf_validate(root, keys, "", false, err, sizeof(err)) < 0) {
        hm_conf_free(root);
        return NULL;
    }
    return root;
}

static void fails(const char *yaml, const char *expect, const char *what)
{
    hm_conf_node_t *r = load(yaml, hm_core_keys);
    ok(r == NULL, "%s: rejected", what);
    is_str(err, expect, "%s: message", what);
    hm_conf_free(r);
}

static const hm_conf_key_t tls_keys[] = {
    {"cert", HM_CONF_STRING, "", 0, 0, NULL, "certificate file", NULL},
    {"verify", HM_CONF_BOOL, "true", 0, 0, NULL, "verify peers", NULL},
    HM_CONF_END,
};
static const hm_conf_key_t route_keys[] = {
    {"path", HM_CONF_STRING, NULL, 0, 0, NULL, "route path", NULL},
    {"weight", HM_CONF_INT, "1", 1, 10, NULL, "weight", NULL},
    HM_CONF_END,
};
static const hm_conf_key_t mod_keys[] = {
    {"addr", HM_CONF_ADDR, "127.0.0.1:7373", 0, 0, NULL, "listen address", NULL},
    {"timeout", HM_CONF_DURATION, "1s", 10, 60000, NULL, "timeout", NULL},
    {"buf", HM_CONF_SIZE, "4k", 0, 0, NULL, "buffer", NULL},
    {"tls", HM_CONF_SECTION, NULL, 0, 0, NULL, "TLS", tls_keys},
    {"routes", HM_CONF_SECTION_LIST, NULL, 0, 0, NULL, "routes", route_keys},
    HM_CONF_END,
};
static const hm_conf_key_t top_keys[] = {
    {"rpc", HM_CONF_SECTION, NULL, 0, 0, NULL, "rpc module", mod_keys},
    HM_CONF_END,
};

static void error_paths(void)
{
    fails("bind: 127.0.0.1:7946\nbindd: x\n", "t.yaml:2:1: bindd: unknown key", "unknown key");
    fails("protocol: [1]\n", "t.yaml:1:11: protocol: expected an integer, got a list",
          "wrong type (list for int)");
    fails("tags: yes\n", "t.yaml:1:7: tags: expected a mapping of strings, got a scalar",
          "wrong type (scalar for map)");
    fails("node_name:\n  a: b\n", "t.yaml:2:3: node_name: expected a string, got a mapping",
          "wrong type (map for string)");
    fails("protocol: abc\n", "t.yaml:1:11: protocol: expected an integer, got 'abc'",
          "bad integer");
    fails("syslog: maybe\n", "t.yaml:1:9: syslog: expected true or false, got 'maybe'",
          "bad boolean");
    fails("profile: fast\n",
          "t.yaml:1:10: profile: bad value 'fast', expected one of: lan, wan, local", "bad enum");
    fails("protocol: 9\n", "t.yaml:1:11: protocol: 9 out of range [2, 5]", "out of range");
    fails("user_event_size_limit: 10k\n",
          "t.yaml:1:24: user_event_size_limit: 10k out of range [1, 9216]", "size out of range");
    fails("retry_interval: 10x\n",
          "t.yaml:1:17: retry_interval: bad duration '10x' (use e.g. 500ms, 10s, 5m, 24h)",
          "bad duration");
    fails("query_size_limit: lots\n",
          "t.yaml:1:19: query_size_limit: bad size 'lots' (use e.g. 512, 4k, 1m)", "bad size");
    fails("bind: 1.2.3.4:99999\n",
          "t.yaml:1:7: bind: bad address '1.2.3.4:99999': bad port '99999' (1..65535)",
          "bad address");
    fails("join:\n  - a\n  - {x: 1}\n", "t.yaml:3:5: join[1]: expected a string, got a mapping",
          "list element");
    fails("tags:\n  role: web\n  dc: [east]\n",
          "t.yaml:3:7: tags.dc: expected a string, got a list", "map value");
    fails("bind: x\nbind: y\n", "t.yaml:2:1: bind: duplicate key", "duplicate key");
    fails("protocol:\n", "t.yaml:1:10: protocol: missing value (expected an integer)",
          "missing value");
    fails("- a\n- b\n", "t.yaml:1:1: (top level): the configuration must be a mapping of keys",
          "top level not a mapping");
    fails("tags:\n  role: web\n  dc: [east\n",
          "t.yaml:4:1: tags.dc: YAML syntax error: did not find expected ',' or ']' "
          "(while parsing a flow sequence)",
          "syntax error (unclosed flow sequence)");
    fails("bind: 127.0.0.1\n  profile: lan\n",
          "t.yaml:2:10: bind: YAML syntax error: mapping values are not allowed in this "
          "context",
          "syntax error (bad indentation)");
    fails("tags:\n  role: \"web\n",
          "t.yaml:3:1: tags.role: YAML syntax error: found unexpected "
          "end of stream (while scanning a quoted scalar)",
          "syntax error (open quote)");
    fails("a: &x 1\nb: *x\n", "t.yaml:2:4: b: YAML aliases are not supported", "alias");
}

static void section_errors(void)
{
    hm_conf_node_t *r;

    r = load("rpc:\n  addr: 127.0.0.1:7373\n  tls:\n    cert: a\n    verfy: no\n", top_keys);
    ok(r == NULL, "nested unknown key rejected");
    is_str(err, "t.yaml:5:5: rpc.tls.verfy: unknown key", "nested unknown key: path");
    r = load("rpc:\n  routes:\n    - path: /a\n    - path: /b\n      weight: 11\n", top_keys);
    ok(r == NULL, "section list range rejected");
    is_str(err, "t.yaml:5:15: rpc.routes[1].weight: 11 out of range [1, 10]",
           "section list: path and position");
    r = load("rpc:\n  timeout: 5ms\n", top_keys);
    is_str(err, "t.yaml:2:12: rpc.timeout: 5ms out of range [10ms, 60000ms]",
           "duration range in ms");
    r = load("rpc:\n  addr: ::1:80\n", top_keys);
    is_str(err,
           "t.yaml:2:9: rpc.addr: bad address '::1:80': IPv6 addresses need brackets: "
           "[addr]:port",
           "v6 without brackets");

    r = load("rpc:\n  addr: \"[::1]:7373\"\n  tls: {}\n  routes:\n    - path: /x\n", top_keys);
    ok(r != NULL, "valid nested config accepted (%s)", err);
    is_str(hm_conf_str(r, "rpc.addr"), "[::1]:7373", "v6 address read back");
    ok(hm_conf_bool(r, "rpc.tls.verify"), "nested default filled in");
    is_int(hm_conf_ms(r, "rpc.timeout"), 1000, "duration default in ms");
    is_int(hm_conf_bytes(r, "rpc.buf"), 4096, "size default in bytes");
    is_int(hm_conf_len(hm_conf_get(r, "rpc.routes")), 1, "section list length");
    is_int(hm_conf_int(hm_conf_at(hm_conf_get(r, "rpc.routes"), 0), "weight"), 1,
           "section list element default");
    is_str(hm_conf_where(hm_conf_get(r, "rpc.addr")), "t.yaml:2:9", "hm_conf_where");
    ok(hm_conf_isset(r, "rpc.addr") && !hm_conf_isset(r, "rpc.timeout"), "hm_conf_isset");
    hm_conf_free(r);
}

static void reads(void)
{
    hm_conf_node_t *r = load("bind: 10.0.0.1\nprofile: WAN\nsyslog: on\n"
                             "retry_interval: 1h30m\nquery_size_limit: 2k\n"
                             "tags:\n  role: web\n  dc: east\njoin: [a, \"b:1\"]\n",
                             hm_core_keys);
    ok(r != NULL, "valid core config accepted (%s)", err);
    is_str(hm_conf_str(r, "bind"), "10.0.0.1", "string read");
    is_str(hm_conf_str(r, "profile"), "wan", "enum normalised to its declared spelling");
    ok(hm_conf_bool(r, "syslog"), "bool 'on'");
    is_int(hm_conf_ms(r, "retry_interval"), 5400000, "compound duration");
    is_int(hm_conf_bytes(r, "query_size_limit"), 2048, "size with suffix");
    is_int(hm_conf_int(r, "protocol"), 5, "int default");
    is_int(hm_conf_ms(r, "reconnect_timeout"), 86400000, "24h default");
    is_str(hm_conf_str(r, "tags.role"), "web", "map entry by path");
    is_int(hm_conf_len(hm_conf_get(r, "tags")), 2, "map length");
    is_str(hm_conf_key_at(hm_conf_get(r, "tags"), 1), "dc", "map key order kept");
    is_str(hm_conf_value(hm_conf_at(hm_conf_get(r, "join"), 1)), "b:1", "list element");
    ok(hm_conf_str(r, "node_name") == NULL, "no default: NULL");
    ok(hm_conf_get(r, "nope.x") == NULL, "missing path: NULL");
    ok(!hm_conf_isset(r, "modules"), "modules not set");
    hm_conf_free(r);

    r = load("", hm_core_keys);
    ok(r != NULL, "empty file is all defaults");
    is_str(hm_conf_str(r, "bind"), "127.0.0.1:7946", "default bind");
    hm_conf_free(r);
}

static char *dump(const hm_conf_node_t *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    hm_conf_dump(f, r, 0);
    fclose(f);
    return buf;
}

static void defaults_and_dump(void)
{
    hm_conf_node_t *a, *b;
    char *da, *db;

    a = load(hm_conf_default_yaml, hm_core_keys);
    ok(a != NULL, "conf/hamlet.yaml (embedded) is valid (%s)", err);
    if (a == NULL)
        return;
    is_int(strlen(hm_conf_default_yaml), hm_conf_default_yaml_len, "embedded length");
    /* every core key with a default is written in the file */
    for (const hm_conf_key_t *k = hm_core_keys; k->name; k++) {
        if (k->def || k->type == HM_CONF_MAP ||
            (k->type == HM_CONF_LIST && strcmp(k->name, "modules") &&
             strcmp(k->name, "module_path")))
            ok(hm_conf_isset(a, k->name), "hamlet.yaml sets %s", k->name);
        if (k->def && hm_conf_isset(a, k->name))
            is_str(hm_conf_str(a, k->name), k->def, "hamlet.yaml value of %s = schema default",
                   k->name);
    }
    da = dump(a);
    b = load(da, hm_core_keys);
    ok(b != NULL, "dump parses back (%s)", err);
    db = b ? dump(b) : NULL;
    is_str(db, da, "dump round trip is stable");
    ok(strstr(da, "# gossip timing profile") != NULL, "dump carries the key docs");
    free(da);
    free(db);
    hm_conf_free(a);
    hm_conf_free(b);

    a = load("node_name: \"yes\"\ntags:\n  \"a b\": \"x: y\"\n  q: \"#1\"\n", hm_core_keys);
    da = dump(a);
    b = load(da, hm_core_keys);
    ok(b != NULL, "awkward strings dump and parse back (%s)", err);
    is_str(hm_conf_str(b, "node_name"), "yes", "quoted 'yes' stays a string");
    is_str(hm_conf_str(b, "tags.q"), "#1", "'#' survives");
    free(da);
    hm_conf_free(a);
    hm_conf_free(b);
}

static void editing(void)
{
    hm_conf_node_t *r = hm_conf_parse_string("join: [a]\n", 10, "t.yaml", err, sizeof(err));
    ok(hm_conf_set_path(r, "rpc.addr", "127.0.0.1:1", "flag -rpc-addr") == 0, "set path");
    ok(hm_conf_append_path(r, "join", "b", "flag -join") == 0, "append");
    ok(hm_conf_map_path(r, "tags", "role", "db", "flag -tag") == 0, "map entry");
    ok(hm_conf_set_path(r, "join.x", "1", "x") < 0, "cannot descend into a list");
    is_str(hm_conf_str(r, "rpc.addr"), "127.0.0.1:1", "set value read back");
    is_int(hm_conf_len(hm_conf_get(r, "join")), 2, "list appended");
    is_str(hm_conf_str(r, "tags.role"), "db", "map entry read back");
    ok(hm_conf_validate(r, hm_core_keys, "", true, err, sizeof(err)) == 0,
       "skip_unknown leaves module sections alone");
    ok(hm_conf_validate(r, hm_core_keys, "", false, err, sizeof(err)) < 0,
       "without skip_unknown the section is unknown");
    is_str(err, "flag -rpc-addr: rpc: unknown key", "flag-made nodes name their flag");
    hm_conf_free(r);
}

/* Bad input never crashes: thousands of seeded mutations of the default
 * file (byte flips, truncations, inserted YAML punctuation) go through the
 * parser and the validator; each must either load or fail with a message. */
static void mutations(void)
{
    const char *base = hm_conf_default_yaml;
    size_t len = hm_conf_default_yaml_len, bad = 0, good = 0;
    static const char punct[] = ":-[]{},'\"&*!|>#%@`\t\n ";
    uint32_t seed = 12345;
    char *buf = malloc(len + 64);

    for (int i = 0; i < 3000; i++) {
        size_t n = len;
        memcpy(buf, base, len);
        for (int k = 0; k < 1 + i % 4; k++) {
            size_t at;
            seed = seed * 1103515245u + 12345u;
            at = (seed >> 8) % n;
            switch ((seed >> 4) % 4) {
            case 0:
                buf[at] = (char)(seed >> 16);
                break;
            case 1:
                buf[at] = punct[(seed >> 16) % (sizeof(punct) - 1)];
                break;
            case 2:
                n = at + 1;
                break;
            default:
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = punct[(seed >> 16) % (sizeof(punct) - 1)];
                n++;
                break;
            }
        }
        hm_conf_node_t *r = hm_conf_parse_string(buf, n, "m.yaml", err, sizeof(err));
        if (r && hm_conf_validate(r, hm_core_keys, "", false, err, sizeof(err)) == 0)
            good++;
        else if (strncmp(err, "m.yaml", 6) == 0)
            bad++;
        else
            diag("error without a position: %s", err);
        hm_conf_free(r);
    }
    free(buf);
    is_int(good + bad, 3000, "3000 mutated files: each loads or fails with file:line:column");
    ok(good > 0 && bad > 0, "both outcomes seen (%zu loaded, %zu rejected)", good, bad);
}

int main(void)
{
    mutations();
    error_paths();
    section_errors();
    reads();
    defaults_and_dump();
    editing();
    return done_testing();
}
