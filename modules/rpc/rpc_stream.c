/* mod_rpc: streaming commands (stream, monitor, query) and their helpers
 * (stop, respond), fed by the member/user/query/log hooks. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_int.h"

/* --- stream ---------------------------------------------------------------- */

static void stream_free(rpc_stream_t *s)
{
    for (size_t i = 0; i < s->n_user; i++)
        free(s->user_names[i]);
    for (size_t i = 0; i < s->n_query; i++)
        free(s->query_names[i]);
    free(s->user_names);
    free(s->query_names);
    free(s);
}

void rpc_stream_free(rpc_conn_t *c)
{
    while (c->streams) {
        rpc_stream_t *s = c->streams;
        c->streams = s->next;
        stream_free(s);
    }
    while (c->pending) {
        rpc_pending_t *p = c->pending;
        c->pending = p->next;
        free(p);
    }
    c->monitor = false;
}

static int add_name(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(char *));

    if (nv == NULL)
        return -1;
    *v = nv;
    if ((nv[*n] = malloc(len + 1)) == NULL)
        return -1;
    memcpy(nv[*n], s, len);
    nv[(*n)++][len] = '\0';
    return 0;
}

/* Serf's ParseEventFilter + Valid: comma-separated, "" means "*". */
static int parse_filter(rpc_stream_t *s, const char *p, size_t n)
{
    static const char *const member[] = {"member-join", "member-leave", "member-failed",
                                         "member-update", "member-reap"};
    const char *end;

    if (n == 0) {
        p = "*";
        n = 1;
    }
    end = p + n;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *e = comma ? comma : end;
        size_t l = (size_t)(e - p), k;

        if (l == 1 && p[0] == '*') {
            s->member_mask = 0x1f;
            s->all_user = s->all_query = true;
        } else if (l >= 5 && memcmp(p, "user:", 5) == 0) {
            if (l == 5)
                s->all_user = true;
            else if (add_name(&s->user_names, &s->n_user, p + 5, l - 5) < 0)
                return -1;
        } else if (l >= 6 && memcmp(p, "query:", 6) == 0) {
            if (l == 6)
                s->all_query = true;
            else if (add_name(&s->query_names, &s->n_query, p + 6, l - 6) < 0)
                return -1;
        } else if (l == 4 && memcmp(p, "user", 4) == 0) {
            s->all_user = true;
        } else if (l == 5 && memcmp(p, "query", 5) == 0) {
            s->all_query = true;
        } else {
            for (k = 0; k < 5; k++)
                if (strlen(member[k]) == l && memcmp(p, member[k], l) == 0)
                    break;
            if (k == 5)
                return -1;
            s->member_mask |= 1u << k;
        }
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

int rpc_cmd_stream(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    rpc_stream_t *s;
    const char *p;
    size_t n;

    if (body == NULL || body->type != MSGPACK_OBJECT_MAP ||
        hm_rpc_field_str(body, "Type", &p, &n) < 0) {
        rpc_send(c, seq, "Malformed request body", NULL);
        return -1;
    }
    for (s = c->streams; s; s = s->next)
        if (s->seq == seq) {
            rpc_send(c, seq, HM_RPC_ERR_STREAM_EXISTS, NULL);
            return 0;
        }
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return -1;
    s->seq = seq;
    if (parse_filter(s, p, n) < 0) {
        stream_free(s);
        rpc_send(c, seq, HM_RPC_ERR_FILTER, NULL);
        return 0;
    }
    s->next = c->streams;
    c->streams = s;
    rpc_send(c, seq, "", NULL);
    return 0;
}

static bool has_name(char *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], name) == 0)
            return true;
    return false;
}

static void on_member_event(void *ud, const hm_member_event_t *ev)
{
    rpc_srv_t *srv = ud;
    hm_buf_t rec = {0};
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, &rec);
    msgpack_pack_map(&pk, 2);
    hm_rpc_pack_kstr(&pk, "Event", hm_member_event_name(ev->type));
    hm_rpc_pack_str(&pk, "Members");
    msgpack_pack_array(&pk, ev->n);
    for (size_t i = 0; i < ev->n; i++)
        hm_rpc_pack_member(&pk, ev->members[i]);
    for (rpc_conn_t *c = srv->conns; c; c = c->next)
        for (rpc_stream_t *s = c->streams; s && rpc_alive(c); s = s->next)
            if (s->member_mask & (1u << ev->type))
                rpc_send_record(c, s->seq, &rec);
    hm_buf_free(&rec);
}

static void on_user_event(void *ud, const hm_user_event_t *ev)
{
    rpc_srv_t *srv = ud;
    hm_buf_t rec = {0};
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, &rec);
    msgpack_pack_map(&pk, 5);
    hm_rpc_pack_str(&pk, "Coalesce");
    ev->coalesce ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    hm_rpc_pack_kstr(&pk, "Event", "user");
    hm_rpc_pack_kuint(&pk, "LTime", ev->ltime);
    hm_rpc_pack_kstr(&pk, "Name", ev->name);
    hm_rpc_pack_str(&pk, "Payload");
    hm_rpc_pack_bin(&pk, ev->payload, ev->len, false);
    for (rpc_conn_t *c = srv->conns; c; c = c->next)
        for (rpc_stream_t *s = c->streams; s && rpc_alive(c); s = s->next)
            if (s->all_user || has_name(s->user_names, s->n_user, ev->name))
                rpc_send_record(c, s->seq, &rec);
    hm_buf_free(&rec);
}

/* Forget queries whose deadline passed: `respond` to them is pointless. */
static void purge_pending(rpc_conn_t *c)
{
    uint64_t now = hm_now_ms(c->srv->ctx);

    for (rpc_pending_t **pp = &c->pending; *pp;) {
        if ((*pp)->q.deadline_ms && (*pp)->q.deadline_ms < now) {
            rpc_pending_t *p = *pp;
            *pp = p->next;
            free(p);
        } else {
            pp = &(*pp)->next;
        }
    }
}

static int on_query(void *ud, const hm_query_t *q)
{
    rpc_srv_t *srv = ud;
    int taken = HM_DECLINED;

    for (rpc_conn_t *c = srv->conns; c; c = c->next) {
        for (rpc_stream_t *s = c->streams; s && rpc_alive(c); s = s->next) {
            rpc_pending_t *p;
            hm_buf_t rec = {0};
            msgpack_packer pk;

            if (!s->all_query && !has_name(s->query_names, s->n_query, q->name))
                continue;
            purge_pending(c);
            if ((p = calloc(1, sizeof(*p))) == NULL)
                continue;
            p->id = ++c->next_query_id;
            p->q = *q;
            p->q.name = NULL;
            p->q.payload = NULL;
            p->q.len = 0;
            p->next = c->pending;
            c->pending = p;
            hm_rpc_packer_init(&pk, &rec);
            msgpack_pack_map(&pk, 5);
            hm_rpc_pack_kstr(&pk, "Event", "query");
            hm_rpc_pack_kuint(&pk, "ID", p->id);
            hm_rpc_pack_kuint(&pk, "LTime", q->ltime);
            hm_rpc_pack_kstr(&pk, "Name", q->name);
            hm_rpc_pack_str(&pk, "Payload");
            hm_rpc_pack_bin(&pk, q->payload, q->len, false);
            if (rpc_send_record(c, s->seq, &rec))
                taken = HM_OK;
            hm_buf_free(&rec);
        }
    }
    return taken;
}

int rpc_cmd_respond(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    uint64_t id;
    const char *p;
    size_t n;
    rpc_pending_t *q;

    if (body == NULL || body->type != MSGPACK_OBJECT_MAP ||
        hm_rpc_field_uint(body, "ID", &id) < 0 || hm_rpc_field_str(body, "Payload", &p, &n) < 0) {
        rpc_send(c, seq, "Malformed request body", NULL);
        return -1;
    }
    purge_pending(c);
    for (q = c->pending; q && q->id != id; q = q->next)
        ;
    if (q == NULL)
        rpc_send(c, seq, HM_RPC_ERR_RESPOND, NULL);
    else {
        int rc;
        rc = hm_query_respond(c->srv->ctx, &q->q, p, n);
        rpc_send(c, seq, rc == HM_OK ? "" : rpc_api_error(c->srv, "failed to respond"), NULL);
    }
    return 0;
}

/* --- monitor --------------------------------------------------------------- */

static bool parse_level(const char *p, size_t n, hm_log_level_t *lvl, char *upper, size_t ul)
{
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERR"};
    size_t i;

    for (i = 0; i < n && i + 1 < ul; i++)
        upper[i] = (char)toupper((unsigned char)p[i]);
    upper[i] = '\0';
    for (i = 0; i < 5; i++)
        if (strcmp(upper, names[i]) == 0) {
            *lvl = (hm_log_level_t)i;
            return true;
        }
    return false;
}

static void send_log(rpc_conn_t *c, const char *line)
{
    hm_buf_t rec = {0};
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, &rec);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_kstr(&pk, "Log", line);
    rpc_send_record(c, c->monitor_seq, &rec);
    hm_buf_free(&rec);
}

int rpc_cmd_monitor(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    rpc_srv_t *s = c->srv;
    char upper[64], msg[96];
    hm_log_level_t lvl;
    const char *p;
    size_t n;

    if (body == NULL || body->type != MSGPACK_OBJECT_MAP ||
        hm_rpc_field_str(body, "LogLevel", &p, &n) < 0) {
        rpc_send(c, seq, "Malformed request body", NULL);
        return -1;
    }
    if (c->monitor) {
        rpc_send(c, seq, HM_RPC_ERR_MONITOR_EXISTS, NULL);
        return 0;
    }
    if (!parse_level(p, n, &lvl, upper, sizeof(upper))) {
        snprintf(msg, sizeof(msg), "Unknown log level: %s", upper);
        rpc_send(c, seq, msg, NULL);
        return 0;
    }
    rpc_send(c, seq, "", NULL);
    c->monitor = true;
    c->monitor_seq = seq;
    c->monitor_level = lvl;
    /* what was logged before the client came, oldest first */
    s->in_log = true;
    for (size_t i = 0; i < s->ring_n; i++) {
        size_t k = (s->ring_head + RPC_LOG_RING - s->ring_n + i) % RPC_LOG_RING;
        if (s->ring_lvl[k] >= lvl)
            send_log(c, s->ring[k]);
    }
    s->in_log = false;
    return 0;
}

static void on_log(void *ud, hm_log_level_t lvl, const char *line)
{
    rpc_srv_t *s = ud;
    char *copy;

    if (s->in_log)
        return; /* a line about sending a line */
    s->in_log = true;
    if ((copy = strdup(line)) != NULL) {
        free(s->ring[s->ring_head]);
        s->ring[s->ring_head] = copy;
        s->ring_lvl[s->ring_head] = lvl;
        s->ring_head = (s->ring_head + 1) % RPC_LOG_RING;
        if (s->ring_n < RPC_LOG_RING)
            s->ring_n++;
    }
    for (rpc_conn_t *c = s->conns; c; c = c->next)
        if (c->monitor && rpc_alive(c) && lvl >= c->monitor_level)
            send_log(c, line);
    s->in_log = false;
}

void rpc_ring_free(rpc_srv_t *s)
{
    for (size_t i = 0; i < RPC_LOG_RING; i++) {
        free(s->ring[i]);
        s->ring[i] = NULL;
    }
    s->ring_n = 0;
}

int rpc_cmd_stop(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    uint64_t stop;

    if (body == NULL || body->type != MSGPACK_OBJECT_MAP ||
        hm_rpc_field_uint(body, "Stop", &stop) < 0) {
        rpc_send(c, seq, "Malformed request body", NULL);
        return -1;
    }
    for (rpc_stream_t **pp = &c->streams; *pp; pp = &(*pp)->next)
        if ((*pp)->seq == stop) {
            rpc_stream_t *s = *pp;
            *pp = s->next;
            stream_free(s);
            break;
        }
    if (c->monitor && c->monitor_seq == stop)
        c->monitor = false;
    rpc_send(c, seq, "", NULL);
    return 0;
}

/* --- query ----------------------------------------------------------------- */

/* One query sent for a client.  Records that come before the OK header has
 * gone out (a core that answers synchronously) wait in `early`. */
typedef struct rpc_q {
    rpc_conn_t *c;
    uint64_t seq;
    bool started, done;
    hm_buf_t early;
} rpc_q_t;

static void q_reply(void *ud, hm_query_reply_type_t type, const char *from, const uint8_t *payload,
                    size_t len)
{
    static const char *const types[] = {"ack", "response", "done"};
    rpc_q_t *q = ud;
    hm_buf_t rec = {0};
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, &rec);
    msgpack_pack_map(&pk, 3);
    hm_rpc_pack_kstr(&pk, "From", type == HM_QUERY_DONE ? "" : from);
    hm_rpc_pack_str(&pk, "Payload");
    if (type == HM_QUERY_RESPONSE)
        hm_rpc_pack_bin(&pk, payload, len, false);
    else
        msgpack_pack_nil(&pk);
    hm_rpc_pack_kstr(&pk, "Type", types[type <= HM_QUERY_DONE ? type : HM_QUERY_DONE]);
    if (!q->started) {
        hm_rpc_pack_response(&q->early, "", q->seq);
        hm_buf_append(&q->early, rec.data, rec.len);
    } else {
        rpc_send_record(q->c, q->seq, &rec);
    }
    hm_buf_free(&rec);
    if (type == HM_QUERY_DONE) {
        q->done = true;
        if (q->started) {
            rpc_unref(q->c);
            hm_buf_free(&q->early);
            free(q);
        }
    }
}

static int query_params(const msgpack_object *b, hm_query_params_t *p, char **name, hm_tags_t *tags,
                        char ***nodes, size_t *nn, bool *payload_nil)
{
    const msgpack_object *fn = hm_rpc_get(b, "FilterNodes"), *pl = hm_rpc_get(b, "Payload");
    uint64_t relay;
    int64_t timeout;
    const char *pp;
    size_t pn;

    if (rpc_obj_strs(fn, nodes, nn) < 0 ||
        hm_rpc_field_bool(b, "RequestAck", &p->request_ack) < 0 ||
        hm_rpc_field_uint(b, "RelayFactor", &relay) < 0 || relay > 255 ||
        hm_rpc_field_int(b, "Timeout", &timeout) < 0 ||
        hm_rpc_field_str(b, "Payload", &pp, &pn) < 0 ||
        rpc_obj_tags(hm_rpc_get(b, "FilterTags"), tags) < 0 ||
        (*name = hm_rpc_get(b, "Name") ? hm_rpc_strdup(hm_rpc_get(b, "Name")) : strdup("")) == NULL)
        return -1;
    *payload_nil = pl == NULL || pl->type == MSGPACK_OBJECT_NIL;
    p->name = *name;
    p->payload = pp;
    p->len = pn;
    p->filter_nodes = (const char *const *)*nodes;
    p->n_filter_nodes = *nn;
    p->filter_tags = tags->n ? tags : NULL;
    p->relay_factor = (uint8_t)relay;
    p->timeout_ms = timeout > 0 ? ((uint64_t)timeout + 999999) / 1000000 : 0;
    return 0;
}

int rpc_cmd_query(rpc_conn_t *c, uint64_t seq, const msgpack_object *body)
{
    hm_query_params_t p = {0};
    hm_tags_t tags = {0};
    char *name = NULL, **nodes = NULL;
    size_t nn = 0;
    bool payload_nil = true;
    uint32_t id = 0;
    rpc_q_t *q = NULL;
    int rc = 0;

    if (body == NULL || body->type != MSGPACK_OBJECT_MAP ||
        query_params(body, &p, &name, &tags, &nodes, &nn, &payload_nil) < 0) {
        rpc_send(c, seq, "Malformed request body", NULL);
        rc = -1;
    } else if (strncmp(name, "_serf_", 6) == 0 &&
               (strcmp(name, "_serf_ping") != 0 || !payload_nil)) {
        rpc_send(c, seq, HM_RPC_ERR_QUERY_PREFIX, NULL);
    } else if ((q = calloc(1, sizeof(*q))) == NULL) {
        rc = -1;
    } else {
        q->c = c;
        q->seq = seq;
        rpc_ref(c);
        rc = hm_query_send(c->srv->ctx, &p, q_reply, q, &id);
        if (rc != HM_OK) {
            rpc_send(c, seq, rpc_api_error(c->srv, "query failed"), NULL);
            rc = 0;
            rpc_unref(c);
            hm_buf_free(&q->early); /* the core did not take it */
            free(q);
        } else {
            rpc_send(c, seq, "", NULL);
            q->started = true;
            if (q->early.len && rpc_alive(c))
                rpc_write(c, &q->early);
            hm_buf_free(&q->early);
            if (q->done) {
                rpc_unref(c);
                free(q);
            }
        }
    }
    rpc_strs_free(nodes, nn);
    free(name);
    rpc_tags_free(&tags);
    return rc;
}

int rpc_hooks_register(rpc_srv_t *s)
{
    if (hm_hook_member_event(s->ctx, on_member_event, s) < 0 ||
        hm_hook_user_event(s->ctx, on_user_event, s) < 0 ||
        hm_hook_query(s->ctx, NULL, on_query, s) < 0 || hm_hook_log(s->ctx, on_log, s) < 0)
        return -1;
    return 0;
}
