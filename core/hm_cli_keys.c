/* `hamlet keys`: install, use, remove and list the cluster's gossip keys. */
#include <stdlib.h>
#include <string.h>

#include "hm_client.h"

static const char keys_help[] =
    "Usage: hamlet keys [options]...\n"
    "\n"
    "  Changes the gossip encryption keyring of every member, or lists the keys\n"
    "  installed across the cluster.  Only for clusters started with encryption.\n"
    "\n"
    "Options:\n"
    "\n"
    "  -install=<key>            Add a key to every keyring.\n"
    "  -use=<key>                Make an installed key the primary key.\n"
    "  -remove=<key>             Remove a (non-primary) key from every keyring.\n"
    "  -list                     List the installed keys and how many nodes have each.\n"
    "  -rpc-addr=127.0.0.1:7373  RPC address of the agent.\n"
    "  -rpc-auth=\"\"              RPC auth token of the agent.";

/* The column table of a string map (node -> message, key -> "[n/N]"). */
static void print_map(const hm_tags_t *t, const char *prefix)
{
    char **lines = calloc(t->n ? t->n : 1, sizeof(char *));
    char *out;

    for (size_t i = 0; i < t->n; i++) {
        size_t len = strlen(prefix) + strlen(t->v[i].key) + strlen(t->v[i].value) + 8;
        lines[i] = malloc(len);
        snprintf(lines[i], len, "%s%s | %s", prefix, t->v[i].key, t->v[i].value);
    }
    out = hm_columnize(lines, t->n);
    printf("%s\n", out);
    free(out);
    for (size_t i = 0; i < t->n; i++)
        free(lines[i]);
    free(lines);
}

static void print_failures(const msgpack_object *body)
{
    hm_tags_t msgs = {0};

    if (hm_obj_tags(hm_rpc_get(body, "Messages"), &msgs) == 0 && msgs.n > 0)
        print_map(&msgs, "failed: | ");
    hm_tags_free(&msgs);
}

static int list_keys(hm_rpcc_t *c)
{
    msgpack_object body;
    const msgpack_object *keys;
    uint64_t total = 0;
    hm_tags_t t = {0};
    char(*counts)[48];
    int rc;

    printf("==> Asking all members for installed keys...\n");
    rc = hm_rpcc_call(c, "list-keys", NULL, true, &body);
    if (rc != HM_RPCC_OK) {
        if (rc == HM_RPCC_EAGENT)
            print_failures(&body);
        printf("\nFailed to gather member keys: %s\n", c->err);
        return 1;
    }
    hm_rpc_field_uint(&body, "NumNodes", &total);
    keys = hm_rpc_get(&body, "Keys");
    printf("==> Keys gathered, listing cluster keys...\n\n");
    if (keys && keys->type == MSGPACK_OBJECT_MAP) {
        size_t n = keys->via.map.size;
        t.v = calloc(n ? n : 1, sizeof(hm_tag_t));
        counts = calloc(n ? n : 1, sizeof(*counts));
        for (size_t i = 0; i < n && t.v && counts; i++) {
            uint64_t num = 0;
            char *k = hm_rpc_strdup(&keys->via.map.ptr[i].key);
            hm_rpc_uint(&keys->via.map.ptr[i].val, &num);
            snprintf(counts[i], sizeof(counts[i]), "[%llu/%llu]", (unsigned long long)num,
                     (unsigned long long)total);
            t.v[t.n].key = k ? k : strdup("");
            t.v[t.n++].value = counts[i];
        }
        hm_tags_sort(&t);
        print_map(&t, "");
        for (size_t i = 0; i < t.n; i++)
            free((char *)t.v[i].key);
        free(counts);
        hm_tags_free(&t);
    } else {
        printf("\n");
    }
    return 0;
}

static int change_key(hm_rpcc_t *c, const char *cmd, const char *key, const char *doing,
                      const char *done, const char *fail)
{
    hm_buf_t req = {0};
    msgpack_packer pk;
    msgpack_object body;
    int rc;

    printf("==> %s\n", doing);
    hm_rpc_packer_init(&pk, &req);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_kstr(&pk, "Key", key);
    rc = hm_rpcc_call(c, cmd, &req, true, &body);
    hm_buf_free(&req);
    if (rc != HM_RPCC_OK) {
        if (rc == HM_RPCC_EAGENT)
            print_failures(&body);
        printf("\n%s: %s\n", fail, c->err);
        return 1;
    }
    printf("==> %s\n", done);
    return 0;
}

int hm_cmd_keys(int argc, char **argv)
{
    const char *install = "", *use = "", *remove = "";
    bool list = false, found;
    hm_flag_t flags[] = {{"install", HM_FLAG_STR, &install},
                         {"use", HM_FLAG_STR, &use},
                         {"remove", HM_FLAG_STR, &remove},
                         {"list", HM_FLAG_BOOL, &list},
                         {NULL, 0, NULL}};
    const char *args[3];
    hm_rpc_opts_t rpc;
    hm_rpcc_t c;
    int rc, i = hm_flags_parse(flags, &rpc, argc, argv, keys_help);

    if (i < 0)
        return i == -2 ? 0 : 1;
    args[0] = install, args[1] = use, args[2] = remove;
    found = list;
    for (int k = 0; k < 3; k++) {
        if (found && args[k][0]) {
            printf("Only one of -install, -use, -remove, or -list allowed\n");
            return 1;
        }
        found = found || args[k][0];
    }
    if (!found) {
        printf("%s\n", keys_help);
        return 1;
    }
    if (hm_cli_connect(&c, &rpc) < 0)
        return 1;
    if (list)
        rc = list_keys(&c);
    else if (install[0])
        rc = change_key(&c, "install-key", install, "Installing key on all members...",
                        "Successfully installed key!", "Error installing key");
    else if (use[0])
        rc = change_key(&c, "use-key", use, "Changing primary key on all members...",
                        "Successfully changed primary key!", "Error changing primary key");
    else
        rc = change_key(&c, "remove-key", remove, "Removing key on all members...",
                        "Successfully removed key!", "Error removing key");
    hm_rpcc_close(&c);
    return rc;
}
