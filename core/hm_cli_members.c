/* `hamlet members`: the member list, filtered by the agent, as a table or JSON. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hm_client.h"

static const char members_help[] =
    "Usage: hamlet members [options]\n"
    "\n"
    "  Lists the members known to a running agent.\n"
    "\n"
    "Options:\n"
    "\n"
    "  -detailed                 Also show the Serf protocol versions (text output).\n"
    "  -format=text|json         Output format (default text).\n"
    "  -name=<regexp>            Only members whose name matches (anchored).\n"
    "  -role=<regexp>            Deprecated: same as -tag role=<regexp>.\n"
    "  -status=<regexp>          Only members whose status matches (anchored).\n"
    "  -tag <key>=<regexp>       Only members whose tag matches (anchored; repeatable).\n"
    "  -rpc-addr=127.0.0.1:7373  RPC address of the agent.\n"
    "  -rpc-auth=\"\"              RPC auth token of the agent.";

/* net.TCPAddr.String(): "1.2.3.4:7946", "[::1]:7946". */
static void format_addr(const char *ip, size_t n, uint64_t port, char *out, size_t len)
{
    char s[INET6_ADDRSTRLEN] = "";
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (n == 4 || (n == 16 && memcmp(ip, v4mapped, 12) == 0)) {
        inet_ntop(AF_INET, ip + (n - 4), s, sizeof(s));
        snprintf(out, len, "%s:%llu", s, (unsigned long long)port);
    } else if (n == 16) {
        inet_ntop(AF_INET6, ip, s, sizeof(s));
        snprintf(out, len, "[%s]:%llu", s, (unsigned long long)port);
    } else {
        snprintf(out, len, ":%llu", (unsigned long long)port);
    }
}

typedef struct member_view {
    const char *name, *status;
    size_t name_n, status_n;
    char addr[64];
    uint64_t port, dmin, dmax, dcur;
    hm_tags_t tags; /* v NULL: nil map */
} member_view_t;

static int read_member(const msgpack_object *o, member_view_t *m)
{
    const char *ip;
    size_t ipn;

    memset(m, 0, sizeof(*m));
    if (o->type != MSGPACK_OBJECT_MAP || hm_rpc_field_str(o, "Name", &m->name, &m->name_n) < 0 ||
        hm_rpc_field_str(o, "Status", &m->status, &m->status_n) < 0 ||
        hm_rpc_field_str(o, "Addr", &ip, &ipn) < 0 || hm_rpc_field_uint(o, "Port", &m->port) < 0 ||
        hm_rpc_field_uint(o, "DelegateMin", &m->dmin) < 0 ||
        hm_rpc_field_uint(o, "DelegateMax", &m->dmax) < 0 ||
        hm_rpc_field_uint(o, "DelegateCur", &m->dcur) < 0 ||
        hm_obj_tags(hm_rpc_get(o, "Tags"), &m->tags) < 0)
        return -1;
    format_addr(ip, ipn, m->port, m->addr, sizeof(m->addr));
    return 0;
}

static char *text_line(const member_view_t *m, bool detailed)
{
    hm_buf_t b = {0};
    char tail[128];

    hm_buf_append(&b, m->name, m->name_n);
    hm_buf_append(&b, "|", 1);
    hm_buf_append(&b, m->addr, strlen(m->addr));
    hm_buf_append(&b, "|", 1);
    hm_buf_append(&b, m->status, m->status_n);
    hm_buf_append(&b, "|", 1);
    for (size_t i = 0; i < m->tags.n; i++) {
        if (i)
            hm_buf_append(&b, ",", 1);
        hm_buf_append(&b, m->tags.v[i].key, strlen(m->tags.v[i].key));
        hm_buf_append(&b, "=", 1);
        hm_buf_append(&b, m->tags.v[i].value, strlen(m->tags.v[i].value));
    }
    if (detailed) {
        snprintf(
            tail, sizeof(tail), "|Protocol Version: %llu|Available Protocol Range: [%llu, %llu]",
            (unsigned long long)m->dcur, (unsigned long long)m->dmin, (unsigned long long)m->dmax);
        hm_buf_append(&b, tail, strlen(tail));
    }
    hm_buf_append(&b, "", 1);
    return (char *)b.data;
}

static void json_member(hm_json_t *j, const member_view_t *m)
{
    hm_json_open(j, '{');
    hm_json_key(j, "name");
    hm_json_str(j, m->name ? m->name : "", m->name_n);
    hm_json_key(j, "addr");
    hm_json_cstr(j, m->addr);
    hm_json_key(j, "port");
    hm_json_uint(j, m->port);
    hm_json_key(j, "tags");
    hm_json_tags(j, m->tags.v ? &m->tags : NULL);
    hm_json_key(j, "status");
    hm_json_str(j, m->status ? m->status : "", m->status_n);
    hm_json_key(j, "protocol");
    hm_json_open(j, '{');
    hm_json_key(j, "max");
    hm_json_uint(j, m->dmax);
    hm_json_key(j, "min");
    hm_json_uint(j, m->dmin);
    hm_json_key(j, "version");
    hm_json_uint(j, m->dcur);
    hm_json_close(j, '}');
    hm_json_close(j, '}');
}

/* Prints the member list; returns -1 on a malformed response. */
static int print_members(const msgpack_object *list, bool detailed, bool json)
{
    size_t n = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
    member_view_t *mv = calloc(n ? n : 1, sizeof(*mv));
    char **lines = calloc(n ? n : 1, sizeof(char *));
    hm_json_t j = {0};
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++)
        rc = read_member(&list->via.array.ptr[i], &mv[i]);
    if (rc == 0 && json) {
        hm_json_open(&j, '{');
        hm_json_key(&j, "members");
        if (n == 0)
            hm_json_null(&j);
        else {
            hm_json_open(&j, '[');
            for (size_t i = 0; i < n; i++)
                json_member(&j, &mv[i]);
            hm_json_close(&j, ']');
        }
        hm_json_close(&j, '}');
        printf("%s\n", hm_json_text(&j));
        hm_buf_free(&j.out);
    } else if (rc == 0) {
        char *out;
        for (size_t i = 0; i < n; i++)
            lines[i] = text_line(&mv[i], detailed);
        out = hm_columnize(lines, n);
        /* strings.TrimSpace of the whole table */
        for (size_t l = strlen(out); l > 0 && isspace((unsigned char)out[l - 1]); l--)
            out[l - 1] = '\0';
        printf("%s\n", out);
        free(out);
    }
    for (size_t i = 0; i < n; i++) {
        free(lines[i]);
        hm_tags_free(&mv[i].tags);
    }
    free(lines);
    free(mv);
    return rc;
}

static int pack_filter(hm_buf_t *b, const hm_tags_t *tags, const char *status, const char *name)
{
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, b);
    msgpack_pack_map(&pk, 3);
    hm_rpc_pack_str(&pk, "Tags");
    msgpack_pack_map(&pk, tags->n);
    for (size_t i = 0; i < tags->n; i++)
        hm_rpc_pack_kstr(&pk, tags->v[i].key, tags->v[i].value);
    hm_rpc_pack_kstr(&pk, "Status", status);
    return hm_rpc_pack_kstr(&pk, "Name", name);
}

int hm_cmd_members(int argc, char **argv)
{
    bool detailed = false;
    const char *role = "", *status = "", *format = "text", *name = "";
    hm_strlist_t tagf = {0};
    hm_rpc_opts_t rpc;
    hm_flag_t flags[] = {{"detailed", HM_FLAG_BOOL, &detailed},
                         {"role", HM_FLAG_STR, &role},
                         {"status", HM_FLAG_STR, &status},
                         {"format", HM_FLAG_STR, &format},
                         {"tag", HM_FLAG_LIST, &tagf},
                         {"name", HM_FLAG_STR, &name},
                         {NULL, 0, NULL}};
    hm_tags_t tags = {0};
    hm_buf_t req = {0};
    msgpack_object body;
    hm_rpcc_t c;
    int i = hm_flags_parse(flags, &rpc, argc, argv, members_help), rc = 1;

    if (i < 0) {
        hm_strlist_free(&tagf);
        return i == -2 ? 0 : 1;
    }
    if (role[0]) {
        char *t = malloc(strlen(role) + 6);
        printf("Deprecation warning: 'Role' has been replaced with 'Tags'\n");
        sprintf(t, "role=%s", role);
        tagf.v = realloc(tagf.v, (tagf.n + 1) * sizeof(char *));
        tagf.v[tagf.n++] = t;
    }
    if (hm_parse_tags(&tagf, &tags) < 0)
        goto out;
    /* serf asks the agent first and only then rejects a bad -format */
    if (hm_cli_connect(&c, &rpc) < 0)
        goto out;
    pack_filter(&req, &tags, status, name);
    if (hm_rpcc_call(&c, "members-filtered", &req, true, &body) != HM_RPCC_OK) {
        printf("Error retrieving members: %s\n", c.err);
    } else if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        printf("Encoding error: Invalid output format \"%s\"\n", format);
    } else if (print_members(hm_rpc_get(&body, "Members"), detailed, strcmp(format, "json") == 0) <
               0) {
        printf("Error retrieving members: malformed response\n");
    } else {
        rc = 0;
    }
    hm_rpcc_close(&c);
out:
    hm_buf_free(&req);
    hm_tags_free(&tags);
    hm_strlist_free(&tagf);
    return rc;
}
