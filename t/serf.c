/*
 * The Serf layer, sans-I/O, on a virtual network (t/serf/vnet.h):
 * Lamport rules, intents and their buffer, user events and their
 * de-duplication, queries (filters, acks, responses, relays, timeout
 * formula, size limits), graceful leave, failure, reap, event replay on
 * join, coordinates, name conflicts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hm_regex.h"
#include "hm_serf.h"
#include "hm_serf_coord.h"
#include "hm_serf_int.h"
#include "hm_serfwire.h"
#include "hm_tagsfile.h"
#include "serf/vnet.h"
#include "tap.h"

static bool all_alive(vnet_t *v, void *ud)
{
    int n = *(int *)ud;

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            char name[16];
            snprintf(name, sizeof(name), "s%d", j);
            if (vnet_status(v, i, name) != HM_STATUS_ALIVE)
                return false;
        }
    return true;
}

static vnet_t *cluster(int n, hm_serf_config_t *cfg)
{
    vnet_t *v = vnet_new();

    for (int i = 0; i < n; i++)
        vnet_add(v, cfg);
    for (int i = 1; i < n; i++)
        vnet_join(v, i, 0, true);
    return v;
}

static void test_lamport(void)
{
    uint64_t c = 0;

    is_int(lc_increment(&c), 1, "Increment from 0 gives 1");
    lc_witness(&c, 0);
    is_int(c, 1, "Witness of an older time changes nothing");
    lc_witness(&c, 1);
    is_int(c, 2, "Witness of the current time moves one past it");
    lc_witness(&c, 41);
    is_int(c, 42, "Witness of a newer time: that time + 1");
    lc_witness(&c, 7);
    is_int(c, 42, "clocks never go back");
}

static void test_pure(void)
{
    is_int(hm_serf_tag_match("web", "a-web-1"), 1, "tag filter is unanchored, as Go's MatchString");
    is_int(hm_serf_tag_match("^web$", "a-web-1"), 0, "anchors are honoured");
    is_int(hm_serf_tag_match("w.*", ""), 0, "missing tag is the empty string");
    is_int(hm_serf_tag_match("^$", ""), 1, "empty expression matches an empty tag");
    is_int(hm_serf_tag_match("(", "x"), -1, "bad regexp is an error (query not processed)");
    /* RE2 syntax, as Go's regexp reads it (hm_regex.c) */
    is_int(hm_serf_tag_match("\\d+", "8"), 1, "\\d is a digit");
    is_int(hm_serf_tag_match("^\\d+$", "east"), 0, "\\d is not a letter");
    is_int(hm_serf_tag_match("\\w+-\\d", "east-1"), 1, "\\w and \\d");
    is_int(hm_serf_tag_match("^\\s*east-1\\s*$", "east-1"), 1, "\\s*");
    is_int(hm_serf_tag_match("(?:web|db)", "web"), 1, "(?:...) group");
    is_int(hm_serf_tag_match("(?i)WEB", "web"), 1, "leading (?i)");
    is_int(hm_serf_tag_match("WEB", "web"), 0, "case-sensitive without (?i)");
    is_int(hm_serf_tag_match("^.$", "\n"), 0, "RE2's . does not match a newline");
    is_int(hm_serf_tag_match("[\\d]{2}", "16"), 1, "\\d inside brackets");
    is_int(hm_serf_tag_match("east\\-1", "east-1"), 1, "escaped punctuation");
    is_int(hm_serf_tag_match("\\Qa.b\\E", "axb"), 0, "\\Q...\\E is literal");
    is_int(hm_serf_tag_match("(a)\\1", "aa"), -1, "backreference refused as Go does");
    is_int(hm_serf_tag_match("we+?b", "web"), 1, "lazy quantifier");
    {
        const char *err;
        is_int(hm_re_match_once("x|eb", "web", true, &err), 1, "anchored is textual ^x|eb$");
        is_int(hm_re_match_once("w", "web", true, &err), 0, "anchored w is not web");
        is_int(hm_re_match_once("(?i)W.B", "web", true, &err), 1, "anchored (?i)");
    }
    is_int(hm_serf_query_timeout(200, 16, 1), 3200, "LAN timeout, 1 node: 3.2 s");
    is_int(hm_serf_query_timeout(200, 16, 9), 3200, "LAN timeout, 9 nodes: 3.2 s");
    is_int(hm_serf_query_timeout(200, 16, 10), 6400, "LAN timeout, 10 nodes: 6.4 s");
    is_int(hm_serf_query_timeout(200, 16, 100), 9600, "LAN timeout, 100 nodes: 9.6 s");
}

/* Go's json.MarshalIndent(map[string]string, "", "  "), as serf 0.8/0.9
 * writes -tags-file (bytes taken from the real serf's file). */
static void test_tagsfile(void)
{
    hm_tag_t v[] = {
        {"x", "<a&b> \"q\""}, {"role", "web"}, {"a\tb", "\x01\xe2\x80\xa8\xff\xc3\xa9"}};
    hm_tags_t t = {v, 3}, none = {NULL, 0};
    char *e = hm_tagsfile_encode(&t), *z = hm_tagsfile_encode(&none);

    is_str(e, "{\n  \"a\\tb\": \"\\u0001\\u2028\\ufffd\xc3\xa9\",\n  \"role\": \"web\",\n"
              "  \"x\": \"\\u003ca\\u0026b\\u003e \\\"q\\\"\"\n}",
           "tags file: sorted keys, 2-space indent, HTML-safe escapes, no newline at end");
    is_str(z, "{}", "no tags: {}");
    free(e);
    free(z);
}

static void test_coord(void)
{
    hm_coord_client_t cl;
    hm_coord_t peer, a, b;
    double d;

    /* One update worked by hand from Go's formulas (client.go; the
     * TestClient_Update setup): peer at z = 1 ms, RTT 2 ms. */
    hm_coord_client_init(&cl, 1);
    hm_coord_init(&peer);
    peer.vec[2] = 0.001;
    ok(hm_coord_update(&cl, "p", &peer, 2000) == 0, "update accepted");
    ok(fabs(cl.coord.vec[2] + 0.0001225) < 1e-9, "moved away from the peer: z = %.9f",
       cl.coord.vec[2]);
    ok(fabs(cl.coord.error - 1.37375) < 1e-9, "error 1.5 -> 1.37375 (%.9f)", cl.coord.error);
    ok(fabs(cl.coord.height - 1.245e-5) < 1e-12, "height 1e-5 -> 1.245e-5 (%.3g)", cl.coord.height);
    ok(fabs(cl.coord.adjustment - 2.137625e-5) < 1e-10, "adjustment (%.6g)", cl.coord.adjustment);
    hm_coord_client_free(&cl);

    hm_coord_client_init(&cl, 1);
    hm_coord_init(&peer);
    ok(hm_coord_update(&cl, "p", &peer, -1) < 0, "negative RTT rejected");
    ok(hm_coord_update(&cl, "p", &peer, 11 * 1000000LL) < 0, "RTT over 10 s rejected");
    for (int i = 0; i < 200; i++)
        hm_coord_update(&cl, "p", &peer, 10000);
    d = hm_coord_distance(&cl.coord, &peer);
    ok(d > 0.005 && d < 0.02, "estimated distance converges near the 10 ms RTT (%.4f s)", d);
    ok(cl.coord.error < 1.5, "error shrinks below the maximum (%.3f)", cl.coord.error);
    hm_coord_init(&a);
    hm_coord_init(&b);
    a.vec[0] = 0.003;
    b.vec[0] = -0.001;
    d = hm_coord_distance(&a, &b);
    ok(d > 0.00401 && d < 0.00403, "distance = |a-b| + heights (%.6f)", d);
    peer.vec[3] = 1.0 / 0.0;
    ok(hm_coord_update(&cl, "p", &peer, 1000) < 0, "invalid peer coordinate rejected");
    hm_coord_client_free(&cl);
}

static bool clocks_at_2(vnet_t *v, void *ud)
{
    uint64_t a, b;

    (void)ud;
    hm_serf_clocks(vnet_node(v, 0)->serf, &a, NULL, NULL);
    hm_serf_clocks(vnet_node(v, 2)->serf, &b, NULL, NULL);
    return a >= 2 && b >= 2;
}

static void test_join_and_clocks(void)
{
    int n = 3;
    vnet_t *v = cluster(n, NULL);
    uint64_t mc0, mc1;
    bool ok_;

    ok_ = vnet_run_until(v, 10000, all_alive, &n);
    ok(ok_, "3 nodes: everyone sees everyone alive");
    ok(vnet_node(v, 1)->join_done && vnet_node(v, 1)->joined == 1, "join reports one node");
    is_int(vnet_count(vnet_node(v, 0), 'J', "s2"), 1, "s0 got exactly one member-join for s2");
    /* the join intents are gossiped: all alive can come first */
    vnet_run_until(v, 10000, clocks_at_2, NULL);
    hm_serf_clocks(vnet_node(v, 0)->serf, &mc0, NULL, NULL);
    hm_serf_clocks(vnet_node(v, 2)->serf, &mc1, NULL, NULL);
    ok(mc0 >= 2 && mc1 >= 2, "member clocks advanced by the join intents (%llu, %llu)",
       (unsigned long long)mc0, (unsigned long long)mc1);
    vnet_free(v);
}

static bool s1_left(vnet_t *v, void *ud)
{
    (void)ud;
    return vnet_status(v, 0, "s1") == HM_STATUS_LEFT && vnet_status(v, 2, "s1") == HM_STATUS_LEFT;
}

static void test_leave(void)
{
    int n = 3;
    vnet_t *v = cluster(n, NULL);
    char err[128];
    bool r;

    vnet_run_until(v, 10000, all_alive, &n);
    ok(hm_serf_leave(vnet_node(v, 1)->serf, vnet_now(v), err, sizeof(err)) == 0, "leave starts");
    ok(hm_serf_leave(vnet_node(v, 1)->serf, vnet_now(v), err, sizeof(err)) < 0 &&
           strcmp(err, "Leave already in progress") == 0,
       "second leave: %s", err);
    r = vnet_run_until(v, 10000, s1_left, NULL);
    ok(r, "graceful leave: the others see s1 as left");
    is_int(vnet_count(vnet_node(v, 0), 'L', "s1"), 1, "one member-leave event");
    is_int(vnet_count(vnet_node(v, 0), 'F', "s1"), 0, "no member-failed event");
    vnet_run(v, 3000);
    is_int(hm_serf_state(vnet_node(v, 1)->serf), HM_SERF_LEFT, "leaver reaches state left");
    vnet_free(v);
}

static bool s2_failed(vnet_t *v, void *ud)
{
    (void)ud;
    return vnet_status(v, 0, "s2") == HM_STATUS_FAILED;
}

static bool s2_gone(vnet_t *v, void *ud)
{
    (void)ud;
    return vnet_status(v, 0, "s2") == HM_STATUS_NONE;
}

static void test_fail_reap(void)
{
    int n = 3;
    hm_serf_config_t c;
    vnet_t *v;
    uint64_t t0;
    bool r;

    hm_serf_config_default(&c, "local");
    c.reconnect_timeout_ms = 20000;
    c.reap_interval_ms = 1000;
    v = cluster(n, &c);
    vnet_run_until(v, 10000, all_alive, &n);
    vnet_crash(v, 2);
    t0 = vnet_now(v);
    r = vnet_run_until(v, 30000, s2_failed, NULL);
    ok(r, "crashed node marked failed after %llu ms", (unsigned long long)(vnet_now(v) - t0));
    is_int(vnet_count(vnet_node(v, 0), 'F', "s2"), 1, "one member-failed event");
    r = vnet_run_until(v, 60000, s2_gone, NULL);
    ok(r, "failed member reaped after reconnect_timeout");
    is_int(vnet_count(vnet_node(v, 0), 'R', "s2"), 1, "one member-reap event");
    vnet_free(v);
}

static bool events_everywhere(vnet_t *v, void *ud)
{
    size_t want = *(size_t *)ud;

    for (int i = 0; i < 3; i++)
        if (vnet_count(vnet_node(v, i), 'E', NULL) < want)
            return false;
    return true;
}

static void test_user_events(void)
{
    int n = 3;
    vnet_t *v = cluster(n, NULL);
    char err[256], big[600];
    size_t want = 2;
    hm_buf_t b = {0};
    hm_serf_user_event_t ue = {0};
    uint8_t msg[600];
    uint64_t ec;

    vnet_run_until(v, 10000, all_alive, &n);
    hm_serf_clocks(vnet_node(v, 0)->serf, NULL, &ec, NULL);
    ok(hm_serf_user_event(vnet_node(v, 0)->serf, vnet_now(v), "deploy", (const uint8_t *)"v1", 2,
                          true, err, sizeof(err)) == 0,
       "user event sent");
    ok(hm_serf_user_event(vnet_node(v, 0)->serf, vnet_now(v), "deploy", (const uint8_t *)"v1", 2,
                          true, err, sizeof(err)) == 0,
       "same event again (new LTime)");
    ok(vnet_run_until(v, 5000, events_everywhere, &want), "both events reach every node");
    vnet_run(v, 3000);
    is_int(vnet_count(vnet_node(v, 1), 'E', "deploy"), 2, "each delivered exactly once");
    {
        uint64_t maxl = 0;
        for (size_t i = 0; i < vnet_node(v, 1)->nrec; i++)
            if (vnet_node(v, 1)->rec[i].kind == 'E' && vnet_node(v, 1)->rec[i].ltime > maxl)
                maxl = vnet_node(v, 1)->rec[i].ltime;
        is_int(maxl, ec + 1, "second event carries event clock + 1");
    }

    /* Replay the first event's bytes: de-duplicated by (LTime, name, payload). */
    ue.ltime = ec;
    ue.name.p = "deploy";
    ue.name.n = 6;
    ue.payload = (const uint8_t *)"v1";
    ue.payload_len = 2;
    hm_buf_append(&b, "\x08", 1);
    hm_serf_put_user_event(&b, &ue);
    vnet_inject(v, 1, 2, b.data, b.len);
    is_int(vnet_count(vnet_node(v, 1), 'E', "deploy"), 2, "replayed bytes are a duplicate");
    /* Same LTime, other payload: a distinct event. */
    hm_buf_reset(&b);
    ue.payload = (const uint8_t *)"v2";
    hm_buf_append(&b, "\x08", 1);
    hm_serf_put_user_event(&b, &ue);
    vnet_inject(v, 1, 2, b.data, b.len);
    is_int(vnet_count(vnet_node(v, 1), 'E', "deploy"), 3, "same LTime, new payload: delivered");
    /* Very old event: older than the 512-slot buffer. */
    for (int i = 0; i < 600; i++)
        hm_serf_user_event(vnet_node(v, 2)->serf, vnet_now(v), "tick", NULL, 0, false, err,
                           sizeof(err));
    hm_buf_reset(&b);
    ue.payload = (const uint8_t *)"v3";
    hm_buf_append(&b, "\x08", 1);
    hm_serf_put_user_event(&b, &ue);
    {
        size_t before = vnet_count(vnet_node(v, 2), 'E', "deploy");
        vnet_inject(v, 2, 1, b.data, b.len);
        is_int(vnet_count(vnet_node(v, 2), 'E', "deploy"), before,
               "event older than the buffer dropped");
    }
    hm_buf_free(&b);

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ok(hm_serf_user_event(vnet_node(v, 0)->serf, vnet_now(v), "big", (const uint8_t *)big, 510,
                          false, err, sizeof(err)) < 0 &&
           strcmp(err, "user event exceeds configured limit of 512 bytes before encoding") == 0,
       "size limit before encoding: %s", err);
    ok(hm_serf_user_event(vnet_node(v, 0)->serf, vnet_now(v), "big", (const uint8_t *)big, 500,
                          false, err, sizeof(err)) < 0 &&
           strcmp(err, "encoded user event exceeds configured limit of 512 bytes after "
                       "encoding") == 0,
       "size limit after encoding: %s", err);
    (void)msg;
    vnet_free(v);
}

static bool query_done(vnet_t *v, void *ud)
{
    return vnet_count(vnet_node(v, *(int *)ud), 'D', NULL) > 0;
}

/* A query from s0 that node `to` takes as new (its current query LTime),
 * encoded as a Serf message into b, for vnet_inject. */
static void query_msg(vnet_t *v, int to, uint32_t id, const char *name, int64_t timeout_ns,
                      hm_buf_t *b)
{
    hm_serf_query_t q = {0};

    vnet_addr(0, &q.addr);
    hm_serf_clocks(vnet_node(v, to)->serf, NULL, NULL, &q.ltime);
    q.id = id;
    q.source_node.p = "s0";
    q.source_node.n = 2;
    q.name.p = name;
    q.name.n = strlen(name);
    q.timeout_ns = timeout_ns;
    hm_buf_append(b, "\x08", 1);
    hm_serf_put_query(b, &q);
}

static void test_queries(void)
{
    int n = 4, origin = 0;
    hm_serf_config_t c;
    vnet_t *v;
    hm_query_params_t p = {0};
    hm_tag_t tag = {"role", "web"};
    hm_tags_t tags = {&tag, 1};
    hm_tag_t ftag = {"role", "^we"};
    hm_tags_t ftags = {&ftag, 1};
    const char *nodes[] = {"s2", "s3"};
    char err[256], payload[1100];
    uint32_t id;
    uint64_t t0;

    hm_serf_config_default(&c, "local");
    v = vnet_new();
    for (int i = 0; i < n; i++) {
        c.tags = (i == 1 || i == 3) ? &tags : NULL;
        vnet_add(v, &c);
        vnet_node(v, i)->answer = "pong";
    }
    for (int i = 1; i < n; i++)
        vnet_join(v, i, 0, true);
    vnet_run_until(v, 10000, all_alive, &n);

    p.name = "ping";
    p.payload = "hi";
    p.len = 2;
    p.request_ack = true;
    t0 = vnet_now(v);
    ok(hm_serf_query(vnet_node(v, 0)->serf, vnet_now(v), &p, vnet_query_cb, vnet_ud(v, 0), &id, err,
                     sizeof(err)) == 0,
       "query sent");
    ok(id < 0x80000000u, "query id is a non-negative int31");
    ok(vnet_run_until(v, 10000, query_done, &origin), "query finishes");
    ok(vnet_now(v) - t0 >= 1600 && vnet_now(v) - t0 <= 1700,
       "default timeout, local profile (100 ms gossip): 1.6 s (took %llu)",
       (unsigned long long)(vnet_now(v) - t0));
    is_int(vnet_count(vnet_node(v, 0), 'A', NULL), 4, "acks from all 4 nodes (self included)");
    is_int(vnet_count(vnet_node(v, 0), 'P', NULL), 4, "responses from all 4 nodes");
    is_int(vnet_count(vnet_node(v, 2), 'Q', "ping"), 1, "a node sees the query once");

    /* tag filter */
    for (int i = 0; i < n; i++)
        vnet_node(v, i)->nrec = 0;
    p.filter_tags = &ftags;
    p.request_ack = false;
    hm_serf_query(vnet_node(v, 0)->serf, vnet_now(v), &p, vnet_query_cb, vnet_ud(v, 0), &id, err,
                  sizeof(err));
    vnet_run_until(v, 10000, query_done, &origin);
    is_int(vnet_count(vnet_node(v, 0), 'P', NULL), 2, "tag filter role=^we: 2 responders");
    is_int(vnet_count(vnet_node(v, 0), 'A', NULL), 0, "no acks unless asked");
    is_int(vnet_count(vnet_node(v, 2), 'Q', NULL), 0, "filtered-out node does not see it");

    /* node filter + relay factor */
    for (int i = 0; i < n; i++)
        vnet_node(v, i)->nrec = 0;
    p.filter_tags = NULL;
    p.filter_nodes = nodes;
    p.n_filter_nodes = 2;
    p.relay_factor = 2;
    p.request_ack = true;
    p.timeout_ms = 500;
    t0 = vnet_now(v);
    hm_serf_query(vnet_node(v, 0)->serf, vnet_now(v), &p, vnet_query_cb, vnet_ud(v, 0), &id, err,
                  sizeof(err));
    vnet_run_until(v, 10000, query_done, &origin);
    is_int(vnet_now(v) - t0, 500, "explicit timeout honoured");
    is_int(vnet_count(vnet_node(v, 0), 'P', NULL), 2,
           "node filter s2,s3: 2 responses "
           "(relayed copies collapse)");
    is_int(vnet_count(vnet_node(v, 0), 'A', NULL), 2, "node filter: 2 acks");

    /* the same query (LTime, ID) delivered again is a duplicate */
    {
        hm_buf_t b = {0};
        size_t before;
        query_msg(v, 2, 4242, "dup", 500000000, &b);
        vnet_inject(v, 2, 0, b.data, b.len);
        before = vnet_count(vnet_node(v, 2), 'Q', "dup");
        vnet_inject(v, 2, 0, b.data, b.len);
        is_int(before, 1, "injected query delivered");
        is_int(vnet_count(vnet_node(v, 2), 'Q', "dup"), 1, "same LTime and ID: suppressed");
        hm_buf_free(&b);
    }

    /* responses: size limit, one answer only, deadline */
    {
        static char big[1100];
        for (int i = 0; i < n; i++) {
            vnet_node(v, i)->nrec = 0;
            vnet_node(v, i)->answer = NULL;
        }
        memset(big, 'r', sizeof(big) - 1);
        vnet_node(v, 1)->answer = big;
        vnet_node(v, 2)->answer = "fine";
        p.filter_nodes = NULL;
        p.n_filter_nodes = 0;
        p.relay_factor = 0;
        p.request_ack = false;
        p.payload = "x";
        p.len = 1;
        hm_serf_query(vnet_node(v, 0)->serf, vnet_now(v), &p, vnet_query_cb, vnet_ud(v, 0), &id,
                      err, sizeof(err));
        vnet_run_until(v, 10000, query_done, &origin);
        is_int(vnet_count(vnet_node(v, 0), 'P', "s1"), 0, "a response over 1024 bytes is refused");
        is_int(vnet_count(vnet_node(v, 0), 'P', "s2"), 1, "a small one goes through");
        is_str(vnet_node(v, 1)->last_err,
               "failed to respond to key query: response exceeds limit of 1024 bytes",
               "the refusal says why");
        vnet_node(v, 2)->answer_twice = true;
        {
            hm_buf_t b = {0};
            query_msg(v, 2, 999, "twice", 300000000, &b);
            vnet_inject(v, 2, 0, b.data, b.len);
            hm_buf_free(&b);
        }
        is_str(vnet_node(v, 2)->last_err, "failed to respond to key query: response already sent",
               "one response per query");
        vnet_node(v, 2)->answer_twice = false;
        vnet_run(v, 400);
        ok(hm_serf_respond(vnet_node(v, 2)->serf, vnet_now(v), vnet_node(v, 2)->last_opaque,
                           (const uint8_t *)"late", 4, err, sizeof(err)) < 0 &&
               strstr(err, "past the deadline") != NULL,
           "after the deadline: %s", err);
    }

    /* size limit */
    memset(payload, 'q', sizeof(payload));
    p.payload = payload;
    p.len = 1050;
    ok(hm_serf_query(vnet_node(v, 0)->serf, vnet_now(v), &p, vnet_query_cb, vnet_ud(v, 0), &id, err,
                     sizeof(err)) < 0 &&
           strcmp(err, "query exceeds limit of 1024 bytes") == 0,
       "query size limit: %s", err);
    vnet_free(v);
}

static void test_intents(void)
{
    int n = 3;
    vnet_t *v = cluster(n, NULL);
    hm_buf_t b = {0};
    uint64_t mc;

    vnet_run_until(v, 10000, all_alive, &n);
    /* A leave intent about ourselves, newer than our status: refuted. */
    hm_serf_clocks(vnet_node(v, 1)->serf, &mc, NULL, NULL);
    hm_buf_append(&b, "\x08", 1);
    hm_serf_put_leave(&b, mc + 10, "s1", false);
    vnet_inject(v, 1, 0, b.data, b.len);
    vnet_run(v, 2000);
    is_int(vnet_status(v, 1, "s1"), HM_STATUS_ALIVE, "leave intent about self is refuted");
    is_int(vnet_status(v, 0, "s1"), HM_STATUS_ALIVE, "peer sees s1 alive after the refutation");
    hm_serf_clocks(vnet_node(v, 1)->serf, &mc, NULL, NULL);
    ok(mc >= 12, "member clock witnessed the intent (%llu)", (unsigned long long)mc);

    /* An intent about an unknown node is buffered. */
    hm_buf_reset(&b);
    hm_buf_append(&b, "\x08", 1);
    hm_serf_put_leave(&b, mc + 5, "ghost", false);
    vnet_inject(v, 0, 1, b.data, b.len);
    is_int(vnet_status(v, 0, "ghost"), HM_STATUS_NONE, "unknown node: intent only buffered");
    /* An old leave intent (LTime below status) is ignored. */
    hm_buf_reset(&b);
    hm_buf_append(&b, "\x08", 1);
    hm_serf_put_leave(&b, 1, "s1", false);
    vnet_inject(v, 0, 1, b.data, b.len);
    is_int(vnet_status(v, 0, "s1"), HM_STATUS_ALIVE, "old leave intent ignored");
    /* Force-leave of an alive member: leaving, back to alive when it refutes. */
    hm_serf_force_leave(vnet_node(v, 0)->serf, vnet_now(v), "s1", false);
    is_int(vnet_status(v, 0, "s1"), HM_STATUS_LEAVING, "force-leave: alive -> leaving");
    vnet_run(v, 3000);
    is_int(vnet_status(v, 0, "s1"), HM_STATUS_ALIVE, "s1 refutes the force-leave");
    /* Garbage Serf messages are dropped. */
    vnet_inject(v, 0, 1, (const uint8_t *)"\x08\x01\xff\xff", 4);
    vnet_inject(v, 0, 1, (const uint8_t *)"\x08\x63", 2);
    vnet_inject(v, 0, 1, (const uint8_t *)"\x08\x04\x81", 3);
    is_int(vnet_status(v, 0, "s1"), HM_STATUS_ALIVE, "garbage does not disturb the table");
    /* force-leave -prune of a member still alive (it crashed a moment ago:
     * nobody refutes): leaving, and erased only after Serf's wait for a
     * leaving member, BroadcastTimeout + LeavePropagateDelay (5 s + 1 s). */
    vnet_crash(v, 2);
    hm_serf_force_leave(vnet_node(v, 0)->serf, vnet_now(v), "s2", true);
    is_int(vnet_status(v, 0, "s2"), HM_STATUS_LEAVING, "force-leave -prune: alive -> leaving");
    vnet_run(v, 5900);
    ok(vnet_status(v, 0, "s2") != HM_STATUS_NONE, "still listed 5.9 s later (status %d)",
       vnet_status(v, 0, "s2"));
    is_int(vnet_count(vnet_node(v, 0), 'R', "s2"), 0, "no reap yet");
    vnet_run(v, 200);
    is_int(vnet_status(v, 0, "s2"), HM_STATUS_NONE, "erased after 6 s");
    is_int(vnet_count(vnet_node(v, 0), 'R', "s2"), 1, "one member-reap event");
    is_int(vnet_status(v, 1, "s2"), HM_STATUS_NONE, "the intent pruned it at s1 too");
    hm_buf_free(&b);
    vnet_free(v);
}

static bool s2_alive(vnet_t *v, void *ud)
{
    (void)ud;
    return vnet_status(v, 2, "s0") == HM_STATUS_ALIVE;
}

static void test_join_replay(void)
{
    int n = 2;
    vnet_t *v = cluster(n, NULL);
    char err[128];

    vnet_run_until(v, 10000, all_alive, &n);
    hm_serf_user_event(vnet_node(v, 0)->serf, vnet_now(v), "old", NULL, 0, false, err, sizeof(err));
    vnet_run(v, 2000);
    vnet_add(v, NULL);
    vnet_add(v, NULL);
    vnet_join(v, 2, 0, true);
    vnet_join(v, 3, 0, false);
    vnet_run_until(v, 5000, s2_alive, NULL);
    vnet_run(v, 2000);
    is_int(vnet_count(vnet_node(v, 2), 'E', "old"), 0, "join ignoring old events: not replayed");
    is_int(vnet_count(vnet_node(v, 3), 'E', "old"), 1, "join with replay: old event delivered");
    vnet_free(v);
}

static bool have_coord(vnet_t *v, void *ud)
{
    hm_coord_t c;

    (void)ud;
    return hm_serf_coordinate(vnet_node(v, 0)->serf, "s1", &c) == 0;
}

static void test_coordinates(void)
{
    int n = 2;
    vnet_t *v = cluster(n, NULL);
    hm_coord_t c;

    vnet_run_until(v, 10000, all_alive, &n);
    ok(vnet_run_until(v, 10000, have_coord, NULL), "peer coordinate learnt from ping acks");
    ok(hm_serf_coordinate(vnet_node(v, 0)->serf, NULL, &c) == 0 && hm_coord_valid(&c),
       "own coordinate valid");
    ok(hm_serf_coordinate(vnet_node(v, 0)->serf, "nobody", &c) < 0, "unknown node: none");
    vnet_free(v);
}

static bool conflict_over(vnet_t *v, void *ud)
{
    (void)ud;
    return vnet_node(v, 3)->shutdown || vnet_node(v, 1)->shutdown;
}

static void test_conflict(void)
{
    vnet_t *v = vnet_new();
    int n = 3;

    vnet_add(v, NULL);
    vnet_add(v, NULL);
    vnet_add(v, NULL);
    vnet_join(v, 1, 0, true);
    vnet_join(v, 2, 0, true);
    vnet_run_until(v, 10000, all_alive, &n);
    /* a second "s1" at another address joins through s2 */
    vnet_add_named(v, NULL, "s1", 9);
    vnet_join(v, 3, 2, true);
    ok(vnet_run_until(v, 20000, conflict_over, NULL), "name conflict resolved by a vote");
    ok(vnet_node(v, 3)->shutdown && !vnet_node(v, 1)->shutdown,
       "the newcomer is in the minority and shuts down; the original stays");
    vnet_free(v);
}

static void test_snapshot(void)
{
    char path[] = "/tmp/hm_serf_snapXXXXXX";
    int fd = mkstemp(path);
    hm_serf_config_t c;
    vnet_t *v;
    int n = 2;
    uint64_t mc, ec, mc2, ec2;
    char err[128];
    FILE *f;
    char line[256];
    bool saw_alive = false;

    close(fd);
    hm_serf_config_default(&c, "local");
    c.snapshot_path = path;
    v = vnet_new();
    vnet_add(v, NULL);
    vnet_add(v, &c);
    vnet_join(v, 1, 0, true);
    vnet_run_until(v, 10000, all_alive, &n);
    for (int i = 0; i < 5; i++)
        hm_serf_user_event(vnet_node(v, 0)->serf, vnet_now(v), "e", NULL, 0, false, err,
                           sizeof(err));
    vnet_run(v, 3000);
    /* compaction: ~18 bytes per event-clock line, past 128 KiB */
    for (int i = 0; i < 9000; i++) {
        hm_serf_user_event(vnet_node(v, 1)->serf, vnet_now(v), "c", NULL, 0, false, err,
                           sizeof(err));
        if (i % 100 == 0)
            vnet_run(v, 600);
    }
    vnet_run(v, 1000);
    {
        struct stat st;
        int sr = stat(path, &st);
        FILE *cf = fopen(path, "r");
        char l[128];
        size_t lines = 0;
        while (cf && fgets(l, sizeof(l), cf))
            lines++;
        if (cf)
            fclose(cf);
        ok(sr == 0 && st.st_size < 128 * 1024 && lines < 9000,
           "snapshot compacted: %lld bytes, %zu lines for 9000 events", (long long)st.st_size,
           lines);
    }
    hm_serf_clocks(vnet_node(v, 1)->serf, &mc, &ec, NULL);
    hm_serf_free(vnet_node(v, 1)->serf);
    vnet_node(v, 1)->serf = NULL;
    vnet_node(v, 1)->up = false;
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (strcmp(line, "alive: s0 10.0.0.1:7946\n") == 0)
            saw_alive = true;
    if (f)
        fclose(f);
    ok(saw_alive, "snapshot records 'alive: s0 10.0.0.1:7946'");
    /* restart with the snapshot: clocks restored, rejoins s0 by itself */
    vnet_add_named(v, &c, "s1", 1);
    hm_serf_clocks(vnet_node(v, 2)->serf, &mc2, &ec2, NULL);
    ok(mc2 >= mc - 1 && ec2 >= ec - 1, "clocks restored from the snapshot (%llu/%llu, %llu/%llu)",
       (unsigned long long)mc2, (unsigned long long)mc, (unsigned long long)ec2,
       (unsigned long long)ec);
    vnet_run(v, 3000);
    is_int(vnet_status(v, 2, "s0"), HM_STATUS_ALIVE, "restarted node rejoined from the snapshot");
    is_int(vnet_count(vnet_node(v, 2), 'E', "e"), 0, "old events not replayed after restart");
    vnet_free(v);
    unlink(path);
}

static void test_coalesce(void)
{
    hm_serf_config_t c;
    vnet_t *v = vnet_new();
    int n = 4;
    char err[128];
    vnet_node_t *n0;

    hm_serf_config_default(&c, "local");
    c.coalesce_period_ms = c.user_coalesce_period_ms = 3000;
    c.quiescent_period_ms = c.user_quiescent_period_ms = 1000;
    for (int i = 0; i < n; i++)
        vnet_add(v, &c);
    n0 = vnet_node(v, 0);
    is_int(vnet_count(n0, 'J', NULL), 0, "coalescing: own join held back at first");
    for (int i = 1; i < n; i++)
        vnet_join(v, i, 0, true);
    vnet_run_until(v, 10000, all_alive, &n);
    is_int(vnet_count(n0, 'J', "s3"), 0, "joins held while they keep coming");
    vnet_run(v, 3500);
    is_int(vnet_count(n0, 'J', NULL), 4, "then every join delivered");
    ok(n0->member_callbacks <= 2, "in few batched events (%zu)", n0->member_callbacks);
    for (int i = 0; i < 3; i++)
        hm_serf_user_event(vnet_node(v, 1)->serf, vnet_now(v), "cc", (const uint8_t *)"x", 1, true,
                           err, sizeof(err));
    for (int i = 0; i < 2; i++)
        hm_serf_user_event(vnet_node(v, 1)->serf, vnet_now(v), "plain", NULL, 0, false, err,
                           sizeof(err));
    vnet_run(v, 500);
    is_int(vnet_count(n0, 'E', "plain"), 2, "events without coalesce pass at once");
    is_int(vnet_count(n0, 'E', "cc"), 0, "coalescable events held");
    vnet_run(v, 3500);
    is_int(vnet_count(n0, 'E', "cc"), 1, "only the newest coalescable event delivered");
    vnet_free(v);
}

/* Mutated and truncated Serf messages of every type: dropped, never a
 * crash, and the member table stays as it was. */
static void test_garbage(void)
{
    int n = 2;
    vnet_t *v = cluster(n, NULL);
    hm_buf_t seeds[8] = {{0}};
    hm_serf_query_t q = {0};
    hm_serf_query_response_t r = {0};
    hm_serf_user_event_t ue = {0};
    hm_addr_t a;
    uint64_t rnd = 42;
    size_t ns = 0;

    vnet_run_until(v, 10000, all_alive, &n);
    vnet_addr(1, &a);
    hm_buf_append(&seeds[ns], "\x08", 1);
    hm_serf_put_join(&seeds[ns++], 7, "x");
    hm_buf_append(&seeds[ns], "\x08", 1);
    hm_serf_put_leave(&seeds[ns++], 9, "y", true);
    ue.ltime = 3;
    ue.name.p = "ev";
    ue.name.n = 2;
    hm_buf_append(&seeds[ns], "\x08", 1);
    hm_serf_put_user_event(&seeds[ns++], &ue);
    q.ltime = 5;
    q.id = 77;
    q.addr = a;
    q.source_node.p = "s1";
    q.source_node.n = 2;
    q.name.p = "qq";
    q.name.n = 2;
    q.timeout_ns = 1000000000;
    q.flags = 1;
    q.relay_factor = 1;
    hm_buf_append(&seeds[ns], "\x08", 1);
    hm_serf_put_query(&seeds[ns++], &q);
    r.ltime = 5;
    r.id = 77;
    r.from.p = "s1";
    r.from.n = 2;
    hm_buf_append(&seeds[ns], "\x08", 1);
    hm_serf_put_query_response(&seeds[ns++], &r);
    hm_buf_append(&seeds[ns], "\x08", 1);
    hm_serf_put_relay(&seeds[ns], &a, "s1", seeds[4].data + 1, seeds[4].len - 1);
    ns++;
    for (int i = 0; i < 20000; i++) {
        hm_buf_t *sd = &seeds[i % ns];
        uint8_t buf[512];
        size_t len = sd->len < sizeof(buf) ? sd->len : sizeof(buf);
        memcpy(buf, sd->data, len);
        for (int k = 0; k < 1 + i % 4; k++) {
            rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[1 + (rnd >> 33) % (len - 1)] ^= (uint8_t)(rnd >> 13);
        }
        rnd = rnd * 6364136223846793005ULL + 1;
        if (i % 3 == 0)
            len = 1 + (rnd >> 33) % len;
        vnet_inject(v, 0, 1, buf, len);
    }
    vnet_run(v, 2000);
    is_int(vnet_status(v, 0, "s1"), HM_STATUS_ALIVE, "20000 mangled Serf messages: s1 still alive");
    is_int(hm_serf_members_count(vnet_node(v, 0)->serf), 2, "no phantom members appeared");
    for (size_t i = 0; i < ns; i++)
        hm_buf_free(&seeds[i]);
    vnet_free(v);
}

int main(void)
{
    test_lamport();
    test_pure();
    test_tagsfile();
    test_coord();
    test_join_and_clocks();
    test_leave();
    test_fail_reap();
    test_user_events();
    test_queries();
    test_intents();
    test_join_replay();
    test_coordinates();
    test_conflict();
    test_snapshot();
    test_coalesce();
    test_garbage();
    return done_testing();
}
