/*
 * The daemon's logger: Serf-style lines "YYYY/MM/DD HH:MM:SS [LEVEL] subsys:
 * message" on stderr (and syslog when configured).  Every line, whatever
 * the configured level, is also handed to the hm_hook_log observers (the RPC
 * `monitor` command filters by its own level).
 */
#ifndef HM_LOG_H
#define HM_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include <hamlet/types.h>

struct hm_daemon;

/* subsys: "agent", "serf", "memberlist", a module name, ... */
void hm_core_log(hm_log_level_t lvl, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hm_core_vlog(hm_log_level_t lvl, const char *subsys, const char *fmt, va_list ap);

/* Lines below this level are not written (observers still see them). */
void hm_log_set_level(hm_log_level_t lvl);
hm_log_level_t hm_log_get_level(void);
/* "trace".."err", case-insensitive (also "warning", "error"); -1 if unknown. */
int hm_log_parse_level(const char *s, hm_log_level_t *out);
const char *hm_log_level_name(hm_log_level_t lvl); /* "INFO" */

/* Also send lines to syslog (facility "LOCAL0".."LOCAL7", "USER", "DAEMON"...,
 * case-insensitive); -1 for an unknown facility.  on=false closes it. */
int hm_log_set_syslog(bool on, const char *facility);
/* Where lines go (default stderr); NULL silences the stream output. */
void hm_log_set_output(FILE *f);
/* The daemon whose hm_hook_log observers see every line (NULL: none). */
void hm_log_attach(struct hm_daemon *d);

/* Formats one Serf-style line (no newline) into buf; returns its length. */
size_t hm_log_format(char *buf, size_t len, hm_log_level_t lvl, const char *subsys, const char *fmt,
                     va_list ap);

#endif
