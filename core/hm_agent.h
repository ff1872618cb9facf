/*
 * The agent: the Serf layer and the gossip engine wired to libevent sockets.
 * This is the contract between the daemon's main (hm_daemon.c, which owns
 * the loop, config, signals and modules) and the agent (hm_serf*.c,
 * hm_net.c, hm_agent.c), which also implements the cluster half of
 * <hamlet/api.h> (hm_self, hm_members_foreach, hm_user_event, hm_query_*,
 * hm_tags_update).
 *
 * Core config keys the agent reads (declared by the core schema in
 * hm_conf_core.c, documented in conf/hamlet.yaml; `serf agent` flags map
 * onto them):
 *   node_name (string, default: hostname)       -node
 *   bind (addr, "127.0.0.1:7946")               -bind
 *   advertise (addr, "")                        -advertise
 *   profile (enum lan|wan|local, "lan")         -profile
 *   protocol (int 2..5, 5)                      -protocol
 *   join (list)                                 -join
 *   retry_join (list), retry_interval (30s), retry_max (0)
 *   replay_on_join (bool, false)                -replay
 *   rejoin_after_leave (bool, false)            -rejoin
 *   snapshot_path (string, "")                  -snapshot
 *   tags (map), tags_file (string, "")          -tag, -tags-file
 *   enable_compression (bool, true)             -disable-compression
 *   leave_on_terminate (bool, false), skip_leave_on_interrupt (bool, false)
 *   broadcast_timeout (duration, 5s)
 *   reconnect_interval (30s), reconnect_timeout (24h), tombstone_timeout (24h)
 *   user_event_size_limit (size, 512), query_size_limit (1024),
 *   query_response_size_limit (1024), disable_coordinates (bool, false)
 *   interface (string, "")                      -iface
 *   disable_name_resolution (bool, false)
 *   log_level (enum trace|debug|info|warn|err, "info"), syslog, syslog_facility
 *   module_path (list), modules (list)
 */
#ifndef HM_AGENT_H
#define HM_AGENT_H

#include <hamlet/hamlet.h>

struct event_base;
typedef struct hm_agent hm_agent_t;

/* Reads the core config, builds the Serf layer and engine; no socket yet.
 * On error writes a message into err and returns NULL. */
hm_agent_t *hm_agent_new(struct event_base *base, const hm_conf_node_t *root, char *err,
                         size_t errlen);
/* Binds UDP+TCP, starts the engine, runs -join (failing if none succeed,
 * as serf agent does) and schedules retry_join.  0 or -1 with err.
 * Joins (here and hm_join) run their TCP push/pulls with blocking I/O,
 * each bounded by the profile's TCP timeout, before returning. */
int hm_agent_start(hm_agent_t *a, char *err, size_t errlen);
/* SIGHUP: new validated root (tags, log level, ...). */
int hm_agent_reload(hm_agent_t *a, const hm_conf_node_t *root, char *err, size_t errlen);
/* Graceful leave: broadcast the leave intent, wait up to broadcast_timeout,
 * then call done(ud) from the loop. */
void hm_agent_leave(hm_agent_t *a, void (*done)(void *ud), void *ud);
/* SIGUSR1: members, counters, engine state to the log. */
void hm_agent_dump(hm_agent_t *a);
void hm_agent_free(hm_agent_t *a);

/* Set by the daemon so the agent can run hooks and log. */
struct hm_daemon;
void hm_agent_set_daemon(hm_agent_t *a, struct hm_daemon *d);

#endif
