/*
 * msgpack as hashicorp/go-msgpack 0.5.5 writes it with its default handle
 * (shared/spec/memberlist-wire.md section 1): strings and byte slices both
 * in the raw family (fixraw, raw16, raw32; never str8 or bin), smallest
 * integer forms, struct maps with keys in bytewise order.  The reader
 * accepts everything the Go decoder accepts.  Hand-written because
 * msgpack-c's packer always uses str8/bin8 for short data.
 *
 * Writer: appends into an hm_buf_t; every call returns 0 or -1 (no memory).
 * Reader: a cursor over a byte range; every call returns 0 or -1 (truncated
 * or wrong type) and never reads past the end.
 */
#ifndef HM_MPACK_H
#define HM_MPACK_H

#include <hamlet/types.h>

int hm_mp_put_nil(hm_buf_t *b);
int hm_mp_put_bool(hm_buf_t *b, bool v);
int hm_mp_put_uint(hm_buf_t *b, uint64_t v);
int hm_mp_put_int(hm_buf_t *b, int64_t v);
int hm_mp_put_double(hm_buf_t *b, double v);
int hm_mp_put_raw(hm_buf_t *b, const void *p, size_t n); /* string or []byte */
int hm_mp_put_str(hm_buf_t *b, const char *s);           /* NUL-terminated */
int hm_mp_put_bytes_or_nil(hm_buf_t *b, const void *p, size_t n, bool is_nil);
int hm_mp_put_map(hm_buf_t *b, uint32_t n);
int hm_mp_put_array(hm_buf_t *b, uint32_t n);

typedef struct hm_mp_reader {
    const uint8_t *p, *end;
} hm_mp_reader_t;

typedef enum {
    HM_MP_NIL,
    HM_MP_BOOL,
    HM_MP_UINT,
    HM_MP_INT,
    HM_MP_FLOAT,
    HM_MP_RAW, /* str or bin */
    HM_MP_ARRAY,
    HM_MP_MAP,
    HM_MP_EXT,
    HM_MP_INVALID
} hm_mp_type_t;

void hm_mp_reader_init(hm_mp_reader_t *r, const void *p, size_t n);
hm_mp_type_t hm_mp_peek(const hm_mp_reader_t *r);
int hm_mp_get_nil(hm_mp_reader_t *r);
int hm_mp_get_bool(hm_mp_reader_t *r, bool *v);     /* also fixint 0/1 */
int hm_mp_get_uint(hm_mp_reader_t *r, uint64_t *v); /* any non-negative int */
int hm_mp_get_int(hm_mp_reader_t *r, int64_t *v);
int hm_mp_get_double(hm_mp_reader_t *r, double *v); /* float32/64 or int */
/* Raw family, str8 and bin; nil gives len 0 and *p NULL.  Points into input. */
int hm_mp_get_raw(hm_mp_reader_t *r, const uint8_t **p, size_t *n);
int hm_mp_get_map(hm_mp_reader_t *r, uint32_t *n);
int hm_mp_get_array(hm_mp_reader_t *r, uint32_t *n);
int hm_mp_skip(hm_mp_reader_t *r); /* one whole object, nesting depth-limited */
/* Is one whole object available at the cursor?  1 yes (*used = its size,
 * may be NULL), 0 the input ends inside it (read more), -1 invalid byte.
 * Does not move the cursor; never recurses. */
int hm_mp_complete(const hm_mp_reader_t *r, size_t *used);
/* Compare a raw just read with a C string. */
bool hm_mp_raw_eq(const uint8_t *p, size_t n, const char *s);

#endif
