/* `hamlet query` and `hamlet reachability`: a query and its streamed replies. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hm_client.h"

#define RPC_OPTS_HELP                                                                              \
    "  -rpc-addr=127.0.0.1:7373  RPC address of the agent.\n"                                      \
    "  -rpc-auth=\"\"              RPC auth token of the agent."

typedef struct query_req {
    const hm_strlist_t *nodes; /* NULL or empty: nil */
    const hm_tags_t *tags;     /* NULL: nil */
    bool ack;
    uint8_t relay;
    int64_t timeout_ns;
    const char *name;
    const char *payload; /* NULL: nil */
} query_req_t;

static void pack_query(hm_buf_t *b, const query_req_t *q)
{
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, b);
    msgpack_pack_map(&pk, 7);
    hm_rpc_pack_str(&pk, "FilterNodes");
    if (q->nodes && q->nodes->n) {
        msgpack_pack_array(&pk, q->nodes->n);
        for (size_t i = 0; i < q->nodes->n; i++)
            hm_rpc_pack_str(&pk, q->nodes->v[i]);
    } else {
        msgpack_pack_nil(&pk);
    }
    hm_rpc_pack_str(&pk, "FilterTags");
    if (q->tags) {
        msgpack_pack_map(&pk, q->tags->n);
        for (size_t i = 0; i < q->tags->n; i++)
            hm_rpc_pack_kstr(&pk, q->tags->v[i].key, q->tags->v[i].value);
    } else {
        msgpack_pack_nil(&pk);
    }
    hm_rpc_pack_str(&pk, "RequestAck");
    q->ack ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    hm_rpc_pack_kuint(&pk, "RelayFactor", q->relay);
    hm_rpc_pack_str(&pk, "Timeout");
    msgpack_pack_int64(&pk, q->timeout_ns);
    hm_rpc_pack_kstr(&pk, "Name", q->name);
    hm_rpc_pack_str(&pk, "Payload");
    hm_rpc_pack_bin(&pk, q->payload, q->payload ? strlen(q->payload) : 0, true);
}

/* Called per ack (payload NULL) and per response. */
typedef void (*reply_fn)(void *ud, bool ack, const char *from, size_t from_n, const char *p,
                         size_t n);

/* Sends the query; returns HM_RPCC_OK once "done" arrived, EAGENT if the
 * agent refused it (c->err), ECONN if the connection broke. */
static int run_query(hm_rpcc_t *c, const query_req_t *q, reply_fn fn, void *ud,
                     void (*started)(void *))
{
    hm_buf_t req = {0};
    uint64_t seq, got;
    int rc;

    pack_query(&req, q);
    seq = hm_rpcc_send(c, "query", &req);
    hm_buf_free(&req);
    if (seq == 0)
        return HM_RPCC_ECONN;
    do {
        rc = hm_rpcc_read_header(c, &got, -1);
    } while (rc != HM_RPCC_ECONN && got != seq);
    if (rc != HM_RPCC_OK)
        return rc;
    started(ud);
    for (;;) {
        msgpack_object rec;
        const char *type, *from, *p;
        size_t tn, fn_n, pn;

        /* the agent going away ends the query as "done" would (serf's
         * client closes its channels and the CLI prints the totals) */
        rc = hm_rpcc_read_header(c, &got, -1);
        if (rc == HM_RPCC_ECONN || hm_rpcc_read_obj(c, &rec, -1) != HM_RPCC_OK)
            return HM_RPCC_OK;
        if (got != seq)
            continue;
        if (hm_rpc_field_str(&rec, "Type", &type, &tn) < 0 ||
            hm_rpc_field_str(&rec, "From", &from, &fn_n) < 0 ||
            hm_rpc_field_str(&rec, "Payload", &p, &pn) < 0)
            return HM_RPCC_ECONN;
        if (tn == 4 && memcmp(type, "done", 4) == 0)
            return HM_RPCC_OK;
        if (tn == 3 && memcmp(type, "ack", 3) == 0)
            fn(ud, true, from, fn_n, NULL, 0);
        else if (tn == 8 && memcmp(type, "response", 8) == 0)
            fn(ud, false, from, fn_n, p, pn);
    }
}

/* --- query ------------------------------------------------------------ */

static const char query_help[] =
    "Usage: hamlet query [options] name payload\n"
    "\n"
    "  Sends a query to the cluster and prints the acks and responses that\n"
    "  come back before its deadline.\n"
    "\n"
    "Options:\n"
    "\n"
    "  -format=text|json         Output format (default text).\n"
    "  -node=NAME                Only this node answers (repeatable).\n"
    "  -tag key=regexp           Only nodes whose tag matches answer (repeatable).\n"
    "  -timeout=\"15s\"            How long to wait; default: the agent's formula.\n"
    "  -no-ack                   Do not ask for acks.\n"
    "  -relay-factor=N           Relay each response through N other nodes "
    "(0-255).\n" RPC_OPTS_HELP;

typedef struct query_out {
    const char *name;
    bool json, noack;
    unsigned acks, resps;
    hm_strlist_t ack_from;
    hm_tags_t resp; /* from -> payload, strings owned (strdup) */
} query_out_t;

static void q_started(void *ud)
{
    query_out_t *o = ud;
    if (!o->json)
        printf("Query '%s' dispatched\n", o->name);
}

static char *dupn(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static void q_reply(void *ud, bool ack, const char *from, size_t fn, const char *p, size_t n)
{
    query_out_t *o = ud;

    if (ack) {
        o->acks++;
        if (!o->json) {
            printf("Ack from '%.*s'\n", (int)fn, from);
        } else {
            char **v = realloc(o->ack_from.v, (o->ack_from.n + 1) * sizeof(char *));
            if (v) {
                o->ack_from.v = v;
                v[o->ack_from.n++] = dupn(from, fn);
            }
        }
        return;
    }
    o->resps++;
    if (!o->json) {
        if (n > 0 && p[n - 1] == '\n')
            n--;
        printf("Response from '%.*s': ", (int)fn, from);
        fwrite(p ? p : "", 1, n, stdout);
        printf("\n");
        return;
    }
    /* a map in Go: a later response of the same node replaces the earlier */
    {
        char *k = dupn(from, fn), *v = dupn(p ? p : "", n);
        size_t i;
        hm_tag_t *nv;
        for (i = 0; i < o->resp.n && strcmp(o->resp.v[i].key, k) != 0; i++)
            ;
        if (i < o->resp.n) {
            free(k);
            free((char *)o->resp.v[i].value);
            o->resp.v[i].value = v;
            return;
        }
        nv = realloc(o->resp.v, (o->resp.n + 1) * sizeof(hm_tag_t));
        if (nv == NULL)
            return;
        o->resp.v = nv;
        nv[o->resp.n].key = k;
        nv[o->resp.n++].value = v;
    }
}

static void q_json(query_out_t *o)
{
    hm_json_t j = {0};

    hm_json_open(&j, '{');
    hm_json_key(&j, "Acks");
    if (o->ack_from.n == 0) {
        hm_json_null(&j);
    } else {
        hm_json_open(&j, '[');
        for (size_t i = 0; i < o->ack_from.n; i++)
            hm_json_cstr(&j, o->ack_from.v[i]);
        hm_json_close(&j, ']');
    }
    hm_json_key(&j, "Responses");
    hm_tags_sort(&o->resp);
    hm_json_tags(&j, &o->resp);
    hm_json_close(&j, '}');
    printf("%s\n", hm_json_text(&j));
    hm_buf_free(&j.out);
}

int hm_cmd_query(int argc, char **argv)
{
    bool noack = false;
    hm_strlist_t nodes = {0}, tagf = {0};
    int64_t timeout = 0;
    const char *format = "text";
    long relay = 0;
    hm_flag_t flags[] = {{"node", HM_FLAG_LIST, &nodes},
                         {"tag", HM_FLAG_LIST, &tagf},
                         {"timeout", HM_FLAG_DURATION, &timeout},
                         {"no-ack", HM_FLAG_BOOL, &noack},
                         {"format", HM_FLAG_STR, &format},
                         {"relay-factor", HM_FLAG_INT, &relay},
                         {NULL, 0, NULL}};
    hm_rpc_opts_t rpc;
    hm_tags_t tags = {0};
    query_out_t out = {0};
    query_req_t q = {0};
    hm_rpcc_t c;
    int rc = 1, i = hm_flags_parse(flags, &rpc, argc, argv, query_help);

    if (i < 0) {
        rc = i == -2 ? 0 : 1;
        goto out;
    }
    if (hm_parse_tags(&tagf, &tags) < 0)
        goto out;
    if (argc - i < 1) {
        printf("A query name must be specified.\n\n%s\n", query_help);
        goto out;
    }
    if (argc - i > 2) {
        printf("Too many command line arguments. Only a name and payload must be "
               "specified.\n\n%s\n",
               query_help);
        goto out;
    }
    if (relay < 0 || relay > 255) {
        printf("Relay factor must be between 0 and 255\n");
        goto out;
    }
    if (hm_cli_connect(&c, &rpc) < 0)
        goto out;
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        printf("Invalid format: %s\n", format);
        hm_rpcc_close(&c);
        goto out;
    }
    q = (query_req_t){&nodes,
                      &tags,
                      !noack,
                      (uint8_t)relay,
                      timeout,
                      argv[i],
                      argc - i == 2 ? argv[i + 1] : NULL};
    out.name = argv[i];
    out.json = strcmp(format, "json") == 0;
    out.noack = noack;
    if (run_query(&c, &q, q_reply, &out, q_started) != HM_RPCC_OK) {
        printf("Error sending query: %s\n", c.err);
    } else {
        rc = 0;
        if (out.json) {
            q_json(&out);
        } else {
            if (!noack)
                printf("Total Acks: %u\n", out.acks);
            printf("Total Responses: %u\n", out.resps);
        }
    }
    hm_rpcc_close(&c);
out:
    for (size_t k = 0; k < out.resp.n; k++) {
        free((char *)out.resp.v[k].key);
        free((char *)out.resp.v[k].value);
    }
    free(out.resp.v);
    hm_strlist_free(&out.ack_from);
    hm_tags_free(&tags);
    hm_strlist_free(&nodes);
    hm_strlist_free(&tagf);
    return rc;
}

/* --- reachability --------------------------------------------------------- */

static const char reach_help[] =
    "Usage: hamlet reachability [options]\n"
    "\n"
    "  Pings every live member through the cluster with an internal query and\n"
    "  reports which ones did not acknowledge it.\n"
    "\n"
    "Options:\n"
    "\n"
    "  -verbose                  Show each ack and the timings.\n" RPC_OPTS_HELP;

static const char troubleshooting[] =
    "\n"
    "Troubleshooting tips:\n"
    "* Ensure that the bind addr:port is accessible by all other nodes\n"
    "* If an advertise address is set, ensure it routes to the bind address\n"
    "* Check that no nodes are behind a NAT\n"
    "* If nodes are behind firewalls or iptables, check that Serf traffic is permitted (UDP "
    "and TCP)\n"
    "* Verify networking equipment is functional";

typedef struct reach {
    bool verbose, dups;
    hm_strlist_t live, acked;
    double start, last;
} reach_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool in_list(const hm_strlist_t *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

static void push(hm_strlist_t *l, char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof(char *));
    if (v == NULL) {
        free(s);
        return;
    }
    l->v = v;
    v[l->n++] = s;
}

static void r_started(void *ud)
{
    reach_t *r = ud;

    r->start = r->last = now_s();
    printf("Starting reachability test...\n");
}

static void r_reply(void *ud, bool ack, const char *from, size_t fn, const char *p, size_t n)
{
    reach_t *r = ud;
    char *s;

    if (!ack)
        return;
    s = dupn(from, fn);
    if (r->verbose)
        printf("\tAck from '%s'\n", s);
    if (in_list(&r->acked, s)) {
        r->dups = true;
        printf("Duplicate response from '%s'\n", s);
    }
    r->last = now_s();
    push(&r->acked, s);
}

static int reach_report(reach_t *r)
{
    size_t n = r->live.n, acks = r->acked.n;

    if (r->verbose)
        printf("Query time: %0.2f sec, time to last response: %0.2f sec\n", now_s() - r->start,
               r->last - r->start);
    if (r->dups)
        printf("Duplicate responses means there is a misconfiguration. Verify that node names "
               "are unique.\n");
    if (acks == n) {
        printf("Successfully contacted all live nodes\n");
        return r->dups ? 1 : 0;
    }
    if (acks > n) {
        printf("Received more acks than live nodes! Acks from non-live nodes:\n");
        for (size_t i = 0; i < r->acked.n; i++)
            if (!in_list(&r->live, r->acked.v[i]))
                printf("\t%s\n", r->acked.v[i]);
        printf("This could mean Serf is detecting false-failures due to a misconfiguration or "
               "network issue.\n");
    } else {
        printf("Received less acks than live nodes! Missing acks from:\n");
        for (size_t i = 0; i < r->live.n; i++)
            if (!in_list(&r->acked, r->live.v[i]))
                printf("\t%s\n", r->live.v[i]);
        printf("This could mean Serf gossip packets are being lost due to a misconfiguration "
               "or network issue.\n");
    }
    printf("%s\n", troubleshooting);
    return 1;
}

int hm_cmd_reachability(int argc, char **argv)
{
    reach_t r = {0};
    hm_flag_t flags[] = {{"verbose", HM_FLAG_BOOL, &r.verbose}, {NULL, 0, NULL}};
    hm_rpc_opts_t rpc;
    msgpack_object body;
    const msgpack_object *list;
    query_req_t q = {.ack = true, .name = "_serf_ping"};
    hm_rpcc_t c;
    size_t total = 0;
    int rc = 1, i = hm_flags_parse(flags, &rpc, argc, argv, reach_help);

    if (i < 0)
        return i == -2 ? 0 : 1;
    if (hm_cli_connect(&c, &rpc) < 0)
        return 1;
    if (hm_rpcc_call(&c, "members", NULL, true, &body) != HM_RPCC_OK) {
        printf("Error getting members: %s\n", c.err);
        goto out;
    }
    list = hm_rpc_get(&body, "Members");
    if (list && list->type == MSGPACK_OBJECT_ARRAY) {
        total = list->via.array.size;
        for (size_t k = 0; k < total; k++) {
            const msgpack_object *m = &list->via.array.ptr[k];
            if (hm_rpc_raw_eq(hm_rpc_get(m, "Status") ? hm_rpc_get(m, "Status") : m, "alive")) {
                char *name = hm_rpc_get(m, "Name") ? hm_rpc_strdup(hm_rpc_get(m, "Name")) : NULL;
                if (name && !in_list(&r.live, name))
                    push(&r.live, name);
                else
                    free(name);
            }
        }
    }
    printf("Total members: %zu, live members: %zu\n", total, r.live.n);
    if (run_query(&c, &q, r_reply, &r, r_started) != HM_RPCC_OK) {
        printf("Error sending query: %s\n", c.err);
        goto out;
    }
    rc = reach_report(&r);
out:
    hm_rpcc_close(&c);
    hm_strlist_free(&r.live);
    hm_strlist_free(&r.acked);
    return rc;
}
