/* `hamlet info` (agent statistics) and `hamlet rtt` (Vivaldi estimate). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hm_client.h"

#define RPC_OPTS_HELP                                                                              \
    "  -rpc-addr=127.0.0.1:7373  RPC address of the agent.\n"                                      \
    "  -rpc-auth=\"\"              RPC auth token of the agent."

static const char info_help[] =
    "Usage: hamlet info [options]\n"
    "\n"
    "  Prints the agent's statistics, by section, for operators.\n"
    "\n"
    "Options:\n"
    "\n"
    "  -format=text|json         Output format (default text).\n" RPC_OPTS_HELP;

typedef struct section {
    char *name;
    hm_tags_t kv;
} section_t;

static int sec_cmp(const void *a, const void *b)
{
    return strcmp(((const section_t *)a)->name, ((const section_t *)b)->name);
}

/* map[string]map[string]string, sorted at both levels. */
static int read_stats(const msgpack_object *o, section_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return -1;
    *out = calloc(o->via.map.size + 1, sizeof(section_t));
    for (uint32_t i = 0; *out && i < o->via.map.size; i++) {
        section_t *s = &(*out)[(*n)++];
        s->name = hm_rpc_strdup(&o->via.map.ptr[i].key);
        if (s->name == NULL || hm_obj_tags(&o->via.map.ptr[i].val, &s->kv) < 0)
            return -1;
    }
    if (*out && *n > 1)
        qsort(*out, *n, sizeof(section_t), sec_cmp);
    return *out ? 0 : -1;
}

static void free_stats(section_t *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].name);
        hm_tags_free(&s[i].kv);
    }
    free(s);
}

static void print_stats(const section_t *s, size_t n, bool json)
{
    if (json && s == NULL) {
        printf("null\n"); /* a nil map */
        return;
    }
    if (json) {
        hm_json_t j = {0};
        hm_json_open(&j, '{');
        for (size_t i = 0; i < n; i++) {
            hm_json_key(&j, s[i].name);
            hm_json_tags(&j, s[i].kv.v ? &s[i].kv : NULL);
        }
        hm_json_close(&j, '}');
        printf("%s\n", hm_json_text(&j));
        hm_buf_free(&j.out);
        return;
    }
    /* "NAME:\n\tkey = value\n" per section; the whole text is trimmed */
    for (size_t i = 0; i < n; i++) {
        printf("%s:", s[i].name);
        for (size_t k = 0; k < s[i].kv.n; k++)
            printf("\n\t%s = %s", s[i].kv.v[k].key, s[i].kv.v[k].value);
        if (i + 1 < n)
            printf("\n");
    }
    printf("\n");
}

int hm_cmd_info(int argc, char **argv)
{
    const char *format = "text";
    hm_flag_t flags[] = {{"format", HM_FLAG_STR, &format}, {NULL, 0, NULL}};
    hm_rpc_opts_t rpc;
    msgpack_object body;
    section_t *s = NULL;
    size_t n = 0;
    hm_rpcc_t c;
    int rc = 1, i = hm_flags_parse(flags, &rpc, argc, argv, info_help);

    if (i < 0)
        return i == -2 ? 0 : 1;
    if (hm_cli_connect(&c, &rpc) < 0)
        return 1;
    if (hm_rpcc_call(&c, "stats", NULL, true, &body) != HM_RPCC_OK) {
        printf("Error querying agent: %s\n", c.err);
    } else if (read_stats(&body, &s, &n) < 0) {
        printf("Error querying agent: malformed response\n");
    } else if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        printf("Encoding error: Invalid output format \"%s\"\n", format);
    } else {
        print_stats(s, n, strcmp(format, "json") == 0);
        rc = 0;
    }
    free_stats(s, n);
    hm_rpcc_close(&c);
    return rc;
}

/* --- rtt ------------------------------------------------------------- */

static const char rtt_help[] =
    "Usage: hamlet rtt [options] node1 [node2]\n"
    "\n"
    "  Estimates the round trip time between two nodes from their network\n"
    "  coordinates; with one node, between it and the agent's own node.\n"
    "\n"
    "Options:\n"
    "\n" RPC_OPTS_HELP;

typedef struct coord {
    double vec[16];
    size_t dim;
    double error, adjustment, height;
} coord_t;

/* 1 found, 0 unknown node, -1 error (c->err). */
static int get_coord(hm_rpcc_t *c, const char *node, coord_t *out)
{
    hm_buf_t req = {0};
    msgpack_packer pk;
    msgpack_object body;
    const msgpack_object *co, *vec;
    bool ok = false;
    int rc;

    hm_rpc_packer_init(&pk, &req);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_kstr(&pk, "Node", node);
    rc = hm_rpcc_call(c, "get-coordinate", &req, true, &body);
    hm_buf_free(&req);
    if (rc != HM_RPCC_OK)
        return -1;
    memset(out, 0, sizeof(*out));
    hm_rpc_field_bool(&body, "Ok", &ok);
    if (!ok)
        return 0;
    co = hm_rpc_get(&body, "Coord");
    vec = hm_rpc_get(co, "Vec");
    if (co == NULL) {
        snprintf(c->err, sizeof(c->err), "malformed response");
        return -1;
    }
    if (hm_rpc_get(co, "Error"))
        hm_rpc_double(hm_rpc_get(co, "Error"), &out->error);
    if (hm_rpc_get(co, "Adjustment"))
        hm_rpc_double(hm_rpc_get(co, "Adjustment"), &out->adjustment);
    if (hm_rpc_get(co, "Height"))
        hm_rpc_double(hm_rpc_get(co, "Height"), &out->height);
    if (vec && vec->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < vec->via.array.size && out->dim < 16; i++)
            hm_rpc_double(&vec->via.array.ptr[i], &out->vec[out->dim++]);
    return 1;
}

/* coordinate.DistanceTo, in seconds (truncated to whole nanoseconds). */
static double distance(const coord_t *a, const coord_t *b)
{
    double sum = 0, dist, adj;

    for (size_t i = 0; i < a->dim && i < b->dim; i++)
        sum += (a->vec[i] - b->vec[i]) * (a->vec[i] - b->vec[i]);
    dist = sqrt(sum) + a->height + b->height;
    adj = dist + a->adjustment + b->adjustment;
    if (adj > 0.0)
        dist = adj;
    return (double)(int64_t)(dist * 1e9) / 1e9;
}

static char *self_name(hm_rpcc_t *c)
{
    msgpack_object body;

    if (hm_rpcc_call(c, "stats", NULL, true, &body) != HM_RPCC_OK)
        return NULL;
    return hm_rpc_get(hm_rpc_get(&body, "agent"), "name")
               ? hm_rpc_strdup(hm_rpc_get(hm_rpc_get(&body, "agent"), "name"))
               : strdup("");
}

int hm_cmd_rtt(int argc, char **argv)
{
    hm_flag_t flags[] = {{NULL, 0, NULL}};
    hm_rpc_opts_t rpc;
    char *nodes[2] = {NULL, NULL}, *self = NULL;
    coord_t co[2];
    hm_rpcc_t c;
    int rc = 1, i = hm_flags_parse(flags, &rpc, argc, argv, rtt_help);

    if (i < 0)
        return i == -2 ? 0 : 1;
    if (hm_cli_connect(&c, &rpc) < 0)
        return 1;
    if (argc - i == 1) {
        if ((self = self_name(&c)) == NULL) {
            printf("Error querying agent: %s\n", c.err);
            goto out;
        }
        nodes[0] = argv[i], nodes[1] = self;
    } else if (argc - i == 2) {
        nodes[0] = argv[i], nodes[1] = argv[i + 1];
    } else {
        printf("One or two node names must be specified\n\n%s\n", rtt_help);
        goto out;
    }
    for (int k = 0; k < 2; k++) {
        int r = get_coord(&c, nodes[k], &co[k]);
        if (r < 0) {
            printf("Error getting coordinates: %s\n", c.err);
            goto out;
        }
        if (r == 0) {
            printf("Could not find a coordinate for node \"%s\"\n", nodes[k]);
            goto out;
        }
    }
    printf("Estimated %s <-> %s rtt: %.3f ms\n", nodes[0], nodes[1],
           distance(&co[0], &co[1]) * 1000.0);
    rc = 0;
out:
    free(self);
    hm_rpcc_close(&c);
    return rc;
}
