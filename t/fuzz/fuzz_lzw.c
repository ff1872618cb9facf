/*
 * libFuzzer harness for the LZW codec: decoding arbitrary bytes never
 * misbehaves; whatever decodes re-encodes and decodes to the same bytes;
 * and encoding the input itself round-trips exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "hm_mlwire.h"
#include "fuzz.h"

static void roundtrip(const uint8_t *p, size_t n)
{
    hm_buf_t z = {0}, back = {0};

    if (hm_lzw_encode(p, n, &z) < 0 || hm_lzw_decode(z.data, z.len, &back, n) < 0 ||
        back.len != n || (n && memcmp(back.data, p, n) != 0))
        abort();
    hm_buf_free(&z);
    hm_buf_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hm_buf_t out = {0};

    if (hm_lzw_decode(data, size, &out, 1 << 20) == 0)
        roundtrip(out.data, out.len);
    else if (out.len > (1 << 20))
        abort();
    roundtrip(data, size);
    hm_buf_free(&out);
    return 0;
}
