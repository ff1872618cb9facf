/*
 * Writes the seed corpora for the fuzz harnesses: the packets quoted in the
 * specs, one encoding of every message type, and (if given) every packet of
 * a serf capture file.  Usage: seeds DIR [CAPTURE]
 * (creates DIR/{mlwire,lzw,serfwire,pushpull}/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hm_serfwire.h"

static const char *dir;
static int nseed;

static void put(const char *harness, const void *p, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, harness);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/seed%04d", dir, harness, nseed++);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void put_hex(const char *harness, const char *hex)
{
    size_t n = strlen(hex) / 2, i;
    uint8_t *p = malloc(n + 1);
    unsigned v;

    for (i = 0; i < n; i++) {
        sscanf(hex + 2 * i, "%2x", &v);
        p[i] = (uint8_t)v;
    }
    put(harness, p, n);
    free(p);
}

static void put_buf(const char *harness, hm_buf_t *b)
{
    put(harness, b->data, b->len);
    hm_buf_reset(b);
}

static hm_ml_str_t S(const char *c)
{
    hm_ml_str_t s = {c, strlen(c)};
    return s;
}

static void ml_seeds(void)
{
    hm_buf_t b = {0}, parts[2] = {{0}, {0}}, comp = {0};
    hm_ml_ping_t ping = {.node = S("n2"), .seq_no = 1, .source_node = S("n1")};
    hm_ml_indirect_ping_t ip = {.node = S("n3"), .seq_no = 2, .nack = true};
    hm_ml_accuse_t acc = {.incarnation = 3, .node = S("n2"), .from = S("n1")};
    hm_ml_alive_t al = {.incarnation = 1,
                        .node = S("n1"),
                        .meta = (const uint8_t *)"\xff\x80",
                        .meta_len = 2,
                        .vsn = {1, 5, 2, 2, 5, 5},
                        .has_vsn = true};
    hm_ml_ack_t ack = {.seq_no = 5, .payload = (const uint8_t *)"\x01", .payload_len = 1};
    hm_ml_nack_t nack = {.seq_no = 6};

    hm_ml_addr_from_raw(&ping.source, (const uint8_t *)"\x7f\0\0\1", 4, 7946);
    hm_ml_addr_from_raw(&ip.target, (const uint8_t *)"\x7f\0\0\3", 4, 7948);
    hm_ml_addr_from_raw(&al.addr, (const uint8_t *)"\x7f\0\0\1", 4, 7946);
    put_hex("mlwire", "0085a44e6f6465a26e32a55365714e6f01aa536f7572636541646472a47f000001aa536f75"
                      "7263654e6f6465a26e31aa536f75726365506f7274cd1f0a");
    put_hex("mlwire",
            "0c88c4c4360702004d00440486a441646472a47f000001ab496e6361726e6174696f6e01a44d65"
            "7461b3ff82a4726f6c65a3776562a26463a465617374a44e6f6465a26e31a4506f7274cd1f0aa3"
            "56736ea60105020205050486a441646472a47f000001ab496e6361726e6174696f6e01a44d6574"
            "61aaff81a4726f6c65a26462a44e6f6465a26e32a4506f7274cd1f0ba356736ea6010502020505");
    put_hex("mlwire",
            "0982a4416c676f00a3427566da00620005083a05254c1e366fc290d10640500042aa8290515367"
            "0e9d3665dcd05906a0a3c78ea58ac891f346ceb21ff83e763485a44c9a336836fa2087af16a271"
            "68e28db252660c268e2a3b020d3a5465d18f473d26151a9469d35253cac471f2264040");
    hm_ml_put_ping(&b, &ping);
    put_buf("mlwire", &b);
    hm_ml_put_indirect_ping(&b, &ip);
    put_buf("mlwire", &b);
    hm_ml_put_ack(&b, &ack);
    put_buf("mlwire", &b);
    hm_ml_put_nack(&b, &nack);
    put_buf("mlwire", &b);
    hm_ml_put_suspect(&b, &acc);
    put_buf("mlwire", &b);
    hm_ml_put_dead(&b, &acc);
    put_buf("mlwire", &b);
    hm_ml_put_alive(&b, &al);
    put_buf("mlwire", &b);
    hm_ml_put_err(&b, "boom");
    put_buf("mlwire", &b);
    hm_ml_put_user(&b, "\x01\x82", 2);
    put_buf("mlwire", &b);
    hm_ml_put_ping(&parts[0], &ping);
    hm_ml_put_alive(&parts[1], &al);
    hm_ml_put_compound(&comp, parts, 2);
    put("mlwire", comp.data, comp.len);
    hm_ml_put_crc(&b, comp.data, comp.len);
    put_buf("mlwire", &b);
    hm_ml_put_compress(&b, comp.data, comp.len);
    put_buf("mlwire", &b);

    /* lzw: the spec streams and their plain texts */
    put_hex("lzw", "00c30404");
    put_hex("lzw", "00c3081c483020");
    put_hex("lzw", "00a93c1152e48914274fa80824687061c183090302");
    put("lzw", "TOBEORNOTTOBEORTOBEORNOT", 24);
    hm_lzw_encode(comp.data, comp.len, &b);
    put_buf("lzw", &b);

    /* push/pull body (after the [6]) with a serf user state */
    {
        hm_ml_push_node_t nodes[2];
        hm_serf_event_slot_t slots[4] = {{0}};
        hm_serf_event_t ev = {S("deploy"), (const uint8_t *)"x", 1};
        hm_serf_status_ltime_t st[1] = {{S("n1"), 3}};
        hm_ml_str_t left[1] = {S("n3")};
        hm_serf_push_pull_t pp = {.ltime = 2,
                                  .event_ltime = 3,
                                  .query_ltime = 1,
                                  .status = st,
                                  .n_status = 1,
                                  .left = left,
                                  .n_left = 1,
                                  .slots = slots,
                                  .n_slots = 4};
        hm_buf_t us = {0};

        slots[1].present = true;
        slots[1].ltime = 3;
        slots[1].events = &ev;
        slots[1].n = 1;
        hm_serf_put_push_pull(&us, &pp);
        put("serfwire", us.data, us.len);
        memset(nodes, 0, sizeof(nodes));
        nodes[0].name = S("n1");
        nodes[0].addr = al.addr;
        nodes[0].meta = al.meta;
        nodes[0].meta_len = 2;
        memcpy(nodes[0].vsn, al.vsn, 6);
        nodes[0].has_vsn = true;
        nodes[1] = nodes[0];
        nodes[1].name = S("n2");
        nodes[1].state = 3;
        hm_ml_put_push_pull(&b, true, nodes, 2, us.data, us.len);
        put("pushpull", b.data + 1, b.len - 1);
        put("mlwire", b.data, b.len);
        hm_buf_reset(&b);
        hm_buf_free(&us);
    }
    hm_buf_free(&b);
    hm_buf_free(&parts[0]);
    hm_buf_free(&parts[1]);
    hm_buf_free(&comp);
}

static void serf_seeds(void)
{
    hm_buf_t b = {0}, elems = {0}, inner = {0};
    uint32_t count = 0;
    const char *names[] = {"n4", "n1"};
    hm_serf_user_event_t ue = {.ltime = 34, .name = S("deploy"), .cc = true};
    hm_serf_query_t q = {.ltime = 7,
                         .id = 99,
                         .source_node = S("n1"),
                         .flags = 1,
                         .relay_factor = 1,
                         .timeout_ns = 3200000000ll,
                         .name = S("q")};
    hm_serf_query_response_t qr = {
        .ltime = 7, .id = 99, .from = S("n2"), .payload = (const uint8_t *)"ok", .payload_len = 2};
    hm_tag_t tv[] = {{"role", "web"}, {"dc", "east"}};
    hm_tags_t tags = {tv, 2};
    hm_coord_t c = {.error = 1.5, .height = 1e-5};
    hm_member_t m = {
        .name = "n1", .tags = tags, .status = HM_STATUS_ALIVE, .vsn = {1, 5, 2, 2, 5, 5}};
    const char *keys[] = {"QUJD"};

    hm_serf_put_join(&b, 1, "n2");
    put_buf("serfwire", &b);
    hm_serf_put_leave(&b, 4, "n3", false);
    put_buf("serfwire", &b);
    hm_serf_put_user_event(&b, &ue);
    put_buf("serfwire", &b);
    hm_serf_add_node_filter(&elems, &count, names, 2);
    hm_serf_add_tag_filter(&elems, &count, "role", "w.*");
    q.filters.p = elems.data;
    q.filters.n = elems.len;
    q.filters.count = count;
    hm_ml_addr_from_raw(&q.addr, (const uint8_t *)"\x7f\0\0\1", 4, 7946);
    hm_serf_put_query(&b, &q);
    put_buf("serfwire", &b);
    hm_serf_put_query_response(&inner, &qr);
    put("serfwire", inner.data, inner.len);
    hm_serf_put_relay(&b, &q.addr, "n1", inner.data, inner.len);
    put_buf("serfwire", &b);
    hm_serf_put_tags(&b, &tags);
    put_buf("serfwire", &b);
    hm_serf_put_coord(&b, &c);
    put_buf("serfwire", &b);
    hm_serf_put_key_request(&b, (const uint8_t *)"0123456789abcdef", 16);
    put_buf("serfwire", &b);
    hm_serf_put_key_response(&b, true, "", keys, 1, "QUJD");
    put_buf("serfwire", &b);
    hm_ml_addr_from_raw(&m.addr, (const uint8_t *)"\x7f\0\0\1", 4, 7946);
    hm_serf_put_conflict_response(&b, &m);
    put_buf("serfwire", &b);
    put("serfwire", elems.data + 1, 8); /* a bare node filter */
    hm_buf_free(&b);
    hm_buf_free(&elems);
    hm_buf_free(&inner);
}

/* Every datagram and stream of the serf capture becomes an mlwire seed. */
static void capture_seeds(const char *path)
{
    static char line[1 << 20];
    FILE *f = fopen(path, "r");
    char *hex;

    if (f == NULL) {
        perror(path);
        exit(1);
    }
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || (hex = strchr(line, ' ')) == NULL ||
            (hex = strchr(hex + 1, ' ')) == NULL)
            continue;
        hex[1 + strcspn(hex + 1, " \n")] = 0;
        put_hex("mlwire", hex + 1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: seeds DIR [CAPTURE]\n");
        return 2;
    }
    dir = argv[1];
    mkdir(dir, 0755);
    ml_seeds();
    serf_seeds();
    if (argc == 3)
        capture_seeds(argv[2]);
    printf("%d seeds\n", nseed);
    return 0;
}
