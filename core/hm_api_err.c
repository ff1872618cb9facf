/*
 * hm_last_error(): the text of the last failed API call.  Every API call is
 * made from the event loop thread, so one buffer is enough; a failure
 * overwrites it, a success leaves it alone (the caller reads it only right
 * after a call returned HM_ERROR).
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>

#include <hamlet/api.h>

#include "hm_api_err.h"

static char last_error[1024];

int hm_api_seterr(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return HM_ERROR;
}

const char *hm_last_error(hm_ctx_t *ctx)
{
    (void)ctx;
    return last_error;
}
