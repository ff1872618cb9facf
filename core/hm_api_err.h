/*
 * The reason the last cluster API call failed, for hm_last_error() (api.h).
 * The core records it at the failure site, in Serf's words, so that a module
 * (mod_rpc) can pass it on to its client verbatim.
 */
#ifndef HM_API_ERR_H
#define HM_API_ERR_H

/* Records the error text; always returns HM_ERROR, so that a failure site
 * can read `return hm_api_seterr("...");`. */
int hm_api_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
