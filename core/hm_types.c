/* Byte buffers and the names of the shared enums. */
#include <stdlib.h>
#include <string.h>

#include <hamlet/types.h>

int hm_buf_reserve(hm_buf_t *b, size_t extra)
{
    size_t need, cap;
    uint8_t *p;

    if (extra > SIZE_MAX - b->len)
        return -1;
    need = b->len + extra;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int hm_buf_append(hm_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (hm_buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void hm_buf_reset(hm_buf_t *b)
{
    b->len = 0;
}

void hm_buf_free(hm_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *hm_status_name(hm_status_t s)
{
    switch (s) {
    case HM_STATUS_ALIVE:
        return "alive";
    case HM_STATUS_LEAVING:
        return "leaving";
    case HM_STATUS_LEFT:
        return "left";
    case HM_STATUS_FAILED:
        return "failed";
    default:
        return "none";
    }
}

const char *hm_member_event_name(hm_member_event_type_t t)
{
    static const char *const names[] = {"member-join", "member-leave", "member-failed",
                                        "member-update", "member-reap"};
    return (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}
