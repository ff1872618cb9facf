/*
 * LZW as Go's compress/lzw does it with LSB bit order and 8-bit literals
 * (the only compression memberlist knows; shared/spec/memberlist-wire.md
 * section 3.4.1).  The output must be byte-identical to Go's writer, so the
 * code-width changes and table resets follow it exactly: CLEAR first, width
 * grows right after the code that made `hi` reach 512/1024/2048, and when
 * `hi` reaches 4095 a CLEAR is sent and the table starts over.
 */
#include <stdlib.h>
#include <string.h>

#include "hm_mlwire.h"

enum {
    LZW_CLEAR = 256,
    LZW_EOF = 257,
    LZW_MAX_CODE = 4095,
    LZW_MAX_WIDTH = 12,
    LZW_TABLE = 1 << 14, /* hash slots (4x the codes, as Go does) */
    LZW_NONE = 0xffff,
};

/* ---- encoder ------------------------------------------------------------ */

typedef struct {
    hm_buf_t *out;
    uint32_t acc, nbits, width, hi, overflow;
    uint32_t *table; /* (key << 12 | code), 0 = empty (codes are >= 258) */
    uint32_t mask;   /* table size - 1 */
    int err;
} lzw_enc_t;

static void enc_emit(lzw_enc_t *e, uint32_t code)
{
    uint8_t c;

    e->acc |= code << e->nbits;
    e->nbits += e->width;
    while (e->nbits >= 8) {
        c = (uint8_t)e->acc;
        e->err |= hm_buf_append(e->out, &c, 1);
        e->acc >>= 8;
        e->nbits -= 8;
    }
}

static void enc_reset(lzw_enc_t *e)
{
    e->width = 9;
    e->hi = LZW_EOF;
    e->overflow = 512;
    memset(e->table, 0, (e->mask + 1) * sizeof(*e->table));
}

/* Returns 1 when the codes ran out and the table was reset. */
static int enc_inc_hi(lzw_enc_t *e)
{
    e->hi++;
    if (e->hi == e->overflow) {
        e->width++;
        e->overflow <<= 1;
    }
    if (e->hi == LZW_MAX_CODE) {
        enc_emit(e, LZW_CLEAR);
        enc_reset(e);
        return 1;
    }
    return 0;
}

static uint32_t hash_of(uint32_t key, uint32_t mask)
{
    return (key >> 12 ^ key) & mask;
}

int hm_lzw_encode(const uint8_t *in, size_t n, hm_buf_t *out)
{
    lzw_enc_t e = {.out = out};
    uint32_t code, key, h, t;
    size_t i;

    /* At most min(n, 4096) entries live at once; keep the table 4x that so
     * small UDP messages do not clear 64 KiB each.  The output does not
     * depend on the table layout. */
    e.mask = 1023;
    while (e.mask < LZW_TABLE - 1 && (size_t)(e.mask + 1) < 4 * n)
        e.mask = e.mask << 1 | 1;
    e.table = malloc((e.mask + 1) * sizeof(*e.table));
    if (e.table == NULL)
        return -1;
    enc_reset(&e);
    enc_emit(&e, LZW_CLEAR);
    if (n > 0) {
        code = in[0];
        for (i = 1; i < n; i++) {
            key = code << 8 | in[i];
            h = hash_of(key, e.mask);
            for (t = e.table[h]; t != 0; h = (h + 1) & e.mask, t = e.table[h])
                if (t >> 12 == key)
                    break;
            if (t != 0) {
                code = t & LZW_MAX_CODE;
                continue;
            }
            enc_emit(&e, code);
            code = in[i];
            if (enc_inc_hi(&e))
                continue;                  /* table was reset: the key is not added */
            e.table[h] = key << 12 | e.hi; /* h is the first free slot */
        }
        enc_emit(&e, code);
        enc_inc_hi(&e);
    }
    enc_emit(&e, LZW_EOF);
    if (e.nbits > 0) {
        uint8_t c = (uint8_t)e.acc;
        e.err |= hm_buf_append(out, &c, 1);
    }
    free(e.table);
    return e.err ? -1 : 0;
}

/* ---- decoder ------------------------------------------------------------ */

typedef struct {
    uint16_t prefix[LZW_MAX_CODE + 1];
    uint8_t suffix[LZW_MAX_CODE + 1];
    uint8_t stack[LZW_MAX_CODE + 2];
} lzw_dec_t;

int hm_lzw_decode(const uint8_t *in, size_t n, hm_buf_t *out, size_t max_out)
{
    lzw_dec_t *d;
    uint32_t acc = 0, nbits = 0, width = 9, hi = LZW_EOF, overflow = 512;
    uint32_t code, c, last = LZW_NONE;
    size_t pos = 0, produced = 0, i;
    int rc = -1;

    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -1;
    for (;;) {
        while (nbits < width) {
            if (pos >= n)
                goto done; /* no EOF code: Go reports unexpected EOF */
            acc |= (uint32_t)in[pos++] << nbits;
            nbits += 8;
        }
        code = acc & ((1u << width) - 1);
        acc >>= width;
        nbits -= width;

        if (code == LZW_CLEAR) {
            width = 9;
            hi = LZW_EOF;
            overflow = 512;
            last = LZW_NONE;
            continue;
        }
        if (code == LZW_EOF) {
            rc = 0;
            goto done;
        }
        if (code > hi)
            goto done; /* invalid code */
        /* Expand into the tail of the stack buffer, back to front. */
        i = sizeof(d->stack);
        c = code;
        if (code >= LZW_CLEAR && code == hi && last != LZW_NONE) {
            /* KwKwK: last expansion followed by its own first byte */
            for (c = last; c >= LZW_CLEAR; c = d->prefix[c])
                ;
            d->stack[--i] = (uint8_t)c;
            c = last;
        }
        while (c >= LZW_CLEAR) {
            if (i == 0)
                goto done; /* cannot happen with prefix[x] < x; be safe */
            d->stack[--i] = d->suffix[c];
            c = d->prefix[c];
        }
        if (i == 0)
            goto done;
        d->stack[--i] = (uint8_t)c;
        produced += sizeof(d->stack) - i;
        if (produced > max_out || hm_buf_append(out, d->stack + i, sizeof(d->stack) - i) < 0)
            goto done;
        if (last != LZW_NONE) {
            d->suffix[hi] = (uint8_t)c; /* first byte of this expansion */
            d->prefix[hi] = (uint16_t)last;
        }
        last = code;
        hi++;
        if (hi >= overflow) {
            if (width == LZW_MAX_WIDTH) {
                last = LZW_NONE; /* table full: no new entries until CLEAR */
                hi--;
            } else {
                width++;
                overflow <<= 1;
            }
        }
    }
done:
    free(d);
    return rc;
}
