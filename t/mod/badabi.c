/* Test fixture: a descriptor from a future ABI whose layout differs; only
 * the first field may be read.  (The pointer-sized junk after it would
 * crash a loader that trusted `name` or `init`.) */
#include <stdint.h>

__attribute__((visibility("default"))) const struct {
    uint32_t abi_major;
    uint32_t junk[15];
} hm_module = {99, {0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef}};
