/*
 * Running one handler command asynchronously on a libevent loop, the way
 * Serf runs it (/bin/sh -c COMMAND, stdin fed then closed, stdout and
 * stderr merged into one buffer keeping the last 8 KiB) but without ever
 * blocking the loop:
 *   - the child gets its own process group; on timeout the whole group gets
 *     SIGTERM, then SIGKILL a grace period later;
 *   - exit is watched through a pidfd (a waitpid poll where none exists),
 *     so no SIGCHLD handler is taken from the daemon, and the child is
 *     always reaped;
 *   - the run completes when the shell has exited, even if something it
 *     left in the background still holds the output pipe (Serf would wait
 *     for that forever); whatever is already in the pipe is read first.
 */
#ifndef MOD_HANDLERS_RUN_H
#define MOD_HANDLERS_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

#define HANDLERS_OUTPUT_MAX 8192 /* Serf's maxBufSize */

typedef struct handlers_result {
    int status;         /* waitpid status */
    bool timed_out;     /* killed by our timeout */
    const uint8_t *out; /* the last bytes of stdout+stderr, in order */
    size_t out_len;
    uint64_t total_written; /* all bytes the command wrote */
    int spawn_errno;        /* != 0: the command could not be started */
} handlers_result_t;

typedef void (*handlers_done_fn)(void *ud, const handlers_result_t *r);

typedef struct handlers_run_opts {
    const char *command;
    char *const *env;
    const uint8_t *input;
    size_t input_len;
    uint64_t timeout_ms;    /* 0: none */
    uint64_t kill_grace_ms; /* SIGTERM -> SIGKILL; 0: 1000 */
    const char *shell;      /* NULL: /bin/sh */
} handlers_run_opts_t;

typedef struct handlers_proc handlers_proc_t;

/* Starts the command; `done` is called exactly once from the loop (also
 * when the start fails).  NULL only when out of memory. */
handlers_proc_t *handlers_run(struct event_base *base, const handlers_run_opts_t *o,
                              handlers_done_fn done, void *ud);
pid_t handlers_proc_pid(const handlers_proc_t *p);
/* Kills the group now and forgets the run (no callback), reaping the
 * child synchronously (used at shutdown). */
void handlers_proc_abort(handlers_proc_t *p);

#endif
