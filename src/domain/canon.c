#include "domain/canon.h"

#include <stdlib.h>
#include <string.h>

void
evri_canon_init(evri_canon *c)
{
    memset(c, 0, sizeof(*c));
}

void
evri_canon_free(evri_canon *c)
{
    free(c->data);
    evri_canon_init(c);
}

void
evri_canon_reset(evri_canon *c)
{
    c->len = 0;
    c->failed = false;
}

static void
canon_raw(evri_canon *c, const void *p, size_t len)
{
    if (c->failed || len == 0) {
        return;
    }
    if (len > c->cap - c->len) {
        size_t cap = c->cap > 0 ? c->cap : 128;
        while (cap - c->len < len) {
            if (cap > SIZE_MAX / 2) {
                c->failed = true;
                return;
            }
            cap *= 2;
        }
        uint8_t *d = realloc(c->data, cap);
        if (d == NULL) {
            c->failed = true;
            return;
        }
        c->data = d;
        c->cap = cap;
    }
    memcpy(c->data + c->len, p, len);
    c->len += len;
}

void
evri_canon_u8(evri_canon *c, uint8_t v)
{
    canon_raw(c, &v, 1);
}

void
evri_canon_bool(evri_canon *c, bool v)
{
    evri_canon_u8(c, v ? 1 : 0);
}

void
evri_canon_u32(evri_canon *c, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    canon_raw(c, b, sizeof(b));
}

void
evri_canon_u64(evri_canon *c, uint64_t v)
{
    evri_canon_u32(c, (uint32_t)(v >> 32));
    evri_canon_u32(c, (uint32_t)v);
}

void
evri_canon_i64(evri_canon *c, int64_t v)
{
    evri_canon_u64(c, (uint64_t)v);
}

void
evri_canon_bytes(evri_canon *c, const void *p, size_t len)
{
    if (len > UINT32_MAX) {
        c->failed = true;
        return;
    }
    evri_canon_u32(c, (uint32_t)len);
    canon_raw(c, p, len);
}

void
evri_canon_str(evri_canon *c, const char *s)
{
    if (s == NULL) {
        s = "";
    }
    evri_canon_bytes(c, s, strlen(s));
}

void
evri_canon_strv(evri_canon *c, char *const *v, size_t n)
{
    if (n > UINT32_MAX) {
        c->failed = true;
        return;
    }
    evri_canon_u32(c, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        evri_canon_str(c, v[i]);
    }
}
