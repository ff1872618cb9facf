/*
 * The `hamlet` client: shared pieces of its subcommands.
 *
 * Every subcommand parses its flags the way Go's `flag` package does (serf
 * is written against it: `-f v`, `-f=v`, `--f`, bools only as `-f` or
 * `-f=false`, parsing stops at the first non-flag), talks to the agent over
 * hm_rpcc, and prints exactly what the `serf` CLI prints, on stdout.
 */
#ifndef HM_CLIENT_H
#define HM_CLIENT_H

#include <stdio.h>

#include "hm_rpcc.h"

/* hamlet speaks Serf's agent protocol 5 and understands back to 2. */
#define HM_SERF_PROTOCOL_MAX 5
#define HM_SERF_PROTOCOL_MIN 2

/* --- flags --------------------------------------------------------------- */

typedef struct hm_strlist {
    char **v;
    size_t n;
} hm_strlist_t;

typedef enum {
    HM_FLAG_BOOL,     /* bool * */
    HM_FLAG_STR,      /* const char ** */
    HM_FLAG_INT,      /* long * */
    HM_FLAG_DURATION, /* int64_t * (nanoseconds, Go syntax "1s", "500ms") */
    HM_FLAG_LIST,     /* hm_strlist_t * (repeatable) */
} hm_flag_type_t;

typedef struct hm_flag {
    const char *name;
    hm_flag_type_t type;
    void *ptr;
} hm_flag_t;

/* Options every agent-talking subcommand takes. */
typedef struct hm_rpc_opts {
    const char *addr; /* -rpc-addr, default $SERF_RPC_ADDR or 127.0.0.1:7373 */
    const char *auth; /* -rpc-auth, default $SERF_RPC_AUTH */
} hm_rpc_opts_t;

/* Parses argv[1..] against `flags` (NULL name terminates) plus, when rpc
 * is non-NULL, -rpc-addr/-rpc-auth.  Returns the index of the first
 * positional argument, or -1 after printing the error and `help` (the
 * caller exits 1), or -2 for -h/-help (help printed, exit 0). */
int hm_flags_parse(const hm_flag_t *flags, hm_rpc_opts_t *rpc, int argc, char **argv,
                   const char *help);
void hm_strlist_free(hm_strlist_t *l);
int hm_parse_duration(const char *s, int64_t *ns);
/* "k=v" strings to tags (agent.UnmarshalTags); prints the error. */
int hm_parse_tags(const hm_strlist_t *l, hm_tags_t *out);
void hm_tags_free(hm_tags_t *t);

/* Connects and prints "Error connecting to Serf agent: ..." on failure. */
int hm_cli_connect(hm_rpcc_t *c, const hm_rpc_opts_t *o);

/* --- output -------------------------------------------------------------- */

/* columnize.SimpleFormat: '|'-separated cells, trimmed, left-justified to
 * the widest cell of each column, joined by two spaces; the last cell of a
 * line is not padded.  Returns a malloc()ed string without final newline. */
char *hm_columnize(char *const *lines, size_t n);

/* A JSON writer producing what Go's json.MarshalIndent(v, "", "  ")
 * produces, including its escaping (<, >, & as \u003c..., invalid UTF-8
 * as \ufffd). */
typedef struct hm_json {
    hm_buf_t out;
    int depth;
    bool first;  /* no element yet at this depth */
    bool is_key; /* the next value follows a key */
} hm_json_t;

void hm_json_open(hm_json_t *j, char bracket);  /* '{' or '[' */
void hm_json_close(hm_json_t *j, char bracket); /* '}' or ']' */
void hm_json_key(hm_json_t *j, const char *key);
void hm_json_str(hm_json_t *j, const char *s, size_t n);
void hm_json_cstr(hm_json_t *j, const char *s);
void hm_json_uint(hm_json_t *j, uint64_t v);
void hm_json_null(hm_json_t *j);
/* A map of strings with keys sorted (Go sorts map keys); NULL = null. */
void hm_json_tags(hm_json_t *j, const hm_tags_t *t);
/* NUL-terminated result (caller frees j->out). */
const char *hm_json_text(hm_json_t *j);

/* String map entries out of a msgpack map (map[string]string), sorted by
 * key; strings point into the object.  -1 on a wrong type. */
int hm_obj_tags(const msgpack_object *o, hm_tags_t *out);
void hm_tags_sort(hm_tags_t *t);

/* --- subcommands --------------------------------------------------------- */

int hm_cmd_members(int argc, char **argv);
int hm_cmd_join(int argc, char **argv);
int hm_cmd_leave(int argc, char **argv);
int hm_cmd_force_leave(int argc, char **argv);
int hm_cmd_event(int argc, char **argv);
int hm_cmd_tags(int argc, char **argv);
int hm_cmd_query(int argc, char **argv);
int hm_cmd_reachability(int argc, char **argv);
int hm_cmd_monitor(int argc, char **argv);
int hm_cmd_keys(int argc, char **argv);
int hm_cmd_info(int argc, char **argv);
int hm_cmd_rtt(int argc, char **argv);

#endif
