/*
 * hamlet: the client.  Every `serf` subcommand that drives an agent over
 * RPC, with serf's flags and output, so scripts written for `serf` work
 * unchanged against hamletd or a Serf agent.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hm_client.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
} command_t;

static int cmd_version(int argc, char **argv);
static int cmd_keygen(int argc, char **argv);

static const command_t commands[] = {
    {"event", hm_cmd_event, "Send a custom event through the Serf cluster"},
    {"force-leave", hm_cmd_force_leave,
     "Forces a member of the cluster to enter the \"left\" state"},
    {"info", hm_cmd_info, "Provides debugging information for operators"},
    {"join", hm_cmd_join, "Tell Serf agent to join cluster"},
    {"keygen", cmd_keygen, "Generates a new encryption key"},
    {"keys", hm_cmd_keys, "Manipulate the internal encryption keyring used by Serf"},
    {"leave", hm_cmd_leave, "Gracefully leaves the Serf cluster and shuts down"},
    {"members", hm_cmd_members, "Lists the members of a Serf cluster"},
    {"monitor", hm_cmd_monitor, "Stream logs from a Serf agent"},
    {"query", hm_cmd_query, "Send a query to the Serf cluster"},
    {"reachability", hm_cmd_reachability, "Test network reachability"},
    {"rtt", hm_cmd_rtt, "Estimates network round trip time between nodes"},
    {"tags", hm_cmd_tags, "Modify tags of a running Serf agent"},
    {"version", cmd_version, "Prints the hamlet version"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "Usage: hamlet [--version] [--help] <command> [<args>]\n\n"
               "Available commands are:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "    %-15s %s\n", commands[i].name, commands[i].synopsis);
}

static int cmd_version(int argc, char **argv)
{
    printf("hamlet v%s\n", PACKAGE_VERSION);
    printf("Agent Protocol: %d (Understands back to: %d)\n", HM_SERF_PROTOCOL_MAX,
           HM_SERF_PROTOCOL_MIN);
    return 0;
}

static void base64(const uint8_t *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        for (int k = 3; k >= 0; k--)
            out[o++] = tbl[(v >> (6 * k)) & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* A 32-byte key (AES-256), base64 as `serf agent -encrypt` expects it. */
static int cmd_keygen(int argc, char **argv)
{
    uint8_t key[32];
    char out[64];

    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
        printf("Error reading random data: not enough entropy\n");
        return 1;
    }
    base64(key, sizeof(key), out);
    printf("%s\n", out);
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : NULL;
    int rc;

    if (name && (strcmp(name, "--version") == 0 || strcmp(name, "-v") == 0 ||
                 strcmp(name, "-version") == 0))
        name = "version";
    if (name &&
        (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "-help") == 0)) {
        usage(stderr);
        return 0;
    }
    for (size_t i = 0; name && i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            /* Output must reach a pipe in order even if we exit early. */
            setvbuf(stdout, NULL, _IOLBF, 0);
            rc = commands[i].run(argc - 1, argv + 1);
            fflush(stdout);
            return rc;
        }
    }
    usage(stderr);
    return 127;
}
