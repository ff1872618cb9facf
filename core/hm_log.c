/*
 * Serf-style log lines: "2026/11/25 14:22:03 [INFO] agent: message".
 * Written to stderr (and syslog) from the configured level up; every line is
 * also handed to the log observers of the attached daemon, at every level.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "hm_daemon.h"
#include "hm_log.h"

static hm_log_level_t g_level = HM_LOG_INFO;
static FILE *g_out;
static bool g_out_set;
static bool g_syslog;
static struct hm_daemon *g_daemon;
static int g_in_hook; /* an observer that logs must not recurse */

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERR"};

const char *hm_log_level_name(hm_log_level_t lvl)
{
    return (unsigned)lvl <= HM_LOG_ERR ? level_names[lvl] : "INFO";
}

int hm_log_parse_level(const char *s, hm_log_level_t *out)
{
    for (int i = 0; i <= HM_LOG_ERR; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (hm_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = HM_LOG_WARN;
        return 0;
    }
    if (strcasecmp(s, "error") == 0) {
        *out = HM_LOG_ERR;
        return 0;
    }
    return -1;
}

void hm_log_set_level(hm_log_level_t lvl)
{
    g_level = lvl;
}

hm_log_level_t hm_log_get_level(void)
{
    return g_level;
}

void hm_log_set_output(FILE *f)
{
    g_out = f;
    g_out_set = true;
}

void hm_log_attach(struct hm_daemon *d)
{
    g_daemon = d;
}

static const struct {
    const char *name;
    int fac;
} facilities[] = {
    {"LOCAL0", LOG_LOCAL0}, {"LOCAL1", LOG_LOCAL1}, {"LOCAL2", LOG_LOCAL2}, {"LOCAL3", LOG_LOCAL3},
    {"LOCAL4", LOG_LOCAL4}, {"LOCAL5", LOG_LOCAL5}, {"LOCAL6", LOG_LOCAL6}, {"LOCAL7", LOG_LOCAL7},
    {"USER", LOG_USER},     {"DAEMON", LOG_DAEMON},
};

int hm_log_set_syslog(bool on, const char *facility)
{
    int fac = -1;

    if (!on) {
        if (g_syslog)
            closelog();
        g_syslog = false;
        return 0;
    }
    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (facility && strcasecmp(facility, facilities[i].name) == 0)
            fac = facilities[i].fac;
    if (fac < 0)
        return -1;
    if (g_syslog)
        closelog();
    openlog("hamletd", LOG_PID | LOG_NDELAY, fac);
    g_syslog = true;
    return 0;
}

size_t hm_log_format(char *buf, size_t len, hm_log_level_t lvl, const char *subsys, const char *fmt,
                     va_list ap)
{
    time_t now = time(NULL);
    struct tm tm;
    size_t n;
    int r;

    localtime_r(&now, &tm);
    n = strftime(buf, len, "%Y/%m/%d %H:%M:%S", &tm);
    r = snprintf(buf + n, len - n, " [%s] %s: ", hm_log_level_name(lvl), subsys ? subsys : "agent");
    if (r > 0)
        n += (size_t)r < len - n ? (size_t)r : len - n - 1;
    r = vsnprintf(buf + n, len - n, fmt, ap);
    if (r > 0)
        n += (size_t)r < len - n ? (size_t)r : len - n - 1;
    /* one event, one line */
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return n;
}

static int syslog_prio(hm_log_level_t lvl)
{
    /* Serf's mapping: one step less severe than the level's name. */
    switch (lvl) {
    case HM_LOG_TRACE:
        return LOG_DEBUG;
    case HM_LOG_DEBUG:
        return LOG_INFO;
    case HM_LOG_WARN:
        return LOG_WARNING;
    case HM_LOG_ERR:
        return LOG_ERR;
    default:
        return LOG_NOTICE;
    }
}

void hm_core_vlog(hm_log_level_t lvl, const char *subsys, const char *fmt, va_list ap)
{
    char line[4096];
    bool write = lvl >= g_level;
    bool observe = g_daemon && !g_in_hook && hm_hooks_have_log(g_daemon);
    FILE *out = g_out_set ? g_out : stderr;

    if (!write && !observe)
        return;
    hm_log_format(line, sizeof(line), lvl, subsys, fmt, ap);
    if (write) {
        if (out) {
            fputs(line, out);
            fputc('\n', out);
            fflush(out);
        }
        if (g_syslog) {
            /* syslog gets the text after "[LEVEL] " */
            const char *text = strchr(line, ']');
            syslog(syslog_prio(lvl), "%s", text ? text + 2 : line);
        }
    }
    if (observe) {
        g_in_hook++;
        hm_run_log(g_daemon, lvl, line);
        g_in_hook--;
    }
}

void hm_core_log(hm_log_level_t lvl, const char *subsys, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hm_core_vlog(lvl, subsys, fmt, ap);
    va_end(ap);
}

/* <hamlet/api.h>: a module logs under its own name. */
void hm_vlog(hm_ctx_t *ctx, hm_log_level_t level, const char *fmt, va_list ap)
{
    hm_core_vlog(level, ctx ? hm_ctx_module_name(ctx) : "agent", fmt, ap);
}

void hm_log(hm_ctx_t *ctx, hm_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hm_vlog(ctx, level, fmt, ap);
    va_end(ap);
}
