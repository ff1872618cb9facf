/* Broadcast queue (memberlist queue.go semantics). */
#include <stdlib.h>
#include <string.h>

#include "hm_bcast_int.h"
#include "tap.h"

static int done_count[16];
static void on_done(void *ud)
{
    done_count[(intptr_t)ud]++;
}

static size_t get(hm_bcast_queue_t *q, size_t nodes, size_t overhead, size_t limit, char *out,
                  size_t outlen)
{
    hm_buf_t parts[16] = {{0}};
    size_t k = hm_bcast_get(q, nodes, overhead, limit, parts, 16), i;

    out[0] = 0;
    for (i = 0; i < k; i++) {
        size_t l = strlen(out);
        if (i)
            out[l++] = ',';
        snprintf(out + l, outlen - l, "%.*s", (int)parts[i].len, (const char *)parts[i].data);
        hm_buf_free(&parts[i]);
    }
    return k;
}

static void push_s(hm_bcast_queue_t *q, const char *name, const char *s, int done_slot)
{
    hm_bcast_push(q, name, (const uint8_t *)s, strlen(s), done_slot ? on_done : NULL,
                  (void *)(intptr_t)done_slot);
}

static void test_limits(void)
{
    is_int(hm_bcast_retransmit_limit(4, 1), 4, "limit n=1");
    is_int(hm_bcast_retransmit_limit(4, 9), 4, "limit n=9");
    is_int(hm_bcast_retransmit_limit(4, 10), 8, "limit n=10");
    is_int(hm_bcast_retransmit_limit(4, 99), 8, "limit n=99");
    is_int(hm_bcast_retransmit_limit(4, 100), 12, "limit n=100");
    is_int(hm_bcast_retransmit_limit(4, 999), 12, "limit n=999");
    is_int(hm_bcast_retransmit_limit(4, 10000), 20, "limit n=10000");
}

static void test_transmit_limit(void)
{
    hm_bcast_queue_t *q = hm_bcast_new(4);
    char out[256];
    int i;

    push_s(q, NULL, "hello", 1);
    for (i = 0; i < 4; i++) {
        get(q, 5, 2, 1400, out, sizeof(out));
        is_str(out, "hello", "transmission %d", i + 1);
    }
    is_int(hm_bcast_len(q), 0, "gone after 4 transmissions (limit 4 for 5 nodes)");
    is_int(done_count[1], 1, "finished callback once");
    is_int(get(q, 5, 2, 1400, out, sizeof(out)), 0, "nothing more");
    hm_bcast_free(q);
}

static void test_order(void)
{
    hm_bcast_queue_t *q = hm_bcast_new(4);
    char out[256];

    push_s(q, NULL, "aa", 0);
    push_s(q, NULL, "bbbb", 0);
    push_s(q, NULL, "cc", 0);
    push_s(q, NULL, "ddd", 0);
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "bbbb,ddd,cc,aa", "longer first, newest first among equal lengths");
    push_s(q, NULL, "e", 0);
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "e,bbbb,ddd,cc,aa", "fewer transmissions first");
    /* budget: limit 8, overhead 2: "e" has 1 transmit, others 2 */
    get(q, 5, 2, 8, out, sizeof(out));
    is_str(out, "e,ddd", "first fitting message of the lowest tier, then the next tier");
    get(q, 5, 2, 5, out, sizeof(out));
    is_str(out, "cc", "skips a message that does not fit (bbbb needs 6)");
    hm_bcast_free(q);
}

static void test_named(void)
{
    hm_bcast_queue_t *q = hm_bcast_new(4);
    char out[256];

    push_s(q, "n1", "alive-1", 2);
    push_s(q, "n2", "alive-2", 0);
    push_s(q, "n1", "suspect-1", 0);
    is_int(hm_bcast_len(q), 2, "same name replaces");
    is_int(done_count[2], 1, "replaced message finished");
    push_s(q, NULL, "x", 0);
    push_s(q, NULL, "x", 0);
    is_int(hm_bcast_len(q), 4, "unnamed messages never invalidate each other");
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "suspect-1,alive-2,x,x", "order after replacement");
    hm_bcast_free(q);
}

static void test_prune(void)
{
    hm_bcast_queue_t *q = hm_bcast_new(4);
    char out[256];

    push_s(q, NULL, "old", 3);
    get(q, 5, 2, 1400, out, sizeof(out));
    push_s(q, NULL, "n1", 3);
    push_s(q, NULL, "n2", 3);
    hm_bcast_prune(q, 2);
    is_int(hm_bcast_len(q), 2, "pruned to 2");
    is_int(done_count[3], 1, "pruned message finished");
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "n2,n1", "the most transmitted one went first");
    hm_bcast_free(q);
}

static int dropped[8];
static uint32_t held[8]; /* the handle queued for each key, 0 none */

/* A direct item is stale once its key's handle is forgotten. */
static int stale(uint32_t key, uint32_t handle, hm_buf_t *out)
{
    return held[key] != handle ? 1 : out == NULL ? 0 : -2;
}

static int enc(void *ud, uint32_t key, uint32_t handle, hm_buf_t *out)
{
    char s[16];
    int rc = stale(key, handle, out);

    (void)ud;
    if (rc != -2)
        return rc;
    snprintf(s, sizeof(s), "lazy%u", key);
    return hm_buf_append(out, s, strlen(s));
}
static void drop(void *ud, uint32_t key)
{
    (void)ud;
    dropped[key]++;
    held[key] = 0;
}

static uint32_t push_held(hm_bcast_queue_t *q, uint32_t key, const char *msg, size_t n)
{
    return held[key] = hm_bcast_push_keyed(q, key, (const uint8_t *)msg, n, NULL, NULL);
}

static void test_keyed(void)
{
    hm_bcast_queue_t *q = hm_bcast_new(1);
    char out[256];
    uint32_t h1, h2;

    memset(held, 0, sizeof(held));
    hm_bcast_set_hooks(q, enc, drop, NULL);
    h1 = push_held(q, 1, NULL, 5);
    h2 = push_held(q, 2, "stored", 6);
    ok(h1 && h2 && h1 != h2, "handles");
    hm_bcast_remove(q, h2);
    is_int(dropped[2], 1, "drop hook on removal");
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "lazy1", "lazy item encoded on demand");
    is_int(dropped[1], 1, "drop hook once fully transmitted");
    is_int(hm_bcast_len(q), 0, "empty");
    hm_bcast_free(q);
}

/* Direct items (lazy, keyed, no callback) are removed lazily: the owner
 * forgets the handle, and a get skips the stale entry without a trace. */
static void test_direct(void)
{
    hm_bcast_queue_t *q = hm_bcast_new(2);
    char out[256];
    uint32_t h3, h4;

    memset(held, 0, sizeof(held));
    memset(dropped, 0, sizeof(dropped));
    hm_bcast_set_hooks(q, enc, drop, NULL);
    push_held(q, 1, NULL, 5);
    push_held(q, 2, NULL, 5);
    h3 = push_held(q, 3, NULL, 5);
    h4 = push_held(q, 4, NULL, 5);
    hm_bcast_remove(q, h3);
    held[3] = 0;
    is_int(hm_bcast_len(q), 3, "a removed direct item leaves the count at once");
    is_int(dropped[3], 0, "with no drop hook");
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "lazy4,lazy2,lazy1", "its stale entry is skipped, newest first");
    /* replaced: the new item goes first, the old entry is never sent */
    hm_bcast_remove(q, h4);
    push_held(q, 4, NULL, 5);
    ok(held[4] != h4, "a new handle for the replacement");
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "lazy4,lazy2,lazy1", "the replacement is sent, once, in tier 0's place");
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "lazy4", "the others reached the limit");
    ok(dropped[1] == 1 && dropped[2] == 1 && dropped[4] == 1 && dropped[3] == 0,
       "dropped once at the limit, the removed one never");
    is_int(hm_bcast_len(q), 0, "empty");
    /* prune meets stale entries too, and counts only live ones */
    push_held(q, 1, NULL, 5);
    h3 = push_held(q, 3, NULL, 5);
    push_held(q, 2, NULL, 5);
    hm_bcast_remove(q, h3);
    held[3] = 0;
    hm_bcast_prune(q, 1);
    is_int(hm_bcast_len(q), 1, "pruned to one live item");
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "lazy2", "the newest kept");
    hm_bcast_free(q);
}

/* A direct handle holds 31 bits of the id: when the ids pass 2^31, the
 * stale entries go, or one could pass for a newer item of its key. */
static void test_direct_wrap(void)
{
    hm_bcast_queue_t *q = hm_bcast_new(4); /* nothing leaves after one get */
    char out[256];
    uint32_t h2;

    memset(held, 0, sizeof(held));
    hm_bcast_set_hooks(q, enc, drop, NULL);
    push_held(q, 1, NULL, 5);
    h2 = push_held(q, 2, NULL, 5); /* id 2 */
    hm_bcast_remove(q, h2);
    held[2] = 0;
    hm_bcast_set_id(q, 0x7fffffffu);
    push_held(q, 3, NULL, 5); /* id 2^31: the sweep */
    hm_bcast_set_id(q, 0x80000001u);
    ok(push_held(q, 2, NULL, 5) == h2, "key 2 again, with the old handle (id 2^31 + 2)");
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "lazy2,lazy3,lazy1", "the old entry was swept: key 2 goes once");
    hm_bcast_free(q);
}

static int enc_fail7(void *ud, uint32_t key, uint32_t handle, hm_buf_t *out)
{
    (void)ud;
    (void)handle;
    if (out == NULL)
        return 0;
    return key == 7 ? -1 : hm_buf_append(out, "lazy", 4);
}

static void test_encode_failure(void)
{
    hm_bcast_queue_t *q = hm_bcast_new(4);
    char out[256];

    memset(dropped, 0, sizeof(dropped));
    hm_bcast_set_hooks(q, enc_fail7, drop, NULL);
    push_s(q, NULL, "ok", 0);
    hm_bcast_push_keyed(q, 7, NULL, 10, NULL, NULL);
    hm_bcast_push_keyed(q, 3, NULL, 4, NULL, NULL);
    get(q, 5, 2, 1400, out, sizeof(out));
    is_str(out, "lazy,ok", "an item that cannot be produced is skipped, the rest still go");
    is_int(dropped[7], 1, "and dropped");
    is_int(hm_bcast_len(q), 2, "the others stay queued");
    hm_bcast_free(q);
}

/* An encoder that writes part of an item, then fails. */
static int enc_half7(void *ud, uint32_t key, uint32_t handle, hm_buf_t *out)
{
    (void)ud;
    (void)handle;
    if (out == NULL)
        return 0;
    if (key == 7) {
        hm_buf_append(out, "XX", 2);
        return -1;
    }
    return hm_buf_append(out, "lazy", 4);
}

/* The end-to-end form: the parts follow one another in one buffer, and
 * an item that cannot be produced leaves no bytes behind. */
static void test_get_cat(void)
{
    hm_bcast_queue_t *q = hm_bcast_new(4);
    hm_buf_t cat = {0};
    uint32_t lens[4] = {0};
    size_t k;

    memset(dropped, 0, sizeof(dropped));
    hm_bcast_set_hooks(q, enc_half7, drop, NULL);
    push_s(q, NULL, "ok", 0);
    hm_bcast_push_keyed(q, 7, NULL, 10, NULL, NULL);
    hm_bcast_push_keyed(q, 3, NULL, 4, NULL, NULL);
    hm_buf_append(&cat, "head", 4); /* what the caller put first stays */
    k = hm_bcast_get_cat(q, 5, 2, 1400, &cat, lens, 4);
    ok(k == 2 && lens[0] == 4 && lens[1] == 2 && cat.len == 10 &&
           memcmp(cat.data, "headlazyok", 10) == 0,
       "parts appended end to end, lengths given, a failed item's bytes taken back");
    is_int(dropped[7], 1, "the failed item dropped");
    hm_buf_free(&cat);
    hm_bcast_free(q);
}

/* Random operations against a naive model sorted by the same key.  Item
 * ids only matter relative to each other, so the push step serves as id. */
typedef struct {
    int tr, len, step, alive;
    char name[8];
} model_t;

static int model_before(const model_t *a, const model_t *b)
{
    if (a->tr != b->tr)
        return a->tr < b->tr;
    if (a->len != b->len)
        return a->len > b->len;
    return a->step > b->step;
}

static int model_get(model_t *m, int nm, int limit, int tl, char *exp, size_t explen)
{
    int picked[16], np = 0, used = 0, i, t, tmin = 1 << 30, tmax = -1;

    for (i = 0; i < nm; i++)
        if (m[i].alive) {
            tmin = m[i].tr < tmin ? m[i].tr : tmin;
            tmax = m[i].tr > tmax ? m[i].tr : tmax;
        }
    for (t = tmin; t <= tmax && np < 16;) {
        int freeb = limit - used - 2, best = -1;
        if (freeb <= 0)
            break;
        for (i = 0; i < nm; i++)
            if (m[i].alive && m[i].tr == t && m[i].len <= freeb &&
                (best < 0 || model_before(&m[i], &m[best])))
                best = i;
        if (best < 0) {
            t++;
            continue;
        }
        picked[np++] = best;
        used += 2 + m[best].len;
        m[best].alive = 0;
    }
    exp[0] = 0;
    for (i = 0; i < np; i++) {
        size_t l = strlen(exp);
        snprintf(exp + l, explen - l, "%05d,", m[picked[i]].step);
        m[picked[i]].alive = ++m[picked[i]].tr < tl;
    }
    return np;
}

/* nlens: distinct lengths; with few, buckets hold hundreds of items and
 * runs land in front of, behind and among the ones there. */
static void test_model(int nlens)
{
    enum { N = 3000 };
    static model_t m[N];
    hm_bcast_queue_t *q = hm_bcast_new(3);
    int nm = 0, step, mismatches = 0, gets = 0, live = 0, i;
    unsigned seed = 12345;

    for (step = 0; step < 4000; step++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 3 != 0 && nm < N) {
            char buf[64], name[8];
            int len = 6 + (int)((seed >> 8) % (unsigned)nlens), named = (seed >> 4) % 4 == 0;
            snprintf(name, sizeof(name), "k%u", (seed >> 20) % 20);
            memset(buf, 'y', sizeof(buf));
            snprintf(buf, sizeof(buf), "%05d", step);
            if (named)
                for (i = 0; i < nm; i++)
                    if (m[i].alive && strcmp(m[i].name, name) == 0)
                        m[i].alive = 0;
            m[nm] = (model_t){0, len, step, 1, ""};
            strcpy(m[nm].name, named ? name : "");
            hm_bcast_push(q, named ? name : NULL, (const uint8_t *)buf, (size_t)len, NULL, NULL);
            nm++;
        } else {
            int limit = 20 + (int)((seed >> 10) % 120);
            char exp[256], got[256];
            hm_buf_t parts[16] = {{0}};
            size_t k, pi;

            model_get(m, nm, limit, 3, exp, sizeof(exp));
            k = hm_bcast_get(q, 1, 2, (size_t)limit, parts, 16);
            got[0] = 0;
            for (pi = 0; pi < k; pi++) {
                size_t l = strlen(got);
                snprintf(got + l, sizeof(got) - l, "%.5s,", (const char *)parts[pi].data);
                hm_buf_free(&parts[pi]);
            }
            gets++;
            if (strcmp(exp, got) != 0 && mismatches++ == 0)
                diag("step %d: expected %s got %s", step, exp, got);
        }
    }
    for (i = 0; i < nm; i++)
        live += m[i].alive;
    is_int(hm_bcast_len(q), live,
           "%d lengths: queue length matches the model after 4000 random ops", nlens);
    is_int(mismatches, 0, "%d lengths: all %d gets returned exactly the model's messages in order",
           nlens, gets);
    hm_bcast_free(q);
}

/* A second model over the whole interface: stored, named and keyed (lazy
 * and stored) items, removal by handle, pruning, lengths around the
 * queue's internal limits (2048, 65535) and beyond, transmit counts past
 * 64, and a cap on the parts per get.  Ids are push serials. */
typedef struct {
    int tr, len, serial, alive, keyed;
    int has_done, removed, direct; /* direct: lazy, keyed, no callback, short */
    uint32_t handle;
    char name[8];
} m2_t;

enum { M2_MAX = 4000 };
static m2_t m2[M2_MAX];
static int m2_n, m2_done[M2_MAX], m2_dropped[M2_MAX + 1];

static void m2_on_done(void *ud)
{
    m2_done[(intptr_t)ud]++;
}

static int m2_enc(void *ud, uint32_t key, uint32_t handle, hm_buf_t *out)
{
    char s[16];
    (void)ud;
    if (m2[key - 1].handle != handle || m2[key - 1].removed || m2_dropped[key])
        return 1; /* gone: a stale entry of a direct item */
    if (out == NULL)
        return 0;
    snprintf(s, sizeof(s), "%06d", m2[key - 1].serial);
    return hm_buf_append(out, s, 6);
}

static void m2_drop(void *ud, uint32_t key)
{
    (void)ud;
    m2_dropped[key]++;
}

static int m2_before(const m2_t *a, const m2_t *b)
{
    if (a->tr != b->tr)
        return a->tr < b->tr;
    if (a->len != b->len)
        return a->len > b->len;
    return a->serial > b->serial;
}

static int m2_len(unsigned r)
{
    switch (r % 16) {
    case 0:
        return 2040 + (int)(r / 16 % 20); /* around the bitmap's end */
    case 1:
        return 65530 + (int)(r / 16 % 10); /* around the packed key's end */
    case 2:
        return 100000 + (int)(r / 16 % 3);
    case 3:
        return (int)(r / 16 % 6); /* tiny, even empty */
    default:
        return 6 + (int)(r / 16 % 70);
    }
}

static void m2_expect_get(size_t limit, size_t maxp, int tl, char *exp, size_t explen)
{
    int picked[64], np = 0, i, t, tmin = 1 << 30, tmax = -1;
    size_t used = 0;

    for (i = 0; i < m2_n; i++)
        if (m2[i].alive) {
            tmin = m2[i].tr < tmin ? m2[i].tr : tmin;
            tmax = m2[i].tr > tmax ? m2[i].tr : tmax;
        }
    for (t = tmin; t <= tmax && (size_t)np < maxp;) {
        int best = -1;
        if (limit <= used + 2)
            break;
        for (i = 0; i < m2_n; i++)
            if (m2[i].alive && m2[i].tr == t && (size_t)m2[i].len <= limit - used - 2 &&
                (best < 0 || m2_before(&m2[i], &m2[best])))
                best = i;
        if (best < 0) {
            t++;
            continue;
        }
        picked[np++] = best;
        used += 2 + (size_t)m2[best].len;
        m2[best].alive = 0;
    }
    exp[0] = 0;
    for (i = 0; i < np; i++) {
        size_t l = strlen(exp);
        snprintf(exp + l, explen - l, "%06d,", m2[picked[i]].serial);
        m2[picked[i]].alive = ++m2[picked[i]].tr < tl;
    }
}

static void m2_expect_prune(int keep)
{
    int live = 0, i;

    for (i = 0; i < m2_n; i++)
        live += m2[i].alive;
    for (; live > keep; live--) {
        int last = -1;
        for (i = 0; i < m2_n; i++)
            if (m2[i].alive && (last < 0 || m2_before(&m2[last], &m2[i])))
                last = i;
        m2[last].alive = 0;
    }
}

static void m2_push(hm_bcast_queue_t *q, unsigned r, int serial)
{
    int kind = (int)(r % 5), len = m2_len(r >> 3), i;
    m2_t *m = &m2[m2_n];
    uint8_t *buf = malloc((size_t)len + 8);

    if (len < 6 && kind != 2 && kind != 3)
        kind = 2; /* stored messages carry the serial: tiny ones are lazy */
    memset(buf, 'z', (size_t)len + 8);
    snprintf((char *)buf, 8, "%06d", serial);
    *m = (m2_t){.len = len, .serial = serial, .alive = 1};
    if (kind < 2)
        m->has_done = 1;
    if (kind == 0) {
        snprintf(m->name, sizeof(m->name), "n%u", r / 8 % 12);
        for (i = 0; i < m2_n; i++)
            if (m2[i].alive && strcmp(m2[i].name, m->name) == 0)
                m2[i].alive = 0;
        hm_bcast_push(q, m->name, buf, (size_t)len, m2_on_done, (void *)(intptr_t)m2_n);
    } else if (kind == 1) {
        hm_bcast_push(q, NULL, buf, (size_t)len, m2_on_done, (void *)(intptr_t)m2_n);
    } else {
        /* keyed: lazy (kinds 2, 3) or stored (4); the key is the index + 1;
         * kind 3 has no callback, so most of those are direct */
        m->keyed = 1;
        m->direct = kind == 3 && len < 65535;
        m->has_done = kind != 3;
        m->handle = hm_bcast_push_keyed(q, (uint32_t)m2_n + 1, kind == 4 ? buf : NULL, (size_t)len,
                                        kind == 3 ? NULL : m2_on_done, (void *)(intptr_t)m2_n);
    }
    m2_n++;
    free(buf);
}

static void test_model2(uint32_t mult, int ops, int push_pct, unsigned seed, const char *what)
{
    hm_bcast_queue_t *q = hm_bcast_new(mult);
    int step, mismatches = 0, gets = 0, live = 0, bad_done = 0, i, maxtr = 0;
    hm_buf_t parts[64] = {{0}};

    memset(m2_done, 0, sizeof(m2_done));
    memset(m2_dropped, 0, sizeof(m2_dropped));
    m2_n = 0;
    hm_bcast_set_hooks(q, m2_enc, m2_drop, NULL);
    for (step = 0; step < ops; step++) {
        int op;
        seed = seed * 1103515245u + 12345u;
        op = (int)((seed >> 16) % 100);
        for (i = 0; i < 6; i++)
            hm_bcast_warm(q, (unsigned)i); /* reads only; the gets must not change */
        if (op < push_pct && m2_n < M2_MAX) {
            m2_push(q, seed >> 8 ^ seed << 7, step);
        } else if (op < push_pct + 5) {
            /* news about a node: its queued message goes away */
            int k = m2_n ? (int)((seed >> 4) % (unsigned)m2_n) : 0;
            for (i = 0; i < m2_n; i++, k = (k + 1) % m2_n)
                if (m2[k].alive && m2[k].keyed)
                    break;
            if (i < m2_n) {
                m2[k].alive = 0;
                m2[k].removed = 1;
                hm_bcast_remove(q, m2[k].handle);
            }
        } else if (op < push_pct + 6) {
            int keep = (int)((seed >> 5) % 40);
            m2_expect_prune(keep);
            hm_bcast_prune(q, (size_t)keep);
        } else {
            /* mostly packet-sized, sometimes big enough for every length */
            size_t limit = (seed >> 9) % 8 == 0 ? 300000 : 10 + (seed >> 12) % 200;
            size_t maxp = (seed >> 3) % 4 == 0 ? 3 : 64, k, pi;
            char exp[64 * 8], got[64 * 8];

            m2_expect_get(limit, maxp, (int)mult, exp, sizeof(exp));
            got[0] = 0;
            if (gets % 2) { /* every other get in the end-to-end form */
                uint32_t lens[64];
                size_t off = 0;
                hm_buf_reset(&parts[0]);
                k = hm_bcast_get_cat(q, 1, 2, limit, &parts[0], lens, maxp);
                for (pi = 0; pi < k; off += lens[pi++]) {
                    size_t l = strlen(got);
                    snprintf(got + l, sizeof(got) - l, "%.6s,", (const char *)parts[0].data + off);
                }
                if (off != parts[0].len && mismatches++ == 0)
                    diag("%s step %d: lengths sum to %zu of %zu", what, step, off, parts[0].len);
            } else {
                k = hm_bcast_get(q, 1, 2, limit, parts, maxp);
                for (pi = 0; pi < k; pi++) {
                    size_t l = strlen(got);
                    snprintf(got + l, sizeof(got) - l, "%.6s,", (const char *)parts[pi].data);
                }
            }
            gets++;
            if (strcmp(exp, got) != 0 && mismatches++ == 0)
                diag("%s step %d: expected %s got %s", what, step, exp, got);
        }
    }
    for (i = 0; i < m2_n; i++) {
        live += m2[i].alive;
        maxtr = m2[i].tr > maxtr ? m2[i].tr : maxtr;
        /* finished exactly once when gone (if it has a callback), and a
         * keyed item dropped with it, but a direct one its owner removed */
        if (m2_done[i] != (m2[i].has_done && !m2[i].alive) ||
            (m2[i].keyed &&
             m2_dropped[i + 1] != (!m2[i].alive && !(m2[i].direct && m2[i].removed))))
            bad_done++;
    }
    is_int(mismatches, 0, "%s: all %d gets match the model", what, gets);
    is_int(hm_bcast_len(q), live, "%s: length matches the model (%d pushes)", what, m2_n);
    is_int(bad_done, 0, "%s: every item that left was finished (and dropped) once", what);
    diag("%s: highest transmit count %d", what, maxtr);
    for (i = 0; i < 64; i++)
        hm_buf_free(&parts[i]);
    hm_bcast_free(q);
}

int main(void)
{
    test_limits();
    test_transmit_limit();
    test_order();
    test_named();
    test_prune();
    test_keyed();
    test_direct();
    test_direct_wrap();
    test_encode_failure();
    test_get_cat();
    test_model(40);
    test_model(2);
    test_model2(3, 8000, 45, 777, "mixed items");
    test_model2(100, 12000, 2, 4242, "transmit counts past 64");
    return done_testing();
}
