/*
 * libFuzzer harness for a TCP push/pull stream body (after the [6]):
 * the incremental parser must agree with itself on every prefix (never
 * "complete" before the full message, never a node callback for an
 * incomplete one), and the Serf user state it yields is decoded too.
 */
#include <stdlib.h>
#include <string.h>

#include "hm_serfwire.h"
#include "fuzz.h"

static int count_node(void *ud, const hm_ml_push_node_t *node)
{
    (*(size_t *)ud)++;
    return node->name.n > 1000000 ? -1 : 0;
}

static int on_event(void *ud, uint64_t ltime, const hm_serf_event_t *ev)
{
    (void)ltime;
    (*(size_t *)ud) += ev->name.n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hm_ml_push_header_t hdr, hdr2;
    hm_serf_push_pull_view_t v;
    const uint8_t *us;
    size_t used, used2, nodes = 0, k, sum = 0;
    int rc, rc2;

    rc = hm_ml_get_push_pull(data, size, &hdr, count_node, &nodes, &us, &used);
    if (rc != 0) {
        CHECK(nodes == 0);
        return 0;
    }
    CHECK(used <= size && nodes == hdr.nodes);
    /* every strictly shorter prefix of the message is incomplete or bad */
    for (k = 0; k < used; k += 1 + used / 64) {
        size_t n2 = 0;
        rc2 = hm_ml_get_push_pull(data, k, &hdr2, count_node, &n2, &us, &used2);
        CHECK(rc2 != 0 && n2 == 0);
    }
    rc = hm_ml_get_push_pull(data, size, &hdr, NULL, NULL, &us, &used);
    CHECK(rc == 0);
    if (hdr.user_state_len > 1 && us[0] == HM_SERF_PUSH_PULL &&
        hm_serf_get_push_pull(us + 1, hdr.user_state_len - 1, &v) == 0)
        CHECK(hm_serf_pp_events(&v, on_event, &sum) == 0);
    return 0;
}
