/* Helpers shared by the wire tests: hex vectors in, hex dumps out. */
#ifndef HM_WIRE_UTIL_H
#define HM_WIRE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hamlet/types.h>

#include "hm_mlwire.h"

/* Decodes a hex string into a malloc'ed buffer (caller frees). */
static inline uint8_t *unhex(const char *s, size_t *n)
{
    size_t l = strlen(s), i;
    uint8_t *p = malloc(l / 2 + 1);

    for (i = 0; i < l / 2; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        p[i] = (uint8_t)v;
    }
    *n = l / 2;
    return p;
}

/* Static hex rendering for messages (two rotating buffers). */
static inline const char *hexs(const uint8_t *p, size_t n)
{
    static char bufs[2][16384];
    static int k;
    char *o = bufs[k++ & 1];
    size_t i;

    for (i = 0; i < n && i < sizeof(bufs[0]) / 2 - 1; i++)
        sprintf(o + 2 * i, "%02x", p[i]);
    o[2 * i] = 0;
    return o;
}

static inline int buf_is_hex(const hm_buf_t *b, const char *hex)
{
    size_t n;
    uint8_t *p = unhex(hex, &n);
    int eq = n == b->len && (n == 0 || memcmp(p, b->data, n) == 0);

    if (!eq)
        fprintf(stderr, "#   got      %s\n#   expected %s\n", hexs(b->data, b->len), hex);
    free(p);
    return eq;
}

/* A decoded string equals the C string c. */
static inline bool str_is(hm_ml_str_t s, const char *c)
{
    return s.n == strlen(c) && memcmp(s.p, c, s.n) == 0;
}

/* A C string as a wire string, for encoders. */
static inline hm_ml_str_t S(const char *c)
{
    hm_ml_str_t s = {c, strlen(c)};
    return s;
}

#endif
