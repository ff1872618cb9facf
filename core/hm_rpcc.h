/*
 * The client side of a Serf RPC connection, as the `hamlet` binary uses it:
 * blocking I/O, one request in flight, stream records read in a loop.
 * Error texts follow Go's serf/client so `hamlet` prints what `serf` prints
 * ("dial tcp 127.0.0.1:7373: connect: connection refused", "client closed").
 */
#ifndef HM_RPCC_H
#define HM_RPCC_H

#include "hm_rpcwire.h"

typedef struct hm_rpcc {
    int fd;
    uint64_t seq; /* last Seq used */
    hm_rpc_in_t in;
    char err[512]; /* last error: the agent's Error text or a local one */
} hm_rpcc_t;

/* Result of a call: OK, the agent answered with an Error (text in c->err),
 * or the connection failed (c->err says how, usually "client closed"). */
enum { HM_RPCC_OK = 0, HM_RPCC_EAGENT = 1, HM_RPCC_ECONN = -1 };

/* Dials addr ("host:port", "[v6]:port"), handshakes, authenticates if auth
 * is non-empty.  On failure c->err holds the Go-style error text. */
int hm_rpcc_connect(hm_rpcc_t *c, const char *addr, const char *auth);
void hm_rpcc_close(hm_rpcc_t *c);

/* Sends header + optional body (already packed msgpack); returns the Seq
 * used, 0 on failure. */
uint64_t hm_rpcc_send(hm_rpcc_t *c, const char *command, const hm_buf_t *body);

/* Reads one response header: its Seq, and its Error copied into c->err.
 * Returns HM_RPCC_OK (Error empty), HM_RPCC_EAGENT or HM_RPCC_ECONN.
 * timeout_ms < 0 waits forever; a timeout is ECONN with "i/o timeout". */
int hm_rpcc_read_header(hm_rpcc_t *c, uint64_t *seq, int timeout_ms);
/* Reads the next object (a body); valid until the next read. */
int hm_rpcc_read_obj(hm_rpcc_t *c, msgpack_object *obj, int timeout_ms);

/* One request, one response.  `want_body`: the response carries a body
 * (read even when Error is set, except "Authentication required", as the
 * Go client does); it is left in *body.  Records of other Seqs (streams)
 * that arrive meanwhile are skipped. */
int hm_rpcc_call(hm_rpcc_t *c, const char *command, const hm_buf_t *req, bool want_body,
                 msgpack_object *body);

#endif
