/* `hamlet monitor`: the agent's log lines and events until Ctrl-C. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "hm_client.h"

static const char monitor_help[] =
    "Usage: hamlet monitor [options]\n"
    "\n"
    "  Streams the log lines and events of a running agent until interrupted.\n"
    "\n"
    "Options:\n"
    "\n"
    "  -log-level=info           Lowest level shown: trace, debug, info, warn, err.\n"
    "  -rpc-addr=127.0.0.1:7373  RPC address of the agent.\n"
    "  -rpc-auth=\"\"              RPC auth token of the agent.";

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    stopping = 1;
}

/* Go's %#v of a value decoded into interface{}, close enough for people:
 * strings quoted, bytes as []byte{0x..}, maps and arrays as interface{}. */
static void gosyntax(const msgpack_object *o, bool top)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        printf("<nil>");
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        printf(o->via.boolean ? "true" : "false");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        printf("%llu", (unsigned long long)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        printf("%lld", (long long)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        printf("%g", o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        putchar('"');
        for (uint32_t i = 0; i < o->via.str.size; i++) {
            unsigned char ch = (unsigned char)o->via.str.ptr[i];
            if (ch == '"' || ch == '\\')
                printf("\\%c", ch);
            else if (ch == '\n')
                printf("\\n");
            else if (ch < 0x20 || ch == 0x7f)
                printf("\\x%02x", ch);
            else
                putchar(ch);
        }
        putchar('"');
        break;
    case MSGPACK_OBJECT_BIN:
        printf("%s{", top ? "[]byte" : "[]uint8");
        for (uint32_t i = 0; i < o->via.bin.size; i++)
            printf("%s0x%x", i ? ", " : "", (unsigned char)o->via.bin.ptr[i]);
        putchar('}');
        break;
    case MSGPACK_OBJECT_ARRAY:
        printf("[]interface {}{");
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                printf(", ");
            gosyntax(&o->via.array.ptr[i], false);
        }
        putchar('}');
        break;
    case MSGPACK_OBJECT_MAP:
        printf("map[interface {}]interface {}{");
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i)
                printf(", ");
            gosyntax(&o->via.map.ptr[i].key, false);
            putchar(':');
            gosyntax(&o->via.map.ptr[i].val, false);
        }
        putchar('}');
        break;
    default:
        printf("?");
    }
}

static void print_event(const msgpack_object *rec)
{
    printf("Event Info:\n");
    if (rec->type != MSGPACK_OBJECT_MAP)
        return;
    for (uint32_t i = 0; i < rec->via.map.size; i++) {
        const char *k;
        size_t n;
        if (hm_rpc_raw(&rec->via.map.ptr[i].key, &k, &n) < 0)
            continue;
        printf("\t%.*s: ", (int)n, k ? k : "");
        gosyntax(&rec->via.map.ptr[i].val, true);
        printf("\n");
    }
}

/* Starts a stream-like request and waits for its first header. */
static int start(hm_rpcc_t *c, const char *cmd, const hm_buf_t *req, uint64_t *seq)
{
    uint64_t got = 0;
    msgpack_object skip;
    int rc;

    *seq = hm_rpcc_send(c, cmd, req);
    if (*seq == 0)
        return HM_RPCC_ECONN;
    for (;;) {
        rc = hm_rpcc_read_header(c, &got, -1);
        if (rc == HM_RPCC_ECONN || got == *seq)
            return rc;
        if (hm_rpcc_read_obj(c, &skip, -1) != HM_RPCC_OK)
            return HM_RPCC_ECONN;
    }
}

static void stop(hm_rpcc_t *c, uint64_t seq)
{
    hm_buf_t req = {0};
    msgpack_packer pk;

    hm_rpc_packer_init(&pk, &req);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_kuint(&pk, "Stop", seq);
    seq = hm_rpcc_send(c, "stop", &req);
    hm_buf_free(&req);
    /* wait for the answer, as serf does, so the agent never writes to a
     * closed socket; stream records may still be in flight before it */
    for (int i = 0; seq && i < 1000; i++) {
        uint64_t got = 0;
        msgpack_object rec;
        if (hm_rpcc_read_header(c, &got, 2000) == HM_RPCC_ECONN || got == seq ||
            hm_rpcc_read_obj(c, &rec, 2000) != HM_RPCC_OK)
            return;
    }
}

int hm_cmd_monitor(int argc, char **argv)
{
    const char *level = "INFO";
    hm_flag_t flags[] = {{"log-level", HM_FLAG_STR, &level}, {NULL, 0, NULL}};
    struct sigaction sa = {.sa_handler = on_signal};
    hm_rpc_opts_t rpc;
    hm_buf_t req = {0};
    msgpack_packer pk;
    uint64_t sseq = 0, mseq = 0;
    hm_rpcc_t c;
    int rc = 1, i = hm_flags_parse(flags, &rpc, argc, argv, monitor_help);

    if (i < 0)
        return i == -2 ? 0 : 1;
    if (hm_cli_connect(&c, &rpc) < 0)
        return 1;
    hm_rpc_packer_init(&pk, &req);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_kstr(&pk, "Type", "*");
    if (start(&c, "stream", &req, &sseq) != HM_RPCC_OK) {
        printf("Error starting stream: %s\n", c.err);
        goto out;
    }
    hm_buf_reset(&req);
    msgpack_pack_map(&pk, 1);
    hm_rpc_pack_kstr(&pk, "LogLevel", level);
    if (start(&c, "monitor", &req, &mseq) != HM_RPCC_OK) {
        printf("Error starting monitor: %s\n", c.err);
        goto out;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: poll() must return */
    sigaction(SIGTERM, &sa, NULL);
    while (!stopping) {
        uint64_t got = 0;
        msgpack_object rec;
        const char *line;
        size_t n;

        if (hm_rpcc_read_header(&c, &got, -1) == HM_RPCC_ECONN ||
            hm_rpcc_read_obj(&c, &rec, -1) != HM_RPCC_OK)
            break;
        if (got == mseq && hm_rpc_field_str(&rec, "Log", &line, &n) == 0)
            printf("%.*s\n", (int)n, line ? line : "");
        else if (got == sseq)
            print_event(&rec);
    }
    if (stopping) {
        stop(&c, sseq);
        stop(&c, mseq);
        rc = 0;
    } else {
        printf("\nRemote side ended the monitor! This usually means that the\n"
               "remote side has exited or crashed.\n");
    }
out:
    hm_buf_free(&req);
    hm_rpcc_close(&c);
    return rc;
}
