/* Test fixture: a shared object without the hm_module descriptor. */
#include <hamlet/hamlet.h>

__attribute__((visibility("default"))) int hm_modul(void);
__attribute__((visibility("default"))) int hm_modul(void)
{
    return 0;
}
