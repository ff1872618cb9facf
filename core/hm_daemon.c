/*
 * hamletd: the daemon's main.  Builds the configuration (YAML or the
 * built-in default, Serf JSON files, serf agent flags), loads the modules,
 * starts the agent on a libevent loop and handles the signals:
 *   SIGHUP          reload (a broken config is rejected and the old one kept)
 *   SIGTERM/SIGINT  graceful leave, then exit 0 (a second signal: exit 1)
 *   SIGUSR1         dump the agent's state and the metrics to the log
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "hm_agent.h"
#include "hm_daemon.h"
#include "hm_log.h"

#define PROG "hamletd"

typedef struct daemon_state {
    struct hm_daemon *d;
    hm_opts_t opts;
    hm_conf_node_t **trees; /* every config ever applied: modules may keep pointers */
    size_t ntrees;
    hm_conf_node_t *root; /* the running one */
    hm_agent_t *agent;
    struct event *sig[4];
    struct event *deadline;
    bool leaving;
    int exit_code;
} daemon_state_t;

static int keep_tree(daemon_state_t *s, hm_conf_node_t *root)
{
    hm_conf_node_t **v = realloc(s->trees, (s->ntrees + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    s->trees = v;
    s->trees[s->ntrees++] = root;
    s->root = root;
    return 0;
}

/* Log level and syslog from a validated root. */
static int apply_logging(const hm_conf_node_t *root, char *err, size_t errlen)
{
    hm_log_level_t lvl;

    if (hm_log_parse_level(hm_conf_str(root, "log_level"), &lvl) == 0)
        hm_log_set_level(lvl);
    if (hm_log_set_syslog(hm_conf_bool(root, "syslog"), hm_conf_str(root, "syslog_facility")) < 0) {
        snprintf(err, errlen, "syslog_facility: unknown facility");
        return -1;
    }
    return 0;
}

/* ---- signals -------------------------------------------------------------- */

static void reload(daemon_state_t *s)
{
    char err[2048];
    hm_conf_node_t *root;

    hm_core_log(HM_LOG_INFO, "agent", "Reloading configuration...");
    root = hm_config_build(&s->opts, err, sizeof(err));
    if (root == NULL)
        goto fail;
    if (hm_modules_check(s->d, root, err, sizeof(err)) < 0)
        goto fail_tree;
    if (hm_conf_isset(root, "modules")) {
        const hm_conf_node_t *l = hm_conf_get(root, "modules");
        bool same = hm_conf_len(l) == s->d->nmods;
        for (size_t i = 0; same && i < s->d->nmods; i++)
            same = strcmp(hm_conf_value(hm_conf_at(l, i)), s->d->mods[i]->name) == 0;
        if (!same)
            hm_core_log(HM_LOG_WARN, "agent",
                        "the module list changed: restart hamletd to load or unload modules");
    }
    if (hm_agent_reload(s->agent, root, err, sizeof(err)) < 0 ||
        hm_modules_reload(s->d, root, err, sizeof(err)) < 0 ||
        apply_logging(root, err, sizeof(err)) < 0)
        goto fail_tree;
    /* the effective module list stays the running one */
    hm_conf_put(root, "modules", hm_conf_new(HM_NODE_SEQ, NULL, "<modules>"));
    for (size_t i = 0; i < s->d->nmods; i++)
        hm_conf_append_path(root, "modules", s->d->mods[i]->name, "<modules>");
    if (keep_tree(s, root) < 0) {
        hm_conf_free(root);
        return;
    }
    hm_core_log(HM_LOG_INFO, "agent", "configuration reloaded");
    return;
fail_tree:
    hm_conf_free(root);
fail:
    hm_core_log(HM_LOG_ERR, "agent", "reload failed, keeping the running configuration: %s", err);
}

static void emit_metric(void *ud, const char *name, double v)
{
    (void)ud;
    hm_core_log(HM_LOG_INFO, "agent", "metric %s = %g", name, v);
}

static void on_left(void *ud)
{
    daemon_state_t *s = ud;
    hm_core_log(HM_LOG_INFO, "agent", "graceful leave complete");
    s->exit_code = 0;
    event_base_loopbreak(s->d->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *ud)
{
    daemon_state_t *s = ud;
    (void)fd, (void)what;
    hm_core_log(HM_LOG_WARN, "agent", "graceful leave timed out, exiting");
    s->exit_code = 1;
    event_base_loopbreak(s->d->base);
}

static void shutdown_on(daemon_state_t *s, int signo)
{
    int64_t ms = hm_conf_ms(s->root, "broadcast_timeout") + 3000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    if (s->leaving) {
        hm_core_log(HM_LOG_WARN, "agent", "second signal, exiting without waiting");
        s->exit_code = 1;
        event_base_loopbreak(s->d->base);
        return;
    }
    s->leaving = true;
    hm_core_log(HM_LOG_INFO, "agent", "Caught signal: %s",
                signo == SIGINT ? "interrupt" : "terminated");
    if (signo == SIGINT && hm_conf_bool(s->root, "skip_leave_on_interrupt")) {
        s->exit_code = 0;
        event_base_loopbreak(s->d->base);
        return;
    }
    hm_core_log(HM_LOG_INFO, "agent", "Gracefully shutting down agent...");
    s->deadline = evtimer_new(s->d->base, on_deadline, s);
    if (s->deadline)
        evtimer_add(s->deadline, &tv);
    hm_agent_leave(s->agent, on_left, s);
}

static void on_signal(evutil_socket_t signo, short what, void *ud)
{
    daemon_state_t *s = ud;
    (void)what;
    switch (signo) {
    case SIGHUP:
        reload(s);
        break;
    case SIGUSR1:
        hm_agent_dump(s->agent);
        hm_run_metrics(s->d, emit_metric, NULL);
        break;
    default:
        shutdown_on(s, (int)signo);
        break;
    }
}

/* ---- main ------------------------------------------------------------------ */

static int check_only(daemon_state_t *s, const char *name, const char *err)
{
    if (err) {
        fprintf(stderr, "%s: %s\n%s: configuration file %s test failed\n", PROG, err, PROG, name);
        return 1;
    }
    fprintf(stderr, "%s: the configuration file %s syntax is ok\n", PROG, name);
    fprintf(stderr, "%s: configuration file %s test is successful\n", PROG, name);
    (void)s;
    return 0;
}

static int run(daemon_state_t *s)
{
    static const int signals[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1};
    char err[2048];
    struct event_base *base = event_base_new();

    if (base == NULL) {
        fprintf(stderr, "%s: cannot create the event loop\n", PROG);
        return 1;
    }
    s->d->base = base;
    hm_log_attach(s->d);
    s->agent = hm_agent_new(base, s->root, err, sizeof(err));
    if (s->agent == NULL) {
        hm_core_log(HM_LOG_ERR, "agent", "Failed to start the agent: %s", err);
        return 1;
    }
    hm_agent_set_daemon(s->agent, s->d);
    hm_daemon_set_agent(s->d, s->agent);
    if (hm_modules_init(s->d, err, sizeof(err)) < 0) {
        hm_core_log(HM_LOG_ERR, "agent", "%s", err);
        return 1;
    }
    if (hm_agent_start(s->agent, err, sizeof(err)) < 0) {
        hm_core_log(HM_LOG_ERR, "agent", "Failed to start the agent: %s", err);
        return 1;
    }
    for (size_t i = 0; i < 4; i++) {
        s->sig[i] = evsignal_new(base, signals[i], on_signal, s);
        if (s->sig[i] == NULL || evsignal_add(s->sig[i], NULL) < 0) {
            hm_core_log(HM_LOG_ERR, "agent", "cannot install signal handlers");
            return 1;
        }
    }
    hm_core_log(HM_LOG_INFO, "agent", "hamletd %s running: bind %s, modules %zu", PACKAGE_VERSION,
                hm_conf_str(s->root, "bind"), s->d->nmods);
    s->exit_code = 0;
    event_base_dispatch(base);
    return hm_agent_exit_code(s->agent) ? 1 : s->exit_code;
}

static void cleanup(daemon_state_t *s)
{
    struct event_base *base = s->d ? s->d->base : NULL;

    for (size_t i = 0; i < 4; i++)
        if (s->sig[i])
            event_free(s->sig[i]);
    if (s->deadline)
        event_free(s->deadline);
    if (s->d)
        hm_modules_unload(s->d);
    if (s->agent)
        hm_agent_free(s->agent);
    hm_log_attach(NULL);
    hm_daemon_free(s->d);
    if (base)
        event_base_free(base);
    for (size_t i = 0; i < s->ntrees; i++)
        hm_conf_free(s->trees[i]);
    free(s->trees);
    hm_opts_free(&s->opts);
    hm_log_set_syslog(false, NULL);
}

int main(int argc, char **argv)
{
    daemon_state_t s;
    char err[2048];
    hm_conf_node_t *root;
    const char *name;
    int rc = 1;

    memset(&s, 0, sizeof(s));
    signal(SIGPIPE, SIG_IGN);
    if (hm_opts_parse(&s.opts, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        hm_opts_usage(stderr, PROG);
        hm_opts_free(&s.opts);
        return 1;
    }
    if (s.opts.help || s.opts.version) {
        if (s.opts.help)
            hm_opts_usage(stdout, PROG);
        else
            printf("hamletd v%s (module ABI %d.%d, Serf protocol 2..5)\n", PACKAGE_VERSION,
                   HM_ABI_MAJOR, HM_ABI_MINOR);
        hm_opts_free(&s.opts);
        return 0;
    }
    name = s.opts.conf_file ? s.opts.conf_file : "(built-in)";
    root = hm_config_build(&s.opts, err, sizeof(err));
    s.d = hm_daemon_new(NULL);
    if (root == NULL || s.d == NULL || keep_tree(&s, root) < 0 ||
        hm_modules_load(s.d, s.root, err, sizeof(err)) < 0 ||
        apply_logging(s.root, err, sizeof(err)) < 0) {
        if (root == NULL || s.ntrees == 0)
            hm_conf_free(root);
        if (s.opts.test)
            rc = check_only(&s, name, err);
        else
            fprintf(stderr, "%s: %s\n", PROG, err);
        goto out;
    }
    if (s.opts.test) {
        rc = check_only(&s, name, NULL);
        goto out;
    }
    if (s.opts.dump) {
        printf("# hamletd effective configuration, from %s\n", name);
        hm_conf_dump(stdout, s.root, 0);
        rc = 0;
        goto out;
    }
    rc = run(&s);
out:
    cleanup(&s);
    return rc;
}
