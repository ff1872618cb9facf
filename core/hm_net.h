/*
 * The network glue: libevent UDP and TCP sockets driving the Serf layer
 * (and through it the gossip engine).  One timer, re-armed for
 * hm_serf_next_deadline() after every input; datagrams and streams pass
 * through the transform hooks (encryption) on their way in and out.
 */
#ifndef HM_NET_H
#define HM_NET_H

#include <sys/socket.h>

#include "hm_serf.h"

struct event_base;
typedef struct hm_net hm_net_t;

/* Transform hooks, with <hamlet/hook.h>'s semantics (HM_OK: replaced,
 * HM_DECLINED: unchanged, HM_DROP: discard, HM_AGAIN: need more). */
typedef struct hm_net_hooks {
    void *ud;
    int (*packet_out)(void *ud, const uint8_t *in, size_t len, hm_buf_t *out);
    int (*packet_in)(void *ud, const uint8_t *in, size_t len, hm_buf_t *out);
    int (*stream_out)(void *ud, const uint8_t *in, size_t len, hm_buf_t *out);
    int (*stream_in)(void *ud, const uint8_t *in, size_t len, hm_buf_t *out, size_t *consumed);
} hm_net_hooks_t;

typedef struct hm_net_stats {
    uint64_t udp_in, udp_out, udp_dropped, tcp_in, tcp_out, tcp_failed;
} hm_net_stats_t;

uint64_t hm_net_now(void); /* CLOCK_MONOTONIC in ms */

hm_net_t *hm_net_new(struct event_base *base, hm_serf_t *serf, const hm_net_hooks_t *hooks);
/* Bind UDP and TCP on the same address; 0 or -1 with err. */
int hm_net_bind(hm_net_t *n, const struct sockaddr *sa, socklen_t len, char *err, size_t errlen);
/* Bound port (useful with port 0). */
uint16_t hm_net_port(const hm_net_t *n);
/* Drain the engine's outputs and re-arm the timer: call after acting on
 * the Serf layer from outside the glue's own callbacks. */
void hm_net_kick(hm_net_t *n);
/* While on, streams the engine opens run with blocking I/O (bounded by
 * each stream's deadline) inside hm_net_kick(): a join started from an
 * RPC command completes before the command returns. */
void hm_net_sync_streams(hm_net_t *n, bool on);
/* Inbound stream deadline (memberlist TCPTimeout). */
void hm_net_set_tcp_timeout(hm_net_t *n, uint32_t ms);
const hm_net_stats_t *hm_net_stats(const hm_net_t *n);
void hm_net_free(hm_net_t *n);

#endif
