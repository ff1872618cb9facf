/*
 * memberlist 0.2.2 wire format: message bodies, envelopes (compound, CRC,
 * LZW compression) and the TCP push/pull layout.
 * Facts: shared/spec/memberlist-wire.md.  Pure functions; no I/O.
 *
 * Decoded structs point into the input buffer (strings are NOT
 * NUL-terminated: name + name_len); they are valid as long as it is.
 */
#ifndef HM_MLWIRE_H
#define HM_MLWIRE_H

#include <stddef.h>

#include <hamlet/types.h>

#include "hm_mpack.h"

/* Decompression limit (memberlist's stream limit is 20 MiB). */
#define HM_ML_MAX_DECOMPRESS (20u * 1024 * 1024)

enum hm_ml_type {
    HM_ML_PING = 0,
    HM_ML_INDIRECT_PING = 1,
    HM_ML_ACK = 2,
    HM_ML_SUSPECT = 3,
    HM_ML_ALIVE = 4,
    HM_ML_DEAD = 5,
    HM_ML_PUSH_PULL = 6,
    HM_ML_COMPOUND = 7,
    HM_ML_USER = 8,
    HM_ML_COMPRESS = 9,
    HM_ML_ENCRYPT = 10,
    HM_ML_NACK = 11,
    HM_ML_HAS_CRC = 12,
    HM_ML_ERR = 13,
};

enum hm_ml_state {
    HM_ML_STATE_ALIVE = 0,
    HM_ML_STATE_SUSPECT = 1,
    HM_ML_STATE_DEAD = 2,
    HM_ML_STATE_LEFT = 3
};

typedef struct hm_ml_str {
    const char *p;
    size_t n;
} hm_ml_str_t;

typedef struct hm_ml_ping {
    hm_ml_str_t node;
    uint32_t seq_no;
    hm_ml_str_t source_node; /* n == 0: absent */
    hm_addr_t source;        /* len == 0: absent */
} hm_ml_ping_t;

typedef struct hm_ml_indirect_ping {
    hm_ml_str_t node;
    hm_addr_t target; /* Target + Port */
    uint32_t seq_no;
    bool nack;
    hm_ml_str_t source_node;
    hm_addr_t source;
} hm_ml_indirect_ping_t;

typedef struct hm_ml_ack {
    uint32_t seq_no;
    const uint8_t *payload; /* NULL: nil */
    size_t payload_len;
} hm_ml_ack_t;

typedef struct hm_ml_nack {
    uint32_t seq_no;
} hm_ml_nack_t;

/* suspect and dead share a body */
typedef struct hm_ml_accuse {
    uint32_t incarnation;
    hm_ml_str_t node;
    hm_ml_str_t from;
} hm_ml_accuse_t;

typedef struct hm_ml_alive {
    uint32_t incarnation;
    hm_ml_str_t node;
    hm_addr_t addr;
    const uint8_t *meta; /* NULL: nil */
    size_t meta_len;
    uint8_t vsn[6];
    bool has_vsn; /* Vsn of length >= 6 present */
} hm_ml_alive_t;

typedef struct hm_ml_push_header {
    bool join;
    uint32_t nodes;
    uint32_t user_state_len;
} hm_ml_push_header_t;

typedef struct hm_ml_push_node {
    hm_ml_str_t name;
    hm_addr_t addr;
    const uint8_t *meta;
    size_t meta_len;
    uint32_t incarnation;
    uint8_t state; /* enum hm_ml_state */
    uint8_t vsn[6];
    bool has_vsn;
} hm_ml_push_node_t;

/* Encoders append [type byte][msgpack body] to `b`; 0 or -1. */
int hm_ml_put_ping(hm_buf_t *b, const hm_ml_ping_t *m);
int hm_ml_put_indirect_ping(hm_buf_t *b, const hm_ml_indirect_ping_t *m);
int hm_ml_put_ack(hm_buf_t *b, const hm_ml_ack_t *m);
int hm_ml_put_nack(hm_buf_t *b, const hm_ml_nack_t *m);
int hm_ml_put_suspect(hm_buf_t *b, const hm_ml_accuse_t *m);
int hm_ml_put_dead(hm_buf_t *b, const hm_ml_accuse_t *m);
int hm_ml_put_alive(hm_buf_t *b, const hm_ml_alive_t *m);
int hm_ml_put_user(hm_buf_t *b, const void *p, size_t n); /* [8][bytes] */
int hm_ml_put_err(hm_buf_t *b, const char *msg);

/* Decoders take the body (after the type byte); 0 or -1 (malformed). */
int hm_ml_get_ping(const uint8_t *p, size_t n, hm_ml_ping_t *m);
int hm_ml_get_indirect_ping(const uint8_t *p, size_t n, hm_ml_indirect_ping_t *m);
int hm_ml_get_ack(const uint8_t *p, size_t n, hm_ml_ack_t *m);
int hm_ml_get_nack(const uint8_t *p, size_t n, hm_ml_nack_t *m);
int hm_ml_get_accuse(const uint8_t *p, size_t n, hm_ml_accuse_t *m);
int hm_ml_get_alive(const uint8_t *p, size_t n, hm_ml_alive_t *m);
int hm_ml_get_err(const uint8_t *p, size_t n, hm_ml_str_t *msg);

/* Compound: [7][count][len16...][msgs...].  `parts` at most 255. */
int hm_ml_put_compound(hm_buf_t *b, const hm_buf_t *parts, size_t n);
/* The same, from the n parts laid end to end at bytes, of lengths lens. */
int hm_ml_put_compound_cat(hm_buf_t *b, const uint8_t *bytes, const uint32_t *lens, size_t n);
/* Splits a compound body (after the type byte); returns the number of
 * complete parts written to out/out_len (at most max), -1 if malformed.
 * A truncated tail is dropped, earlier parts kept, as memberlist does. */
int hm_ml_split_compound(const uint8_t *p, size_t n, const uint8_t **out, size_t *out_len,
                         size_t max);

/* CRC envelope: prepend [12][crc32 BE]. Check takes the body AFTER the
 * [12] type byte (like every hm_ml_get_*): 0 ok (payload returned), -1 bad. */
int hm_ml_put_crc(hm_buf_t *b, const uint8_t *p, size_t n);
int hm_ml_check_crc(const uint8_t *p, size_t n, const uint8_t **payload, size_t *plen);

/* Compression envelope [9]{Algo:0, Buf:lzw(msg)}. */
int hm_ml_put_compress(hm_buf_t *b, const uint8_t *msg, size_t n);
/* body = bytes after the [9]; out gets the decompressed message; on a
 * stream `*used` tells how many body bytes the msgpack object took. */
int hm_ml_get_compress(const uint8_t *body, size_t n, hm_buf_t *out, size_t *used);

/* Go compress/lzw, LSB order, literal width 8 (spec section 3.4.1). */
int hm_lzw_encode(const uint8_t *in, size_t n, hm_buf_t *out);
int hm_lzw_decode(const uint8_t *in, size_t n, hm_buf_t *out, size_t max_out);

/* Push/pull: [6] header, node states, user state bytes. */
/* The [6] header alone: the caller appends n node states and the user
 * state (the engine writes its node states straight from its table). */
int hm_ml_put_push_pull_head(hm_buf_t *b, bool join, size_t n, size_t user_len);
int hm_ml_put_push_pull(hm_buf_t *b, bool join, const hm_ml_push_node_t *nodes, size_t n,
                        const uint8_t *user_state, size_t user_len);
/* Incremental parse of a push/pull body (after the type byte) from a
 * stream: HM_AGAIN-like result 1 = need more bytes, 0 = complete (fills
 * hdr, calls node_fn per node, sets user state pointer and *used), -1 =
 * malformed. */
typedef int (*hm_ml_node_fn)(void *ud, const hm_ml_push_node_t *node);
int hm_ml_get_push_pull(const uint8_t *p, size_t n, hm_ml_push_header_t *hdr, hm_ml_node_fn fn,
                        void *ud, const uint8_t **user_state, size_t *used);

/* Addresses as memberlist sends them: 4 bytes for IPv4, 16 for IPv6 (or
 * IPv4-mapped); 0 bytes gives len 0.  Other lengths: -1 (len 0). */
int hm_ml_addr_from_raw(hm_addr_t *a, const uint8_t *p, size_t n, uint16_t port);

/* ---- extensions ---------------------------------------------------------- */

/* Reliable user message on a TCP stream: [8]{UserMsgLen}[bytes].  get takes
 * the bytes after [8]: 0 complete (*msg, *len, *used), 1 need more, -1 bad. */
int hm_ml_put_user_stream(hm_buf_t *b, const void *p, size_t n);
int hm_ml_get_user_stream(const uint8_t *p, size_t n, const uint8_t **msg, size_t *len,
                          size_t *used);

/* Stream helper: does p hold one whole msgpack object?  0 yes (*used = its
 * size), 1 need more bytes, -1 invalid.  Use before hm_ml_get_ping etc. or
 * hm_ml_get_compress on a TCP stream, where messages are not framed. */
int hm_ml_msg_complete(const uint8_t *p, size_t n, size_t *used);

/* Generic decoding of a Go struct (also used by hm_serfwire.c): `fields`
 * lists the Go field names in declaration order (the order of the
 * struct-as-array form).  For a map, each known key's value is handed to
 * fn(r, index, m) unless it is nil (the field keeps its zero value);
 * unknown keys are skipped.  A nil struct decodes as all-zero. */
typedef int (*hm_ml_field_fn)(hm_mp_reader_t *r, int idx, void *m);
int hm_ml_get_struct(hm_mp_reader_t *r, const char *const *fields, int nf, hm_ml_field_fn fn,
                     void *m);
/*
 * Table-driven decoding on top of hm_ml_get_struct: one row per Go field, in
 * declaration order; the value is read according to `type` into the C struct
 * at offset `off` (BYTES: the pointer at off, its size_t length at off2;
 * VSN: uint8_t[6] at off, bool "has" at off2; FN: fn(r, struct) reads it).
 */
enum {
    HM_MLF_U8,
    HM_MLF_U16,
    HM_MLF_U32,
    HM_MLF_U64,
    HM_MLF_I64,
    HM_MLF_DOUBLE,
    HM_MLF_LEN,  /* Go int, 0..UINT32_MAX, into uint32_t */
    HM_MLF_LEN8, /* Go int, 0..255, into uint8_t */
    HM_MLF_BOOL,
    HM_MLF_STR,   /* hm_ml_str_t */
    HM_MLF_BYTES, /* const uint8_t * + size_t */
    HM_MLF_IP,    /* the address bytes of an hm_addr_t (its port stays) */
    HM_MLF_VSN,   /* []uint8 of 6 protocol versions */
    HM_MLF_FN,    /* anything else */
};
#define HM_ML_MAX_FIELDS 16
typedef struct hm_ml_field {
    const char *name;
    uint8_t type;
    uint16_t off, off2;
    int (*fn)(hm_mp_reader_t *r, void *m);
} hm_ml_field_t;
#define HM_MLF(T, name_, type_, member)                                                            \
    {                                                                                              \
        .name = name_, .type = type_, .off = offsetof(T, member)                                   \
    }
#define HM_MLF2(T, name_, type_, member, member2)                                                  \
    {                                                                                              \
        .name = name_, .type = type_, .off = offsetof(T, member), .off2 = offsetof(T, member2)     \
    }
#define HM_MLF_CUSTOM(name_, fn_)                                                                  \
    {                                                                                              \
        .name = name_, .type = HM_MLF_FN, .fn = fn_                                                \
    }
int hm_ml_get_fields(hm_mp_reader_t *r, const hm_ml_field_t *f, int nf, void *m);

/* Range-checked integer readers and raw readers for field callbacks. */
int hm_ml_get_u64(hm_mp_reader_t *r, uint64_t *v);
int hm_ml_get_u32(hm_mp_reader_t *r, uint32_t *v);
int hm_ml_get_u16(hm_mp_reader_t *r, uint16_t *v);
int hm_ml_get_u8(hm_mp_reader_t *r, uint8_t *v);
int hm_ml_get_str(hm_mp_reader_t *r, hm_ml_str_t *s);
int hm_ml_get_bytes(hm_mp_reader_t *r, const uint8_t **p, size_t *n); /* nil: NULL */
/* A map key (raw family). */
int hm_ml_put_key(hm_buf_t *b, const char *k);

#endif
