/* Asynchronous handler processes on libevent (see run.h). */
#define _GNU_SOURCE /* asprintf, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "run.h"

#define READ_CHUNK 65536
#define POLL_MS 20 /* waitpid poll where pidfd_open is missing */

struct handlers_proc {
    struct event_base *base;
    pid_t pid;
    int in_fd, out_fd, pidfd;
    struct event *ev_in, *ev_out, *ev_exit, *ev_timeout, *ev_kill;
    const uint8_t *input; /* copy owned here */
    uint8_t *input_copy;
    size_t input_len, input_off;
    uint8_t ring[HANDLERS_OUTPUT_MAX];
    uint64_t total;
    uint64_t kill_grace_ms;
    bool exited, timed_out, done_called;
    int status;
    handlers_done_fn done;
    void *ud;
};

static void tv_ms(struct timeval *tv, uint64_t ms)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

static void ring_add(handlers_proc_t *p, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p->ring[(p->total + i) % HANDLERS_OUTPUT_MAX] = b[i];
    p->total += n;
}

static void free_event(struct event **e)
{
    if (*e) {
        event_free(*e);
        *e = NULL;
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void proc_free(handlers_proc_t *p)
{
    free_event(&p->ev_in);
    free_event(&p->ev_out);
    free_event(&p->ev_exit);
    free_event(&p->ev_timeout);
    free_event(&p->ev_kill);
    close_fd(&p->in_fd);
    close_fd(&p->out_fd);
    close_fd(&p->pidfd);
    free(p->input_copy);
    free(p);
}

/* Reads what the pipe holds now; false at EOF or error. */
static bool drain(handlers_proc_t *p)
{
    uint8_t buf[READ_CHUNK];

    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = read(p->out_fd, buf, sizeof(buf));
        if (n > 0) {
            ring_add(p, buf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        return false;
    }
    return true; /* a flood: come back on the next loop iteration */
}

static void finish(handlers_proc_t *p)
{
    handlers_result_t r = {0};
    uint8_t *lin = malloc(HANDLERS_OUTPUT_MAX);
    size_t n, start;

    if (p->out_fd >= 0)
        drain(p);
    n = p->total < HANDLERS_OUTPUT_MAX ? (size_t)p->total : HANDLERS_OUTPUT_MAX;
    start = (size_t)((p->total - n) % HANDLERS_OUTPUT_MAX);
    for (size_t i = 0; lin && i < n; i++)
        lin[i] = p->ring[(start + i) % HANDLERS_OUTPUT_MAX];
    r.status = p->status;
    r.timed_out = p->timed_out;
    r.out = lin ? lin : (const uint8_t *)"";
    r.out_len = lin ? n : 0;
    r.total_written = p->total;
    p->done_called = true;
    p->done(p->ud, &r);
    free(lin);
    proc_free(p);
}

static void on_out(evutil_socket_t fd, short what, void *arg)
{
    handlers_proc_t *p = arg;

    if (!drain(p)) {
        free_event(&p->ev_out);
        close_fd(&p->out_fd);
        if (p->exited)
            finish(p);
    }
}

static void on_in(evutil_socket_t fd, short what, void *arg)
{
    handlers_proc_t *p = arg;

    while (p->input_off < p->input_len) {
        ssize_t n = write(p->in_fd, p->input + p->input_off, p->input_len - p->input_off);
        if (n > 0) {
            p->input_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        break; /* EPIPE: the command does not read its input */
    }
    free_event(&p->ev_in);
    close_fd(&p->in_fd);
}

static void reaped(handlers_proc_t *p, int status)
{
    p->exited = true;
    p->status = status;
    free_event(&p->ev_exit);
    free_event(&p->ev_timeout);
    free_event(&p->ev_kill);
    close_fd(&p->pidfd);
    /* stdin no longer matters once the command is gone. */
    free_event(&p->ev_in);
    close_fd(&p->in_fd);
    /* Do not wait for EOF: a background child may hold the pipe forever.
     * Take what is there and complete. */
    finish(p);
}

static void on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
    handlers_proc_t *p = arg;
    int status;
    pid_t r = waitpid(p->pid, &status, WNOHANG);

    if (r == p->pid)
        reaped(p, status);
    else if (r < 0 && errno == ECHILD)
        reaped(p, 0); /* someone else reaped it: nothing more to learn */
}

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
    handlers_proc_t *p = arg;
    kill(-p->pid, SIGKILL);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    handlers_proc_t *p = arg;
    struct timeval tv;

    p->timed_out = true;
    kill(-p->pid, SIGTERM);
    tv_ms(&tv, p->kill_grace_ms);
    p->ev_kill = evtimer_new(p->base, on_kill, p);
    if (p->ev_kill == NULL || evtimer_add(p->ev_kill, &tv) < 0)
        kill(-p->pid, SIGKILL);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int spawn(handlers_proc_t *p, const handlers_run_opts_t *o, int in_r, int out_w)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    const char *sh = o->shell ? o->shell : "/bin/sh";
    char *argv[] = {(char *)sh, "-c", (char *)o->command, NULL};
    int rc;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in_r, 0);
    posix_spawn_file_actions_adddup2(&fa, out_w, 1);
    posix_spawn_file_actions_adddup2(&fa, out_w, 2);
    /* Own process group (killable as a whole), clean signal state. */
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(&p->pid, sh, &fa, &at, argv, o->env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

static void fail_later(evutil_socket_t fd, short what, void *arg)
{
    handlers_proc_t *p = arg;
    handlers_result_t r = {0};

    r.spawn_errno = p->status;
    r.out = (const uint8_t *)""; /* never NULL for the callback */
    p->done(p->ud, &r);
    proc_free(p);
}

handlers_proc_t *handlers_run(struct event_base *base, const handlers_run_opts_t *o,
                              handlers_done_fn done, void *ud)
{
    handlers_proc_t *p = calloc(1, sizeof(*p));
    int in[2] = {-1, -1}, out[2] = {-1, -1}, rc;
    struct timeval tv;

    if (p == NULL)
        return NULL;
    p->base = base;
    p->in_fd = p->out_fd = p->pidfd = -1;
    p->done = done;
    p->ud = ud;
    p->kill_grace_ms = o->kill_grace_ms ? o->kill_grace_ms : 1000;
    if (o->input_len) {
        if ((p->input_copy = malloc(o->input_len)) == NULL) {
            free(p);
            return NULL;
        }
        memcpy(p->input_copy, o->input, o->input_len);
    }
    p->input = p->input_copy;
    p->input_len = o->input_len;

    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        rc = errno;
        goto fail;
    }
    rc = spawn(p, o, in[0], out[1]);
    close_fd(&in[0]);
    close_fd(&out[1]);
    if (rc != 0)
        goto fail;
    p->in_fd = in[1];
    p->out_fd = out[0];
    set_nonblock(p->in_fd);
    set_nonblock(p->out_fd);

    p->ev_out = event_new(base, p->out_fd, EV_READ | EV_PERSIST, on_out, p);
    p->ev_in = event_new(base, p->in_fd, EV_WRITE | EV_PERSIST, on_in, p);
#ifdef SYS_pidfd_open
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
#endif
    if (p->pidfd >= 0) {
        p->ev_exit = event_new(base, p->pidfd, EV_READ | EV_PERSIST, on_exit_ev, p);
        if (p->ev_exit)
            event_add(p->ev_exit, NULL);
    } else {
        p->ev_exit = event_new(base, -1, EV_PERSIST, on_exit_ev, p);
        tv_ms(&tv, POLL_MS);
        if (p->ev_exit)
            event_add(p->ev_exit, &tv);
    }
    if (p->ev_out)
        event_add(p->ev_out, NULL);
    if (p->ev_in)
        event_add(p->ev_in, NULL);
    if (o->timeout_ms) {
        p->ev_timeout = evtimer_new(base, on_timeout, p);
        tv_ms(&tv, o->timeout_ms);
        if (p->ev_timeout)
            evtimer_add(p->ev_timeout, &tv);
    }
    if (!p->ev_out || !p->ev_in || !p->ev_exit) {
        /* Cannot watch it: do not leave it running unwatched. */
        handlers_proc_abort(p);
        return NULL;
    }
    return p;
fail:
    close_fd(&in[0]);
    close_fd(&in[1]);
    close_fd(&out[0]);
    close_fd(&out[1]);
    /* Report from the loop, never from inside the caller. */
    p->status = rc;
    p->ev_exit = evtimer_new(base, fail_later, p);
    tv_ms(&tv, 0);
    if (p->ev_exit == NULL || evtimer_add(p->ev_exit, &tv) < 0) {
        proc_free(p);
        return NULL;
    }
    return p;
}

pid_t handlers_proc_pid(const handlers_proc_t *p)
{
    return p->pid;
}

void handlers_proc_abort(handlers_proc_t *p)
{
    if (p->pid > 0 && !p->exited) {
        kill(-p->pid, SIGKILL);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    proc_free(p);
}
