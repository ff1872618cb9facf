/* `hamlet` join, leave, force-leave, event, tags: one request, one answer. */
#include <stdlib.h>
#include <string.h>

#include "hm_client.h"

#define RPC_OPTS_HELP                                                                              \
    "  -rpc-addr=127.0.0.1:7373  RPC address of the agent.\n"                                      \
    "  -rpc-auth=\"\"              RPC auth token of the agent."

/* Parses flags and connects; returns the first positional index or -1
 * (with *rc set to the exit code). */
static int setup(const hm_flag_t *flags, hm_rpc_opts_t *rpc, int argc, char **argv,
                 const char *help, int *rc)
{
    int i = hm_flags_parse(flags, rpc, argc, argv, help);

    *rc = i == -2 ? 0 : 1;
    return i;
}

static void usage_error(const char *msg, const char *help)
{
    printf("%s\n\n%s\n", msg, help);
}

/* --- join ------------------------------------------------------------- */

static const char join_help[] =
    "Usage: hamlet join [options] address ...\n"
    "\n"
    "  Asks a running agent to join a cluster through one or more of its\n"
    "  members.\n"
    "\n"
    "Options:\n"
    "\n"
    "  -replay                   Replay past user events.\n" RPC_OPTS_HELP;

int hm_cmd_join(int argc, char **argv)
{
    bool replay = false;
    hm_flag_t flags[] = {{"replay", HM_FLAG_BOOL, &replay}, {NULL, 0, NULL}};
    hm_rpc_opts_t rpc;
    hm_buf_t req = {0};
    msgpack_packer pk;
    msgpack_object body;
    hm_rpcc_t c;
    uint64_t num = 0;
    int rc, i = setup(flags, &rpc, argc, argv, join_help, &rc);

    if (i < 0)
        return rc;
    if (i >= argc) {
        usage_error("At least one address to join must be specified.", join_help);
        return 1;
    }
    if (hm_cli_connect(&c, &rpc) < 0)
        return 1;
    hm_rpc_packer_init(&pk, &req);
    msgpack_pack_map(&pk, 2);
    hm_rpc_pack_str(&pk, "Existing");
    msgpack_pack_array(&pk, (size_t)(argc - i));
    for (int k = i; k < argc; k++)
        hm_rpc_pack_str(&pk, argv[k]);
    hm_rpc_pack_str(&pk, "Replay");
    replay ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    rc = hm_rpcc_call(&c, "join", &req, true, &body);
    if (rc == HM_RPCC_OK && hm_rpc_field_uint(&body, "Num", &num) == 0) {
        printf("Successfully joined cluster by contacting %llu nodes.\n", (unsigned long long)num);
        rc = 0;
    } else {
        printf("Error joining the cluster: %s\n", rc == HM_RPCC_OK ? "malformed response" : c.err);
        rc = 1;
    }
    hm_buf_free(&req);
    hm_rpcc_close(&c);
    return rc;
}

/* --- leave ------------------------------------------------------------ */

static const char leave_help[] = "Usage: hamlet leave\n"
                                 "\n"
                                 "  Makes the agent leave the cluster gracefully and shut down.\n"
                                 "\n"
                                 "Options:\n"
                                 "\n" RPC_OPTS_HELP;

int hm_cmd_leave(int argc, char **argv)
{
    hm_flag_t flags[] = {{NULL, 0, NULL}};
    hm_rpc_opts_t rpc;
    hm_rpcc_t c;
    int rc, i = setup(flags, &rpc, argc, argv, leave_help, &rc);

    if (i < 0)
        return rc;
    if (hm_cli_connect(&c, &rpc) < 0)
        return 1;
    if (hm_rpcc_call(&c, "leave", NULL, false, NULL) != HM_RPCC_OK) {
        printf("Error leaving: %s\n", c.err);
        rc = 1;
    } else {
        printf("Graceful leave complete\n");
        rc = 0;
    }
    hm_rpcc_close(&c);
    return rc;
}

/* --- force-leave ------------------------------------------------------ */

static const char force_leave_help[] =
    "Usage: hamlet force-leave [options] name\n"
    "\n"
    "  Moves a member to the \"left\" state, typically a failed node that will\n"
    "  not come back; a member that is in fact alive will rejoin.\n"
    "\n"
    "Options:\n"
    "\n" RPC_OPTS_HELP "\n"
    "  -prune                    Also remove the member from the member list.";

int hm_cmd_force_leave(int argc, char **argv)
{
    bool prune = false;
    hm_flag_t flags[] = {{"prune", HM_FLAG_BOOL, &prune}, {NULL, 0, NULL}};
    hm_rpc_opts_t rpc;
    hm_buf_t req = {0};
    msgpack_packer pk;
    hm_rpcc_t c;
    int rc, i = setup(flags, &rpc, argc, argv, force_leave_help, &rc);

    if (i < 0)
        return rc;
    if (argc - i != 1) {
        usage_error("A node name must be specified to force leave.", force_leave_help);
        return 1;
    }
    if (hm_cli_connect(&c, &rpc) < 0)
        return 1;
    hm_rpc_packer_init(&pk, &req);
    msgpack_pack_map(&pk, 2);
    hm_rpc_pack_kstr(&pk, "Node", argv[i]);
    hm_rpc_pack_str(&pk, "Prune");
    prune ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    rc = 0;
    if (hm_rpcc_call(&c, "force-leave", &req, false, NULL) != HM_RPCC_OK) {
        printf("Error force leaving: %s\n", c.err);
        rc = 1;
    }
    hm_buf_free(&req);
    hm_rpcc_close(&c);
    return rc;
}

/* --- event ------------------------------------------------------------ */

static const char event_help[] =
    "Usage: hamlet event [options] name payload\n"
    "\n"
    "  Sends a user event to the whole cluster.\n"
    "\n"
    "Options:\n"
    "\n"
    "  -coalesce=true/false      Whether agents may collapse repeated events of\n"
    "                            this name into the last one (default true).\n" RPC_OPTS_HELP;

int hm_cmd_event(int argc, char **argv)
{
    bool coalesce = true;
    hm_flag_t flags[] = {{"coalesce", HM_FLAG_BOOL, &coalesce}, {NULL, 0, NULL}};
    hm_rpc_opts_t rpc;
    hm_buf_t req = {0};
    msgpack_packer pk;
    hm_rpcc_t c;
    int rc, i = setup(flags, &rpc, argc, argv, event_help, &rc);

    if (i < 0)
        return rc;
    if (argc - i < 1) {
        usage_error("An event name must be specified.", event_help);
        return 1;
    }
    if (argc - i > 2) {
        usage_error("Too many command line arguments. Only a name and payload must be specified.",
                    event_help);
        return 1;
    }
    if (hm_cli_connect(&c, &rpc) < 0)
        return 1;
    hm_rpc_packer_init(&pk, &req);
    msgpack_pack_map(&pk, 3);
    hm_rpc_pack_kstr(&pk, "Name", argv[i]);
    hm_rpc_pack_str(&pk, "Payload");
    if (argc - i == 2)
        hm_rpc_pack_bin(&pk, argv[i + 1], strlen(argv[i + 1]), false);
    else
        msgpack_pack_nil(&pk);
    hm_rpc_pack_str(&pk, "Coalesce");
    coalesce ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    if (hm_rpcc_call(&c, "event", &req, false, NULL) != HM_RPCC_OK) {
        printf("Error sending event: %s\n", c.err);
        rc = 1;
    } else {
        printf("Event '%s' dispatched! Coalescing enabled: %s\n", argv[i],
               coalesce ? "true" : "false");
        rc = 0;
    }
    hm_buf_free(&req);
    hm_rpcc_close(&c);
    return rc;
}

/* --- tags ------------------------------------------------------------- */

static const char tags_help[] =
    "Usage: hamlet tags [options] ...\n"
    "\n"
    "  Changes the tags of a running agent; the cluster learns them through\n"
    "  gossip.\n"
    "\n"
    "Options:\n"
    "\n"
    "  -set key=value            Set a tag (repeatable).\n"
    "  -delete key               Remove a tag (repeatable).\n" RPC_OPTS_HELP;

int hm_cmd_tags(int argc, char **argv)
{
    hm_strlist_t set = {0}, del = {0};
    hm_flag_t flags[] = {
        {"set", HM_FLAG_LIST, &set}, {"delete", HM_FLAG_LIST, &del}, {NULL, 0, NULL}};
    hm_rpc_opts_t rpc;
    hm_tags_t tags = {0};
    hm_buf_t req = {0};
    msgpack_packer pk;
    hm_rpcc_t c;
    int rc, i = setup(flags, &rpc, argc, argv, tags_help, &rc);

    if (i < 0)
        goto out;
    rc = 1;
    if (set.n == 0 && del.n == 0) {
        printf("%s\n", tags_help);
        goto out;
    }
    if (hm_cli_connect(&c, &rpc) < 0)
        goto out;
    if (hm_parse_tags(&set, &tags) == 0) {
        hm_rpc_packer_init(&pk, &req);
        msgpack_pack_map(&pk, 2);
        hm_rpc_pack_str(&pk, "Tags");
        msgpack_pack_map(&pk, tags.n);
        for (size_t k = 0; k < tags.n; k++)
            hm_rpc_pack_kstr(&pk, tags.v[k].key, tags.v[k].value);
        hm_rpc_pack_str(&pk, "DeleteTags");
        msgpack_pack_array(&pk, del.n);
        for (size_t k = 0; k < del.n; k++)
            hm_rpc_pack_str(&pk, del.v[k]);
        if (hm_rpcc_call(&c, "tags", &req, false, NULL) != HM_RPCC_OK) {
            printf("Error setting tags: %s\n", c.err);
        } else {
            printf("Successfully updated agent tags\n");
            rc = 0;
        }
    }
    hm_rpcc_close(&c);
out:
    hm_buf_free(&req);
    hm_tags_free(&tags);
    hm_strlist_free(&set);
    hm_strlist_free(&del);
    return rc;
}
