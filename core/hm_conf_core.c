/*
 * The core schema: every top-level key hamletd itself accepts.  The names,
 * types and defaults are the contract with the agent (hm_agent.h); the docs
 * are repeated, at more length, in conf/hamlet.yaml.
 */
#include <string.h>

#include "hm_daemon.h"

#define DAY_MS (24LL * 3600 * 1000)

const hm_conf_key_t hm_core_keys[] = {
    {"node_name", HM_CONF_STRING, NULL, 0, 0, NULL,
     "node name, unique in the cluster (default: the host name)", NULL},
    {"bind", HM_CONF_ADDR, "127.0.0.1:7946", 0, 0, NULL,
     "gossip address (UDP and TCP), host:port; port 7946 if omitted", NULL},
    {"advertise", HM_CONF_ADDR, "", 0, 0, NULL,
     "address announced to other members (NAT); empty: the bind address", NULL},
    {"interface", HM_CONF_STRING, "", 0, 0, NULL,
     "bind to the first address of this network interface (serf -iface)", NULL},
    {"discover", HM_CONF_STRING, "", 0, 0, NULL,
     "mDNS cluster name to discover peers (serf -discover); not implemented yet", NULL},
    {"profile", HM_CONF_ENUM, "lan", 0, 0, "lan|wan|local",
     "gossip timing profile: lan, wan or local", NULL},
    {"protocol", HM_CONF_INT, "5", 2, 5, NULL, "Serf protocol version to speak (2..5)", NULL},
    {"join", HM_CONF_LIST, NULL, 0, 0, NULL,
     "addresses to join at start; start-up fails if none answers", NULL},
    {"retry_join", HM_CONF_LIST, NULL, 0, 0, NULL,
     "addresses to keep trying to join until one succeeds", NULL},
    {"retry_interval", HM_CONF_DURATION, "30s", 0, 0, NULL,
     "pause between retry_join attempts (at least 1s)", NULL},
    {"retry_max", HM_CONF_INT, "0", 0, 1000000000, NULL,
     "retry_join attempts before giving up and exiting; 0: forever", NULL},
    {"replay_on_join", HM_CONF_BOOL, "false", 0, 0, NULL, "replay past user events when joining",
     NULL},
    {"rejoin_after_leave", HM_CONF_BOOL, "false", 0, 0, NULL,
     "rejoin from the snapshot even after a graceful leave", NULL},
    {"snapshot_path", HM_CONF_STRING, "", 0, 0, NULL,
     "file recording members and clocks for restarts; empty: none", NULL},
    {"tags", HM_CONF_MAP, NULL, 0, 0, NULL, "this node's tags, key: value", NULL},
    {"tags_file", HM_CONF_STRING, "", 0, 0, NULL,
     "JSON file holding the tags, rewritten when they change; excludes `tags`", NULL},
    {"enable_compression", HM_CONF_BOOL, "true", 0, 0, NULL,
     "LZW-compress gossip messages (serf -disable-compression turns it off)", NULL},
    {"leave_on_terminate", HM_CONF_BOOL, "false", 0, 0, NULL,
     "accepted for Serf configs; hamletd always leaves gracefully on SIGTERM", NULL},
    {"skip_leave_on_interrupt", HM_CONF_BOOL, "false", 0, 0, NULL,
     "on SIGINT exit without the graceful leave", NULL},
    {"broadcast_timeout", HM_CONF_DURATION, "5s", 0, 0, NULL,
     "how long a graceful leave waits for its broadcast", NULL},
    {"reconnect_interval", HM_CONF_DURATION, "30s", 0, 0, NULL,
     "how often to try reconnecting to failed members", NULL},
    {"reconnect_timeout", HM_CONF_DURATION, "24h", 0, 0, NULL,
     "failed members are reaped after this long", NULL},
    {"tombstone_timeout", HM_CONF_DURATION, "24h", 0, 0, NULL,
     "members that left are forgotten after this long", NULL},
    {"disable_name_resolution", HM_CONF_BOOL, "false", 0, 0, NULL,
     "only warn about a name conflict instead of resolving it", NULL},
    {"user_event_size_limit", HM_CONF_SIZE, "512", 1, 9216, NULL,
     "largest user event (name + payload), bytes, at most 9216", NULL},
    {"query_size_limit", HM_CONF_SIZE, "1024", 1, 1048576, NULL, "largest query, bytes", NULL},
    {"query_response_size_limit", HM_CONF_SIZE, "1024", 1, 1048576, NULL,
     "largest query response, bytes", NULL},
    {"disable_coordinates", HM_CONF_BOOL, "false", 0, 0, NULL,
     "do not compute Vivaldi network coordinates", NULL},
    {"verify_suspicions", HM_CONF_BOOL, "true", 0, 0, NULL,
     "check a timed-out suspicion with one push/pull before declaring death (not memberlist's)",
     NULL},
    {"log_level", HM_CONF_ENUM, "info", 0, 0, "trace|debug|info|warn|err",
     "lowest level written to the log: trace, debug, info, warn, err", NULL},
    {"syslog", HM_CONF_BOOL, "false", 0, 0, NULL, "also send log lines to syslog", NULL},
    {"syslog_facility", HM_CONF_ENUM, "LOCAL0", 0, 0,
     "LOCAL0|LOCAL1|LOCAL2|LOCAL3|LOCAL4|LOCAL5|LOCAL6|LOCAL7|USER|DAEMON", "syslog facility",
     NULL},
    {"module_path", HM_CONF_LIST, NULL, 0, 0, NULL,
     "directories searched for mod_NAME.so (default: build tree, then install dir)", NULL},
    {"modules", HM_CONF_LIST, NULL, 0, 0, NULL,
     "modules to load, in order; unset: rpc, tags and every module with a section", NULL},
    HM_CONF_END,
};

bool hm_core_key(const char *name)
{
    for (const hm_conf_key_t *k = hm_core_keys; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return true;
    return false;
}
