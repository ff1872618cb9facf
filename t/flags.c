/* serf agent flags and Serf JSON config files mapped onto the config tree:
 * every flag's target key, precedence (YAML < JSON files < flags), Serf's
 * merge rules, and the errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hm_daemon.h"
#include "hm_log.h"
#include "tap.h"

static char err[2048], dir[256];

static hm_conf_node_t *build(const char *const *args, hm_opts_t *o)
{
    char *argv[64];
    int argc = 0;
    hm_conf_node_t *root = NULL;

    argv[argc++] = "hamletd";
    while (*args && argc < 63)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    err[0] = '\0';
    if (hm_opts_parse(o, argc, argv, err, sizeof(err)) == 0)
        root = hm_config_build(o, err, sizeof(err));
    hm_opts_free(o);
    return root;
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static const char *P(const char *name)
{
    static char paths[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, name);
    return paths[i];
}

static const char *item(const hm_conf_node_t *r, const char *path, size_t i)
{
    return hm_conf_value(hm_conf_at(hm_conf_get(r, path), i));
}

static void fails(const char *const *args, const char *expect, const char *what)
{
    hm_opts_t o;
    hm_conf_node_t *r = build(args, &o);
    ok(r == NULL, "%s: rejected", what);
    is_str(err, expect, "%s: message", what);
    hm_conf_free(r);
}

static void flag_mapping(void)
{
    hm_opts_t o;
    const char *args[] = {"-bind",
                          "127.0.0.5:8000",
                          "-advertise=10.0.0.1:7000",
                          "--node=n1",
                          "-join",
                          "a:1",
                          "-join",
                          "b:2",
                          "-retry-join",
                          "c",
                          "-retry-max",
                          "3",
                          "-retry-interval",
                          "5s",
                          "-tag",
                          "role=web",
                          "-tag",
                          "dc=east=1",
                          "-replay",
                          "-rejoin=true",
                          "-disable-compression",
                          "-rpc-addr",
                          "127.0.0.1:7474",
                          "-rpc-auth",
                          "tok",
                          "-encrypt",
                          "a2V5",
                          "-keyring-file",
                          "/k.json",
                          "-event-handler",
                          "user:x=/bin/a",
                          "-event-handler",
                          "/bin/b",
                          "-log-level",
                          "DEBUG",
                          "-profile",
                          "wan",
                          "-protocol",
                          "4",
                          "-snapshot",
                          "/s",
                          "-tags-file",
                          "/t.json",
                          "-syslog",
                          "-broadcast-timeout",
                          "7s",
                          "-iface",
                          "eth0",
                          "-discover",
                          "c1",
                          "-module-path",
                          "/m",
                          NULL};
    hm_conf_node_t *r = build(args, &o);

    ok(r != NULL, "every serf flag parses (%s)", err);
    if (r == NULL)
        return;
    is_str(hm_conf_str(r, "bind"), "127.0.0.5:8000", "-bind -> bind");
    is_str(hm_conf_str(r, "advertise"), "10.0.0.1:7000", "-advertise=V -> advertise");
    is_str(hm_conf_str(r, "node_name"), "n1", "--node=V -> node_name");
    is_int(hm_conf_len(hm_conf_get(r, "join")), 2, "-join repeatable");
    is_str(item(r, "join", 1), "b:2", "-join -> join list in order");
    is_str(item(r, "retry_join", 0), "c", "-retry-join -> retry_join");
    is_int(hm_conf_int(r, "retry_max"), 3, "-retry-max -> retry_max");
    is_int(hm_conf_ms(r, "retry_interval"), 5000, "-retry-interval -> retry_interval");
    is_str(hm_conf_str(r, "tags.role"), "web", "-tag k=v -> tags");
    is_str(hm_conf_str(r, "tags.dc"), "east=1", "-tag splits at the first '='");
    ok(hm_conf_bool(r, "replay_on_join"), "-replay -> replay_on_join");
    ok(hm_conf_bool(r, "rejoin_after_leave"), "-rejoin=true -> rejoin_after_leave");
    ok(!hm_conf_bool(r, "enable_compression"), "-disable-compression -> enable_compression");
    is_str(hm_conf_str(r, "rpc.addr"), "127.0.0.1:7474", "-rpc-addr -> rpc.addr");
    is_str(hm_conf_str(r, "rpc.auth_key"), "tok", "-rpc-auth -> rpc.auth_key");
    is_str(hm_conf_str(r, "crypto.encrypt_key"), "a2V5", "-encrypt -> crypto.encrypt_key");
    is_str(hm_conf_str(r, "crypto.keyring_file"), "/k.json", "-keyring-file -> crypto");
    is_str(item(r, "handlers.event_handlers", 0), "user:x=/bin/a",
           "-event-handler -> handlers.event_handlers");
    is_str(item(r, "handlers.event_handlers", 1), "/bin/b", "-event-handler repeatable");
    is_str(hm_conf_str(r, "log_level"), "debug", "-log-level (case-insensitive)");
    is_str(hm_conf_str(r, "profile"), "wan", "-profile");
    is_int(hm_conf_int(r, "protocol"), 4, "-protocol");
    is_str(hm_conf_str(r, "snapshot_path"), "/s", "-snapshot -> snapshot_path");
    is_str(hm_conf_str(r, "tags_file"), "/t.json", "-tags-file");
    ok(hm_conf_bool(r, "syslog"), "-syslog");
    is_int(hm_conf_ms(r, "broadcast_timeout"), 7000, "-broadcast-timeout");
    is_str(hm_conf_str(r, "interface"), "eth0", "-iface -> interface");
    is_str(hm_conf_str(r, "discover"), "c1", "-discover");
    is_str(item(r, "module_path", 0), "/m", "-module-path");
    ok(!hm_conf_isset(r, "modules"), "flags never set the module list");
    hm_conf_free(r);

    {
        const char *a[] = {"-role", "db", "-replay=false", "-syslog=f", NULL};
        r = build(a, &o);
        is_str(hm_conf_str(r, "tags.role"), "db", "-role -> tags.role");
        ok(!hm_conf_bool(r, "replay_on_join") && !hm_conf_bool(r, "syslog"),
           "-flag=false turns a bool off");
        hm_conf_free(r);
    }
    {
        const char *a[] = {"-t", "-T", "-c", P("none.yaml"), NULL};
        hm_opts_t oo;
        char *argv[] = {"hamletd", "-t", "-T", "-c", "x.yaml", NULL};
        (void)a;
        ok(hm_opts_parse(&oo, 5, argv, err, sizeof(err)) == 0 && oo.test && oo.dump &&
               strcmp(oo.conf_file, "x.yaml") == 0 && !oo.serf_flags,
           "hamletd's own options");
        hm_opts_free(&oo);
    }
}

static void flag_errors(void)
{
    const char *a1[] = {"-bogus", NULL};
    const char *a2[] = {"-bind", NULL};
    const char *a3[] = {"-tag", "novalue", NULL};
    const char *a4[] = {"-tag", "=x", NULL};
    const char *a5[] = {"-protocol", "9", NULL};
    const char *a6[] = {"-replay=maybe", NULL};
    const char *a7[] = {"-log-level", "loud", NULL};
    const char *a8[] = {"stray", NULL};
    const char *a9[] = {"-bind", "1.2.3.4:0", NULL};

    fails(a1, "flag provided but not defined: -bogus", "unknown flag");
    fails(a2, "flag needs an argument: -bind", "missing argument");
    fails(a3, "Invalid tag: 'novalue'", "tag without '='");
    fails(a4, "Invalid tag: '=x'", "tag with empty key");
    fails(a5, "flag -protocol: protocol: 9 out of range [2, 5]", "flag value out of range");
    fails(a6, "invalid boolean value \"maybe\" for flag -replay", "bad boolean flag");
    fails(a7,
          "flag -log-level: log_level: bad value 'loud', expected one of: trace, debug, "
          "info, warn, err",
          "bad log level");
    fails(a8, "unexpected argument: stray", "positional argument");
    fails(a9, "flag -bind: bind: bad address '1.2.3.4:0': bad port '0' (1..65535)",
          "bad bind address");
}

static void json_config(void)
{
    hm_opts_t o;
    hm_conf_node_t *r;

    write_file("base.yaml", "bind: 127.0.0.1:9000\nnode_name: fromyaml\nreplay_on_join: true\n"
                            "tags:\n  role: yaml\n  zone: a\njoin: [y1]\n");
    write_file("a.json", "{\"node_name\": \"fromjson\", \"start_join\": [\"j1\", \"j2\"],\n"
                         " \"tags\": {\"role\": \"json\", \"dc\": \"east\"},\n"
                         " \"replay_on_join\": false, \"enable_syslog\": true,\n"
                         " \"retry_max_attempts\": 4, \"retry_interval\": \"2s\",\n"
                         " \"rpc_addr\": \"127.0.0.1:7400\", \"rpc_auth\": \"s3\",\n"
                         " \"encrypt_key\": \"k\", \"event_handlers\": [\"member-join=/x\"],\n"
                         " \"log_level\": \"WARN\", \"protocol\": 0, \"profile\": \"\",\n"
                         " \"leave_on_terminate\": true, \"user_event_size_limit\": 1000}\n");
    write_file("d/10-b.json", "{\"bind\": \"127.0.0.1:9100\", \"start_join\": [\"j3\"]}");
    write_file("d/20-c.json", "{\"bind\": \"127.0.0.1:9200\", \"role\": \"db\"}");
    write_file("d/ignored.txt", "{\"bogus\": 1}");
    {
        const char *a[] = {"-c",   P("base.yaml"), "-config-file", P("a.json"), "-config-dir",
                           P("d"), "-join",        "f1",           NULL};
        r = build(a, &o);
    }
    ok(r != NULL, "YAML + JSON file + JSON dir + flags (%s)", err);
    if (r == NULL)
        return;
    is_str(hm_conf_str(r, "node_name"), "fromjson", "JSON string overrides YAML");
    ok(hm_conf_bool(r, "replay_on_join"), "JSON false does not turn a bool off (Serf)");
    ok(hm_conf_bool(r, "syslog"), "enable_syslog -> syslog");
    ok(hm_conf_bool(r, "leave_on_terminate"), "leave_on_terminate");
    is_int(hm_conf_int(r, "retry_max"), 4, "retry_max_attempts -> retry_max");
    is_int(hm_conf_ms(r, "retry_interval"), 2000, "retry_interval duration string");
    is_int(hm_conf_int(r, "protocol"), 5, "JSON 0 leaves the number alone");
    is_str(hm_conf_str(r, "profile"), "lan", "JSON empty string leaves the value alone");
    is_str(hm_conf_str(r, "log_level"), "warn", "log_level normalised");
    is_int(hm_conf_bytes(r, "user_event_size_limit"), 1000, "user_event_size_limit");
    is_str(hm_conf_str(r, "rpc.addr"), "127.0.0.1:7400", "rpc_addr -> rpc.addr");
    is_str(hm_conf_str(r, "rpc.auth_key"), "s3", "rpc_auth -> rpc.auth_key");
    is_str(hm_conf_str(r, "crypto.encrypt_key"), "k", "encrypt_key -> crypto.encrypt_key");
    is_str(item(r, "handlers.event_handlers", 0), "member-join=/x", "event_handlers");
    is_str(hm_conf_str(r, "bind"), "127.0.0.1:9200", "config-dir files in lexical order");
    is_str(hm_conf_str(r, "tags.role"), "db", "later role wins (tags merged key by key)");
    is_str(hm_conf_str(r, "tags.zone"), "a", "YAML tag kept");
    is_str(hm_conf_str(r, "tags.dc"), "east", "JSON tag added");
    is_int(hm_conf_len(hm_conf_get(r, "join")), 5, "join lists concatenated");
    is_str(item(r, "join", 0), "y1", "YAML join first");
    is_str(item(r, "join", 3), "j3", "then JSON start_join in order");
    is_str(item(r, "join", 4), "f1", "then -join");
    is_str(hm_conf_where(hm_conf_get(r, "bind")), P("d/20-c.json"), "values know their file");
    hm_conf_free(r);

    write_file("bad1.json", "{\"bind\": \"x\", \"bogus_key\": 1}");
    write_file("bad2.json", "{\"protocol\": \"5\"}");
    write_file("bad3.json", "{\"bind\": \"a\",\n \"join\" 1}");
    write_file("bad4.json", "{\"start_join\": [\"a\", 2]}");
    write_file("bad5.json", "{\"protocol\": 7}");
    write_file("bad6.json", "[1]");
    {
        char want[1024];
        const char *a1[] = {"-config-file", P("bad1.json"), NULL};
        const char *a2[] = {"-config-file", P("bad2.json"), NULL};
        const char *a3[] = {"-config-file", P("bad3.json"), NULL};
        const char *a4[] = {"-config-file", P("bad4.json"), NULL};
        const char *a5[] = {"-config-file", P("bad5.json"), NULL};
        const char *a6[] = {"-config-file", P("bad6.json"), NULL};
        const char *a7[] = {"-config-dir", P("nodir"), NULL};
        snprintf(want, sizeof(want), "%s: bogus_key: unknown key (not a Serf agent config key)",
                 P("bad1.json"));
        fails(a1, want, "JSON unknown key");
        snprintf(want, sizeof(want), "%s: protocol: expected an integer, got a string",
                 P("bad2.json"));
        fails(a2, want, "JSON wrong type");
        snprintf(want, sizeof(want), "%s:2:9: JSON error: ':' expected near '1'", P("bad3.json"));
        fails(a3, want, "JSON syntax error with line and column");
        snprintf(want, sizeof(want), "%s: start_join[1]: expected a string, got a number",
                 P("bad4.json"));
        fails(a4, want, "JSON list element");
        snprintf(want, sizeof(want), "%s: protocol: 7 out of range [2, 5]", P("bad5.json"));
        fails(a5, want, "JSON value validated by the schema");
        snprintf(want, sizeof(want), "%s: a Serf config file holds a JSON object", P("bad6.json"));
        fails(a6, want, "JSON not an object");
        snprintf(want, sizeof(want), "Error reading '%s': No such file or directory", P("nodir"));
        fails(a7, want, "missing config dir");
    }
}

int main(void)
{
    char cmd[600];

    hm_log_set_output(NULL);
    snprintf(dir, sizeof(dir), "/tmp/hm-flags-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/d", dir);
    if (system(cmd) != 0)
        return 1;
    flag_mapping();
    flag_errors();
    json_config();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        diag("cleanup failed");
    return done_testing();
}
